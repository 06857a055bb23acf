"""Writing and verifying the hash-chained audit trail (celery-concurrency-ci §8).

Every service calls :func:`audit_record` inside its own transaction, so the event commits
or rolls back with the change it describes. Appends to one chain are serialised by
``SELECT … FOR UPDATE`` on its :class:`ChainHead` (PostgreSQL); on SQLite the IMMEDIATE
transactions of the settings already serialise every writer.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from trialreads.canonical import canonical_json, sha256_hex, to_jsonable, utc_iso
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent, ChainHead
from trialreads.models.audit import GENESIS_HASH, GLOBAL_CHAIN


@dataclass(frozen=True)
class AuditContext:
    """Who is acting when there is no request user (``system:<task>``) and which request
    or task the events belong to."""

    actor_label: str = ""
    request_id: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


_EMPTY_CONTEXT = AuditContext()
_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "trialreads_audit_context", default=None
)


@contextlib.contextmanager
def audit_context(*, actor_label: str = "", request_id: str = "", **extra: Any) -> Iterator[AuditContext]:
    """Attribute every event written inside the block: e.g. a Celery task runs its service
    under ``audit_context(actor_label="system:trialreads.compute_endpoints", request_id=task_id)``."""
    outer = current_audit_context()
    ctx = AuditContext(
        actor_label=actor_label or outer.actor_label,
        request_id=request_id or outer.request_id,
        extra={**outer.extra, **extra},
    )
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def current_audit_context() -> AuditContext:
    return _context.get() or _EMPTY_CONTEXT


def event_body(event: AuditEvent) -> dict[str, Any]:
    """The hashed content of an event: every column except ``id``, ``prev_hash``, ``hash``."""
    return {
        "chain_id": event.chain_id,
        "seq": event.seq,
        "ts": utc_iso(event.ts),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "event_type": event.event_type,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "request_id": event.request_id,
        "context": event.context,
    }


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    return sha256_hex(prev_hash + canonical_json(event_body(event)))


def _locked_head(chain_id: str) -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(chain_id=chain_id).first()
    if head is None:
        try:
            with transaction.atomic():
                ChainHead.objects.create(chain_id=chain_id)
        except IntegrityError:
            pass  # created by a concurrent first append; lock theirs
        head = ChainHead.objects.select_for_update().get(chain_id=chain_id)
    return head


def audit_record(
    *,
    chain_id: str,
    event_type: AuditEventType | str,
    actor: Any,
    object_type: str = "",
    object_id: object = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    """Append one event to ``chain_id``. Call inside the transaction of the change."""
    ctx = current_audit_context()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    username = actor.get_username() if is_user else (ctx.actor_label or "anonymous")
    with transaction.atomic():
        head = _locked_head(chain_id)
        event = AuditEvent(
            chain_id=chain_id,
            seq=head.seq + 1,
            ts=timezone.now(),
            actor_id=actor.pk if is_user else None,
            # Clipped to the column sizes: a hostile id in a denied URL must not turn the
            # denial into a database error (and the clipped value is what gets hashed).
            actor_username=username[:150],
            event_type=str(event_type),
            object_type=object_type[:60],
            object_id=str(object_id)[:60],
            # Stored exactly as hashed (no floats, decimals as strings), so it re-hashes.
            before=to_jsonable(before),
            after=to_jsonable(after),
            reason=reason,
            request_id=ctx.request_id[:100],
            context=to_jsonable(dict(ctx.extra)),
            prev_hash=head.hash,
        )
        event.hash = event_hash(head.hash, event)
        event.save(force_insert=True)
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event


# --- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    chain_id: str
    ok: bool
    events: int
    last_seq: int
    last_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def verify_chain(chain_id: str, anchor: Mapping[str, Any] | None = None) -> ChainReport:
    """Recompute ``chain_id`` from its first event and name the first broken ``seq``.

    Detects an edited row (hash mismatch), a deleted row (gap), an inserted or reordered row
    (broken ``prev_hash`` link), and a chain head that disagrees with the table. A truncated
    tail with a rewritten head is only visible against an ``anchor`` (``{"seq", "hash"}``)
    kept outside the database.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    events = AuditEvent.objects.filter(chain_id=chain_id).order_by("seq")
    for event in events.iterator(chunk_size=2000):
        count += 1
        failure: tuple[int, str] | None = None
        if event.seq != expected_seq:
            failure = (expected_seq, f"seq {expected_seq} is missing (next stored seq is {event.seq})")
        elif event.prev_hash != prev_hash:
            failure = (event.seq, f"seq {event.seq} does not link to seq {event.seq - 1} (prev_hash differs)")
        elif event_hash(prev_hash, event) != event.hash:
            failure = (event.seq, f"seq {event.seq} content does not match its hash (edited)")
        if failure is not None:
            return ChainReport(chain_id, False, count, expected_seq - 1, prev_hash, failure[0], failure[1])
        prev_hash, expected_seq = event.hash, expected_seq + 1
    last_seq = expected_seq - 1
    head = ChainHead.objects.filter(chain_id=chain_id).first()
    if head is not None and (head.seq != last_seq or head.hash != prev_hash):
        first_bad = min(head.seq, last_seq) + 1
        return ChainReport(
            chain_id,
            False,
            count,
            last_seq,
            prev_hash,
            first_bad,
            f"chain head says seq {head.seq} but the table ends at seq {last_seq} (rows removed or added)",
        )
    if anchor is not None:
        anchored_seq, anchored_hash = int(anchor["seq"]), str(anchor["hash"])
        if anchored_seq > last_seq:
            return ChainReport(
                chain_id,
                False,
                count,
                last_seq,
                prev_hash,
                last_seq + 1,
                f"anchor records seq {anchored_seq} but the chain ends at seq {last_seq} (tail truncated)",
            )
        stored = AuditEvent.objects.filter(chain_id=chain_id, seq=anchored_seq).values_list("hash", flat=True)
        if anchored_seq > 0 and list(stored) != [anchored_hash]:
            return ChainReport(
                chain_id,
                False,
                count,
                last_seq,
                prev_hash,
                anchored_seq,
                f"seq {anchored_seq} differs from the anchored hash (chain rewritten)",
            )
    return ChainReport(chain_id, True, count, last_seq, prev_hash)


def chain_ids() -> list[str]:
    ids = set(ChainHead.objects.values_list("chain_id", flat=True))
    ids |= set(AuditEvent.objects.values_list("chain_id", flat=True).distinct())
    return sorted(ids)


def chain_anchor(chain_id: str) -> dict[str, Any]:
    """The head to store outside the database: ``{"seq", "hash", "ts"}``."""
    head = ChainHead.objects.filter(chain_id=chain_id).first()
    seq, hash_ = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    return {"seq": seq, "hash": hash_, "ts": utc_iso(dt.datetime.now(dt.UTC))}


__all__ = [
    "GLOBAL_CHAIN",
    "AuditContext",
    "ChainReport",
    "audit_context",
    "audit_record",
    "chain_anchor",
    "chain_ids",
    "current_audit_context",
    "event_hash",
    "verify_chain",
]
