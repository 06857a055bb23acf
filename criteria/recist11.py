"""RECIST 1.1 timepoint responses from lesion measurements (rules §3, EIS09 and RFAQ).

:func:`timepoint_responses` walks a subject's follow-ups in order, keeping the baseline sum
and the nadir (smallest *complete* sum so far, baseline included), and stops after the first
PD: RECIST 1.1 assessment ends there (contract). Each result carries the target,
non-target and new-lesion categories, the overall response of Table 1 / Table 2 and the
sentences that decided it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from criteria.lesions import (
    NewLesionView,
    SubjectCache,
    SumAssessment,
    require_baseline,
)
from criteria.types import Baseline, ScanKind, Subject, Timepoint, TimepointResult

NA = "NA"
NE = "NE"
CR = "CR"
PR = "PR"
SD = "SD"
PD = "PD"
NON_CR_NON_PD = "NON-CR/NON-PD"


def timepoint_responses(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """RECIST 1.1 responses, one per timepoint up to and including the first PD.

    R11-NADIR: the nadir is the smallest complete sum on study including baseline; a
    timepoint with a target not assessed has no sum and never becomes the nadir.
    A1 (``pr_continues_until_pd``) and A2 (``reappearance_after_cr_is_pd``) need the
    previous overall responses, so the walk carries them along.
    """
    baseline = require_baseline(subject)
    settings = subject.settings
    reappearance, continues = settings.reappearance_after_cr_is_pd, settings.pr_continues_until_pd
    cache = cache or SubjectCache(subject)
    nadir = cache.baseline_mm
    responded = False  # A1: PR or CR assigned at an earlier timepoint
    previous = None  # overall response at the previous evaluable assessment (A2)
    not_done = ScanKind.NOT_DONE
    results: list[TimepointResult] = []
    for i, tp in enumerate(subject.timepoints):
        if tp.scan is not_done:
            results.append(not_done_result(baseline, tp))
            continue
        after_cr = reappearance and previous == CR  # A2
        result = _assess(cache, i, baseline, tp, nadir, after_cr, continues and responded)
        results.append(result)
        overall = result.overall
        if overall == PD:
            break
        total = result.sum_mm
        if total is not None and total < nadir:  # nadir = min(nadir, total)
            nadir = total
        if overall != NE:
            previous = overall
            if overall in (PR, CR):
                responded = True
    return tuple(results)


def not_done_result(baseline: Baseline, tp: Timepoint, ne: str = NE, na: str = NA) -> TimepointResult:
    """R11-MISSING: no imaging at a timepoint makes every category and the overall NE."""
    return TimepointResult(
        date=tp.date,
        target=ne if baseline.targets else na,
        non_target=ne if baseline.non_targets else na,
        new_lesions="NE",
        overall=ne,
        why=("NE: scan not done at this timepoint (R11-MISSING)",),
        scan=tp.scan,
    )


def _assess(
    cache: SubjectCache,
    index: int,
    baseline: Baseline,
    tp: Timepoint,
    nadir: Decimal,
    after_cr: bool,
    continue_pr: bool,
) -> TimepointResult:
    """One evaluable timepoint: target category (R11-CR/PR/SD/PD, R11-MISSING, A1, A2),
    non-target category (R11-NT-CR/PD), new lesions (R11-NEW, R11-EQUIVOCAL), the overall
    response of R11-TPR-T1/T2 and the PD date. Without ``cache.explain`` (see
    :data:`criteria.lesions.SENTENCES`) the result carries no sentences."""
    explain = cache.explain
    view = cache.views[index]
    sums: SumAssessment | None = None
    continued = False  # A1
    if baseline.targets:
        sums = cache.assess_sum(index, cache.lesions[index], nadir, after_cr)
        target = sums.code
        if target == SD and continue_pr:
            target = PR
            continued = True
    else:
        target = NA
    nt = cache.assess_nontargets_after_cr(index) if after_cr else cache.nontargets[index]
    new_lesions = cache.new_codes[index]
    overall, sentence = overall_response(target, nt.code, new_lesions, explain)
    progression_date = None
    dated: tuple[str, ...] = ()
    if overall == PD:
        progression_date, dated = progression_date_for(tp, view)
    why: tuple[str, ...] = ()
    if explain:
        why = (*(sums.why if sums is not None else ()),
               *(("PR continues: PR was assigned earlier and PD is not met (A1, FAQ-MANAGING-PR; "
                  "setting pr_continues_until_pd)",) if continued else ()),
               *nt.why, *new_lesion_sentences(view), sentence, *dated)
    if sums is None:
        return TimepointResult(tp.date, target, nt.code, new_lesions, overall, None, None, None, None,
                               why, progression_date, tp.scan, {})
    missing = sums.missing
    return TimepointResult(
        tp.date, target, nt.code, new_lesions, overall, None if missing else sums.available_mm, nadir,
        sums.pct_vs_baseline, sums.pct_vs_nadir, why, progression_date, tp.scan,
        {"partial_sum_mm": sums.available_mm} if missing else {},
    )


def partial_sum_extra(sums: SumAssessment | None) -> dict[str, str | Decimal | None]:
    """``partial_sum_mm``: the assessed lesions' sum when a target was not assessed."""
    if sums is None or sums.complete:
        return {}
    return {"partial_sum_mm": sums.available_mm}


def new_lesion_sentences(view: NewLesionView) -> tuple[str, ...]:
    """Explain the new-lesion category (R11-NEW, R11-EQUIVOCAL)."""
    out = []
    if view.present:
        out.append(f"new lesion(s) {', '.join(x.id for x in view.present)} unequivocally present (R11-NEW)")
    if view.equivocal:
        out.append(
            f"equivocal new lesion(s) {', '.join(x.id for x in view.equivocal)}: not progression "
            "until confirmed (R11-EQUIVOCAL)"
        )
    return tuple(out)


def progression_date_for(tp: Timepoint, view: NewLesionView) -> tuple[dt.date, tuple[str, ...]]:
    """R11-EQUIVOCAL: PD counts from the earliest scan of the timepoint, or from the earlier
    scan where a new lesion now confirmed was first seen as equivocal (A11)."""
    date = tp.earliest_date
    backdated = view.backdated_date()
    if backdated is not None and backdated < date:
        ids = [x.id for x in view.present if view.first_seen[x.id] == backdated]
        return backdated, (
            f"progression dated {backdated.isoformat()}, when {', '.join(ids)} was first seen "
            "(equivocal then; R11-EQUIVOCAL, A11)",
        )
    return date, ()


def overall_response(target: str, non_target: str, new_lesions: str, explain: bool = True) -> tuple[str, str]:
    """Overall timepoint response from the three categories (R11-TPR-T1, R11-TPR-T2).

    Returns the code and the sentence naming the table row. An equivocal new lesion is not
    progression (R11-EQUIVOCAL) and is read as "no" here. Target ``NA`` means
    non-target-only disease (Table 2), where NON-CR/NON-PD replaces SD. Without ``explain``
    the PD sentence, the one built from parts, is ``""``.
    """
    if target == PD or non_target == PD or new_lesions == "YES":
        if not explain:
            return PD, ""
        causes = [
            name
            for name, hit in (
                ("target PD", target == PD),
                ("non-target PD", non_target == PD),
                ("new lesion(s)", new_lesions == "YES"),
            )
            if hit
        ]
        return PD, f"overall PD: {' and '.join(causes)} (R11-TPR-T1/T2)"
    if target == NA:
        if non_target == CR:
            return CR, "overall CR: non-target CR, no new lesion (Table 2)"
        if non_target == NON_CR_NON_PD:
            return NON_CR_NON_PD, "overall NON-CR/NON-PD: non-target disease only (Table 2)"
        return NE, "overall NE: non-targets not all evaluated (Table 2)"
    if target == NE:
        return NE, "overall NE: targets not all evaluated and no progression (Table 1)"
    if target == CR:
        if non_target in (CR, NA):
            return CR, "overall CR: target CR, non-target CR or none, no new lesion (Table 1)"
        return PR, f"overall PR: target CR with non-target {non_target} (Table 1)"
    if target == PR:
        return PR, "overall PR: target PR, non-target not PD, no new lesion (Table 1)"
    return SD, "overall SD: target SD, non-target not PD, no new lesion (Table 1)"
