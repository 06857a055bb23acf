"""irRECIST timepoint responses (Nishino 2013/2014, Bohnsack 2014; rules §6).

Unidimensional, on the RECIST 1.1 baseline (IRREC-BASE: targets, non-targets, measurability
and selection as RECIST 1.1). At follow-up the total measured tumour burden (TMTB) is the
baseline targets plus the new measurable lesions (>= 10 mm, nodes >= 15 mm short axis; at
most 5 in total and 2 per organ as RECIST target selection, taken when first measurable,
largest first) (IRREC-TMTB). irPD is the TMTB at least 20% above its nadir and, by default,
at least 5 mm above it (IRREC-PD, Bohnsack 2014; I3 ``irrecist_pd_requires_5mm``), or
unequivocal progression of the non-target lesions (IRREC-NT, Bohnsack; I7
``irrecist_nt_progression_is_pd`` False: they only rule out irCR, Nishino). A new lesion does
not make irPD by itself: a measurable one enters the TMTB; a non-measurable one rules out
irCR only (IRREC-NEW; the contract carries no "unequivocal progression" of a new
non-measurable lesion, so it never makes irPD here). irPR is the TMTB at least 30% below
the baseline target sum, irCR every lesion gone (nodes < 10 mm), irNN non-target disease
only. Apart from the new lesions the categories are those of RECIST 1.1 (R11-TPR-T1/T2,
A1, A2), so without new lesions irRECIST gives RECIST 1.1's answers up to the first PD.

The walk goes on after irPD; its confirmation (IRREC-CONF: a second irPD at least
``confirm_min_days`` later, before any non-irPD assessment) is derived by
:func:`criteria.endpoints.ir_pd_status` and shown as ``pd_status``.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from criteria.lesions import (
    RECIST_CAP,
    SubjectCache,
    SumAssessment,
    allocate_new_targets,
    mm_text,
    new_target_lesions,
    require_baseline,
)
from criteria.recist11 import new_lesion_sentences, not_done_result, overall_response
from criteria.types import ScanKind, Subject, TimepointResult

#: RECIST 1.1 category -> irRECIST overall code.
CODES = MappingProxyType({"CR": "irCR", "PR": "irPR", "SD": "irSD", "NON-CR/NON-PD": "irNN", "PD": "irPD",
                          "NE": "NE", "NA": "NA"})


def timepoint_responses(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """irRECIST responses, one per timepoint, going on after irPD (IRREC-* rules).

    The nadir is the smallest complete TMTB so far, the baseline target sum included. A1
    continued PR and A2 reappearance after CR apply as under RECIST 1.1; the continued PR
    ends at an irPD."""
    baseline = require_baseline(subject)
    settings = subject.settings
    cache = cache or SubjectCache(subject)
    chosen = allocate_new_targets(subject, cache.views, cap=RECIST_CAP, promote=True) if cache.any_new else {}
    nadir = cache.baseline_mm
    target_ids = frozenset(t.id for t in baseline.targets)
    require_5mm = settings.irrecist_pd_requires_5mm
    explain = cache.explain
    responded = False
    previous: str | None = None
    results: list[TimepointResult] = []
    for i, (tp, view) in enumerate(zip(subject.timepoints, cache.views, strict=True)):
        if tp.scan is ScanKind.NOT_DONE:
            results.append(not_done_result(baseline, tp))
            continue
        why: list[str] = []
        new_measured = new_target_lesions(tp, chosen, i) if chosen else ()
        lesions = cache.lesions[i]
        new_sum: Decimal | None = None
        if new_measured:
            lesions = (*lesions, *new_measured)
            new_sum = sum((x.mm for x in new_measured if x.mm is not None), Decimal(0))
        after_cr = settings.reappearance_after_cr_is_pd and previous == "irCR"
        sums: SumAssessment | None = None
        target = "NA"
        if lesions:
            sums = cache.assess_sum(i, lesions, nadir, after_cr, require_5mm, target_ids, "TMTB")
            target = sums.code
            if not baseline.targets and target in ("PR", "SD"):
                target = "NON-CR/NON-PD"  # no baseline sum: PR and SD need one (RECIST 1.1 Table 2)
            if explain:
                why.extend(sums.why)
                if new_sum is not None:
                    ids = ', '.join(x.id for x in new_measured)
                    why.append(f"TMTB includes new measurable lesion(s) {ids} ({mm_text(new_sum)}) "
                               "(IRREC-TMTB)")
            if target == "SD" and settings.pr_continues_until_pd and responded:
                target = "PR"
                if explain:
                    why.append("PR continues: irPR was assigned earlier and irPD is not met (A1, "
                               "FAQ-MANAGING-PR; setting pr_continues_until_pd)")
        nt = cache.assess_nontargets_after_cr(i) if after_cr else cache.nontargets[i]
        nt_code = nt.code
        if nt_code == "PD" and not settings.irrecist_nt_progression_is_pd:
            nt_code = "NON-CR/NON-PD"  # I7 (Nishino): non-targets only rule out irCR
            if explain:
                why.append(f"non-target unequivocal progression ({', '.join(nt.unequivocal)}) does not "
                           "define irPD; it rules out irCR (I7, setting irrecist_nt_progression_is_pd)")
        # the new lesions are read by the TMTB (measurable) or below (non-measurable): "NO" here
        if target == "NON-CR/NON-PD":  # non-target baseline with new measurable lesions, TMTB not PD
            if nt_code == "PD":
                code, sentence = "PD", "overall PD: non-target PD (R11-TPR-T2, IRREC-NT)"
            else:
                code, sentence = ("NON-CR/NON-PD",
                                  "overall NON-CR/NON-PD: no baseline sum, TMTB not PD "
                                  "(R11-TPR-T2, IRREC-PD)")
        else:
            code, sentence = overall_response(target, nt_code, "NO")
        measured_ids = {m.id for m in new_measured}
        unmeasured = tuple(x.id for x in view.present if x.id not in measured_ids)
        if explain:
            why.extend(nt.why)
            why.extend(new_lesion_sentences(view))
        if code == "CR" and unmeasured:
            code = "PR" if baseline.targets or new_measured else "NON-CR/NON-PD"
            sentence = (f"overall {CODES[code]}: every measured lesion gone but new non-measurable lesion(s) "
                        f"{', '.join(unmeasured)} present (IRREC-NEW)")
        elif unmeasured and explain:
            sentence += f"; new non-measurable lesion(s) {', '.join(unmeasured)} do not make irPD (IRREC-NEW)"
        overall = CODES[code]
        if explain:
            why.append(f"{sentence.replace('overall ' + code, 'overall ' + overall, 1)} (irRECIST)")
        extra: dict[str, str | Decimal | None] = {}
        if sums is not None and not sums.complete:
            extra["partial_sum_mm"] = sums.available_mm
        if new_sum is not None:
            extra["new_measurable_sum_mm"] = new_sum
        if sums is None:
            result = TimepointResult(tp.date, target, nt.code, cache.new_codes[i], overall, None, None, None,
                                     None, tuple(why) if explain else (),
                                     tp.earliest_date if overall == "irPD" else None, tp.scan, extra)
        else:
            total = None if sums.missing else sums.available_mm
            result = TimepointResult(tp.date, target, nt.code, cache.new_codes[i], overall, total, nadir,
                                     sums.pct_vs_baseline, sums.pct_vs_nadir, tuple(why) if explain else (),
                                     tp.earliest_date if overall == "irPD" else None, tp.scan, extra)
            if total is not None and total < nadir:
                nadir = total
        results.append(result)
        if overall != "NE":
            previous = overall
        if overall == "irPD":
            responded = False
        elif overall in ("irPR", "irCR"):
            responded = True
    return tuple(results)
