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
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from trialreads.canonical import canonical_json, sha256_hex, to_jsonable, utc_iso
from trialreads.choices import AuditEventType
from trialreads.errors import AccessDenial, DomainError
from trialreads.models import AuditEvent, ChainHead, Subject
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


#: The hashed columns: every column except ``id``, ``prev_hash`` and ``hash``.
_BODY_FIELDS = (
    "chain_id",
    "seq",
    "ts",
    "actor_id",
    "actor_username",
    "event_type",
    "object_type",
    "object_id",
    "before",
    "after",
    "reason",
    "request_id",
    "context",
)


def event_body(event: AuditEvent) -> dict[str, Any]:
    """The hashed content of an event (``ts`` as UTC ISO text with microseconds)."""
    body = {name: getattr(event, name) for name in _BODY_FIELDS}
    body["ts"] = utc_iso(event.ts)
    return body


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


_JSON_FIELDS = ("before", "after", "context")
_SQLITE_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")


def _ts_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return utc_iso(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    text = str(value)
    if _SQLITE_TS.match(text):  # SQLite keeps naive UTC text; microseconds omitted when zero
        return text.replace(" ", "T") + ("" if "." in text else ".000000") + "Z"
    parsed = parse_datetime(text)
    if parsed is None:
        return text  # unparseable: cannot match the hash, which is the point
    return _ts_text(parsed)


def _chain_rows(chain_id: str) -> Iterator[tuple[Any, ...]]:
    """One chain's rows in ``seq`` order as plain tuples (body fields, prev_hash, hash).

    Raw SQL rather than the ORM: model instances and per-value field converters make
    verification several times slower, and 100k events must verify in seconds (T-CHAIN-PERF).
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in (*_BODY_FIELDS, "prev_hash", "hash"))  # columns = field names
    table = quote(AuditEvent._meta.db_table)
    sql = f"SELECT {columns} FROM {table} WHERE chain_id = %s ORDER BY seq"  # noqa: S608 (constant names)
    json_at = [_BODY_FIELDS.index(f) for f in _JSON_FIELDS]
    ts_at = _BODY_FIELDS.index("ts")
    with connection.cursor() as cursor:
        cursor.execute(sql, [chain_id])
        while batch := cursor.fetchmany(5000):
            for raw in batch:
                row = list(raw)
                for i in json_at:
                    if isinstance(row[i], str):
                        row[i] = json.loads(row[i])
                row[ts_at] = _ts_text(row[ts_at])
                yield tuple(row)


def verify_chain(chain_id: str, anchor: Mapping[str, Any] | None = None) -> ChainReport:
    """Recompute ``chain_id`` from its first event and name the first broken ``seq``.

    Detects an edited row (hash mismatch), a deleted row (gap), an inserted or reordered row
    (broken ``prev_hash`` link), and a chain head that disagrees with the table. A truncated
    tail with a rewritten head is only visible against an ``anchor`` (``{"seq", "hash"}``)
    kept outside the database.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    rows = _chain_rows(chain_id)
    for row in rows:
        count += 1
        body = dict(zip(_BODY_FIELDS, row[:-2], strict=True))
        seq, stored_prev, stored_hash = int(body["seq"]), row[-2], row[-1]
        failure: tuple[int, str] | None = None
        if seq != expected_seq:
            failure = (expected_seq, f"seq {expected_seq} is missing (next stored seq is {seq})")
        elif stored_prev != prev_hash:
            failure = (seq, f"seq {seq} does not link to seq {seq - 1} (prev_hash differs)")
        else:
            body["seq"] = seq
            # Stored JSON is already plain JSON; a float smuggled in by SQL simply mismatches.
            text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
            if sha256_hex(prev_hash + text) != stored_hash:
                failure = (seq, f"seq {seq} content does not match its hash (edited)")
        if failure is not None:
            return ChainReport(chain_id, False, count, expected_seq - 1, prev_hash, failure[0], failure[1])
        prev_hash, expected_seq = stored_hash, expected_seq + 1
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


def subject_failure_record(*, subject_id: int, event_type: str, exc: Exception) -> AuditEvent:
    """A hook that runs after a reader's signature (adjudication, confirmation windows) could
    not evaluate the subject: the read manager is told through the trial's chain (the error's
    type and message), the signature stands."""
    subject = Subject.objects.select_related("trial").get(pk=subject_id)
    return audit_record(
        chain_id=subject.trial.chain_id,
        event_type=event_type,
        actor=None,
        object_type="subject",
        object_id=subject_id,
        after={"error": type(exc).__name__, "message": str(exc)[:500]},
    )


def access_denied_record(*, denial: AccessDenial) -> AuditEvent:
    """Write one refusal of the access gate as an ``ACCESS_DENIED`` event, in its own
    transaction. Called by the request's boundary after the request's transaction is over
    (``middleware.AccessDenialAuditMiddleware``), never inside the refused work: there, the
    record would be rolled back with it."""
    with transaction.atomic():
        return audit_record(
            chain_id=denial.chain_id,
            event_type=AuditEventType.ACCESS_DENIED,
            actor=denial.actor,
            object_type=denial.object_type,
            object_id=denial.object_id,
            after=denial.after,
        )


@contextlib.contextmanager
def access_denials_recorded() -> Iterator[None]:
    """For callers of the gate outside a request (commands, tasks, scripts): a refusal that
    leaves the block is recorded (after any ``atomic()`` inside the block has rolled back)
    and raised on. Requests do not need it: their boundary records."""
    try:
        yield
    except DomainError as exc:
        if exc.denial is not None:
            access_denied_record(denial=exc.denial)
        raise


__all__ = [
    "GLOBAL_CHAIN",
    "AuditContext",
    "ChainReport",
    "access_denials_recorded",
    "access_denied_record",
    "audit_context",
    "audit_record",
    "chain_anchor",
    "chain_ids",
    "current_audit_context",
    "event_hash",
    "verify_chain",
]
