"""imRECIST timepoint responses from lesion measurements (rules §5: HOD18 and review tables).

Baseline as RECIST 1.1 (IM-BASE). At follow-up the sum of longest diameters (SLD) is the
baseline targets plus the measurable new lesions (IM-NEW-MEAS; at most 5 in total and 2 per
organ by default, or 10 / 5 per organ with ``imrecist_new_lesion_cap="irrc"``, A6, taken
timepoint by timepoint, largest first: R11-TGT-SEL "selection is by size"). PD is decided
on that measurable disease only: SLD at least 20% above the nadir of the combined SLD and,
by default, at least 5 mm above it (IM-PD, A7). New
non-measurable lesions and non-target progression never define PD but rule out CR
(IM-NEW-NONMEAS, IM-NT). PR is the SLD at least 30% below the *baseline target* sum (IM-PR).

Unlike RECIST 1.1 the walk goes on after PD (imRECIST allows response after PD); whether a
PD is negated, confirmed or stands is derived from the sequence by
``criteria.endpoints`` (``pd_status``), not here.

A lesion first seen too small to be measurable joins the SLD once it becomes measurable and
a place is free (it is then a "new measurable lesion"). The PD date is the earliest scan
date of the PD timepoint: under imRECIST a new lesion alone never makes PD, so the
equivocal-lesion backdating of R11-EQUIVOCAL does not arise.
"""

from __future__ import annotations

from decimal import Decimal

from criteria.lesions import (
    IRRC_CAP,
    RECIST_CAP,
    SubjectCache,
    SumAssessment,
    allocate_new_targets,
    mm_text,
    new_target_lesions,
    require_baseline,
)
from criteria.recist11 import new_lesion_sentences, not_done_result
from criteria.types import ScanKind, Subject, TimepointResult

CR = "CR"
PR = "PR"
SD = "SD"
PD = "PD"
NE = "NE"
NA = "NA"
NON_CR_NON_PD = "NON-CR/NON-PD"


def timepoint_responses(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """imRECIST responses, one per timepoint, going on after PD (IM-* rules, rules §5).

    The nadir is the smallest complete SLD so far, baseline target sum included
    (IM-PD). A1 continued PR and A2 reappearance after CR apply as under RECIST 1.1; the
    continued PR ends at a PD.
    """
    baseline = require_baseline(subject)
    settings = subject.settings
    cache = cache or SubjectCache(subject)
    views = cache.views
    cap = RECIST_CAP if settings.imrecist_new_lesion_cap == "recist" else IRRC_CAP
    chosen = allocate_new_targets(subject, views, cap=cap, promote=True) if cache.any_new else {}
    base_mm = cache.baseline_mm
    target_ids = frozenset(t.id for t in baseline.targets)
    nadir = base_mm
    responded = False
    previous: str | None = None
    explain = cache.explain
    new_codes = cache.new_codes
    has_targets = bool(baseline.targets)
    require_5mm = settings.imrecist_pd_requires_5mm
    reappearance = settings.reappearance_after_cr_is_pd
    continues = settings.pr_continues_until_pd
    blocks_cr = settings.imrecist_equivocal_blocks_cr
    results: list[TimepointResult] = []
    for i, (tp, view) in enumerate(zip(subject.timepoints, views, strict=True)):
        if tp.scan is ScanKind.NOT_DONE:
            results.append(not_done_result(baseline, tp))
            continue
        why: list[str] = []
        new_measured = new_target_lesions(tp, chosen, i) if chosen else ()
        # the targets' tuple itself when no new lesion is measured (then the subject cache may
        # reuse the iRECIST sum assessment of the same values, SubjectCache.assess_sum)
        lesions = cache.lesions[i]
        if new_measured:
            lesions = (*lesions, *new_measured)
            new_sum: Decimal | None = sum((x.mm for x in new_measured if x.mm is not None), Decimal(0))
        else:
            new_sum = None
        sums: SumAssessment | None = None
        target = NA
        if lesions:
            sums = cache.assess_sum(i, lesions, nadir, reappearance and previous == CR, require_5mm,
                                    target_ids, "SLD")
            target = sums.code
            if not has_targets and target in (PR, SD):
                # RECIST 1.1 Table 2: without measurable disease at baseline the categories
                # are CR, NON-CR/NON-PD, PD and NE; PR and SD need a baseline sum.
                target = NON_CR_NON_PD
                if explain:
                    why.append(_no_baseline_sum_sentence(sums, nadir))
            elif explain:
                why.extend(sums.why)
            if new_sum is not None and explain:
                why.append(
                    f"SLD includes new measurable lesion(s) {', '.join(x.id for x in new_measured)} "
                    f"({mm_text(new_sum)}) (IM-NEW-MEAS)"
                )
            if target == SD and continues and responded:
                target = PR
                why.append("PR continues: PR was assigned earlier and PD is not met (A1, FAQ-MANAGING-PR)")
        nt = cache.nontargets[i]
        non_target = nt.code
        if non_target == PD:
            non_target = NON_CR_NON_PD
            if explain:
                why.append(
                    f"unequivocal progression of {', '.join(nt.unequivocal)} does not define imRECIST PD; "
                    "it rules out CR (IM-NT)"
                )
        elif explain:
            why.extend(nt.why)
        if explain:
            why.extend(new_lesion_sentences(view))
        if view.present:
            measured_ids = {m.id for m in new_measured}
            unmeasured = tuple(x.id for x in view.present if x.id not in measured_ids)
        else:
            unmeasured = ()
        # E3: an equivocal new lesion rules out CR only with imrecist_equivocal_blocks_cr
        equivocal = tuple(x.id for x in view.equivocal) if blocks_cr and view.equivocal else ()
        overall, sentence = _overall(
            target, non_target, unmeasured, has_targets or bool(new_measured), equivocal, explain
        )
        why.append(sentence)
        if sums is None or sums.complete:
            extra: dict[str, str | Decimal | None] = {}
        else:
            extra = {"partial_sum_mm": sums.available_mm}
        if new_sum is not None:
            extra["new_measurable_sum_mm"] = new_sum
        progression_date = tp.earliest_date if overall == PD else None
        if sums is None:
            result = TimepointResult(tp.date, target, non_target, new_codes[i], overall, None, None, None,
                                     None, tuple(why) if explain else (), progression_date, tp.scan, extra)
        else:
            total = None if sums.missing else sums.available_mm  # sums.total_mm
            result = TimepointResult(tp.date, target, non_target, new_codes[i], overall, total, nadir,
                                     sums.pct_vs_baseline, sums.pct_vs_nadir, tuple(why) if explain else (),
                                     progression_date, tp.scan, extra)
            if total is not None and total < nadir:  # nadir = min(nadir, total)
                nadir = total
        results.append(result)
        if overall != NE:
            previous = overall
        if overall == PD:
            responded = False
        elif overall in (PR, CR):
            responded = True
    return tuple(results)


def _overall(
    target: str, non_target: str, unmeasured: tuple[str, ...], measurable: bool,
    equivocal: tuple[str, ...] = (), explain: bool = True,
) -> tuple[str, str]:
    """Overall imRECIST response (IM-PD, IM-CR, IM-PR, IM-NT, IM-NEW-NONMEAS).

    PD only from the SLD. CR needs every lesion gone: SLD lesions, non-targets and the new
    lesions outside the SLD; otherwise a target CR is PR (Table 1's CR / non-CR row).
    Without measurable disease (non-target-only baseline and no measurable new lesion)
    Table 2 applies with NON-CR/NON-PD. Without ``explain`` the sentence is ``""``.
    """
    if target == PD:
        return PD, "overall PD: the SLD meets PD (IM-PD)"
    if target == NE:
        return NE, "overall NE: SLD not complete and PD not proven (R11-MISSING, IM-PD)"
    blocked = non_target not in (CR, NA) or bool(unmeasured) or bool(equivocal)

    def blockers() -> str:
        parts = []
        if non_target not in (CR, NA):
            parts.append(f"non-target {non_target}")
        if unmeasured:
            parts.append(f"non-measurable new lesion(s) {', '.join(unmeasured)}")
        if equivocal:
            parts.append(f"equivocal new lesion(s) {', '.join(equivocal)} (E3, setting "
                         "imrecist_equivocal_blocks_cr)")
        return "; ".join(parts)

    if not measurable or target == NA:
        if non_target == NE:
            return NE, "overall NE: non-targets not all evaluated (R11-MISSING, R11-TPR-T2)"
        if non_target in (CR, NA) and not unmeasured and not equivocal:
            return CR, "overall CR: every lesion gone (IM-CR)"
        return NON_CR_NON_PD, f"overall NON-CR/NON-PD: no measurable disease, {blockers()}" if explain else ""
    if target == NON_CR_NON_PD:
        return NON_CR_NON_PD, ("overall NON-CR/NON-PD: no measurable disease at baseline and the SLD "
                               "of new measurable lesions does not meet PD (R11-TPR-T2, IM-PD)")
    if target == CR:
        if not blocked:
            return CR, "overall CR: every lesion gone, nodes below 10 mm (IM-CR)"
        return PR, f"overall PR: SLD CR but {blockers()} (IM-CR, IM-NEW-NONMEAS)" if explain else ""
    if target == PR:
        return PR, "overall PR: SLD at least 30% below the baseline sum; no PD (IM-PR)"
    if target == SD:
        return SD, "overall SD: SLD neither PR nor PD (IM-PD)"
    return target, f"overall {target}"


def _no_baseline_sum_sentence(sums: SumAssessment, nadir: Decimal) -> str:
    """The SLD line for non-target-only baseline disease with new measurable lesions."""
    total = sums.total_mm if sums.total_mm is not None else Decimal(0)
    return (f"SLD {mm_text(total)} (new measurable lesions only) is {mm_text(total - nadir)} above "
            f"the nadir {mm_text(nadir)}: not PD (IM-PD); with no measurable disease at baseline "
            "PR and SD do not apply, NON-CR/NON-PD (RECIST 1.1 Table 2, R11-TPR-T2)")
