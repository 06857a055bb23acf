"""Signed content checked against the hash chain (issue 13 item 2; T-SIG-LINK).

``Signature.content_sha256`` and ``TimepointRead.content_sha256`` are ordinary columns: someone
who can change a signed measurement can rewrite them as well. The hash that cannot be
rewritten unnoticed is the one in the ``TIMEPOINT_READ_SIGNED`` event's payload
(``after.content_sha256``, written by ``timepoint_read_sign`` since its first version), because
that event is hash-chained and ``verify_chain`` recomputes the chain.

For every timepoint read, the chain's own history decides what must be stored now: the latest
``TIMEPOINT_READ_SIGNED`` / ``TIMEPOINT_READ_UNLOCKED`` event of that read (in its trial's chain,
in ``seq`` order) counts. After a sign event the read must be locked, its live signature must be
the one the event names, and the content, the signature's hash and the read's stored hash must
all equal the chained hash. After an unlock, or with no event at all, the read must be unlocked
and have no live signature. Every signature ever named by a sign event must still exist and
carry that event's hash (voided ones too). A sign event without a content hash cannot be checked
against the chain; it is reported as such ("no chained hash"), never passed.

Adjudication decisions, the other e-signature, are checked the same way against their chained
``ADJUDICATION_DECIDED`` event (``decision_problems``).

The payloads are only as trustworthy as the chain: ``verify_audit`` runs ``verify_chain`` on the
same chains (and an anchor kept outside the database catches a chain rewritten wholesale).
Eight queries in all, however many signatures there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q

from trialreads import access
from trialreads.canonical import canonical_json, sha256_hex
from trialreads.choices import AdjudicationStatus, AuditEventType
from trialreads.models import AdjudicationCase, AuditEvent, Signature, TimepointRead, Trial, signed_q
from trialreads.services.adjudication import decision_content
from trialreads.services.reads import content_sha256, content_sha256_by_timepoint_read

TAMPERED = "tampered"
NO_CHAINED_HASH = "no chained hash"


@dataclass(frozen=True)
class SignedContentProblem:
    kind: str  # TAMPERED or NO_CHAINED_HASH
    timepoint_read_id: int | None
    signature_id: int | None
    detail: str
    adjudication_case_id: int | None = None

    @property
    def record(self) -> str:
        if self.adjudication_case_id is not None:
            return f"adjudication case {self.adjudication_case_id}"
        return f"timepoint read {self.timepoint_read_id}"

    def line(self) -> str:
        label = "FAIL" if self.kind == TAMPERED else "NOHASH"
        who = self.record
        if self.signature_id is not None:
            who = f"signature {self.signature_id} ({who})"
        return f"{label} {who}: {self.detail}"


@dataclass(frozen=True)
class SignEvent:
    """What a chained TIMEPOINT_READ_SIGNED event recorded."""

    where: str  # "trial:3 seq 17"
    signature_id: int | None
    content_sha256: str | None


@dataclass(frozen=True)
class _State:
    """The chain's latest word on one timepoint read: signed (with its event) or not."""

    signed: SignEvent | None
    where: str


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _sign_event(chain_id: str, seq: int, after: Any) -> SignEvent:
    payload = after if isinstance(after, dict) else {}
    digest = payload.get("content_sha256")
    return SignEvent(
        where=f"{chain_id} seq {seq}",
        signature_id=_int_or_none(payload.get("signature_id")),
        content_sha256=digest if isinstance(digest, str) and digest else None,
    )


def chained_sign_event(*, timepoint_read: TimepointRead, chain_id: str) -> SignEvent | None:
    """The sign event that counts for one timepoint read now: its latest sign or unlock event
    in ``chain_id`` (its trial's chain), if that is a sign event. One query."""
    row = (
        AuditEvent.objects.filter(
            chain_id=chain_id,
            object_type="timepoint_read",
            object_id=str(timepoint_read.pk),
            event_type__in=[AuditEventType.TIMEPOINT_READ_SIGNED, AuditEventType.TIMEPOINT_READ_UNLOCKED],
        )
        .order_by("-seq")
        .values_list("seq", "event_type", "after")
        .first()
    )
    if row is None or row[1] != AuditEventType.TIMEPOINT_READ_SIGNED:
        return None
    return _sign_event(chain_id, row[0], row[2])


def signature_verify(*, user: Any, timepoint_read_id: object) -> dict[str, Any]:
    """Does the live signature still cover the stored content (T-SIG-LINK)? Valid only when
    the content, the signature's stored hash and the hash in the chained sign event that
    counts now (:func:`chained_sign_event`) all agree, and that event names this signature:
    the stored hash alone is an editable column."""
    tr = access.access_timepoint_read_for(user, timepoint_read_id)
    signature = Signature.objects.filter(timepoint_read=tr, voided_at__isnull=True).first()
    current = content_sha256(tr)
    event = chained_sign_event(timepoint_read=tr, chain_id=tr.read.subject.trial.chain_id)
    valid = (
        signature is not None
        and event is not None
        and event.signature_id == signature.pk
        and event.content_sha256 == signature.content_sha256 == current
    )
    return {
        "signed": signature is not None,
        "valid": valid,
        "signature_sha256": signature.content_sha256 if signature else None,
        "content_sha256": current,
    }


def signed_content_problems(*, trial: Trial | None = None) -> list[SignedContentProblem]:
    """Every signature and every locked timepoint read (of ``trial``, or of every trial)
    compared with the hashes recorded in the chain. Empty when everything matches."""
    events = AuditEvent.objects.filter(
        object_type="timepoint_read",
        event_type__in=[AuditEventType.TIMEPOINT_READ_SIGNED, AuditEventType.TIMEPOINT_READ_UNLOCKED],
    )
    timepoint_reads = TimepointRead._base_manager.all()
    signatures = Signature._base_manager.all()
    if trial is not None:
        events = events.filter(chain_id=trial.chain_id)
        timepoint_reads = timepoint_reads.filter(read__subject__trial=trial)
        signatures = signatures.filter(timepoint_read__read__subject__trial=trial)

    # 1. The chain: per (chain, timepoint read) the latest sign/unlock event, and every sign
    #    event by the signature it names.
    latest: dict[tuple[str, int], _State] = {}
    chained_signatures: dict[int, tuple[int, SignEvent]] = {}
    rows = events.order_by("chain_id", "seq").values_list(
        "chain_id", "seq", "event_type", "object_id", "after"
    )
    for chain_id, seq, event_type, object_id, after in rows:
        tr_id = _int_or_none(object_id)
        if tr_id is None:
            continue
        if event_type == AuditEventType.TIMEPOINT_READ_SIGNED:
            event = _sign_event(chain_id, seq, after)
            latest[(chain_id, tr_id)] = _State(event, event.where)
            if event.signature_id is not None:
                chained_signatures[event.signature_id] = (tr_id, event)
        else:
            latest[(chain_id, tr_id)] = _State(None, f"{chain_id} seq {seq}")

    # 2. What is stored: every timepoint read in scope (one short row each), every signature,
    #    and the content of those that are locked or have a live signature.
    stored = {
        pk: (locked, Trial(pk=trial_id).chain_id, stored_hash)
        for pk, locked, trial_id, stored_hash in timepoint_reads.values_list(
            "pk", "locked", "read__subject__trial_id", "content_sha256"
        )
    }
    live: dict[int, tuple[int, str]] = {}
    every_signature: dict[int, tuple[int, str, bool]] = {}
    for pk, tr_id, digest, voided_at in signatures.values_list(
        "pk", "timepoint_read_id", "content_sha256", "voided_at"
    ):
        every_signature[pk] = (tr_id, digest, voided_at is not None)
        if voided_at is None:
            live[tr_id] = (pk, digest)
    live_ids = signatures.filter(voided_at__isnull=True).values("timepoint_read_id")
    contents = content_sha256_by_timepoint_read(timepoint_reads.filter(signed_q() | Q(pk__in=live_ids)))

    problems: list[SignedContentProblem] = []

    def fail(tr_id: int, signature_id: int | None, detail: str, kind: str = TAMPERED) -> None:
        problems.append(SignedContentProblem(kind, tr_id, signature_id, detail))

    # 3. Each stored timepoint read against the chain's latest word on it.
    checked_signatures: set[int] = set()
    for tr_id, (locked, chain_id, tr_hash) in sorted(stored.items()):
        state = latest.get((chain_id, tr_id))
        live_signature = live.get(tr_id)
        signature_id = live_signature[0] if live_signature else None
        if state is None or state.signed is None:
            why = "no sign event in the chain" if state is None else f"unlocked at {state.where}"
            if live_signature is not None:
                fail(tr_id, signature_id, f"live signature without a chained sign event ({why})")
            if locked:
                fail(tr_id, None, f"locked without a chained sign event ({why})")
            continue
        event = state.signed
        if event.signature_id is not None:
            checked_signatures.add(event.signature_id)
        if not locked:
            fail(tr_id, signature_id, f"signed at {event.where} but the record is not locked")
        if live_signature is None:
            gone = "voided" if event.signature_id in every_signature else "gone"
            fail(tr_id, event.signature_id, f"signed at {event.where} but that signature is {gone}")
        elif signature_id != event.signature_id:
            fail(
                tr_id,
                signature_id,
                f"live signature is not the one signed at {event.where} (signature {event.signature_id})",
            )
        if tr_id not in contents:
            continue  # neither locked nor signed: reported above
        current = contents[tr_id]
        if event.content_sha256 is None:
            # Not verifiable against the chain; the stored columns are all there is.
            agree = live_signature is not None and current == live_signature[1] == tr_hash
            fail(
                tr_id,
                signature_id,
                f"its sign event {event.where} records no content hash (the stored columns "
                f"{'agree' if agree else 'DISAGREE'} with the content, which proves nothing)",
                NO_CHAINED_HASH,
            )
            continue
        if current != event.content_sha256:
            fail(
                tr_id,
                signature_id,
                f"stored content {current} differs from the hash chained at {event.where} "
                f"({event.content_sha256})",
            )
        if live_signature is not None and live_signature[1] != event.content_sha256:
            fail(
                tr_id,
                signature_id,
                f"the signature's stored hash {live_signature[1]} differs from the chained "
                f"{event.content_sha256}",
            )
        if tr_hash != event.content_sha256:
            fail(
                tr_id,
                signature_id,
                f"the timepoint read's stored hash {tr_hash} differs from the chained {event.content_sha256}",
            )

    # 4. Sign events whose timepoint read is gone, and the earlier (since voided) signatures.
    for (_chain_id, tr_id), state in sorted(latest.items()):
        if state.signed is not None and tr_id not in stored:
            fail(tr_id, state.signed.signature_id, f"signed at {state.where} but the timepoint read is gone")
    for signature_id, (tr_id, event) in sorted(chained_signatures.items()):
        if signature_id in checked_signatures or tr_id not in stored:
            continue
        found = every_signature.get(signature_id)
        if found is None:
            fail(tr_id, signature_id, f"signed at {event.where} but the signature row is gone")
        elif not found[2]:
            continue  # live: reported above as not the chained one
        elif event.content_sha256 is not None and found[1] != event.content_sha256:
            fail(
                tr_id,
                signature_id,
                f"voided signature's stored hash {found[1]} differs from the chained "
                f"{event.content_sha256} ({event.where})",
            )
    return problems


def decision_problems(*, trial: Trial | None = None) -> list[SignedContentProblem]:
    """Every adjudication decision (also an e-signature: password, printed name, meaning)
    against the hash in its chained ADJUDICATION_DECIDED event: a decided case without that
    event, a case the event names that is gone, and decision content or a stored hash that
    differs from the chained hash. Voided cases keep their decision and are checked too.
    Two queries."""
    events = AuditEvent.objects.filter(
        object_type="adjudication_case", event_type=AuditEventType.ADJUDICATION_DECIDED
    )
    cases = AdjudicationCase.objects.annotate(trial_id=F("subject__trial_id"))
    if trial is not None:
        events = events.filter(chain_id=trial.chain_id)
        cases = cases.filter(subject__trial=trial)
    decided: dict[tuple[str, int], SignEvent] = {}
    for chain_id, seq, object_id, after in events.order_by("chain_id", "seq").values_list(
        "chain_id", "seq", "object_id", "after"
    ):
        case_id = _int_or_none(object_id)
        if case_id is not None:
            decided[(chain_id, case_id)] = _sign_event(chain_id, seq, after)
    problems: list[SignedContentProblem] = []

    def fail(case_id: int, detail: str, kind: str = TAMPERED) -> None:
        problems.append(SignedContentProblem(kind, None, None, detail, adjudication_case_id=case_id))

    seen: set[tuple[str, int]] = set()
    for case in cases.order_by("pk"):
        key = (Trial(pk=case.trial_id).chain_id, case.pk)
        seen.add(key)
        event = decided.get(key)
        if event is None:
            if case.status == AdjudicationStatus.DECIDED:
                fail(case.pk, "decided without a chained decision event")
            continue
        if event.content_sha256 is None:
            fail(case.pk, f"its decision event {event.where} records no content hash", NO_CHAINED_HASH)
            continue
        current = sha256_hex(canonical_json(decision_content(case)))
        if current != event.content_sha256:
            fail(
                case.pk,
                f"stored decision {current} differs from the hash chained at {event.where} "
                f"({event.content_sha256})",
            )
        if case.content_sha256 != event.content_sha256:
            fail(
                case.pk,
                f"the case's stored hash {case.content_sha256} differs from the chained "
                f"{event.content_sha256}",
            )
    for key, event in sorted(decided.items()):
        if key not in seen:
            fail(key[1], f"decided at {event.where} but the case is gone")
    return problems
