"""Read side of adjudication: the case queue, the blinded side-by-side view, the accepted
reads, and the reader-performance metrics.

Blinding: cases are visible only through ``access.visible_adjudication_cases`` (assigned
adjudicator, read manager); readers get the same 404 as for a case that does not exist.
The side-by-side view labels the reads "Read A" / "Read B" (the slot behind each label is
drawn per case) and carries no read id, slot, reader id, reader name or signature name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from typing import Any

from django.db.models import QuerySet

from criteria.evaluate import evaluate
from criteria.serialize import criterion_json
from trialreads import access, mappers
from trialreads.adjudication_rules import AdjudicationRules
from trialreads.choices import AdjudicationStatus, LesionKind, TrialRole
from trialreads.models import (
    AcceptedRead,
    AdjudicationCase,
    Charter,
    InvestigatorAssessment,
    Read,
    TimepointRead,
    TrialMembership,
)
from trialreads.reader_metrics import (
    DiscrepancyRates,
    MonthBucket,
    ProgressionPair,
    SubjectPair,
    discrepancy_rates,
    summarise,
)
from trialreads.selectors.reads import _with_content
from trialreads.snapshot import has_engine_input


def adjudication_case_list(
    *, user: Any, trial_id: object | None = None, status: str | None = None
) -> QuerySet[AdjudicationCase]:
    """The cases ``user`` may see: an adjudicator's own queue, or all of a manager's trials."""
    qs = access.visible_adjudication_cases(user).select_related("subject", "subject__trial")
    if trial_id is not None:
        trial = access.access_trial_for(user, trial_id)
        qs = qs.filter(subject__trial=trial)
    if status is not None:
        qs = qs.filter(status=status)
    return qs.order_by("created_at", "pk")


def adjudication_case_get(*, user: Any, case_id: object) -> AdjudicationCase:
    return access.access_adjudication_for(user, case_id)


def case_json(case: AdjudicationCase) -> dict[str, Any]:
    """The case record as adjudicator and manager see it (labels only, no slots)."""
    out: dict[str, Any] = {
        "id": case.pk,
        "subject": case.subject.subject_code,
        "cycle": case.cycle,
        "status": case.status,
        "variables": list(case.variables),
        "disagreements": list(case.disagreements),
        "created_at": case.created_at,
        "assigned": case.adjudicator_id is not None,
    }
    if case.status == AdjudicationStatus.DECIDED or case.signed_at is not None:
        out["decision"] = {
            "chosen": case.label_for_slot(case.chosen_slot) if case.chosen_slot else None,
            "rationale": case.rationale,
            "printed_name": case.printed_name,
            "meaning": case.meaning,
            "signed_at": case.signed_at,
            "content_sha256": case.content_sha256,
        }
    if case.status == AdjudicationStatus.VOIDED:
        out["voided"] = {"at": case.voided_at, "reason": case.void_reason}
    return out


def _timepoint_json(tr: TimepointRead) -> dict[str, Any]:
    """A signed timepoint read's lesion data, without ids, slots or signer names."""
    tp = tr.timepoint
    measurements = sorted(tr.measurements.all(), key=lambda m: m.lesion.lesion_code)
    ratings = sorted(tr.ratings.all(), key=lambda r: r.lesion.lesion_code)

    def lesion(m: Any) -> dict[str, Any]:
        return {"code": m.lesion.lesion_code, "organ": m.lesion.organ, "is_node": m.lesion.is_node}

    return {
        "visit": tp.visit_label,
        "baseline": tp.is_baseline,
        "scan_date_earliest": tp.scan_date_earliest,
        "scan_date_latest": tp.scan_date_latest,
        "targets": [
            {**lesion(m), "state": m.state, "value_mm": m.value_mm, "fragments_mm": m.fragments_mm}
            for m in measurements
            if m.lesion.kind == LesionKind.TARGET
        ],
        "non_targets": [
            {**lesion(r), "status": r.status} for r in ratings if r.lesion.kind == LesionKind.NON_TARGET
        ],
        "new_lesions": [
            {**lesion(m), "value_mm": m.value_mm, "measurable": m.lesion.measurable, "equivocal": m.equivocal}
            for m in measurements
            if m.lesion.kind == LesionKind.NEW
        ],
    }


def signed_by_slot(reads: Sequence[Read]) -> dict[int, list[TimepointRead]]:
    """The signed timepoint reads of a subject's two reads, by slot, in visit order, with
    lesions, values and ratings prefetched (a constant number of queries). A loader, not a
    view: what a user may see of it is decided by ``access`` (``access_adjudication_for``,
    ``adjudication_comparable``) in the view below, which shows these instances and maps
    them to engine inputs through ``mappers.subject_for_read`` (the snapshot's rows; the
    adjudication service compares the subject's ``TrialSnapshot``, the same signed data)."""
    signed = TimepointRead.objects.signed().filter(read__in=reads)
    slot_of = {r.pk: r.slot for r in reads}
    by_slot: dict[int, list[TimepointRead]] = {1: [], 2: []}
    for tr in _with_content(signed).order_by("timepoint__sequence"):
        by_slot[slot_of[tr.read_id]].append(tr)
    return by_slot


def adjudication_side_by_side(*, user: Any, case_id: object) -> dict[str, Any]:
    """Both reads of the case's subject, over the timepoints both readers signed, with the
    engine's sums, timepoint responses and explanations for every charter criterion, and
    the points of disagreement. Read A first."""
    case = access.access_adjudication_for(user, case_id)
    reads = {r.slot: r for r in Read.objects.filter(subject_id=case.subject_id).select_related("subject")}
    comparable = access.adjudication_comparable(signed_by_slot(list(reads.values())))
    charter = Charter.objects.get(trial_id=case.subject.trial_id, is_current=True)
    out_reads = []
    for label in ("A", "B"):
        slot = case.slot_for_label(label)
        trs = comparable[slot]
        engine_subject = mappers.subject_for_read(reads[slot], trs, charter)
        results = (
            evaluate(engine_subject, list(charter.criteria)).results
            if has_engine_input(engine_subject)
            else {}
        )
        out_reads.append({
            "label": f"Read {label}",
            "timepoints": [_timepoint_json(tr) for tr in trs],
            "results": {name: criterion_json(r, explain=True) for name, r in results.items()},
        })
    return {"case": case_json(case), "reads": out_reads}


def accepted_read_list(*, user: Any, trial_id: object) -> QuerySet[AcceptedRead]:
    """Accepted reads of a trial (read managers and exports only: the basis says whether a
    subject was adjudicated)."""
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.EXPORT, "trial", trial.pk)
    return AcceptedRead.objects.filter(subject__trial=trial).select_related("subject", "read").order_by(
        "subject__subject_code"
    )


# --- reader metrics -------------------------------------------------------------------------


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _drift(buckets: Sequence[MonthBucket]) -> list[dict[str, object]]:
    return [b.as_json() for b in buckets]


def reader_metrics(
    *, user: Any, trial_id: object, pd_tolerance_days: int = 0, bor_categories: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-trial and per-reader metrics (read managers only), from the compared subjects.

    A subject counts once it has been compared (both reads signed the same timepoints),
    in the calendar month of its first comparison. It counts as adjudicated if it has an
    open or decided case (its latest one decides "chosen"); voided cases do not count.
    BOR and first-progression dates are the charter's primary criterion at the latest
    comparison (confirmed BOR when the adjudication rules compare it).

    Six queries whatever the trial size (trial, capability, states, reads, cases, team),
    plus one for investigator assessments.
    """
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.MANAGE, "trial", trial.pk)
    charter = Charter.objects.get(trial=trial, is_current=True)
    states = list(
        AcceptedRead.objects.filter(subject__trial=trial).select_related("read").order_by("subject_id")
    )
    subject_ids = [s.subject_id for s in states]
    readers: dict[int, dict[int, int]] = {}
    for read in Read.objects.filter(subject_id__in=subject_ids).only("subject_id", "slot", "reader_id"):
        readers.setdefault(read.subject_id, {})[read.slot] = read.reader_id
    latest_case: dict[int, AdjudicationCase] = {}
    for case in AdjudicationCase.objects.filter(subject_id__in=subject_ids).exclude(
        status=AdjudicationStatus.VOIDED
    ).order_by("subject_id", "cycle"):
        latest_case[case.subject_id] = case
    # The same BOR the trigger compares (confirmed or not), so kappa and cases agree.
    rules = AdjudicationRules.from_json(
        charter.adjudication_rules, bor_confirmed_default=charter.confirmation_required
    )
    bor_field = "bor_confirmed" if rules.bor_confirmed else "bor"
    pairs: list[SubjectPair] = []
    for state in states:
        slots = readers.get(state.subject_id, {})
        if set(slots) != {1, 2}:
            continue
        latest = latest_case.get(state.subject_id)
        s1, s2 = state.summary.get("1", {}), state.summary.get("2", {})
        pairs.append(SubjectPair(
            subject=state.subject_id,
            readers=(slots[1], slots[2]),
            compared_on=state.first_compared_at.date(),
            adjudicated=latest is not None,
            chosen=latest.chosen_slot if latest is not None else None,
            bor=(s1.get(bor_field), s2.get(bor_field)),
            pd_date=(_date(s1.get("pd_date")), _date(s2.get("pd_date"))),
        ))
    summary = summarise(pairs, bor_categories)
    team: dict[Hashable, dict[str, Any]] = {
        m.user_id: {"user_id": m.user_id, "username": m.user.get_username(), "reader_label": m.reader_label}
        for m in TrialMembership.objects.filter(trial=trial, role=TrialRole.READER).select_related("user")
    }
    site = _site_vs_central(trial.pk, states, pd_tolerance_days)
    return {
        "trial": trial.code,
        "criterion": charter.primary_criterion,
        "bor_field": bor_field,
        "compared_subjects": summary.compared,
        "adjudication_rate": summary.adjudication_rate.as_json(),
        "kappa_bor": summary.kappa.as_json(),
        "median_abs_pd_date_difference_days": summary.median_abs_pd_date_difference_days,
        "drift": _drift(summary.drift),
        "readers": [
            {
                **team.get(r.reader, {"user_id": r.reader, "username": "", "reader_label": ""}),
                "subjects_read": r.subjects_read,
                "adjudicated": r.adjudicated,
                "adjudicator_agreement_rate": r.adjudicator_agreement_rate.as_json(),
                "reader_disagreement_index": r.reader_disagreement_index.as_json(),
                "kappa_bor": r.kappa.as_json(),
                "median_abs_pd_date_difference_days": r.median_abs_pd_date_difference_days,
                "drift": _drift(r.drift),
            }
            for r in summary.readers
        ],
        "site_vs_central": site.as_json() if site is not None else None,
    }


def _site_vs_central(
    trial_id: int, states: Sequence[AcceptedRead], tolerance_days: int
) -> DiscrepancyRates | None:
    """EDR/LDR over subjects with both an investigator assessment and an accepted central
    read (pending adjudications are left out: there is no central answer yet)."""
    site = {
        a.subject_id: a.pd_date for a in InvestigatorAssessment.objects.filter(subject__trial_id=trial_id)
    }
    if not site:
        return None
    pairs = []
    for state in states:
        if state.subject_id not in site or state.read is None:
            continue
        central = _date(state.summary.get(str(state.read.slot), {}).get("pd_date"))
        pairs.append(ProgressionPair(state.subject_id, site[state.subject_id], central))
    return discrepancy_rates(pairs, tolerance_days)
