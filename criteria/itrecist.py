"""itRECIST timepoint responses (Goldmacher et al., J Clin Oncol 2020;38:2667-76, GOL20).

Rules (criteria-rules.md §7 and GOL20, rule ids in the ``why`` sentences):

* ITR-CLASS: at baseline every lesion is target injected (T-I, 1-5), target non-injected
  (T-NI, 1-5; at most 10 targets), non-target injected (NT-I) or non-target non-injected
  (NT-NI); after baseline a non-injected lesion may become injected, target / non-target
  status never changes (input: :class:`~criteria.types.Injection`, validated in
  ``criteria.validate.validate_injection``).
* ITR-SOD: T-I and T-NI each have their own sum of diameters (LD, short axis for nodes).
* ITR-OVERALL: the overall response uses all targets (one sum of T-I and T-NI), all
  non-targets and new lesions, assessed as iRECIST (default; GOL20 aligns with RECIST 1.1
  and iRECIST and continues assessment after initial progression) or as RECIST 1.1
  (setting ``itrecist_overall_basis``, ambiguity T1).
* ITR-INJ: the injected response from the T-I sum and the NT-I lesions; new lesions are
  not injected lesions and do not enter it.
* ITR-NONINJ: the non-injected response from the T-NI sum, the NT-NI lesions and the new
  lesions (systemic / abscopal effect).
* ITR-RECAT: a lesion injected after baseline belongs to the injected group from that
  timepoint on, both groups' baseline and nadir recomputed with the new membership
  (default, ``itrecist_post_baseline_injection="move"``), or stays in its baseline group
  (``"keep"``), ambiguity T2.

Each group response is the basis criterion's engine run on that group's lesions alone, so
every RECIST 1.1 / iRECIST detail (nadir, TSTM, split and coalesced lesions, NE, iUPD/iCPD,
confirmation windows) is the same code as the overall response.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from criteria import endpoints, irecist, recist11
from criteria.errors import InputError
from criteria.lesions import SENTENCES, SubjectCache, require_baseline, without_sentences
from criteria.rounding import to_display
from criteria.types import (
    IRECIST,
    RECIST11,
    Baseline,
    ExtraValue,
    Injection,
    Settings,
    Subject,
    Timepoint,
    TimepointResult,
)

INJECTED = "injected"
NON_INJECTED = "non_injected"

_Engine = Callable[[Subject, SubjectCache | None], tuple[TimepointResult, ...]]


def basis(settings: Settings) -> str:
    """The criterion the itRECIST responses are assessed by (ITR-OVERALL, T1)."""
    return IRECIST if settings.itrecist_overall_basis == "irecist" else RECIST11


def _engine(settings: Settings) -> _Engine:
    return irecist.timepoint_responses if basis(settings) == IRECIST else recist11.timepoint_responses


def require_injection(subject: Subject) -> Injection:
    if subject.injection is None:
        raise InputError(subject.subject, "baseline.targets",
                         "itRECIST needs the injected flag on every baseline lesion (ITR-CLASS)")
    return subject.injection


def group_subject(subject: Subject, ids: frozenset[str], with_new_lesions: bool) -> Subject | None:
    """``subject`` restricted to the baseline lesions ``ids`` (and the new lesions when
    ``with_new_lesions``); None when the group has no baseline lesion."""
    baseline = require_baseline(subject)
    targets = tuple(t for t in baseline.targets if t.id in ids)
    non_targets = tuple(n for n in baseline.non_targets if n.id in ids)
    if not targets and not non_targets:
        return None
    timepoints = tuple(
        Timepoint(tp.date, tp.scan, {k: v for k, v in tp.targets.items() if k in ids},
                  {k: v for k, v in tp.non_targets.items() if k in ids},
                  tp.new_lesions if with_new_lesions else (), None, tp.scan_dates)
        for tp in subject.timepoints)
    return Subject(subject.subject, subject.reference_date, timepoints,
                   Baseline(baseline.date, targets, non_targets), subject.settings,
                   subject.death_date, subject.last_contact_date)


def _memberships(subject: Subject, injection: Injection) -> list[frozenset[str]]:
    """The injected lesion ids in force at each timepoint (ITR-RECAT, T2)."""
    if subject.settings.itrecist_post_baseline_injection == "keep":
        at_baseline = frozenset(lesion for lesion, flag in injection.baseline.items() if flag)
        return [at_baseline] * len(subject.timepoints)
    return [injection.injected_by(i) for i in range(len(subject.timepoints))]


def _group_runs(subject: Subject, members: Sequence[frozenset[str]], injected_side: bool,
                all_ids: frozenset[str]) -> list[TimepointResult | None]:
    """One group's response at each timepoint: the basis engine on the group's lesions with
    the membership in force at that timepoint (each distinct membership run once)."""
    engine = _engine(subject.settings)
    runs: dict[frozenset[str], Mapping[dt.date, TimepointResult] | None] = {}
    out: list[TimepointResult | None] = []
    for tp, injected_ids in zip(subject.timepoints, members, strict=True):
        ids = injected_ids if injected_side else all_ids - injected_ids
        if ids not in runs:
            sub = group_subject(subject, ids, with_new_lesions=not injected_side)
            runs[ids] = None if sub is None else {r.date: r for r in engine(sub, None)}
        run = runs[ids]
        out.append(None if run is None else run.get(tp.date))
    return out


def _sentence(side: str, result: TimepointResult | None, ids: frozenset[str], rule: str) -> str:
    name = "injected" if side == INJECTED else "non-injected"
    lesions = ", ".join(sorted(ids)) or "none"
    if result is None:
        return f"{name} response: not assessed (group without lesions, or its assessment ended) ({rule})"
    sums = ""
    if result.sum_mm is not None and result.pct_vs_baseline is not None:
        sums = (f", sum {to_display(result.sum_mm)} mm ({to_display(result.pct_vs_baseline)}% vs its baseline"
                + (f", {to_display(result.pct_vs_nadir)}% vs its nadir {to_display(result.nadir_ref_mm)} mm"
                   if result.pct_vs_nadir is not None and result.nadir_ref_mm is not None else "") + ")")
    return (f"{name} response {result.overall} from lesions {lesions}"
            f"{'' if side == INJECTED else ' and new lesions'}: target {result.target}{sums}, "
            f"non-target {result.non_target} ({rule})")


def _extra(prefix: str, result: TimepointResult | None) -> dict[str, ExtraValue]:
    if result is None:
        return {f"{prefix}_response": None}
    out: dict[str, ExtraValue] = {
        f"{prefix}_response": result.overall,
        f"{prefix}_target": result.target,
        f"{prefix}_non_target": result.non_target,
    }
    if prefix == NON_INJECTED:
        out[f"{prefix}_new_lesions"] = result.new_lesions
    sum_mm: Decimal | None = result.sum_mm
    out[f"{prefix}_sum_mm"] = sum_mm
    out[f"{prefix}_nadir_ref_mm"] = result.nadir_ref_mm
    return out


def timepoint_responses(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """itRECIST: the overall response (ITR-OVERALL) with the injected (ITR-INJ) and
    non-injected (ITR-NONINJ) responses and sums (ITR-SOD) in ``extra``."""
    injection = require_injection(subject)
    require_baseline(subject)
    explain = SENTENCES.get()
    overall = _engine(subject.settings)(subject, cache)
    all_ids = frozenset(injection.baseline)
    members = _memberships(subject, injection)
    with without_sentences():  # the group sentences below say what decided each group
        injected = _group_runs(subject, members, True, all_ids)
        non_injected = _group_runs(subject, members, False, all_ids)
    by_date = {tp.date: i for i, tp in enumerate(subject.timepoints)}
    crit = basis(subject.settings)
    results: list[TimepointResult] = []
    for r in overall:
        i = by_date[r.date]
        inj, non = injected[i], non_injected[i]
        extra: dict[str, ExtraValue] = {**r.extra, **_extra(INJECTED, inj), **_extra(NON_INJECTED, non),
                                        "injected_lesions": tuple(sorted(members[i]))}
        later = sorted(x for ids in injection.later[: i + 1] for x in ids)
        if later:
            extra["injected_after_baseline"] = tuple(later)
        why = r.why
        if explain:
            why = (f"overall response from all targets (T-I and T-NI in one sum), non-targets and new "
                   f"lesions, assessed as {crit} (ITR-OVERALL, T1)", *r.why,
                   _sentence(INJECTED, inj, members[i], "ITR-INJ, ITR-SOD"),
                   _sentence(NON_INJECTED, non, all_ids - members[i], "ITR-NONINJ, ITR-SOD"))
        results.append(TimepointResult(r.date, r.target, r.non_target, r.new_lesions, r.overall, r.sum_mm,
                                       r.nadir_ref_mm, r.pct_vs_baseline, r.pct_vs_nadir, why,
                                       r.progression_date, r.scan, extra))
    return tuple(results)


def criterion_extra(subject: Subject, timepoints: Sequence[TimepointResult]) -> dict[str, ExtraValue]:
    """Best responses of the injected and non-injected groups (ITR-INJ, ITR-NONINJ), by the
    basis criterion's BOR rule over the group's own timepoint responses."""
    settings = subject.settings
    crit = basis(settings)
    out: dict[str, ExtraValue] = {}
    for prefix in (INJECTED, NON_INJECTED):
        seq = tuple(
            TimepointResult(tp.date, "", "", "", code, scan=tp.scan)
            for tp in timepoints
            if isinstance(code := tp.extra.get(f"{prefix}_response"), str))
        best = endpoints.derive_bor(seq, subject.reference_date, settings, crit)
        out[f"{prefix}_bor"] = best.code
        out[f"{prefix}_bor_date"] = best.date
    return out
