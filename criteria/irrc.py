"""irRC timepoint responses from bidimensional measurements (Wolchok 2009; rules §6).

Every index lesion is measured bidimensionally (WHO): the product of its longest diameter
and the longest diameter perpendicular to it; for a node, whose ``mm`` is the short axis,
long axis x short axis. The tumour burden is the sum of the products (SPD) of the index
lesions plus the SPD of the new measurable lesions (>= 5 x 5 mm; at most 5 per organ, 10
visceral and 5 cutaneous, taken when first measurable, largest product first)
(IRRC-BURDEN). Against the baseline SPD, a burden at least 50% lower is irPR (IRRC-PR);
at least 25% above the nadir (the smallest burden so far, baseline included) is irPD
(IRRC-PD); irCR is every lesion gone, index, non-index and new (IRRC-CR, IRRC-NEW-NONMEAS);
anything else irSD (IRRC-TABLE2). Non-index lesions and new non-measurable lesions never
make irPD: they only rule out irCR.

Values: a number alone is the longest diameter (0: the lesion has gone, product 0); a
measured lesion above 0 mm needs its second diameter (``perp_mm``, node ``long_mm``), or the
evaluation stops with an input error naming the field. ``"TSTM"`` counts 5 x 5 = 25 mm2
(the R11-TSTM default applied to both diameters). A split lesion contributes the sum of its
fragments' products (``fragments_perp_mm``); a coalesced lesion its own product; the
absorbed side its product (normally 0). A node has gone when its short axis is below 10 mm
(R11-NODE, the convention the contract uses for every criterion); its product stays in the
burden.

The walk goes on after irPD: whether an irPD is confirmed (a second irPD at least
``confirm_min_days`` later, before any non-irPD assessment) is derived by
:func:`criteria.endpoints.ir_pd_status` and shown as ``pd_status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from criteria.errors import InputError
from criteria.lesions import NODE_NORMAL_BELOW_MM, SubjectCache, new_lesion_present, require_baseline
from criteria.recist11 import not_done_result
from criteria.rounding import CONTEXT, at_least_pct_above, at_least_pct_below, pct_change
from criteria.types import (
    BaselineTarget,
    NewLesion,
    ScanKind,
    Subject,
    TargetKind,
    TargetMeasurement,
    TimepointResult,
)
from criteria.validate import (
    IRRC_MAX_CUTANEOUS,
    IRRC_MAX_PER_ORGAN,
    IRRC_MAX_VISCERAL,
    IRRC_MEASURABLE_MM,
    is_cutaneous,
    organ_group,
    selection_problems,
)

IRCR = "irCR"
IRPR = "irPR"
IRSD = "irSD"
IRPD = "irPD"
NE = "NE"
NA = "NA"

#: IRRC-PR: at least 50% below the baseline SPD; IRRC-PD: at least 25% above the nadir.
PR_DECREASE_PCT = Decimal(50)
PD_INCREASE_PCT = Decimal(25)
#: "TSTM" under irRC: 5 x 5 mm (R11-TSTM on both diameters).
TSTM_PRODUCT = Decimal(25)
ZERO = Decimal(0)


def _product(mm: Decimal, second: Decimal) -> Decimal:
    return CONTEXT.multiply(mm, second)


def _second(node: bool, perp: Decimal | None, long: Decimal | None) -> Decimal | None:
    return long if node else perp


def _second_key(node: bool) -> str:
    return "long_mm" if node else "perp_mm"


def baseline_product(target: BaselineTarget) -> Decimal:
    """The WHO product of a baseline index lesion (its second diameter is checked present)."""
    second = _second(target.node, target.perp_mm, target.long_mm)
    assert second is not None  # selection_problems ran first
    return _product(target.mm, second)


def target_product(subject: str, field: str, node: bool, m: TargetMeasurement | None) -> Decimal | None:
    """The product an index lesion contributes at a follow-up (None: not assessed).

    Raises :class:`InputError` naming the missing second diameter of a measured lesion."""
    if m is None or m.kind is TargetKind.NOT_ASSESSED:
        return None
    if m.kind is TargetKind.TOO_SMALL:
        return TSTM_PRODUCT
    if m.kind is TargetKind.SPLIT:
        if any(f > 0 for f in m.fragments_mm) and len(m.fragments_perp_mm) != len(m.fragments_mm):
            raise InputError(subject, f"{field}.fragments_perp_mm",
                             "irRC needs the perpendicular diameter of every fragment")
        total = ZERO
        for f, p in zip(m.fragments_mm, m.fragments_perp_mm or (ZERO,) * len(m.fragments_mm), strict=True):
            total = CONTEXT.add(total, _product(f, p))
        return total
    mm = m.mm if m.mm is not None else ZERO
    if mm == 0:
        return ZERO
    second = _second(node, m.perp_mm, m.long_mm)
    if second is None:
        raise InputError(subject, f"{field}.{_second_key(node)}",
                         "irRC needs the bidimensional measurement (the second diameter of the product)")
    return _product(mm, second)


def _index_gone(node: bool, m: TargetMeasurement | None, product: Decimal | None) -> bool:
    if product is None or m is None:
        return False
    if node:
        mm = m.mm if m.kind is not TargetKind.TOO_SMALL else Decimal(5)
        return mm is not None and mm < NODE_NORMAL_BELOW_MM
    return product == 0


def new_lesion_product(subject: str, field: str, lesion: NewLesion) -> Decimal | None:
    """A new lesion's product (None: present but not measured; 0: resolved)."""
    if lesion.mm is None:
        return None
    if lesion.mm == 0:
        return ZERO
    second = _second(lesion.node, lesion.perp_mm, lesion.long_mm)
    if second is None:
        if lesion.mm < IRRC_MEASURABLE_MM or lesion.measurable_stated is False:
            return None  # certainly not measurable under irRC: no product needed
        raise InputError(subject, f"{field}.{_second_key(lesion.node)}",
                         "irRC needs the bidimensional measurement of a new lesion of 5 mm or more")
    return _product(lesion.mm, second)


def _new_measurable(lesion: NewLesion, product: Decimal | None) -> bool:
    """IRRC-BURDEN: >= 5 x 5 mm (both diameters), unless the reader said not measurable; a
    new node must also be pathological (short axis >= 10 mm)."""
    if product is None or lesion.measurable_stated is False or lesion.mm is None:
        return False
    if not new_lesion_present(lesion):  # a node below 10 mm short axis is normal (R11-NODE)
        return False
    second = _second(lesion.node, lesion.perp_mm, lesion.long_mm)
    return second is not None and min(lesion.mm, second) >= IRRC_MEASURABLE_MM


def check_input(subject: Subject) -> None:
    """irRC input rules: index-lesion selection and bidimensional values (exit 2 otherwise)."""
    baseline = require_baseline(subject)
    if not baseline.targets:
        raise InputError(subject.subject, "baseline.targets",
                         "irRC needs at least one index lesion (measurable disease, IRRC-BURDEN)")
    problems = selection_problems(baseline, "irrc")
    if problems:
        raise InputError(subject.subject, problems[0].field, problems[0].message)


def _choose_new(subject: Subject, products: list[Mapping[str, Decimal | None]]) -> dict[str, int]:
    """New measurable lesions joining the burden: id -> index of the timepoint it joins at.

    Taken when first measurable, largest product first (then id), while the organ has fewer
    than 5 and the visceral / cutaneous groups fewer than 10 / 5 (IRRC-BURDEN)."""
    chosen: dict[str, int] = {}
    per_organ: dict[str, int] = {}
    counts = {True: 0, False: 0}
    for i, tp in enumerate(subject.timepoints):
        # an equivocal new lesion is not yet a lesion (R11-EQUIVOCAL): it joins once unequivocal
        candidates = [x for x in tp.new_lesions
                      if x.id not in chosen and not x.equivocal and _new_measurable(x, products[i].get(x.id))]
        candidates.sort(key=lambda x: (-(products[i][x.id] or ZERO), x.id))
        for x in candidates:
            organ = organ_group(x.organ, x.node)
            skin = is_cutaneous(x.organ)
            if per_organ.get(organ, 0) >= IRRC_MAX_PER_ORGAN:
                continue
            if counts[skin] >= (IRRC_MAX_CUTANEOUS if skin else IRRC_MAX_VISCERAL):
                continue
            chosen[x.id] = i
            per_organ[organ] = per_organ.get(organ, 0) + 1
            counts[skin] += 1
    return chosen


def _spd_text(value: Decimal) -> str:
    return f"{value.normalize():f} mm2" if value != 0 else "0 mm2"


def _pct_text(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    rounded = value.quantize(Decimal("0.1"))
    return f"{'+' if rounded > 0 else ''}{rounded}%"


def timepoint_responses(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """irRC responses, one per timepoint, going on after irPD (IRRC-* rules, rules §6)."""
    check_input(subject)
    baseline = require_baseline(subject)
    cache = cache or SubjectCache(subject)
    sid = subject.subject
    base = ZERO
    for t in baseline.targets:
        base = CONTEXT.add(base, baseline_product(t))
    products: list[Mapping[str, Decimal | None]] = [
        {x.id: new_lesion_product(sid, f"timepoints[{i}].new_lesions[{k}]", x)
         for k, x in enumerate(tp.new_lesions)}
        for i, tp in enumerate(subject.timepoints)]
    chosen = _choose_new(subject, products)
    nadir = base
    results: list[TimepointResult] = []
    for i, tp in enumerate(subject.timepoints):
        if tp.scan is ScanKind.NOT_DONE:
            results.append(not_done_result(baseline, tp))
            continue
        why: list[str] = []
        index_spd = ZERO
        missing: list[str] = []
        all_gone = True
        for t in baseline.targets:
            m = tp.targets.get(t.id)
            p = target_product(sid, f"timepoints[{i}].targets.{t.id}", t.node, m)
            if p is None:
                missing.append(t.id)
                all_gone = False
                continue
            index_spd = CONTEXT.add(index_spd, p)
            all_gone = all_gone and _index_gone(t.node, m, p)
        new_spd = ZERO
        joined: list[str] = []
        present = {x.id: x for x in tp.new_lesions}
        for lesion_id, since in chosen.items():
            if since > i:
                continue
            # a chosen lesion missing from the list, or listed without mm, is not assessed
            p = products[i].get(lesion_id) if lesion_id in present else None
            if p is None:
                missing.append(lesion_id)
                all_gone = False
                continue
            joined.append(lesion_id)
            new_spd = CONTEXT.add(new_spd, p)
            if p != 0 and new_lesion_present(present[lesion_id]):  # a node < 10 mm SA is normal
                all_gone = False
        burden = CONTEXT.add(index_spd, new_spd)
        pct_base = pct_change(burden, base)
        pct_nadir = pct_change(burden, nadir)
        pd = at_least_pct_above(burden, nadir, PD_INCREASE_PCT)
        why.append(f"tumour burden {_spd_text(burden)} = index SPD {_spd_text(index_spd)} + new measurable "
                   f"SPD {_spd_text(new_spd)}{' (' + ', '.join(joined) + ')' if joined else ''}; "
                   f"baseline {_spd_text(base)} ({_pct_text(pct_base)}), nadir {_spd_text(nadir)} "
                   f"({_pct_text(pct_nadir)}) (IRRC-BURDEN)")
        if missing and not pd:
            target = NE
            why.append(f"burden incomplete ({', '.join(missing)} not assessed) and irPD not proven by the "
                       "lesions measured (IRRC-PD, R11-MISSING)")
        elif pd:
            target = IRPD
            why.append(f"burden at least {PD_INCREASE_PCT}% above the nadir {_spd_text(nadir)}: irPD "
                       "(IRRC-PD)"
                       + (f", proven without {', '.join(missing)}" if missing else ""))
        elif all_gone:
            target = IRCR
            why.append("every index and new measurable lesion gone, nodes below 10 mm short axis (IRRC-CR)")
        elif at_least_pct_below(burden, base, PR_DECREASE_PCT):
            target = IRPR
            why.append(f"burden at least {PR_DECREASE_PCT}% below the baseline: irPR (IRRC-PR)")
        else:
            target = IRSD
            why.append(f"burden neither {PR_DECREASE_PCT}% below the baseline nor {PD_INCREASE_PCT}% above "
                       "the nadir: irSD (IRRC-TABLE2)")
        nt = cache.nontargets[i]
        view = cache.views[i]
        unmeasured = tuple(x.id for x in view.present
                           if (x.id not in chosen or chosen[x.id] > i) and new_lesion_present(x))
        blockers: list[str] = []
        if nt.code not in ("CR", "NA"):
            blockers.append(f"non-index lesions {nt.code}")
        if unmeasured:
            blockers.append(f"new non-measurable lesion(s) {', '.join(unmeasured)}")
        if target == IRCR and blockers:
            overall = IRPR
            why.append(f"overall irPR: index burden gone but {'; '.join(blockers)} "
                       "(IRRC-CR, IRRC-NEW-NONMEAS, IRRC-TABLE2)")
        else:
            overall = target
            note = "" if target in (IRPD, NE) or not blockers else (
                f"; {'; '.join(blockers)} do not change it (IRRC-NEW-NONMEAS, IRRC-TABLE2)")
            why.append(f"overall {overall}: the measurable response{note}")
        extra: dict[str, Decimal | str | None] = {"index_spd_mm2": index_spd,
                                                  "new_measurable_spd_mm2": new_spd}
        complete = not missing
        if complete and burden < nadir:
            nadir_before = nadir
            nadir = burden
        else:
            nadir_before = nadir
        results.append(TimepointResult(
            tp.date, target, nt.code, cache.new_codes[i], overall,
            burden if complete else None, nadir_before, pct_base if complete else None,
            pct_nadir if complete else None, tuple(why) if cache.explain else (),
            tp.earliest_date if overall == IRPD else None, tp.scan, extra))
    return tuple(results)
