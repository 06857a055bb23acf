"""Adjudication (2+1 paradigm): compare the two reads, open a case when they disagree on a
charter adjudication variable, assign it, let the adjudicator decide and sign, and keep
the subject's accepted read (RSACPTFL) up to date.

Triggering. :func:`adjudication_evaluate` runs inside the transaction that signs a
timepoint read (``services.reads.timepoint_read_sign`` calls
:func:`adjudication_evaluate_after_sign`). It compares only when both reads have signed
exactly the same set of timepoints, and it first locks the subject row: when both readers
sign at the same instant, the second evaluation waits for the first to commit and then sees
both signatures (PostgreSQL READ COMMITTED takes a fresh snapshot per statement; SQLite's
IMMEDIATE transactions serialise writers anyway). The evaluation that finds the compared
state already recorded (same timepoints, same content hashes) does nothing, so the race
yields exactly one case; the partial unique constraint "one OPEN case per subject" is the
backstop.

Re-evaluation. A compared state records every compared timepoint's content hash. When a
signed read is unlocked, changed and re-signed, the next comparison sees a different
hash: an open case or a decision resting on the old content is voided (audited) and the
reads are compared afresh. Re-signing unchanged content leaves everything as it was. While
a read is unlocked, a decision is refused (its snapshot no longer matches).

Blinding. The case shows the reads as "Read A" / "Read B"; which slot is A is drawn at
random per case. Events written by the evaluation are attributed to
``system:adjudication`` rather than to the signing reader, and nothing about the
evaluation reaches the reader's response: an engine failure is logged and audited for the
read manager, and the signature stands.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Count
from django.utils import timezone

from criteria.types import CriterionResult
from trialreads import access, validators
from trialreads.adjudication_rules import (
    AdjudicationRules,
    Disagreement,
    compare_results,
    first_progression_date,
    variables_of,
)
from trialreads.canonical import canonical_json, sha256_hex
from trialreads.choices import AcceptanceBasis, AdjudicationStatus, AuditEventType, TrialRole
from trialreads.errors import Conflict, ValidationError
from trialreads.evaluation import evaluate_each
from trialreads.models import (
    AcceptedRead,
    AdjudicationCase,
    Charter,
    InvestigatorAssessment,
    Read,
    Subject,
    TrialMembership,
)
from trialreads.services.audit import audit_context, audit_record, subject_failure_record
from trialreads.services.auth import signature_reauthenticate
from trialreads.services.confirmation import confirmation_windows_reconcile
from trialreads.services.queue import endpoints_recompute_on_commit
from trialreads.snapshot import (
    SubjectSnapshot,
    TrialSnapshot,
    engine_subject,
    has_engine_input,
    scope_from_charter,
    settings_from_charter,
)

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:adjudication"
#: Read accepted by rule when the two reads are concordant (either would do; slot 1 is
#: the documented convention, so the choice never depends on timing).
RULE_SLOT = 1

Snapshot = list[list[Any]]  # [[timepoint_id, sha256 of slot 1, sha256 of slot 2], ...] by sequence


@dataclass(frozen=True)
class Comparison:
    """One comparison of a subject's two reads (both signed the same timepoints)."""

    snapshot: Snapshot
    results: dict[int, dict[str, CriterionResult]]  # slot -> criterion -> result
    disagreements: list[Disagreement]  # slot 1 as "a", slot 2 as "b"
    primary_criterion: str
    rules: AdjudicationRules
    charter_version: int
    #: criterion -> the engine's message, for the charter criteria left out of the comparison
    #: because a read does not carry what they need (none of them named by the rules)
    not_evaluable: dict[str, str] = field(default_factory=dict)

    def disagreements_for(self, a_slot: int) -> list[dict[str, Any]]:
        """The disagreements as the case shows them: the ``a_slot`` read as "Read A"."""
        a, b = self.results[a_slot], self.results[3 - a_slot]
        return [d.as_json() for d in compare_results(a, b, self.rules)]


class CriterionNotEvaluable(ValueError):
    """A criterion the comparison cannot do without (the primary criterion, or one the rules
    name) cannot be evaluated on a read: the evaluation fails, audited for the read manager."""


# --- loading and comparing -----------------------------------------------------------------


def _current_charter(trial_id: int) -> Charter:
    return Charter.objects.get(trial_id=trial_id, is_current=True)


def _rules(charter: Charter) -> AdjudicationRules:
    return AdjudicationRules.from_json(
        charter.adjudication_rules, bor_confirmed_default=charter.confirmation_required
    )


def _signed_state(subject: Subject) -> tuple[Snapshot, SubjectSnapshot] | None:
    """The signed timepoint reads of the subject's two reads (its
    :class:`~trialreads.snapshot.TrialSnapshot`), or ``None`` unless both signed the same
    (non-empty) set of timepoints."""
    [state] = TrialSnapshot.load(subject.trial_id, subject_id=subject.pk).subjects
    trs1 = state.reads[1].timepoint_reads if 1 in state.reads else ()
    trs2 = state.reads[2].timepoint_reads if 2 in state.reads else ()
    if not trs1 or [t.timepoint.id for t in trs1] != [t.timepoint.id for t in trs2]:
        return None
    snapshot = [
        [t1.timepoint.id, t1.content_sha256, t2.content_sha256] for t1, t2 in zip(trs1, trs2, strict=True)
    ]
    return snapshot, state


def _compare(subject: Subject, reads: Sequence[Read], charter: Charter) -> Comparison | None:
    """Both reads under every charter criterion (and any the rules name), each criterion on
    its own (:func:`trialreads.evaluation.evaluate_each`). A criterion the reads do not
    carry the input of (irRC's perpendicular diameters, PET) is left out of the comparison
    and recorded in the summary, unless it is the primary criterion or the rules name it:
    then the evaluation fails (:class:`CriterionNotEvaluable`), as any engine failure does."""
    state = _signed_state(subject)
    if state is None:
        return None
    snapshot, signed = state
    rules = _rules(charter)
    criteria = list(dict.fromkeys([*charter.criteria, *rules.named_criteria]))
    required = {charter.primary_criterion, *rules.named_criteria}
    settings = settings_from_charter(charter)
    scope = scope_from_charter(charter)
    results: dict[int, dict[str, CriterionResult]] = {}
    not_evaluable: dict[str, str] = {}
    for read in reads:
        engine_input = engine_subject(signed, signed.reads[read.slot], settings, scope=scope)
        if not has_engine_input(engine_input):
            return None
        evaluation = evaluate_each(engine_input, criteria)
        for criterion, message in evaluation.errors.items():
            if criterion in required:
                raise CriterionNotEvaluable(message)
            not_evaluable.setdefault(criterion, message)
        results[read.slot] = dict(evaluation.results)
    for slot_results in results.values():  # out of the comparison on both reads alike
        for criterion in not_evaluable:
            slot_results.pop(criterion, None)
    return Comparison(
        snapshot=snapshot,
        results=results,
        disagreements=compare_results(results[1], results[2], rules),
        primary_criterion=charter.primary_criterion,
        rules=rules,
        charter_version=charter.version,
        not_evaluable=not_evaluable,
    )


def _values(result: CriterionResult | None) -> dict[str, Any]:
    pd_date = first_progression_date(result) if result else None
    return {
        "bor": result.bor if result else None,
        "bor_confirmed": result.bor_confirmed if result else None,
        "pd_date": pd_date.isoformat() if pd_date else None,
    }


def _summary(comparison: Comparison) -> dict[str, Any]:
    """Each slot's values for the reader metrics: the primary criterion's at the top level
    (``"1"``, ``"2"``, as before), every compared criterion's under ``criteria``, and the
    criteria left out under ``not_evaluable``."""
    out: dict[str, Any] = {
        "criterion": comparison.primary_criterion, "charter_version": comparison.charter_version,
    }
    for slot, results in comparison.results.items():
        out[str(slot)] = _values(results.get(comparison.primary_criterion))
    out["criteria"] = {
        criterion: {str(slot): _values(results[criterion]) for slot, results in comparison.results.items()}
        for criterion in comparison.results[1]
    }
    if comparison.not_evaluable:
        out["not_evaluable"] = dict(comparison.not_evaluable)
    return out


def _slot_key(rows: Sequence[dict[str, Any]], a_slot: int) -> list[tuple[Any, ...]]:
    """Orientation-free identity of a disagreement list (slot 1 value, slot 2 value)."""
    key = []
    for row in rows:
        v1, v2 = (row["value_a"], row["value_b"]) if a_slot == 1 else (row["value_b"], row["value_a"])
        key.append((row["criterion"], row["variable"], v1, v2))
    return key


def _snapshot_still_holds(case_snapshot: Snapshot, current: Snapshot) -> bool:
    """Every timepoint the case compared is still signed with the same content on both reads."""
    now = {row[0]: row for row in current}
    return all(now.get(row[0]) == row for row in case_snapshot)


# --- the trigger ------------------------------------------------------------------------------


def _void(case: AdjudicationCase, reason: str, actor: Any) -> None:
    before = {"status": case.status, "chosen_slot": case.chosen_slot}
    case.status, case.voided_at, case.void_reason = AdjudicationStatus.VOIDED, timezone.now(), reason
    case.save(update_fields=["status", "voided_at", "void_reason"])
    audit_record(
        chain_id=case.subject.trial.chain_id,
        event_type=AuditEventType.ADJUDICATION_VOIDED,
        actor=actor,
        object_type="adjudication_case",
        object_id=case.pk,
        before=before,
        after={"status": case.status},
        reason=reason,
    )


def _accept(
    state: AcceptedRead, subject: Subject, reads_by_slot: dict[int, Read], basis: str,
    slot: int | None, case: AdjudicationCase | None, actor: Any,
) -> None:
    before = {"read_id": state.read_id, "basis": state.basis, "case_id": state.case_id} if state.pk else None
    state.read = reads_by_slot[slot] if slot is not None else None
    state.basis, state.case = basis, case
    after = {"read_id": state.read_id, "basis": basis, "case_id": case.pk if case else None}
    state.save()
    if before != after:
        audit_record(
            chain_id=subject.trial.chain_id,
            event_type=AuditEventType.READ_ACCEPTED,
            actor=actor,
            object_type="subject",
            object_id=subject.pk,
            before=before,
            after=after,
        )


def _open_case(subject: Subject, comparison: Comparison, actor: Any) -> AdjudicationCase:
    last = AdjudicationCase.objects.filter(subject=subject).order_by("-cycle").values_list("cycle", flat=True)
    a_slot = secrets.randbelow(2) + 1  # the label must not reveal the slot (or the reader)
    case = AdjudicationCase(
        subject=subject,
        cycle=(last.first() or 0) + 1,
        a_slot=a_slot,
        disagreements=comparison.disagreements_for(a_slot),
        variables=variables_of(comparison.disagreements),
        snapshot=comparison.snapshot,
    )
    case.save()
    audit_record(
        chain_id=subject.trial.chain_id,
        event_type=AuditEventType.ADJUDICATION_CREATED,
        actor=actor,
        object_type="adjudication_case",
        object_id=case.pk,
        after={
            "subject_id": subject.pk,
            "cycle": case.cycle,
            "a_slot": a_slot,
            "variables": case.variables,
            "disagreements": case.disagreements,
            "timepoints": [row[0] for row in comparison.snapshot],
        },
    )
    _auto_assign(case, actor)
    return case


def adjudication_evaluate(*, subject_id: int, actor: Any = None) -> AcceptedRead | None:
    """Compare the subject's two reads if both signed the same timepoints; open, keep or
    void adjudication cases and set the accepted read. Idempotent for an unchanged state.

    Must run inside the transaction that changed the reads (or its own); locks the subject.
    Returns the subject's :class:`AcceptedRead`, or ``None`` when there is nothing to compare.
    """
    with transaction.atomic():
        subject = Subject.objects.select_for_update().select_related("trial").get(pk=subject_id)
        reads = list(Read.objects.filter(subject=subject).select_related("subject").order_by("slot"))
        if len(reads) != 2:
            return None
        charter = _current_charter(subject.trial_id)
        comparison = _compare(subject, reads, charter)
        if comparison is None:
            return None
        state = AcceptedRead.objects.filter(subject=subject).first()
        if (
            state is not None
            and state.snapshot == comparison.snapshot
            and state.summary.get("charter_version") == comparison.charter_version
        ):
            return state  # this exact state was already evaluated (e.g. the simultaneous signer)
        now = timezone.now()
        if state is None:
            state = AcceptedRead(subject=subject, first_compared_at=now, basis=AcceptanceBasis.PENDING)
        state.snapshot, state.summary, state.evaluated_at = comparison.snapshot, _summary(comparison), now
        reads_by_slot = {r.slot: r for r in reads}

        # Cases resting on content that has since changed are void.
        live = list(
            AdjudicationCase.objects.filter(
                subject=subject, status__in=[AdjudicationStatus.OPEN, AdjudicationStatus.DECIDED]
            ).select_related("subject__trial").order_by("cycle")
        )
        for case in live:
            if not _snapshot_still_holds(case.snapshot, comparison.snapshot):
                _void(case, "a compared read was unlocked and changed", actor)
        live = [c for c in live if c.status != AdjudicationStatus.VOIDED]
        open_case = next((c for c in live if c.status == AdjudicationStatus.OPEN), None)
        decided = next((c for c in reversed(live) if c.status == AdjudicationStatus.DECIDED), None)
        new_key = [
            (d.criterion, d.variable, d.value_a, d.value_b) for d in comparison.disagreements
        ]

        if not comparison.disagreements:
            if open_case is not None:
                _void(open_case, "the reads are now concordant", actor)
            adjudicated = decided is not None and state.case_id == decided.pk
            if adjudicated and state.basis == AcceptanceBasis.ADJUDICATION:
                state.save()  # the adjudicator's choice stands
            else:
                _accept(state, subject, reads_by_slot, AcceptanceBasis.RULE, RULE_SLOT, None, actor)
            return state

        if open_case is not None:
            if _slot_key(open_case.disagreements, open_case.a_slot) == new_key:
                state.save()  # same disagreement, still waiting for the adjudicator
                return state
            _void(open_case, "superseded: the points of disagreement changed", actor)
        elif decided is not None and _slot_key(decided.disagreements, decided.a_slot) == new_key:
            state.save()  # already adjudicated exactly this disagreement; the decision stands
            return state
        case = _open_case(subject, comparison, actor)
        _accept(state, subject, reads_by_slot, AcceptanceBasis.PENDING, None, case, actor)
        return state


def adjudication_evaluate_after_sign(*, subject_id: int, actor: Any) -> AcceptedRead | None:
    """The hook the sign service calls inside its transaction.

    A failure of the criteria engine must not fail (or inform) the signing reader: it is
    logged and audited for the read manager, who can re-run :func:`adjudication_evaluate`.
    Database errors (lock timeouts, serialisation failures) still abort the signing
    transaction, because a signature without its evaluation would lose the trigger.
    """
    with audit_context(actor_label=SYSTEM_ACTOR, triggered_by=getattr(actor, "pk", None)):
        try:
            with transaction.atomic():
                return adjudication_evaluate(subject_id=subject_id, actor=None)
        except DatabaseError:
            raise
        except Exception as exc:
            logger.exception("adjudication evaluation failed for subject %s", subject_id)
            failed = AuditEventType.ADJUDICATION_EVALUATION_FAILED
            subject_failure_record(subject_id=subject_id, event_type=failed, exc=exc)
            return None


def adjudication_reevaluate(*, subject_id: int, actor: Any) -> AcceptedRead | None:
    """Read manager: run the evaluation again (after an engine failure, or a charter change)."""
    subject = access.access_subject_for(actor, subject_id)
    access.require_capability(actor, subject.trial_id, access.MANAGE, "subject", subject.pk)
    with audit_context(actor_label=SYSTEM_ACTOR, requested_by=actor.pk):
        return adjudication_evaluate(subject_id=subject.pk, actor=actor)


# --- assignment ------------------------------------------------------------------------------


def _adjudicator_candidates(case: AdjudicationCase) -> list[int]:
    """Adjudicators of the trial who do not read this subject, least loaded first (open
    cases across all trials), then by id: a deterministic round robin under equal load."""
    readers = Read.objects.filter(subject_id=case.subject_id).values("reader_id")
    ids = list(
        TrialMembership.objects.filter(trial_id=case.subject.trial_id, role=TrialRole.ADJUDICATOR)
        .exclude(user_id__in=readers)
        .values_list("user_id", flat=True)
    )
    load = dict(
        AdjudicationCase.objects.filter(status=AdjudicationStatus.OPEN, adjudicator_id__in=ids)
        .exclude(pk=case.pk)
        .values("adjudicator_id")
        .annotate(n=Count("id"))
        .values_list("adjudicator_id", "n")
    )
    return sorted(ids, key=lambda uid: (load.get(uid, 0), uid))


def _set_adjudicator(case: AdjudicationCase, user_id: int, actor: Any, how: str) -> None:
    before = {"adjudicator_id": case.adjudicator_id}
    case.adjudicator_id, case.assigned_at = user_id, timezone.now()
    case.save(update_fields=["adjudicator", "assigned_at"])
    audit_record(
        chain_id=case.subject.trial.chain_id,
        event_type=AuditEventType.ADJUDICATION_ASSIGNED,
        actor=actor,
        object_type="adjudication_case",
        object_id=case.pk,
        before=before,
        after={"adjudicator_id": user_id, "how": how},
    )


def _auto_assign(case: AdjudicationCase, actor: Any) -> None:
    """Least-loaded adjudicator of the trial (fewest OPEN cases, then lowest id), never a
    reader of the subject. Unassigned when the trial has no adjudicator yet; the read
    manager assigns later."""
    candidates = _adjudicator_candidates(case)
    if candidates:
        _set_adjudicator(case, candidates[0], actor, "automatic (least loaded)")


def adjudication_assign(*, case_id: object, adjudicator_id: int, actor: Any) -> AdjudicationCase:
    """Read manager: (re)assign an open case to an adjudicator of the trial who is not a
    reader of the subject."""
    case = access.access_adjudication_for(actor, case_id)
    access.require_capability(actor, case.subject.trial_id, access.MANAGE, "adjudication_case", case.pk)
    with transaction.atomic():
        case = AdjudicationCase.objects.select_for_update().select_related("subject__trial").get(pk=case.pk)
        if case.status != AdjudicationStatus.OPEN:
            raise Conflict("Only an open adjudication can be assigned.")
        if adjudicator_id not in _adjudicator_candidates(case):
            raise ValidationError(
                "not an adjudicator of this trial, or a reader of this subject", "adjudicator_id"
            )
        _set_adjudicator(case, adjudicator_id, actor, "manual")
    return case


# --- decision ----------------------------------------------------------------------------------


def decision_content(case: AdjudicationCase) -> dict[str, Any]:
    """What the adjudicator's signature covers."""
    return {
        "adjudication_case": case.pk,
        "subject": case.subject_id,
        "cycle": case.cycle,
        "chosen": case.label_for_slot(case.chosen_slot) if case.chosen_slot else None,
        "chosen_slot": case.chosen_slot,
        "rationale": case.rationale,
        "disagreements": case.disagreements,
        "snapshot": case.snapshot,
    }


def adjudication_decide(
    *,
    case_id: object,
    chosen: str,
    rationale: str,
    password: str,
    printed_name: str,
    actor: Any,
    meaning: str = "",
) -> AdjudicationCase:
    """The assigned adjudicator chooses Read A or Read B, gives a rationale and signs
    (password re-entry, printed name, meaning; same lockout as read signing). The chosen
    read becomes the subject's accepted read."""
    case = access.access_adjudication_for(actor, case_id)
    access.require_capability(actor, case.subject.trial_id, access.ADJUDICATE, "adjudication_case", case.pk)
    if case.adjudicator_id != actor.pk:
        access.deny_permission(actor, "adjudication_case", case.pk, "assigned adjudicator")
    errors: dict[str, list[str]] = {}
    if chosen not in ("A", "B"):
        errors["chosen"] = ['"A" or "B"']
    if not isinstance(rationale, str) or not rationale.strip():
        errors["rationale"] = ["a rationale is required"]
    elif len(rationale) > 5000:
        errors["rationale"] = ["at most 5000 characters"]
    name_problem = validators.printed_name_error(printed_name)
    if name_problem:
        errors["printed_name"] = [name_problem]
    meaning = meaning.strip() if isinstance(meaning, str) else ""
    if len(meaning) > 300:
        errors["meaning"] = ["at most 300 characters"]
    if errors:
        raise ValidationError(errors)
    # The same re-authentication and lockout counter as every other e-signature.
    signature_reauthenticate(
        actor=actor,
        password=password,
        chain_id=case.subject.trial.chain_id,
        object_type="adjudication_case",
        object_id=case.pk,
    )
    with transaction.atomic():
        subject = Subject.objects.select_for_update().select_related("trial").get(pk=case.subject_id)
        case = AdjudicationCase.objects.select_for_update().select_related("subject__trial").get(pk=case.pk)
        if case.status != AdjudicationStatus.OPEN:
            raise Conflict("This adjudication is no longer open.")
        reads = list(Read.objects.filter(subject=subject).order_by("slot"))
        state = _signed_state(subject)
        if state is None or not _snapshot_still_holds(case.snapshot, state[0]):
            raise Conflict("A read of this subject was reopened; decide once it has been signed again.")
        case.chosen_slot = case.slot_for_label(chosen)
        case.rationale = rationale.strip()
        case.printed_name = printed_name.strip()
        case.meaning = meaning or "I am the adjudicator of this subject and approve this decision."
        case.signed_at = timezone.now()
        case.content_sha256 = sha256_hex(canonical_json(decision_content(case)))
        case.status = AdjudicationStatus.DECIDED
        case.save(update_fields=[
            "chosen_slot", "rationale", "printed_name", "meaning", "signed_at", "content_sha256", "status",
        ])
        audit_record(
            chain_id=subject.trial.chain_id,
            event_type=AuditEventType.ADJUDICATION_DECIDED,
            actor=actor,
            object_type="adjudication_case",
            object_id=case.pk,
            before={"status": AdjudicationStatus.OPEN},
            after={
                "status": case.status,
                "chosen": chosen,
                "chosen_slot": case.chosen_slot,
                "rationale": case.rationale,
                "printed_name": case.printed_name,
                "meaning": case.meaning,
                "signed_at": case.signed_at,
                "content_sha256": case.content_sha256,
            },
        )
        accepted = AcceptedRead.objects.get(subject=subject)
        _accept(accepted, subject, {r.slot: r for r in reads}, AcceptanceBasis.ADJUDICATION,
                case.chosen_slot, case, actor)
        # Confirmation windows follow every signed read already (acceptance changes none of
        # them); the run here catches up after an earlier engine failure and is otherwise a no-op.
        confirmation_windows_reconcile(subject_id=subject.pk, actor=actor)
        # The accepted read drives the endpoints: recompute them once this commits.
        endpoints_recompute_on_commit(trial_id=subject.trial_id, actor=actor)
    return case


# --- investigator (site) assessments -----------------------------------------------------------


@dataclass(frozen=True)
class InvestigatorRow:
    subject_code: str
    pd_date: dt.date | None
    bor: str = ""


#: Best-first order of RECIST 1.1 overall responses for the investigator's (unconfirmed) BOR.
_BOR_RANK = validators.OVERALL_RESPONSES


def investigator_rows_from_rs(rows: Iterable[Mapping[str, str]]) -> list[InvestigatorRow]:
    """SDTM RS records of the investigator (``RSEVAL="INVESTIGATOR"``, ``RSTESTCD="OVRLRESP"``)
    -> one row per subject: the date of the first ``PD`` and the best response recorded
    (unconfirmed; only the progression date enters EDR/LDR). A partial ``RSDTC`` on a PD
    record is imputed to the first day of its month (or year): the earliest date it can be,
    the usual imputation for a progression date.

    Refused, naming the record (``rows[i]`` counts every data row of the file from 0; the CSV
    line is i + 2) and its column: a response outside the RECIST 1.1 codelist ("MAYBE"), and
    a second record of the same subject at the same visit or on the same date."""
    by_subject: dict[str, list[tuple[str, str]]] = {}
    errors: dict[str, list[str]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for i, row in enumerate(rows):
        if row.get("RSEVAL") != "INVESTIGATOR" or row.get("RSTESTCD") != "OVRLRESP":
            continue
        usubjid, dtc, code = row.get("USUBJID", ""), row.get("RSDTC", ""), row.get("RSSTRESC", "")
        where = f"rows[{i}]"
        if code not in _BOR_RANK:
            errors[f"{where}.RSSTRESC"] = [f"line {i + 2}: {code!r} is not one of {', '.join(_BOR_RANK)}"]
        for column in ("VISITNUM", "RSDTC"):
            value = (row.get(column) or "").strip()
            if not value or value == "NA":
                continue
            first = seen.setdefault((usubjid, column, value), i)
            if first != i:
                errors[f"{where}.{column}"] = [
                    f"line {i + 2}: duplicate of line {first + 2} ({usubjid}, {column} {value})"
                ]
        by_subject.setdefault(usubjid, []).append((dtc, code))
    if errors:
        raise ValidationError(errors)
    out = []
    for usubjid in sorted(by_subject):
        records = sorted(by_subject[usubjid])
        pd_dtc = next((dtc for dtc, code in records if code == "PD"), None)
        codes = {code for _, code in records}
        bor = next((code for code in _BOR_RANK if code in codes), "")
        out.append(InvestigatorRow(usubjid, _imputed_date(pd_dtc) if pd_dtc else None, bor))
    return out


def _imputed_date(dtc: str) -> dt.date:
    parts = [*dtc[:10].split("-"), "01", "01"][:3]  # "2014-02" -> 2014-02-01
    try:
        # ASCII digits only (int() would read "٢٠١٤" too)
        if not all(re.fullmatch(r"[0-9]{2,4}", p, re.ASCII) for p in parts):
            raise ValueError(dtc)
        imputed = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError as exc:
        raise ValidationError(f"not an ISO 8601 date: {dtc!r}", "RSDTC") from exc
    problem = validators.date_error(imputed)
    if problem:
        raise ValidationError(f"{dtc!r}: {problem}", "RSDTC")
    return imputed


def investigator_assessments_import(
    *, trial_id: object, rows: Sequence[InvestigatorRow], source: str, actor: Any,
) -> int:
    """Read manager: store the sites' own progression dates (from the EDC) for the
    site-vs-central discrepancy metrics. Re-importing a subject replaces its row."""
    trial = access.access_trial_for(actor, trial_id)
    access.require_capability(actor, trial.pk, access.MANAGE, "trial", trial.pk)
    subjects = dict(Subject.objects.filter(trial=trial).values_list("subject_code", "pk"))
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row.subject_code not in subjects:
            errors[f"rows[{i}].subject_code"] = ["unknown subject of this trial"]
        elif row.subject_code in seen:
            # One assessment per subject: a second row would silently replace the first.
            errors[f"rows[{i}].subject_code"] = [f"duplicate of rows[{seen[row.subject_code]}]"]
        else:
            seen[row.subject_code] = i
        if row.pd_date is not None and (problem := validators.date_error(row.pd_date)):
            errors[f"rows[{i}].pd_date"] = [f"{problem} or null"]
        if row.bor not in ("", *validators.OVERALL_RESPONSES):
            errors[f"rows[{i}].bor"] = [f"empty or one of {', '.join(validators.OVERALL_RESPONSES)}"]
    if not isinstance(source, str) or not source.strip() or len(source) > 200:
        errors["data_source"] = ["1-200 characters"]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        existing = {a.subject_id: a for a in InvestigatorAssessment.objects.filter(subject__trial=trial)}
        for row in rows:
            sid = subjects[row.subject_code]
            obj = existing.get(sid) or InvestigatorAssessment(subject_id=sid)
            obj.pd_date, obj.bor, obj.imported_at, obj.source = row.pd_date, row.bor, now, source
            obj.save()
        audit_record(
            chain_id=trial.chain_id,
            event_type=AuditEventType.INVESTIGATOR_ASSESSMENTS_IMPORTED,
            actor=actor,
            object_type="trial",
            object_id=trial.pk,
            after={
                "source": source,
                "rows": [{"subject": r.subject_code, "pd_date": r.pd_date, "bor": r.bor} for r in rows],
            },
        )
    return len(rows)
