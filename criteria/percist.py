"""PERCIST family on FDG-PET input (``Subject.pet``): PERCIST 1.0, iPERCIST, imPERCIST5, PERCIMT.

Rule ids (criteria-rules.md §8; AMBIGUITIES.md P1-P6):

* PERC-MEAS (Wahl 2009, O 2016): a lesion is measurable when its SULpeak is >= 1.5 x liver
  SUL mean + 2 SD, or >= 2.0 x blood-pool SUL mean + 2 SD when the liver is abnormal (the
  scan's ``reference.site``). The hottest lesion is used; at follow-up it may be another lesion.
* PERC-QC (Wahl 2009 / O 2016 comparability): follow-up uptake time within 15 min of the
  baseline's; liver SUL mean within 20% and within 0.3 SUL of the baseline's. A failure is a
  warning (``quality`` in the timepoint's extra) or, with ``percist_quality_failure_ne``, NE (P1).
* PERC-CMR: every lesion's SULpeak at or below the reference mean, no new FDG-avid lesion.
* PERC-PMR: hottest SULpeak down by >= 30% **and** >= 0.8 SUL from baseline, no new lesion.
* PERC-PMD: hottest SULpeak up by > 30% **and** > 0.8 SUL from baseline; or TLG of the lesions
  up by >= 75% with no SULpeak decline; or unequivocal progression of non-target lesions; or a
  new FDG-avid lesion. PERC-SMD: anything else. Wahl advises confirming a PMD that rests on
  anything but new lesions about a month later: reported in ``why``, the code stands.
* IPERC-UPMD / IPERC-CPMD / IPERC-RESET (Goldfarb 2019): a first PMD is UPMD; PMD at the next
  scan inside the window
  (``ipercist_confirm_window_days``, default 28-56 days, P4; a later scan still confirms) is CPMD;
  CMR / PMR / SMD there resets. A PMD earlier than the window keeps UPMD.
* IMPERC5-SUM / -NEW / -PMD / -PMR / -CMR / -SMD (Ito 2019): sum of SULpeak of the five
  hottest lesions (two per organ; baseline:
  measurable lesions only); new lesions do not make PMD by themselves but join the sum when among
  the hottest (P3, ``impercist5_new_lesions_in_sum``); PMD: sum up >= 30% (A10: "> 20%"); PMR:
  sum down >= 30%; CMR as PERC-CMR over all lesions.
* PERCIMT-PMD / -CMR / -PMR / -SMD (Anwar 2018): PMD: >= 4 new lesions (P6: of any size, or
  < 1.0 cm only), or >= 3 new
  lesions > 1.0 cm, or >= 2 new lesions > 1.5 cm functional diameter; CMR: every baseline lesion
  resolved and no new lesion; PMR: some baseline lesions resolved, no new lesion; SMD otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from types import MappingProxyType

from criteria.lesions import SENTENCES, SubjectCache
from criteria.types import (
    IMPERCIST5,
    IPERCIST,
    PERCIMT,
    PERCIST,
    ExtraValue,
    PetLesion,
    PetReference,
    PetScan,
    PetStudy,
    Settings,
    Subject,
    TimepointResult,
)

CMR, PMR, SMD, PMD, NE = "CMR", "PMR", "SMD", "PMD", "NE"
UPMD, CPMD = "UPMD", "CPMD"
#: Timepoint codes per criterion (docs/criteria-cli.md).
PERCIST_CODES = frozenset({CMR, PMR, SMD, PMD, NE})
IPERCIST_CODES = frozenset({CMR, PMR, SMD, UPMD, CPMD, NE})

_30 = Decimal(30)
_20 = Decimal(20)
_75 = Decimal(75)
_0_8 = Decimal("0.8")
_100 = Decimal(100)
_UPTAKE_TOLERANCE_MIN = Decimal(15)
_LIVER_PCT = Decimal(20)
_LIVER_SUL = Decimal("0.3")
_TEN_MM = Decimal(10)
_FIFTEEN_MM = Decimal(15)
_MAX_LESIONS = 5
_MAX_PER_ORGAN = 2


def measurability_threshold(reference: PetReference) -> Decimal:
    """PERC-MEAS: 1.5 x liver mean + 2 SD; 2.0 x blood-pool mean + 2 SD."""
    factor = Decimal("1.5") if reference.site == "liver" else Decimal("2.0")
    return factor * reference.mean + 2 * reference.sd


def _pct(new: Decimal, old: Decimal) -> Decimal | None:
    return None if old == 0 else (new - old) * _100 / old


def quality_problems(baseline: PetScan, scan: PetScan) -> list[str]:
    """PERC-QC: the comparability checks of one follow-up scan against the baseline."""
    problems: list[str] = []
    if baseline.uptake_min is not None and scan.uptake_min is not None:
        gap = abs(scan.uptake_min - baseline.uptake_min)
        if gap > _UPTAKE_TOLERANCE_MIN:
            problems.append(f"uptake time {scan.uptake_min} min differs from the baseline's "
                            f"{baseline.uptake_min} min by {gap} min (> 15 min, PERC-QC)")
    else:
        problems.append("uptake time not given for both scans: comparability not checked (PERC-QC)")
    ref, base = scan.reference, baseline.reference
    if ref is not None and base is not None and ref.site == "liver" and base.site == "liver":
        diff = abs(ref.mean - base.mean)
        if diff * _100 > _LIVER_PCT * base.mean or diff > _LIVER_SUL:
            problems.append(f"liver SUL mean {ref.mean} vs baseline {base.mean}: differs by {diff} SUL "
                            "(needs within 20% and within 0.3 SUL, PERC-QC)")
    elif ref is not None and base is not None and ref.site != base.site:
        problems.append(f"reference region {ref.site} differs from the baseline's {base.site} (PERC-QC)")
    return problems


def _hottest(lesions: Sequence[PetLesion]) -> PetLesion | None:
    best: PetLesion | None = None
    for lesion in lesions:
        if best is None or lesion.sul_peak > best.sul_peak:
            best = lesion
    return best


def _top_five(lesions: Sequence[PetLesion]) -> tuple[PetLesion, ...]:
    """The five hottest lesions, at most two per organ (IMPERC5 / PERC5); ties by input order."""
    chosen: list[PetLesion] = []
    per_organ: dict[str, int] = {}
    for lesion in sorted(lesions, key=lambda x: -x.sul_peak):
        if per_organ.get(lesion.organ, 0) >= _MAX_PER_ORGAN:
            continue
        chosen.append(lesion)
        per_organ[lesion.organ] = per_organ.get(lesion.organ, 0) + 1
        if len(chosen) == _MAX_LESIONS:
            break
    return tuple(chosen)


def _s(value: Decimal | None) -> ExtraValue:
    # SUL values are written exactly (as text): one decimal would hide the 0.8 SUL boundary
    return None if value is None else str(value)


def _result(scan: PetScan, target: str, non_target: str, new: str, overall: str, why: list[str],
            pct: Decimal | None, extra: dict[str, ExtraValue]) -> TimepointResult:
    return TimepointResult(date=scan.date, target=target, non_target=non_target, new_lesions=new,
                           overall=overall, pct_vs_baseline=pct,
                           why=tuple(why) if SENTENCES.get() else (),
                           progression_date=scan.date if overall in (PMD, UPMD, CPMD) else None,
                           extra=extra)


def _preamble(pet: PetStudy, scan: PetScan, settings: Settings,
              extra: dict[str, ExtraValue], why: list[str]) -> bool:
    """Quality checks; True when the scan is NE (not done, or P1 with a failed check)."""
    if scan.not_done:
        why.append("PET scan not done: NE")
        return True
    problems = quality_problems(pet.baseline, scan)
    if problems:
        extra["quality"] = tuple(problems)
        why.extend(problems)
        if settings.percist_quality_failure_ne and any("PERC-QC)" in p and "not checked" not in p
                                                       for p in problems):
            why.append("comparability check failed: NE (P1, setting percist_quality_failure_ne)")
            return True
    return False


def _ne(scan: PetScan, why: list[str], extra: dict[str, ExtraValue]) -> TimepointResult:
    return _result(scan, NE, "", "NE" if scan.not_done else "NO", NE, why, None, extra)


def _percist_timepoint(pet: PetStudy, scan: PetScan, settings: Settings) -> TimepointResult:
    why: list[str] = []
    extra: dict[str, ExtraValue] = {}
    if _preamble(pet, scan, settings, extra, why):
        return _ne(scan, why, extra)
    assert scan.reference is not None  # parse: a done scan has its reference
    base = pet.baseline
    assert base.reference is not None
    threshold = measurability_threshold(base.reference)
    base_hot = _hottest(base.lesions)
    measurable = base_hot is not None and base_hot.sul_peak >= threshold
    new = [x for x in scan.lesions if x.new]
    old = [x for x in scan.lesions if not x.new]
    hot = _hottest(old)
    hot_sul = hot.sul_peak if hot is not None else Decimal(0)
    extra.update({"measurability_threshold": _s(threshold),
                  "sul_peak_baseline": _s(base_hot.sul_peak if base_hot else None),
                  "hottest_lesion_baseline": base_hot.id if base_hot else None,
                  "sul_peak": _s(hot_sul), "hottest_lesion": hot.id if hot else None})
    new_code = "YES" if new else "NO"
    nt_code = PMD if scan.unequivocal_progression else ""
    reasons: list[str] = []
    if new:
        reasons.append(f"new FDG-avid lesion(s) {', '.join(x.id for x in new)}: PMD (PERC-PMD)")
    if scan.unequivocal_progression:
        reasons.append("unequivocal progression of non-target lesions: PMD (PERC-PMD)")
    if base_hot is None or not measurable:
        why.append(f"no measurable baseline lesion (hottest SULpeak "
                   f"{base_hot.sul_peak if base_hot else 'none'} < threshold {threshold}, PERC-MEAS)")
        if reasons:
            return _result(scan, NE, nt_code, new_code, PMD, why + reasons, None, extra)
        return _result(scan, NE, nt_code, new_code, NE, [*why, "quantitative response not assessable: NE"],
                       None, extra)
    b = base_hot.sul_peak
    delta = hot_sul - b
    pct = _pct(hot_sul, b)
    extra["sul_change"] = _s(delta)
    why.append(f"hottest SULpeak {hot_sul} ({hot.id if hot else 'no lesion'}) vs baseline {b} "
               f"({base_hot.id}): {delta:+} SUL (PERC-MEAS: the hottest lesion, which may change)")
    target = SMD
    if delta * _100 > _30 * b and delta > _0_8:
        target = PMD
        reasons.append("SULpeak up by > 30% and > 0.8 SUL: PMD (PERC-PMD; Wahl advises confirming "
                       "about 1 month later)")
    elif -delta * _100 >= _30 * b and -delta >= _0_8:
        target = PMR
    base_tlg = [x.tlg for x in base.lesions]
    tlg = [x.tlg for x in old]
    if base_tlg and all(t is not None for t in base_tlg) and old and all(t is not None for t in tlg):
        tb = sum((t for t in base_tlg if t is not None), Decimal(0))
        tf = sum((t for t in tlg if t is not None), Decimal(0))
        extra["tlg_baseline"], extra["tlg"] = _s(tb), _s(tf)
        if tb > 0 and (tf - tb) * _100 >= _75 * tb and delta >= 0:
            target = PMD
            reasons.append(f"TLG {tf} vs baseline {tb}: up by >= 75% with no SULpeak decline: PMD (PERC-PMD)")
    ref_mean = scan.reference.mean
    if target != PMD and all(x.sul_peak <= ref_mean for x in scan.lesions):
        target = CMR
        why.append(f"every lesion's SULpeak <= reference {scan.reference.site} mean {ref_mean}: "
                   "complete metabolic response of the lesions (PERC-CMR)")
    if reasons:
        return _result(scan, target, nt_code, new_code, PMD, why + reasons, pct, extra)
    if target == PMR:
        why.append("SULpeak down by >= 30% and >= 0.8 SUL, no new lesion: PMR (PERC-PMR)")
    elif target == SMD:
        why.append("neither CMR, PMR nor PMD: SMD (PERC-SMD)")
    else:
        why.append("no new lesion: CMR (PERC-CMR)")
    return _result(scan, target, nt_code, new_code, target, why, pct, extra)


def percist_timepoints(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """PERCIST 1.0 timepoint responses of ``subject.pet`` (none without PET input)."""
    pet = subject.pet
    if pet is None:
        return ()
    return tuple(_percist_timepoint(pet, scan, subject.settings) for scan in pet.timepoints)


def _with(result: TimepointResult, overall: str, note: str, extra: dict[str, ExtraValue]) -> TimepointResult:
    return TimepointResult(result.date, result.target, result.non_target, result.new_lesions, overall,
                           result.sum_mm, result.nadir_ref_mm, result.pct_vs_baseline, result.pct_vs_nadir,
                           result.why + ((note,) if SENTENCES.get() else ()),
                           result.date if overall in (PMD, UPMD, CPMD) else None, result.scan,
                           {**result.extra, **extra})


def ipercist_timepoints(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """iPERCIST: PERCIST's PMD read as UPMD, confirmed as CPMD at the next scan (IPERC)."""
    low, high = subject.settings.ipercist_confirm_window_days
    out: list[TimepointResult] = []
    upmd: TimepointResult | None = None
    confirmed = False
    for r in percist_timepoints(subject, cache):
        if r.overall != PMD:
            if r.overall != NE and upmd is not None and not confirmed:
                note = f"{r.overall} after the UPMD of {upmd.date}: reset (IPERC-RESET)"
                out.append(_with(r, r.overall, note, {"upmd_status": "reset"}))
                upmd = None
                continue
            out.append(r)
            continue
        if confirmed:
            out.append(_with(r, CPMD, "PMD after a confirmed PMD: CPMD (IPERC-CPMD)", {}))
        elif upmd is None:
            upmd = r
            out.append(_with(r, UPMD, f"first PMD: unconfirmed (UPMD), to be re-evaluated {low}-{high} days "
                                      "later (IPERC-UPMD)", {}))
        else:
            days = (r.date - upmd.date).days
            if days < low:
                out.append(_with(r, UPMD, f"PMD {days} days after the UPMD of {upmd.date}: earlier than the "
                                          f"{low}-day window, not confirmatory (IPERC-CPMD, P4)", {}))
            else:
                late = f"; later than the {high}-day window, still confirms (P4)" if days > high else ""
                confirmed = True
                out.append(_with(r, CPMD, f"PMD {days} days after the UPMD of {upmd.date}: confirmed, "
                                          f"CPMD (IPERC-CPMD){late}", {"upmd_date": upmd.date}))
    return tuple(out)


def _impercist5_timepoint(pet: PetStudy, scan: PetScan, settings: Settings) -> TimepointResult:
    why: list[str] = []
    extra: dict[str, ExtraValue] = {}
    if _preamble(pet, scan, settings, extra, why):
        return _ne(scan, why, extra)
    assert scan.reference is not None and pet.baseline.reference is not None
    threshold = measurability_threshold(pet.baseline.reference)
    base = _top_five([x for x in pet.baseline.lesions if x.sul_peak >= threshold])
    pool = [x for x in scan.lesions if settings.impercist5_new_lesions_in_sum or not x.new]
    top = _top_five(pool)
    new = [x for x in scan.lesions if x.new]
    new_code = "YES" if new else "NO"
    nt_code = PMD if scan.unequivocal_progression else ""
    sb = sum((x.sul_peak for x in base), Decimal(0))
    sf = sum((x.sul_peak for x in top), Decimal(0))
    extra.update({"measurability_threshold": _s(threshold), "sul_peak_sum_baseline": _s(sb),
                  "sul_peak_sum": _s(sf), "lesions_summed": tuple(x.id for x in top)})
    if not base:
        why.append(f"no measurable baseline lesion (threshold {threshold}, PERC-MEAS): NE (IMPERC5-SUM)")
        if scan.unequivocal_progression:
            why.append("unequivocal non-target progression: PMD (PERC-PMD)")
            return _result(scan, NE, nt_code, new_code, PMD, why, None, extra)
        return _result(scan, NE, nt_code, new_code, NE, why, None, extra)
    pct = _pct(sf, sb)
    why.append(f"sum of SULpeak {sf} ({', '.join(x.id for x in top) or 'no lesion'}) vs baseline {sb} "
               f"({', '.join(x.id for x in base)}) (IMPERC5-SUM: five hottest, two per organ"
               f"{', new lesions included' if settings.impercist5_new_lesions_in_sum else ', no new lesions'}"
               ", P3)")
    if new:
        why.append("new lesions do not define PMD by themselves (IMPERC5-NEW)")
    if settings.impercist5_pmd_threshold == "30":
        up = (sf - sb) * _100 >= _30 * sb
        rule = ">= 30%"
    else:
        up = (sf - sb) * _100 > _20 * sb
        rule = "> 20%"
    if up:
        target = PMD
        why.append(f"sum up by {rule}: PMD (IMPERC5-PMD, A10)")
    elif all(x.sul_peak <= scan.reference.mean for x in scan.lesions):
        target = CMR
        why.append(f"every lesion's SULpeak <= reference mean {scan.reference.mean}: CMR "
                   "(IMPERC5-CMR, PERC-CMR)")
    elif (sb - sf) * _100 >= _30 * sb:
        target = PMR
        why.append("sum down by >= 30%: PMR (IMPERC5-PMR)")
    else:
        target = SMD
        why.append("neither CMR, PMR nor PMD: SMD (IMPERC5-SMD)")
    overall = target
    if scan.unequivocal_progression:
        overall = PMD
        why.append("unequivocal progression of non-target lesions: PMD (PERC-PMD)")
    return _result(scan, target, nt_code, new_code, overall, why, pct, extra)


def impercist5_timepoints(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    pet = subject.pet
    if pet is None:
        return ()
    return tuple(_impercist5_timepoint(pet, scan, subject.settings) for scan in pet.timepoints)


def _percimt_timepoint(pet: PetStudy, scan: PetScan, settings: Settings) -> TimepointResult:
    why: list[str] = []
    extra: dict[str, ExtraValue] = {}
    if _preamble(pet, scan, settings, extra, why):
        return _ne(scan, why, extra)
    assert scan.reference is not None
    ref_mean = scan.reference.mean
    new = [x for x in scan.lesions if x.new]
    new_code = "YES" if new else "NO"
    sized = [x.mm for x in new if x.mm is not None]
    unsized = len(new) - len(sized)
    if settings.percimt_four_count == "any":
        small = len(new)
        small_known = len(sized)
        small_rule = ">= 4 new lesions (any size; P6)"
    else:
        small = small_known = sum(1 for mm in sized if mm < _TEN_MM)
        small_rule = ">= 4 new lesions < 1.0 cm (P6)"
    over10 = sum(1 for mm in sized if mm > _TEN_MM)
    over15 = sum(1 for mm in sized if mm > _FIFTEEN_MM)
    extra.update({"new_lesions_count": len(new), "new_lesions_over_10mm": over10,
                  "new_lesions_over_15mm": over15})
    hits = []
    if (small if settings.percimt_four_count == "any" else small_known) >= 4:
        hits.append(small_rule)
    if over10 >= 3:
        hits.append(">= 3 new lesions > 1.0 cm")
    if over15 >= 2:
        hits.append(">= 2 new lesions > 1.5 cm")
    nt_code = PMD if scan.unequivocal_progression else ""
    if hits:
        why.append(f"{len(new)} new lesion(s): {'; '.join(hits)}: PMD (PERCIMT-PMD)")
        return _result(scan, SMD, nt_code, new_code, PMD, why, None, extra)
    if unsized and settings.percimt_four_count == "small":
        # an unsized lesion could be < 1.0 cm or > 1.0 cm / > 1.5 cm: the count is unknown
        why.append(f"{unsized} new lesion(s) without a functional diameter (mm): the PERCIMT counts "
                   "cannot be decided: NE (PERCIMT-PMD)")
        return _result(scan, NE, nt_code, new_code, NE, why, None, extra)
    if unsized and (over10 + unsized >= 3 or over15 + unsized >= 2):
        why.append(f"{unsized} new lesion(s) without a functional diameter (mm): the PERCIMT size counts "
                   "cannot be decided: NE (PERCIMT-PMD)")
        return _result(scan, NE, nt_code, new_code, NE, why, None, extra)
    base = pet.baseline.lesions
    if not base:
        why.append("no FDG-avid baseline lesion: CMR/PMR not assessable (PERCIMT-CMR)")
        code = PMD if scan.unequivocal_progression else NE
        return _result(scan, NE, nt_code, new_code, code, why, None, extra)
    present = {x.id: x for x in scan.lesions if not x.new}
    resolved = [b.id for b in base if b.id not in present or present[b.id].sul_peak <= ref_mean]
    extra["resolved_lesions"] = tuple(resolved)
    if new:
        why.append(f"{len(new)} new lesion(s), below the PERCIMT counts: not PMD, but rules out CMR/PMR "
                   "(PERCIMT-PMD, PERCIMT-PMR)")
    if scan.unequivocal_progression:
        why.append("unequivocal progression of non-target lesions: PMD (PERC-PMD)")
        return _result(scan, SMD, nt_code, new_code, PMD, why, None, extra)
    if not new and len(resolved) == len(base) and all(x.sul_peak <= ref_mean for x in scan.lesions):
        why.append("every baseline lesion resolved, no new lesion: CMR (PERCIMT-CMR)")
        return _result(scan, CMR, nt_code, new_code, CMR, why, None, extra)
    if not new and resolved:
        why.append(f"{len(resolved)} of {len(base)} baseline lesions resolved, no new lesion: "
                   "PMR (PERCIMT-PMR)")
        return _result(scan, PMR, nt_code, new_code, PMR, why, None, extra)
    why.append("neither CMR, PMR nor PMD: SMD (PERCIMT-SMD)")
    return _result(scan, SMD, nt_code, new_code, SMD, why, None, extra)


def percimt_timepoints(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    pet = subject.pet
    if pet is None:
        return ()
    return tuple(_percimt_timepoint(pet, scan, subject.settings) for scan in pet.timepoints)


ENGINES = MappingProxyType({PERCIST: percist_timepoints, IPERCIST: ipercist_timepoints,
                            IMPERCIST5: impercist5_timepoints, PERCIMT: percimt_timepoints})
