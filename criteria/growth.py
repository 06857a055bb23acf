"""Tumour growth rate, hyperprogression, pseudoprogression and dissociated response: the
growth family's analyses (``--analyses tgr,pseudoprogression,dissociated_response``).

These are analyses, not response criteria: they read the input and the criteria's timepoint
results and return JSON-shaped blocks (``types.ExtraValue``) for the top-level ``analyses``
object. Rule ids (criteria-rules.md §9, A14 and the growth rows of AMBIGUITIES.md):

* TGR-FORMULA (FER14, CHA17): D = sum of the target lesions' diameters (R11-SUM);
  TG = 3 ln(D2/D1) / dt, dt in months of ``tgr_month_days`` days (A14, default 30.4375);
  TGR = 100 (exp(TG) - 1), % volume per month. TGR-REF: pre-baseline scan (the latest) to
  baseline; TGR-EXP: baseline to the first on-treatment evaluation (the first follow-up with
  a scan). TGK-FORMULA (Saada-Bouzid 2017): (D2 - D1) / dt, mm per month.
* TGR-PRECISION: ``ln`` and ``exp`` are not exact. They are computed with Decimal at 50
  significant digits and the result is quantized to 1e-12 (ROUND_HALF_EVEN); every TGR
  threshold is decided on that Decimal, so a value the arithmetic makes exactly 2x, 50 or
  100 (sums 10 -> 12 mm over one month: TGR 72.8) is decided exactly. TGK thresholds and
  the Kato / Lo Russo percentages are rational and decided by exact cross-multiplication.
* HPD-CHAMPIAT: RECIST 1.1 PD at the first evaluation and TGR_exp >= 2 x TGR_ref.
  HPD-SAADA: TGK_exp / TGK_ref >= 2. HPD-FERRARA: PD at the first evaluation and
  delta-TGR = TGR_exp - TGR_ref > 50. HPD-KAS: PD at the first evaluation and delta-TGR > 100.
  HPD-KATO: time to treatment failure < 2 months, target sum at the first evaluation > 50%
  above the pre-immunotherapy (baseline) sum, and progression pace (G2: TGK, or TGR) more
  than 2-fold. HPD-LORUSSO: at least 3 of 5: TTF < 2 months, target sum +50% or more at the
  first evaluation, >= 2 new lesions in an organ involved at baseline, a new lesion in an
  organ not involved at baseline, ECOG worsening to >= 2 within 2 months (clinical input).
  HPD-REF-NONPOS (G1, A14): a ratio whose reference rate is <= 0.
  Each flag is true / false / null; null lists the missing inputs (never guessed).
* PSP-IRECIST: an iUPD block (IR-CONF, IR-RESET) never confirmed as iCPD and reset by
  iSD / iPR / iCR / NON-iCR/NON-iUPD. PSP-IMRECIST: an imRECIST PD negated (IM-PFS).
  Readers are a table (:data:`PSEUDOPROGRESSION_READERS`): irRC / irRECIST plug in by an entry.
* DISS-TAZDAIT (Tazdait 2018; thresholds G3): at one timepoint at least one target lesion
  shrinks by >= 30% from its baseline value while another grows by >= 20% (from its baseline,
  or its own nadir).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from types import MappingProxyType

from criteria import endpoints
from criteria.lesions import SENTENCES, target_mm
from criteria.types import (
    IMRECIST,
    IRECIST,
    IRRC,
    IRRECIST,
    ExtraValue,
    ScanKind,
    Settings,
    Subject,
    TargetKind,
    Timepoint,
    TimepointResult,
)
from criteria.validate import organ_group

#: TGR-PRECISION: the context of ln/exp and the quantum every TGR is decided on.
LOG_CONTEXT = Context(prec=50)
DECISION_QUANTUM = Decimal("1e-12")
_HUNDRED = Decimal(100)
_TWO = Decimal(2)
_THREE = Decimal(3)

JsonObject = dict[str, ExtraValue]
Tri = bool | None


# --- three-valued logic -----------------------------------------------------------------


def all_of(values: Sequence[Tri]) -> Tri:
    """False if any is false, true if all are true, else None (unknown)."""
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


def at_least(count: int, values: Sequence[Tri]) -> Tri:
    """True when at least ``count`` are true; false when even the unknown ones could not
    make ``count``; else None."""
    true = sum(1 for v in values if v is True)
    unknown = sum(1 for v in values if v is None)
    if true >= count:
        return True
    return False if true + unknown < count else None


# --- sums and periods ---------------------------------------------------------------------


def first_evaluation(subject: Subject) -> tuple[int, Timepoint] | None:
    """The first on-treatment evaluation: the first follow-up with a scan (not ``not_done``)."""
    for i, tp in enumerate(subject.timepoints):
        if tp.scan is not ScanKind.NOT_DONE:
            return i, tp
    return None


def _timepoint_sum(subject: Subject, tp: Timepoint) -> tuple[Decimal | None, list[str]]:
    assert subject.baseline is not None
    total = Decimal(0)
    missing: list[str] = []
    for t in subject.baseline.targets:
        m = tp.targets.get(t.id)
        mm = None if m is None else target_mm(m)
        if mm is None:
            missing.append(t.id)
        else:
            total += mm
    return (None if missing else total), missing


def _prebaseline_sum(subject: Subject) -> tuple[dt.date | None, Decimal | None, list[str]]:
    """(date, sum, missing inputs) of the latest pre-baseline scan."""
    if not subject.prebaseline:
        return None, None, ["prebaseline"]
    scan = subject.prebaseline[-1]
    if scan.sum_mm is not None:
        return scan.date, scan.sum_mm, []
    assert subject.baseline is not None
    missing = [
        f"prebaseline[{len(subject.prebaseline) - 1}].targets.{t.id}"
        for t in subject.baseline.targets
        if scan.targets.get(t.id) is None
    ]
    if missing:
        return scan.date, None, missing
    return (
        scan.date,
        sum((scan.targets[t.id] or Decimal(0) for t in subject.baseline.targets), Decimal(0)),
        [],
    )


def tgr(d1: Decimal, d2: Decimal, days: int, month_days: Decimal) -> Decimal | None:
    """TGR-FORMULA, TGR-PRECISION: 100 (exp(3 ln(d2/d1) / months) - 1), quantized to 1e-12.

    ``d2`` 0 (every target gone) is the limit -100; ``d1`` 0 (growth from nothing) is
    undefined (None)."""
    if d1 <= 0:
        return None
    if d2 == 0:
        return -_HUNDRED
    ctx = LOG_CONTEXT
    months = ctx.divide(Decimal(days), month_days)
    tg = ctx.divide(ctx.multiply(_THREE, ctx.ln(ctx.divide(d2, d1))), months)
    value = ctx.multiply(_HUNDRED, ctx.subtract(ctx.exp(tg), Decimal(1)))
    if value.adjusted() >= LOG_CONTEXT.prec - 13:  # too large to carry 12 decimals: keep its 50 digits
        return value
    return value.quantize(DECISION_QUANTUM, ROUND_HALF_EVEN, ctx)


def shown(value: Decimal | None) -> Decimal | str | None:
    """An output number: the Decimal (written rounded to one decimal), or for a value of 1e15
    and more (explosive growth over a few days) its scientific text, which a JSON number
    through a float could not carry."""
    if value is None or value.adjusted() < 15:
        return value
    return format(value, ".6E")


def tgk(d1: Decimal, d2: Decimal, days: int, month_days: Decimal) -> Decimal:
    """TGK-FORMULA: (d2 - d1) per month (exact rational, shown rounded)."""
    return LOG_CONTEXT.divide((d2 - d1) * month_days, Decimal(days))


def tgk_exact(period: JsonObject, month_days: Decimal) -> Fraction | None:
    """TGK of a period as an exact fraction (the value its thresholds are decided on)."""
    d1, d2, days = period["sum_start_mm"], period["sum_end_mm"], period["days"]
    if not isinstance(d1, Decimal) or not isinstance(d2, Decimal) or not isinstance(days, int):
        return None
    return Fraction(d2 - d1) * Fraction(month_days) / days


def _period(
    start: dt.date | None,
    end: dt.date | None,
    d1: Decimal | None,
    d2: Decimal | None,
    month_days: Decimal,
    missing: list[str],
) -> JsonObject:
    days = None if start is None or end is None else (end - start).days
    out: JsonObject = {"start": start, "end": end, "days": days, "sum_start_mm": d1, "sum_end_mm": d2}
    if days is not None and d1 is not None and d2 is not None:
        rate = tgr(d1, d2, days, month_days)
        out["tgr"] = rate
        out["tgk"] = tgk(d1, d2, days, month_days)
        if rate is None:
            missing = [*missing, "a pre-baseline sum above 0 (TGR from 0 mm is undefined)"]
    else:
        out["tgr"] = None
        out["tgk"] = None
    out["missing"] = tuple(missing)
    return out


# --- hyperprogression ---------------------------------------------------------------------


def _ratio_at_least(
    exp: Decimal | Fraction | None,
    ref: Decimal | Fraction | None,
    factor: Decimal,
    strict: bool,
    settings: Settings,
    name: str,
) -> tuple[Tri, str]:
    """``exp >= factor x ref`` (or ``>``) as a ratio definition (HPD-REF-NONPOS for ref <= 0)."""
    if exp is None or ref is None:
        return None, f"{name} not computable"
    if ref <= 0:
        reading = settings.hpd_nonpositive_reference
        if reading == "undefined":
            return (
                None,
                f"{name} reference rate {float(ref):.4f} <= 0: the ratio is undefined (HPD-REF-NONPOS)",
            )
        if reading == "false":
            return False, f"{name} reference rate {float(ref):.4f} <= 0: no acceleration of a growing tumour"
    bound = Fraction(factor) * Fraction(ref)  # exact for Decimal and Fraction alike
    hit = Fraction(exp) > bound if strict else Fraction(exp) >= bound
    return (
        hit,
        f"{name} exp {float(exp):.4f} {'>' if strict else '>='} {factor} x ref {float(ref):.4f}: {hit}",
    )


def hyperprogression(subject: Subject, recist: Sequence[TimepointResult]) -> JsonObject:
    """The ``tgr`` analysis: both periods' TGR and TGK, their ratios and deltas, and each
    selected hyperprogression definition's flag with its missing inputs and numbers."""
    settings = subject.settings
    month = settings.tgr_month_days
    if subject.baseline is None:
        missing_all = ("baseline lesion measurements (response-level input)",)
        return {
            "month_days": str(month),
            "reference_period": None,
            "experimental_period": None,
            "hyperprogression": {
                name: {"hpd": None, "missing": missing_all} for name in settings.hyperprogression_definitions
            },
        }
    base_date = subject.baseline.date
    base_sum = sum((t.mm for t in subject.baseline.targets), Decimal(0))
    pre_date, pre_sum, pre_missing = _prebaseline_sum(subject)
    ref = _period(pre_date, base_date, pre_sum, base_sum, month, pre_missing)
    first = first_evaluation(subject)
    if first is None:
        exp = _period(base_date, None, base_sum, None, month, ["an on-treatment evaluation"])
        pd_first: Tri = None
        first_tp: Timepoint | None = None
    else:
        index, first_tp = first
        first_sum, lesions_missing = _timepoint_sum(subject, first_tp)
        exp = _period(
            base_date,
            first_tp.date,
            base_sum,
            first_sum,
            month,
            [f"timepoints[{index}].targets.{x}" for x in lesions_missing],
        )
        code = next((r.overall for r in recist if r.date == first_tp.date), None)
        pd_first = True if code == "PD" else None if code in (None, "NE") else False
    tgr_ref, tgr_exp = ref["tgr"], exp["tgr"]
    # TGK decided exactly (fractions); the Decimals in the output are for display
    tgk_ref, tgk_exp = tgk_exact(ref, month), tgk_exact(exp, month)
    assert isinstance(tgr_ref, Decimal | None) and isinstance(tgr_exp, Decimal | None)
    delta = None if tgr_ref is None or tgr_exp is None else tgr_exp - tgr_ref
    tgr_ratio = (
        None if tgr_ref is None or tgr_exp is None or tgr_ref <= 0 else LOG_CONTEXT.divide(tgr_exp, tgr_ref)
    )
    tgk_ratio = (
        None
        if tgk_ref is None or tgk_exp is None or tgk_ref <= 0
        else LOG_CONTEXT.divide(
            Decimal(tgk_exp.numerator * tgk_ref.denominator), Decimal(tgk_exp.denominator * tgk_ref.numerator)
        )
    )
    rate_missing = [
        str(x) for part in (ref["missing"], exp["missing"]) if isinstance(part, tuple) for x in part
    ]
    pd_missing = [] if pd_first is not None else ["RECIST 1.1 response at the first evaluation"]
    flags: dict[str, ExtraValue] = {}
    for name in settings.hyperprogression_definitions:
        flags[name] = _definition(
            name,
            subject,
            first_tp,
            pd_first,
            pd_missing,
            rate_missing,
            tgr_ref,
            tgr_exp,
            tgk_ref,
            tgk_exp,
            delta,
            exp,
        )
    for period in (ref, exp):
        rate = period["tgr"]
        period["tgr"] = shown(rate) if isinstance(rate, Decimal) else rate
    return {
        "month_days": str(month),
        "reference_period": ref,
        "experimental_period": exp,
        "tgr_ratio": shown(tgr_ratio),
        "delta_tgr": shown(delta),
        "tgk_ratio": shown(tgk_ratio),
        "recist_pd_at_first_evaluation": pd_first,
        "hyperprogression": flags,
    }


def _definition(
    name: str,
    subject: Subject,
    first_tp: Timepoint | None,
    pd_first: Tri,
    pd_missing: list[str],
    rate_missing: list[str],
    tgr_ref: Decimal | None,
    tgr_exp: Decimal | None,
    tgk_ref: Fraction | None,
    tgk_exp: Fraction | None,
    delta: Decimal | None,
    exp: JsonObject,
) -> JsonObject:
    settings = subject.settings
    why: list[str] = []
    missing: list[str] = []
    if name == "champiat2017":
        rule = "HPD-CHAMPIAT"
        ratio, sentence = _ratio_at_least(tgr_exp, tgr_ref, _TWO, False, settings, "TGR")
        why.append(sentence)
        hpd = all_of([pd_first, ratio])
        missing = [*pd_missing, *(rate_missing if tgr_ref is None or tgr_exp is None else [])]
    elif name == "saada_bouzid2017":
        rule = "HPD-SAADA"
        hpd, sentence = _ratio_at_least(tgk_exp, tgk_ref, _TWO, False, settings, "TGK")
        why.append(sentence)
        missing = rate_missing if tgk_ref is None or tgk_exp is None else []
    elif name in ("ferrara2018", "kas2020"):
        rule, bound = ("HPD-FERRARA", Decimal(50)) if name == "ferrara2018" else ("HPD-KAS", _HUNDRED)
        over: Tri = None if delta is None else delta > bound
        why.append(
            "delta-TGR not computable" if delta is None else f"delta-TGR {delta:.4f} > {bound}: {over}"
        )
        hpd = all_of([pd_first, over])
        missing = [*pd_missing, *(rate_missing if delta is None else [])]
    elif name == "kato2017":
        rule = "HPD-KATO"
        ttf, ttf_missing = _ttf_under_2_months(subject)
        burden, burden_missing = _burden_increase(subject, exp, Decimal(50), strict=True)
        pace_exp: Decimal | Fraction | None
        pace_ref: Decimal | Fraction | None
        pace_exp, pace_ref = (tgk_exp, tgk_ref) if settings.kato_pace == "tgk" else (tgr_exp, tgr_ref)
        pace, sentence = _ratio_at_least(
            pace_exp, pace_ref, _TWO, True, settings, "pace (" + settings.kato_pace.upper() + ")"
        )
        why += [f"TTF < 2 months: {ttf}", f"target sum > +50% vs baseline: {burden}", sentence]
        hpd = all_of([ttf, burden, pace])
        missing = [
            *ttf_missing,
            *burden_missing,
            *(rate_missing if pace_exp is None or pace_ref is None else []),
        ]
    else:
        rule = "HPD-LORUSSO"
        ttf, ttf_missing = _ttf_under_2_months(subject)
        burden, burden_missing = _burden_increase(subject, exp, Decimal(50), strict=False)
        crowded, spread, organ_missing = _new_lesion_items(subject, first_tp)
        ecog = None if subject.clinical is None else subject.clinical.ecog_deterioration_2_months
        items = [ttf, burden, crowded, spread, ecog]
        why.append(
            "items (TTF<2 months, sum +50%, >=2 new lesions in an involved organ, new organ, ECOG): "
            + ", ".join("unknown" if v is None else str(v).lower() for v in items)
        )
        hpd = at_least(3, items)
        missing = [
            *ttf_missing,
            *burden_missing,
            *organ_missing,
            *([] if ecog is not None else ["clinical.ecog_deterioration_2_months"]),
        ]
    out: JsonObject = {
        "hpd": hpd,
        "rule": rule,
        "missing": tuple(dict.fromkeys(missing)) if hpd is None else (),
    }
    if SENTENCES.get():
        out["why"] = tuple(why)
    return out


def _ttf_under_2_months(subject: Subject) -> tuple[Tri, list[str]]:
    """HPD-KATO / HPD-LORUSSO: days from treatment start (reference_date) to treatment
    failure < 2 months of ``tgr_month_days`` (exact: days < 2 x month)."""
    failure = None if subject.clinical is None else subject.clinical.treatment_failure_date
    if failure is None:
        return None, ["clinical.treatment_failure_date"]
    days = (failure - subject.reference_date).days
    return Decimal(days) < _TWO * subject.settings.tgr_month_days, []


def _burden_increase(subject: Subject, exp: JsonObject, pct: Decimal, strict: bool) -> tuple[Tri, list[str]]:
    start, end, gaps = exp["sum_start_mm"], exp["sum_end_mm"], exp["missing"]
    if not isinstance(start, Decimal) or not isinstance(end, Decimal):
        return None, [str(x) for x in gaps] if isinstance(gaps, tuple) and gaps else [
            "an on-treatment evaluation"
        ]
    lhs, rhs = end * _HUNDRED, start * (_HUNDRED + pct)
    return (lhs > rhs if strict else lhs >= rhs), []


def _new_lesion_items(subject: Subject, first_tp: Timepoint | None) -> tuple[Tri, Tri, list[str]]:
    """HPD-LORUSSO items 3 and 4 at the first evaluation: >= 2 new lesions in an organ
    involved at baseline; a new lesion in an organ not involved at baseline. Equivocal new
    lesions are not yet lesions (R11-EQUIVOCAL); an organ of "unknown" cannot be placed."""
    if first_tp is None:
        return None, None, ["an on-treatment evaluation"]
    assert subject.baseline is not None
    involved = {organ_group(x.organ, x.node) for x in subject.baseline.targets}
    involved |= {organ_group(x.organ, x.node) for x in subject.baseline.non_targets}
    per_organ: dict[str, int] = {}
    unknown: list[str] = []
    for lesion in first_tp.new_lesions:
        if lesion.equivocal or (lesion.mm is not None and lesion.mm == 0):
            continue
        if lesion.organ == "unknown":
            unknown.append(lesion.id)
            continue
        group = organ_group(lesion.organ, lesion.node)
        per_organ[group] = per_organ.get(group, 0) + 1
    crowded = any(n >= 2 for g, n in per_organ.items() if g in involved)
    spread = any(g not in involved for g in per_organ)
    missing = [f"organ of new lesion {x}" for x in unknown]
    return (crowded or (None if unknown else False)), (spread or (None if unknown else False)), missing


# --- pseudoprogression --------------------------------------------------------------------

#: One progression episode: (indexes of its PD timepoints, outcome, index of the deciding one).
Episode = tuple[tuple[int, ...], str, int | None]
Reader = Callable[[Sequence[TimepointResult], Settings], tuple[Episode, ...]]
NEGATED = "pseudoprogression"
CONFIRMED = "confirmed_progression"
UNRESOLVED = "unresolved"


def block_reader(unconfirmed: frozenset[str], confirmed: frozenset[str], resets: frozenset[str]) -> Reader:
    """Episodes of a criterion with an unconfirmed-progression code (iRECIST iUPD) that a
    later code confirms (iCPD) or resets (response or stability): a block opens at the first
    unconfirmed code, further unconfirmed codes and NE keep it open (IR-CONF, IR-RESET)."""

    def read(timepoints: Sequence[TimepointResult], settings: Settings) -> tuple[Episode, ...]:
        episodes: list[Episode] = []
        block: list[int] = []
        for i, tp in enumerate(timepoints):
            code = tp.overall
            if code in unconfirmed:
                block.append(i)
            elif code in confirmed:
                if block:
                    episodes.append((tuple(block), CONFIRMED, i))
                block = []
            elif code in resets and block:
                episodes.append((tuple(block), NEGATED, i))
                block = []
        if block:
            episodes.append((tuple(block), UNRESOLVED, None))
        return tuple(episodes)

    return read


def _imrecist_reader(timepoints: Sequence[TimepointResult], settings: Settings) -> tuple[Episode, ...]:
    """PSP-IMRECIST: each imRECIST PD with its IM-PFS status (negated / confirmed / stands)."""
    statuses = endpoints.imrecist_pd_status(timepoints, settings)
    episodes: list[Episode] = []
    for i, status in enumerate(statuses):
        if status is None:
            continue
        outcome = {endpoints.PD_NEGATED: NEGATED, endpoints.PD_CONFIRMED: CONFIRMED}.get(status, UNRESOLVED)
        decider = None
        if outcome != UNRESOLVED:
            decider = next(
                (
                    k
                    for k in range(i + 1, len(timepoints))
                    if timepoints[k].overall not in endpoints.NOT_EVALUABLE
                    and (timepoints[k].overall == "PD") == (outcome == CONFIRMED)
                    and _in_time(timepoints[i], timepoints[k], settings, outcome)
                ),
                None,
            )
        episodes.append(((i,), outcome, decider))
    return tuple(episodes)


def _ir_reader(timepoints: Sequence[TimepointResult], settings: Settings) -> tuple[Episode, ...]:
    """PSP-IR (irRC, irRECIST): each irPD with its IRRC-CONF / IRREC-CONF fate
    (:func:`criteria.endpoints.ir_pd_pairs`). An irPD ``not_confirmed`` because a response or
    stability came next is a pseudoprogression, decided by that assessment; one not confirmed
    only because the next irPD came too late (I4) stays unresolved, as does an ``unconfirmed``
    one; a confirmed pair is a confirmed progression, decided by its confirming assessment."""
    statuses, pairs = endpoints.ir_pd_pairs(timepoints, settings)
    confirming = {j: i for i, j in pairs.items()}
    episodes: list[Episode] = []
    for i, status in enumerate(statuses):
        if status is None:
            continue
        if status == endpoints.IRPD_CONFIRMED:
            episodes.append(((i,), CONFIRMED, pairs.get(i, i if i in confirming else None)))
            continue
        decider = None
        if status == endpoints.IRPD_NOT_CONFIRMED:
            decider = next((k for k in range(i + 1, len(timepoints))
                            if timepoints[k].overall not in endpoints.NOT_EVALUABLE
                            and (timepoints[k].overall != "irPD"
                                 or (timepoints[k].date - timepoints[i].date).days
                                 >= settings.confirm_min_days)),
                           None)
        if decider is not None and timepoints[decider].overall != "irPD":
            episodes.append(((i,), NEGATED, decider))
        else:
            episodes.append(((i,), UNRESOLVED, None))
    return tuple(episodes)


def _in_time(pd: TimepointResult, later: TimepointResult, settings: Settings, outcome: str) -> bool:
    """Whether ``later`` can decide ``pd`` under IM-PFS: a non-PD only at least
    ``imrecist_negation_min_days`` later; a PD however soon unless E4 is off."""
    if outcome == CONFIRMED and settings.imrecist_early_pd_confirms:
        return True
    return (later.date - pd.date).days >= settings.imrecist_negation_min_days


#: PSP-*: the criteria whose progression can later be negated, and how to read it. irRC and
#: irRECIST join with ``block_reader(<unconfirmed codes>, <confirmed codes>, <reset codes>)``.
PSEUDOPROGRESSION_READERS: Mapping[str, tuple[str, Reader]] = MappingProxyType(
    {
        IRECIST: (
            "PSP-IRECIST",
            block_reader(
                frozenset({"iUPD"}), frozenset({"iCPD"}), frozenset({"iCR", "iPR", "iSD", "NON-iCR/NON-iUPD"})
            ),
        ),
        IMRECIST: ("PSP-IMRECIST", _imrecist_reader),
        IRRC: ("PSP-IR, IRRC-CONF", _ir_reader),
        IRRECIST: ("PSP-IR, IRREC-CONF", _ir_reader),
    }
)


def _drivers(subject: Subject, index: int) -> JsonObject:
    """The lesions that make a progression at follow-up ``index``: targets above their own
    nadir, non-targets in unequivocal progression, new lesions present."""
    if subject.baseline is None or index >= len(subject.timepoints):
        return {"targets": (), "non_targets": (), "new_lesions": ()}
    tp = subject.timepoints[index]
    grown: list[str] = []
    for t in subject.baseline.targets:
        values = [t.mm] + [v for v in (_value(x, t.id) for x in subject.timepoints[:index]) if v is not None]
        now = _value(tp, t.id)
        if now is not None and now > min(values):
            grown.append(t.id)
    non_targets = tuple(k for k, v in tp.non_targets.items() if v.value == "unequivocal_progression")
    new = tuple(x.id for x in tp.new_lesions if x.mm is None or x.mm > 0)
    return {"targets": tuple(grown), "non_targets": non_targets, "new_lesions": new}


def _value(tp: Timepoint, lesion_id: str) -> Decimal | None:
    m = tp.targets.get(lesion_id)
    return None if m is None else target_mm(m)


def pseudoprogression(subject: Subject, criterion: str, timepoints: Sequence[TimepointResult]) -> JsonObject:
    """One criterion's labels: each progression timepoint with its outcome and the lesions
    behind it; the subject is labelled when any episode was negated."""
    rule, reader = PSEUDOPROGRESSION_READERS[criterion]
    dates = {tp.date: i for i, tp in enumerate(subject.timepoints)}
    labels: list[ExtraValue] = []
    episodes = reader(timepoints, subject.settings)
    for indexes, outcome, decider in episodes:
        for i in indexes:
            tp = timepoints[i]
            item: JsonObject = {
                "date": tp.date,
                "overall": tp.overall,
                "label": outcome,
                "decided_by": None
                if decider is None
                else {"date": timepoints[decider].date, "overall": timepoints[decider].overall},
                "lesions": _drivers(subject, dates.get(tp.date, len(subject.timepoints))),
            }
            if SENTENCES.get():
                item["why"] = (
                    f"{tp.overall} on {tp.date}: {outcome.replace('_', ' ')}"
                    + (
                        ""
                        if decider is None
                        else f" by {timepoints[decider].overall} on {timepoints[decider].date}"
                    )
                    + f" ({rule})",
                )
            labels.append(item)
    return {
        "pseudoprogression": any(outcome == NEGATED for _, outcome, _ in episodes),
        "rule": rule,
        "timepoints": tuple(labels),
    }


# --- dissociated response -----------------------------------------------------------------


def dissociated_response(subject: Subject) -> JsonObject:
    """DISS-TAZDAIT per timepoint: shrinking (>= ``dissociated_shrink_pct``% below the
    baseline value) and growing (>= ``dissociated_grow_pct``% above the baseline value or the
    lesion's nadir, G3) target lesions; ``dissociated`` true when both exist, false when the
    assessed lesions rule it out, null when unassessed lesions could still make it.
    Coalesced lesions are not compared (their diameters are not the lesion's own)."""
    settings = subject.settings
    if subject.baseline is None:
        return {
            "dissociated": None,
            "rule": "DISS-TAZDAIT",
            "missing": ("target lesion measurements (response-level input)",),
            "timepoints": (),
        }
    shrink = Decimal(settings.dissociated_shrink_pct)
    grow = Decimal(settings.dissociated_grow_pct)
    nadir_ref = settings.dissociated_growth_reference == "nadir"
    nadirs = {t.id: t.mm for t in subject.baseline.targets}
    rows: list[ExtraValue] = []
    flags: list[Tri] = []
    for tp in subject.timepoints:
        if tp.scan is ScanKind.NOT_DONE:
            continue
        shrinking: list[ExtraValue] = []
        growing: list[ExtraValue] = []
        unassessed: list[str] = []
        not_compared: list[str] = []
        for t in subject.baseline.targets:
            m = tp.targets.get(t.id)
            if m is not None and m.kind in (TargetKind.COALESCED, TargetKind.COALESCED_INTO):
                not_compared.append(t.id)
                continue
            mm = None if m is None else target_mm(m)
            if mm is None:
                unassessed.append(t.id)
                continue
            reference = nadirs[t.id] if nadir_ref else t.mm
            if mm * _HUNDRED <= t.mm * (_HUNDRED - shrink):
                shrinking.append(
                    {
                        "id": t.id,
                        "mm": mm,
                        "reference_mm": t.mm,
                        "pct": LOG_CONTEXT.divide((mm - t.mm) * _HUNDRED, t.mm),
                    }
                )
            elif mm > reference and mm * _HUNDRED >= reference * (_HUNDRED + grow):
                growing.append(
                    {
                        "id": t.id,
                        "mm": mm,
                        "reference_mm": reference,
                        "pct": LOG_CONTEXT.divide((mm - reference) * _HUNDRED, reference),
                    }
                )
            nadirs[t.id] = min(nadirs[t.id], mm)
        # unassessed lesions could still supply the missing side (never guessed)
        needed = (0 if shrinking else 1) + (0 if growing else 1)
        flag: Tri = True if needed == 0 else (None if len(unassessed) >= needed else False)
        flags.append(flag)
        row: JsonObject = {
            "date": tp.date,
            "dissociated": flag,
            "shrinking": tuple(shrinking),
            "growing": tuple(growing),
            "not_assessed": tuple(unassessed),
            "not_compared": tuple(not_compared),
        }
        if SENTENCES.get():
            row["why"] = (
                f"{len(shrinking)} target lesion(s) >= {shrink}% below baseline, {len(growing)} "
                f">= {grow}% above {'nadir' if nadir_ref else 'baseline'}: "
                f"{'unknown' if flag is None else str(flag).lower()} (DISS-TAZDAIT)",
            )
        rows.append(row)
    subject_flag: Tri = True if True in flags else (None if None in flags else False)
    return {"dissociated": subject_flag, "rule": "DISS-TAZDAIT", "timepoints": tuple(rows)}
