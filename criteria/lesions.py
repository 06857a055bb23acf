"""Measurement rules shared by the RECIST-family engines (``recist11``, ``irecist``, ``imrecist``).

Everything here is a pure function of the input types: the value a target contributes to
the sum, the sum-based category (CR / PR / SD / PD / NE), the non-target category, which new
lesions count as present at a timepoint, and which new lesions become measured "new targets"
(iRECIST NLT, imRECIST lesions that join the sum). Rule ids refer to
``reference/criteria-rules.md``; all arithmetic is exact (CONV-ARITH).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import NamedTuple

from criteria.errors import InputError
from criteria.rounding import (
    CONTEXT,
    HUNDRED,
    QUANTUM,
    at_least_pct_above,
    at_least_pct_below,
    decimal_sum,
    pct_change,
)
from criteria.types import (
    Baseline,
    NewLesion,
    NonTargetStatus,
    ScanKind,
    Subject,
    TargetKind,
    TargetMeasurement,
    Timepoint,
    fast_init,
)
from criteria.validate import is_bidimensional, organ_group

#: R11-TSTM: a target present but too small to measure counts as 5 mm.
TSTM_MM = Decimal(5)
#: R11-PD: the absolute increase that must accompany +20%.
MIN_INCREASE_MM = Decimal(5)
#: R11-PR: decrease from the baseline sum.
PR_DECREASE_PCT = Decimal(30)
#: R11-PD: increase over the nadir.
PD_INCREASE_PCT = Decimal(20)
#: R11-NODE / R11-CR: a node below 10 mm short axis is normal.
NODE_NORMAL_BELOW_MM = Decimal(10)
#: R11-MEAS / R11-NODE: measurable sizes (CT).
LESION_MEASURABLE_MM = Decimal(10)
NODE_MEASURABLE_MM = Decimal(15)
#: R11-TGT-SEL: at most 5 measured lesions, 2 per organ.
RECIST_CAP = (5, 2)
#: Settings A6 "irrc": 10 in total, 5 per organ.
IRRC_CAP = (10, 5)

ZERO = Decimal(0)
#: 100 + 20 and 100 - 30: the factors of at_least_pct_above / at_least_pct_below for PD and PR.
_PD_FACTOR = HUNDRED + PD_INCREASE_PCT
_PR_FACTOR = HUNDRED - PR_DECREASE_PCT

#: Whether the ``why`` sentences are built: those of the timepoint results (sums,
#: non-targets, new lesions, overall responses), of the endpoints (BOR, confirmed BOR, PFS)
#: and of each criterion. On by default (every result carries them); the batch command line
#: without ``--explain`` and the benchmark turn it off with :func:`without_sentences`, since
#: the sentences are then never written (the results then carry few or none). No decision
#: depends on a sentence, so every code, date and number is the same either way
#: (tests/criteria/test_sentences_off.py).
SENTENCES: ContextVar[bool] = ContextVar("criteria_sentences", default=True)


@contextmanager
def without_sentences() -> Iterator[None]:
    """Skip building the ``why`` sentences inside the block (see SENTENCES)."""
    token = SENTENCES.set(False)
    try:
        yield
    finally:
        SENTENCES.reset(token)


# --- formatting of the explanation sentences ----------------------------------------

def mm_text(value: Decimal) -> str:
    """``86.0 mm``: a length as shown in explanations (display rounding only)."""
    # to_display inlined (the same quantize): this runs several times per timepoint
    return f"{value.quantize(QUANTUM, ROUND_HALF_UP, CONTEXT)} mm"


def pct_text(value: Decimal | None) -> str:
    """``22.9%`` (unsigned) for explanations; ``n/a`` when the reference is 0."""
    if value is None:
        return "n/a"
    return f"{abs(value).quantize(QUANTUM, ROUND_HALF_UP, CONTEXT)}%"


# --- target lesions ---------------------------------------------------------------

def target_mm(measurement: TargetMeasurement) -> Decimal | None:
    """The value a target lesion contributes to the sum, or None when not assessed.

    R11-TSTM / FAQ-LT5MM / CDISC-TSTM: "too small to measure" counts 5 mm, while a real
    measurement below 5 mm is kept as measured. R11-SPLIT: a split lesion contributes the
    sum of its fragments; of coalesced lesions the ``coalesced`` one carries the diameter of
    the whole and each ``coalesced_into`` contributes its own value, normally 0 (A15).
    """
    kind = measurement.kind
    if kind is TargetKind.NOT_ASSESSED:
        return None
    if kind is TargetKind.TOO_SMALL:
        return TSTM_MM
    if kind is TargetKind.SPLIT and measurement.fragments_mm:
        return decimal_sum(measurement.fragments_mm)
    if kind is TargetKind.COALESCED_INTO and measurement.mm is None:
        return ZERO
    return measurement.mm


class SumLesion(NamedTuple):
    """One lesion of a sum at one timepoint: baseline target, NLT or imRECIST new lesion.

    A named tuple (immutable like the frozen dataclass it was, cheaper to build: one per
    lesion per timepoint per criterion)."""

    id: str
    node: bool
    mm: Decimal | None  # None: not assessed


def require_baseline(subject: Subject) -> Baseline:
    """The measured baseline the engines start from (IM-BASE / IR-BASE: RECIST 1.1 baseline).

    Response-level input (no baseline) has no measurements to evaluate: ``InputError``.
    """
    if subject.baseline is None:
        raise InputError(subject.subject, "baseline", "measurement-level criteria need a baseline")
    return subject.baseline


def baseline_sum(baseline: Baseline) -> Decimal:
    """R11-SUM: longest diameters of non-nodal targets plus short axes of nodal targets."""
    return decimal_sum(tuple(t.mm for t in baseline.targets))


def target_lesions(baseline: Baseline, tp: Timepoint) -> tuple[SumLesion, ...]:
    """The baseline targets' values at ``tp`` in baseline order (missing ids: not assessed)."""
    return _lesions_at(tuple((t.id, t.node) for t in baseline.targets), tp)


def _lesions_at(targets: tuple[tuple[str, bool], ...], tp: Timepoint) -> tuple[SumLesion, ...]:
    """:func:`target_lesions` of the baseline targets' ``(id, node)`` pairs."""
    get = tp.targets.get
    measured = TargetKind.MEASURED
    new = tuple.__new__  # SumLesion(...) without the named tuple's Python-level __new__
    out = []
    for lesion_id, node in targets:
        m = get(lesion_id)
        if m is None:
            mm = None
        elif m.kind is measured:  # the common case of target_mm
            mm = m.mm
        else:
            mm = target_mm(m)
        out.append(new(SumLesion, (lesion_id, node, mm)))
    return tuple(out)


def lesion_gone(lesion: SumLesion) -> bool:
    """R11-CR: a non-nodal lesion has disappeared (0 mm); a node is normal (< 10 mm SA)."""
    if lesion.mm is None:
        return False
    if lesion.node:
        return lesion.mm < NODE_NORMAL_BELOW_MM
    return lesion.mm == 0


def all_gone(lesions: Sequence[SumLesion]) -> bool:
    """R11-CR: :func:`lesion_gone` holds for every lesion (in one loop, without a call each)."""
    for _, node, mm in lesions:
        if mm is None or (mm >= NODE_NORMAL_BELOW_MM if node else mm != 0):
            return False
    return True


def meets_pd(total: Decimal, nadir: Decimal, *, require_5mm: bool = True) -> bool:
    """R11-PD: the sum is at least 20% above the nadir and (normally) at least 5 mm above it.

    Exact: nadir 25 -> 30 (+20%, +5 mm) is PD; nadir 20 -> 24 (+20%, +4 mm) is not.
    """
    if not at_least_pct_above(total, nadir, PD_INCREASE_PCT):
        return False
    return not require_5mm or total - nadir >= MIN_INCREASE_MM


def meets_pr(total: Decimal, reference: Decimal) -> bool:
    """R11-PR: the sum is at least 30% below the baseline sum (63 against 90 is PR)."""
    return reference > 0 and at_least_pct_below(total, reference, PR_DECREASE_PCT)


@fast_init
@dataclass(frozen=True)
class SumAssessment:
    """The sum-based category of a set of measured lesions at one timepoint.

    ``code`` is one of ``CR PR SD PD NE``. ``available_mm`` adds the assessed lesions only;
    ``total_mm`` is the sum when every lesion was assessed (None otherwise). Percentages are
    exact and given for complete sums only.
    """

    code: str
    available_mm: Decimal
    missing: tuple[str, ...]
    pct_vs_baseline: Decimal | None
    pct_vs_nadir: Decimal | None
    why: tuple[str, ...]
    reappeared: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def total_mm(self) -> Decimal | None:
        return None if self.missing else self.available_mm


def assess_sum(
    lesions: Sequence[SumLesion],
    *,
    baseline_mm: Decimal,
    nadir_mm: Decimal,
    require_5mm: bool = True,
    after_cr: bool = False,
    reappearing: frozenset[str] | None = None,
    label: str = "sum",
) -> SumAssessment:
    """Target response from a sum (R11-CR, R11-PR, R11-PD, R11-SD, R11-MISSING, A2).

    * PD (R11-PD): at least +20% and +5 mm over the nadir. An incomplete sum can prove PD
      already, because missing lesions can only add (R11-MISSING: 50 mm over 3 lesions at
      baseline, 80 mm from 2 of them at follow-up is PD whatever the third).
    * PD (A2, FAQ-NEW-LESION-ALWAYS-PD, FAQ-ABN-NODE): with ``after_cr`` (an overall CR at
      the previous assessment and ``reappearance_after_cr_is_pd``), a lesion that reappears
      -- a non-nodal lesion above 0 mm, a node at 10 mm SA or more -- is PD
      (``reappearing`` limits the lesions that can "reappear"; None: all of them).
    * NE: a lesion is not assessed and the others do not prove PD (R11-MISSING).
    * CR (R11-CR, R11-NODE-RECORD): every non-nodal lesion 0 mm and every node < 10 mm SA;
      the sum need not be 0.
    * PR (R11-PR): at least 30% below the baseline sum.
    * SD (R11-SD, FAQ-SD-DEF): neither.
    """
    return _assess_sum(lesions, baseline_mm, CONTEXT.multiply(baseline_mm, _PR_FACTOR), nadir_mm,
                       CONTEXT.multiply(nadir_mm, _PD_FACTOR), require_5mm, after_cr, reappearing, label)


def _assess_sum(
    lesions: Sequence[SumLesion], baseline_mm: Decimal, pr_bar: Decimal, nadir_mm: Decimal, pd_bar: Decimal,
    require_5mm: bool, after_cr: bool, reappearing: frozenset[str] | None, label: str,
) -> SumAssessment:
    """:func:`assess_sum`, given ``pr_bar`` = ``baseline_mm`` x 70 and ``pd_bar`` = ``nadir_mm`` x
    120 (exact: the subject cache computes each once per subject and nadir)."""
    # one pass: the same exact additions as decimal_sum, in the same order
    add = CONTEXT.add
    available = Decimal(0)
    missing_ids: list[str] = []
    for lesion_id, _, mm in lesions:
        if mm is None:
            missing_ids.append(lesion_id)
        else:
            available = add(available, mm)
    missing = tuple(missing_ids)
    complete = not missing
    ctx = CONTEXT
    # pct_change, meets_pd and meets_pr inlined (the same exact operations): this runs for
    # every timepoint a criterion assesses
    if complete:
        pct_base = (None if baseline_mm == 0 else
                    ctx.divide(ctx.multiply(ctx.subtract(available, baseline_mm), HUNDRED), baseline_mm))
        pct_nadir = (None if nadir_mm == 0 else
                     ctx.divide(ctx.multiply(ctx.subtract(available, nadir_mm), HUNDRED), nadir_mm))
    else:
        pct_base = pct_nadir = None
    reappeared: tuple[str, ...] = ()
    scaled = ctx.multiply(available, HUNDRED)  # x 100 against both bars
    if (available > nadir_mm  # at_least_pct_above(available, nadir_mm, PD_INCREASE_PCT)
            and scaled >= pd_bar
            and (not require_5mm or available - nadir_mm >= MIN_INCREASE_MM)):
        code = "PD"
    else:
        if after_cr:
            reappeared = tuple(
                x.id
                for x in lesions
                if (reappearing is None or x.id in reappearing) and x.mm is not None and not lesion_gone(x)
            )
        if reappeared:
            code = "PD"
        elif not complete:
            code = "NE"
        elif all_gone(lesions):
            code = "CR"
        elif baseline_mm > 0 and scaled <= pr_bar:
            code = "PR"  # meets_pr(available, baseline_mm)
        else:
            code = "SD"
    # the sentence is built only when sentences are wanted (see SENTENCES)
    why = (_sum_sentence(code, available, missing, pct_base, pct_nadir, reappeared, baseline_mm, nadir_mm,
                         require_5mm, label),) if SENTENCES.get() else ()
    return SumAssessment(code, available, missing, pct_base, pct_nadir, why, reappeared)


def _sum_sentence(
    code: str, available: Decimal, missing: tuple[str, ...], pct_base: Decimal | None,
    pct_nadir: Decimal | None, reappeared: tuple[str, ...], baseline_mm: Decimal, nadir_mm: Decimal,
    require_5mm: bool, label: str,
) -> str:
    """The ``why`` sentence of :func:`assess_sum`'s decision ``code``."""
    # imRECIST's SLD is judged by its own rules (IM-PD, IM-PR); every other sum by RECIST 1.1's
    if label == "SLD":
        pd_rule, pr_rule, sd_rule = "IM-PD", "IM-PR", "IM-PD"
    else:
        pd_rule, pr_rule, sd_rule = "R11-PD", "R11-PR", "R11-SD"
    increase = available - nadir_mm
    if code == "PD" and not reappeared:
        above = pct_change(available, nadir_mm)
        pct = f"{pct_text(above)} and " if above is not None else ""
        sentence = (
            f"PD: {label} {mm_text(available)} is {pct}{mm_text(increase)} above the nadir "
            f"{mm_text(nadir_mm)} (needs +20%" + (" and +5 mm" if require_5mm else "") + f"; {pd_rule})"
        )
        if missing:
            sentence += (
                f"; {', '.join(missing)} not assessed, but missing lesions can only add (R11-MISSING)"
            )
        return sentence
    if code == "PD":
        return (f"PD: {', '.join(reappeared)} reappeared after an overall CR at the previous assessment "
                "(FAQ-NEW-LESION-ALWAYS-PD, FAQ-ABN-NODE; setting reappearance_after_cr_is_pd)")
    if code == "NE":
        return (f"NE: {', '.join(missing)} not assessed and the assessed lesions ({mm_text(available)}) "
                f"do not prove PD against the nadir {mm_text(nadir_mm)} (R11-MISSING)")
    if code == "CR":
        return (f"CR: every non-nodal lesion 0 mm and every node below 10 mm short axis "
                f"({label} {mm_text(available)}) (R11-CR)")
    if code == "PR":
        return (f"PR: {label} {mm_text(available)} is {pct_text(pct_base)} below baseline "
                f"{mm_text(baseline_mm)} (needs 30%; {pr_rule})")
    vs_base = (
        f"{pct_text(pct_base)} {'below' if available < baseline_mm else 'above'} baseline "
        f"{mm_text(baseline_mm)} (PR needs 30% below)"
        if pct_base is not None
        else f"baseline {mm_text(baseline_mm)}"
    )
    direction = "above" if increase >= 0 else "below"
    vs_nadir = (
        f"{pct_text(pct_nadir)} and {mm_text(abs(increase))} {direction} the nadir {mm_text(nadir_mm)}"
        if pct_nadir is not None
        else f"{mm_text(abs(increase))} {direction} the nadir {mm_text(nadir_mm)}"
    )
    pd_need = "PD needs +20% and +5 mm" if require_5mm else "PD needs +20%"
    return f"SD: {label} {mm_text(available)} is {vs_base}; {vs_nadir} ({pd_need}; {sd_rule})"


# --- non-target lesions -----------------------------------------------------------

@fast_init
@dataclass(frozen=True)
class NonTargetAssessment:
    """Non-target category at one timepoint: ``CR NON-CR/NON-PD PD NE NA``.

    ``increased`` lists lesions rated ``further_increase`` or ``unequivocal_progression``
    (the iRECIST "any increase" of FAQ-IR-NT-DRIVEN); ``unequivocal`` the latter only.
    """

    code: str
    unequivocal: tuple[str, ...]
    increased: tuple[str, ...]
    not_evaluated: tuple[str, ...]
    reappeared: tuple[str, ...]
    why: tuple[str, ...]


_ABSENT = NonTargetStatus.ABSENT
_NOT_EVALUATED = NonTargetStatus.NOT_EVALUATED
_UNEQUIVOCAL = NonTargetStatus.UNEQUIVOCAL_PROGRESSION
_FURTHER = NonTargetStatus.FURTHER_INCREASE
_PRESENT = NonTargetStatus.PRESENT


_NO_NON_TARGETS = NonTargetAssessment(
    "NA", (), (), (), (), ("non-target NA: no non-target lesions at baseline (R11-TPR-T1)",)
)
#: The results of every non-target rated absent, or present and not after a CR (the common
#: cases; frozen, so one instance each serves every timepoint).
_ALL_ABSENT = NonTargetAssessment(
    "CR", (), (), (), (), ("non-target CR: every non-target absent (nodes below 10 mm) (R11-NT-CR)",))
_PRESENT_NOT_PD = NonTargetAssessment("NON-CR/NON-PD", (), (), (), (), ())
_PRESENT_NOT_PD_EXPLAINED = NonTargetAssessment(
    "NON-CR/NON-PD", (), (), (), (),
    ("non-target NON-CR/NON-PD: non-target disease present, not all absent, no unequivocal progression "
     "(R11-NT-CR, R11-NT-PD)",))


def assess_nontargets(baseline: Baseline, tp: Timepoint, *, after_cr: bool = False) -> NonTargetAssessment:
    """Non-target category (R11-NT-CR, R11-NT-PD, R11-TPR-T1/T2, A2).

    * PD only on ``unequivocal_progression`` (R11-NT-PD); ``further_increase`` alone is
      not RECIST progression (contract, FAQ-IR-NT-DRIVEN code INCLA).
    * With ``after_cr`` (overall CR at the previous assessment, A2 on), a non-nodal
      non-target seen again is PD (FAQ-NEW-LESION-ALWAYS-PD); a nodal one "reappears" only
      by unequivocal progression (FAQ-ABN-NODE), so ``present`` is not enough for a node.
    * NE when a lesion is not evaluated and nothing is PD; CR when every non-target is
      absent -- for a node "absent" means short axis below 10 mm (R11-NT-CR).
    * ``NA`` when there were no non-targets at baseline.
    """
    if not baseline.non_targets:
        return _NO_NON_TARGETS
    get = tp.non_targets.get
    if not after_cr:  # the common case first: every non-target present or absent
        all_absent = True
        for nt in baseline.non_targets:
            s = get(nt.id, _NOT_EVALUATED)
            if s is _PRESENT:
                all_absent = False
            elif s is not _ABSENT:
                break
        else:
            if all_absent:
                return _ALL_ABSENT
            return _PRESENT_NOT_PD_EXPLAINED if SENTENCES.get() else _PRESENT_NOT_PD
    # one pass over the baseline non-targets (same lists, same order as separate filters)
    unequivocal_l: list[str] = []
    increased_l: list[str] = []
    not_evaluated_l: list[str] = []
    reappeared_l: list[str] = []
    all_absent = True
    for nt in baseline.non_targets:
        s = get(nt.id, _NOT_EVALUATED)
        if s is _ABSENT:
            continue
        all_absent = False
        if s is _NOT_EVALUATED:
            not_evaluated_l.append(nt.id)
        elif s is _UNEQUIVOCAL:
            unequivocal_l.append(nt.id)
            increased_l.append(nt.id)
        elif s is _FURTHER:
            increased_l.append(nt.id)
            if after_cr and not nt.node:
                reappeared_l.append(nt.id)
        elif s is _PRESENT and after_cr and not nt.node:
            reappeared_l.append(nt.id)
    unequivocal = tuple(unequivocal_l)
    increased = tuple(increased_l)
    not_evaluated = tuple(not_evaluated_l)
    reappeared = tuple(reappeared_l)
    explain = SENTENCES.get()  # the sentence only when sentences are wanted
    if unequivocal:
        return NonTargetAssessment(
            "PD", unequivocal, increased, not_evaluated, reappeared,
            (f"non-target PD: unequivocal progression of {', '.join(unequivocal)} (R11-NT-PD)",)
            if explain else (),
        )
    if reappeared:
        return NonTargetAssessment(
            "PD", unequivocal, increased, not_evaluated, reappeared,
            (
                f"non-target PD: {', '.join(reappeared)} reappeared after an overall CR at the previous "
                "assessment (FAQ-NEW-LESION-ALWAYS-PD; setting reappearance_after_cr_is_pd)",
            ) if explain else (),
        )
    if not_evaluated:
        return NonTargetAssessment(
            "NE", unequivocal, increased, not_evaluated, reappeared,
            (f"non-target NE: {', '.join(not_evaluated)} not evaluated and no non-target PD "
             "(R11-MISSING)",) if explain else (),
        )
    if all_absent:
        return NonTargetAssessment(
            "CR", unequivocal, increased, not_evaluated, reappeared,
            ("non-target CR: every non-target absent (nodes below 10 mm) (R11-NT-CR)",),
        )
    if not explain:
        return NonTargetAssessment("NON-CR/NON-PD", unequivocal, increased, not_evaluated, reappeared, ())
    why = "non-target NON-CR/NON-PD: non-target disease present, not all absent, no unequivocal progression"
    if increased:
        why += f" ({', '.join(increased)} increased, which is not RECIST 1.1 progression by itself)"
    why += " (R11-NT-CR, R11-NT-PD)"
    return NonTargetAssessment("NON-CR/NON-PD", unequivocal, increased, not_evaluated, reappeared, (why,))


# --- new lesions ------------------------------------------------------------------

def organ_key(organ: str, node: bool) -> str:
    """The organ a lesion counts against for the 2-per-organ cap (R11-TGT-SEL).

    FAQ-NODES-ONE-ORGAN: all lymph nodes are one organ. FAQ-PAIRED-ORGANS: lung, kidney
    and ovaries count as one organ whatever the side or part ("left lung", "right lower
    lobe of lung", "pulmonary nodule" and "lung" are the same), and so does any other organ
    ("liver left lobe" and "liver, segment VII"). The grouping is exactly the one the
    baseline validation applies to targets (:func:`criteria.validate.organ_group`), so that
    new-lesion targets (IR-NEW: "no more than 2 per organ") and imRECIST's new measurable
    lesions (IM-NEW-MEAS, A6) are capped per organ exactly as baseline targets are.
    """
    return organ_group(organ, node)


def new_lesion_present(lesion: NewLesion) -> bool:
    """A new lesion is present unless resolved: mm 0 (contract), or a node below 10 mm SA.

    R11-NODE / FAQ-NEW-LN: a node under 10 mm short axis is normal, so a "new node" at that
    size is not (or no longer) a lesion. ``mm`` None means present but not measured.
    """
    if lesion.mm is None:
        return True
    if lesion.node:
        return lesion.mm >= NODE_NORMAL_BELOW_MM
    return lesion.mm > 0


def new_lesion_measurable(lesion: NewLesion) -> bool:
    """R11-MEAS / IR-NEW / IM-NEW-MEAS: marked measurable and of measurable size.

    Non-nodal >= 10 mm longest diameter, nodal >= 15 mm short axis.
    """
    if not lesion.measurable or lesion.mm is None:
        return False
    return lesion.mm >= (NODE_MEASURABLE_MM if lesion.node else LESION_MEASURABLE_MM)


@fast_init
@dataclass(frozen=True)
class NewLesionView:
    """New lesions at one timepoint as the criteria see them.

    ``present``: unequivocal new lesions present now (an equivocal one counts when
    ``equivocal_backdates_response`` and it is confirmed later, A11). ``equivocal``: the other
    equivocal lesions present. ``first_seen``: for every lesion present, the earliest scan
    date at which it was first seen, equivocal or not (R11-EQUIVOCAL).
    """

    present: tuple[NewLesion, ...]
    equivocal: tuple[NewLesion, ...]
    first_seen: Mapping[str, dt.date]
    assessed: bool = True

    @property
    def code(self) -> str:
        """New-lesion category: ``YES NO EQUIVOCAL NE``."""
        if not self.assessed:
            return "NE"
        if self.present:
            return "YES"
        return "EQUIVOCAL" if self.equivocal else "NO"

    def backdated_date(self, ids: Sequence[str] | None = None) -> dt.date | None:
        """Earliest first-seen date among present lesions (``ids`` restricts them)."""
        dates = [self.first_seen[x.id] for x in self.present if ids is None or x.id in ids]
        return min(dates) if dates else None


#: The views of a timepoint without new lesions and of a scan not done (frozen; shared).
_NO_NEW_LESION = NewLesionView((), (), MappingProxyType({}))
_NOT_ASSESSED_VIEW = NewLesionView((), (), MappingProxyType({}), assessed=False)


def new_lesion_views(subject: Subject) -> tuple[NewLesionView, ...]:
    """Per timepoint, which new lesions are present, equivocal, and since when (R11-NEW, A11).

    R11-EQUIVOCAL: an equivocal new lesion is not progression; if the same lesion id is
    later seen unequivocally, progression is dated to the scan where it was first seen.
    With ``settings.equivocal_backdates_response`` (A11 alternative) the earlier timepoints
    where it was equivocal also count it as present, so their response becomes PD too.
    """
    for tp in subject.timepoints:
        if tp.new_lesions:
            break
    else:  # the common case, no new lesion: one shared view each
        not_done = ScanKind.NOT_DONE
        return tuple([_NOT_ASSESSED_VIEW if tp.scan is not_done else _NO_NEW_LESION
                      for tp in subject.timepoints])
    confirmed_at: dict[str, int] = {}
    for i, tp in enumerate(subject.timepoints):
        if tp.scan is ScanKind.NOT_DONE:
            continue
        for lesion in tp.new_lesions:
            if not lesion.equivocal and new_lesion_present(lesion):
                confirmed_at.setdefault(lesion.id, i)
    backdate = subject.settings.equivocal_backdates_response
    first_seen: dict[str, dt.date] = {}
    views = []
    for i, tp in enumerate(subject.timepoints):
        if tp.scan is ScanKind.NOT_DONE:
            views.append(_NOT_ASSESSED_VIEW)
            continue
        present: list[NewLesion] = []
        equivocal: list[NewLesion] = []
        for lesion in tp.new_lesions:
            if not new_lesion_present(lesion):
                continue
            first_seen.setdefault(lesion.id, tp.earliest_date)
            counts = not lesion.equivocal or (
                backdate and lesion.id in confirmed_at and confirmed_at[lesion.id] >= i
            )
            (present if counts else equivocal).append(lesion)
        views.append(
            NewLesionView(
                tuple(present),
                tuple(equivocal),
                {x.id: first_seen[x.id] for x in (*present, *equivocal)},
            )
        )
    return tuple(views)


def _lesion_signature(
    subject: Subject, lesion_id: str
) -> tuple[tuple[int, str, int, int, int, int, Decimal], ...]:
    """Everything the input says about a new lesion except its id: its entry at every
    timepoint (absent, or organ, node, measurable, equivocal and mm). Invariant under
    renaming ids and reordering lists, it breaks size ties in :func:`allocate_new_targets`;
    two lesions with equal signatures are interchangeable, so either choice gives the same
    results."""
    out = []
    for tp in subject.timepoints:
        lesion = next((x for x in tp.new_lesions if x.id == lesion_id), None)
        if lesion is None:
            out.append((0, "", 0, 0, 0, 0, ZERO))
        else:
            out.append((
                1, lesion.organ, int(lesion.node), int(lesion.measurable), int(lesion.equivocal),
                int(lesion.mm is not None), ZERO if lesion.mm is None else lesion.mm,
            ))
    return tuple(out)


def allocate_new_targets(
    subject: Subject,
    views: Sequence[NewLesionView],
    *,
    cap: tuple[int, int] = RECIST_CAP,
    promote: bool = False,
) -> dict[str, int]:
    """Choose the new lesions that are measured: lesion id -> index of its first timepoint.

    IR-NEW (iRECIST NLT) and IM-NEW-MEAS (imRECIST, cap per A6): measurable new lesions, up
    to ``cap`` = (total, per organ) with organs grouped as in R11-TGT-SEL, chosen timepoint by
    timepoint. Within a timepoint the candidates are taken largest first (R11-TGT-SEL:
    "selection is by size", applied to new lesions by IR-NEW / IM-NEW-MEAS), never by their
    order in the input or by their ids. Equal sizes are broken by organ, then [C] by the
    rest of what the input says about each lesion over the whole follow-up
    (:func:`_lesion_signature`), so renaming or reordering lesions never changes a result.

    A lesion is judged when first present; with ``promote`` (imRECIST) a lesion first seen
    non-measurable may join once it becomes measurable and a place is free, whereas iRECIST
    keeps it a non-target (NLNT).
    """
    total_cap, organ_cap = cap
    chosen: dict[str, int] = {}
    judged: set[str] = set()
    per_organ: dict[str, int] = {}
    signatures: dict[str, tuple[tuple[int, str, int, int, int, int, Decimal], ...]] = {}

    def size_order(lesion: NewLesion) -> tuple[Decimal, str, str, int]:
        mm = lesion.mm if lesion.mm is not None else ZERO
        return (-mm, organ_key(lesion.organ, lesion.node), lesion.organ, int(lesion.node))

    for i, (tp, view) in enumerate(zip(subject.timepoints, views, strict=True)):
        if not view.assessed or not view.present or len(chosen) >= total_cap:
            continue  # (no lesion present: no candidate, nothing judged)
        by_id = {x.id: x for x in tp.new_lesions}
        candidates = [
            by_id[seen.id]
            for seen in view.present
            if seen.id not in chosen and (promote or seen.id not in judged)
        ]
        judged.update(x.id for x in candidates)
        measurable = [x for x in candidates if new_lesion_measurable(x)]
        if len(measurable) > 1:
            keys = {x.id: size_order(x) for x in measurable}
            if len(set(keys.values())) < len(keys):  # a tie: decide on the whole signature
                for x in measurable:
                    if x.id not in signatures:
                        signatures[x.id] = _lesion_signature(subject, x.id)
                measurable.sort(key=lambda x: (keys[x.id], signatures[x.id]))
            else:
                measurable.sort(key=lambda x: keys[x.id])
        for lesion in measurable:
            organ = organ_key(lesion.organ, lesion.node)
            if len(chosen) < total_cap and per_organ.get(organ, 0) < organ_cap:
                chosen[lesion.id] = i
                per_organ[organ] = per_organ.get(organ, 0) + 1
    return chosen


def new_target_lesions(
    tp: Timepoint, chosen: Mapping[str, int], index: int
) -> tuple[SumLesion, ...]:
    """The measured new lesions (chosen at or before ``index``) with their value at ``tp``.

    A chosen lesion missing from the timepoint's list, or listed without mm, is "not
    assessed"; mm 0 is resolved and adds 0.
    """
    if not chosen:
        return ()
    by_id = {x.id: x for x in tp.new_lesions}
    out = []
    for lesion_id, first in chosen.items():
        if first > index:
            continue
        lesion = by_id.get(lesion_id)
        if lesion is None:
            out.append(SumLesion(lesion_id, False, None))
        else:
            out.append(SumLesion(lesion_id, lesion.node, lesion.mm))
    return tuple(out)


# --- one subject's shared work --------------------------------------------------------

class SubjectCache:
    """The work the criteria of one subject share, created per subject and passed down.

    RECIST 1.1, iRECIST and imRECIST read the same target values, non-target categories and
    new-lesion views of the same timepoints, and mostly assess the same sums against the
    same baseline sum and nadir. :func:`criteria.evaluate.evaluate` makes one cache per
    subject and hands it to each engine; it dies with the evaluation, so no state outlives
    a subject or is shared between subjects or threads (nothing at module level).

    Built in one pass over the timepoints, by index (``subject.timepoints[i]``):
    ``lesions[i]`` (:func:`target_lesions`), ``nontargets[i]`` (:func:`assess_nontargets`
    without ``after_cr``), ``views[i]`` and ``new_codes[i]`` (:func:`new_lesion_views` and
    their codes), ``baseline_mm`` (:func:`baseline_sum`, one Decimal object, so that
    :meth:`assess_sum` recognises it by identity), ``any_new`` and ``scan_dates`` (whether
    any timepoint lists new lesions, image dates), ``bidimensional``
    (:func:`~criteria.validate.is_bidimensional` of the baseline) and ``explain``
    (:data:`SENTENCES` when the cache was made: whether the engines build sentences). :meth:`assess_sum` and
    :meth:`assess_nontargets_after_cr` keep their last result per timepoint together with
    the objects it was computed from, so a hit is exactly the result a fresh call would
    give. Every input is frozen. Without a cache (``None``) an engine makes its own.
    """

    __slots__ = ("_nontargets_cr", "_pd_bars", "_pr_bar", "_sums", "any_new", "baseline", "baseline_mm",
                 "bidimensional", "explain", "lesions", "new_codes", "nontargets", "scan_dates", "subject",
                 "views")

    def __init__(self, subject: Subject) -> None:
        self.subject = subject
        baseline = self.baseline = require_baseline(subject)  # measurement level only
        self.baseline_mm = baseline_sum(baseline)
        self._pr_bar = CONTEXT.multiply(self.baseline_mm, _PR_FACTOR)  # the PR test's baseline x 70
        self._pd_bars: dict[int, tuple[Decimal, Decimal]] = {}  # id(nadir) -> (nadir, nadir x 120)
        self.explain = SENTENCES.get()
        timepoints = subject.timepoints
        targets = tuple([(t.id, t.node) for t in baseline.targets])
        lesions = []
        nontargets = []
        any_new = scan_dates = False
        for tp in timepoints:
            lesions.append(_lesions_at(targets, tp))
            nontargets.append(assess_nontargets(baseline, tp))
            if tp.new_lesions:
                any_new = True
            if tp.scan_dates:
                scan_dates = True  # image dates given (types.Timepoint)
        self.lesions = tuple(lesions)
        self.nontargets = tuple(nontargets)
        self.any_new = any_new
        self.scan_dates = scan_dates
        self.bidimensional = is_bidimensional(baseline)
        views = self.views = new_lesion_views(subject)
        self.new_codes = tuple([view.code for view in views])
        n = len(timepoints)
        self._sums: list[tuple[Sequence[SumLesion], Decimal, bool, bool, frozenset[str] | None, str,
                               SumAssessment] | None] = [None] * n
        self._nontargets_cr: list[NonTargetAssessment | None] = [None] * n

    def assess_sum(
        self,
        index: int,
        lesions: Sequence[SumLesion],
        nadir_mm: Decimal,
        after_cr: bool = False,
        require_5mm: bool = True,
        reappearing: frozenset[str] | None = None,
        label: str = "sum",
    ) -> SumAssessment:
        """:func:`assess_sum` of timepoint ``index`` against :attr:`baseline_mm`, reused when
        another criterion asks with the same objects (the same lesions tuple and nadir)."""
        hit = self._sums[index]
        if (
            hit is not None
            and hit[0] is lesions
            and hit[1] is nadir_mm
            and hit[2] is after_cr
            and hit[3] is require_5mm
            # reappearing matters only after a CR, the label only in the sentences
            and (not after_cr or hit[4] is reappearing)
            and (not self.explain or hit[5] == label)
        ):
            return hit[6]
        bar = self._pd_bars.get(id(nadir_mm))
        if bar is None or bar[0] is not nadir_mm:
            bar = self._pd_bars[id(nadir_mm)] = (nadir_mm, CONTEXT.multiply(nadir_mm, _PD_FACTOR))
        result = _assess_sum(lesions, self.baseline_mm, self._pr_bar, nadir_mm, bar[1], require_5mm, after_cr,
                             reappearing, label)
        self._sums[index] = (lesions, nadir_mm, after_cr, require_5mm, reappearing, label, result)
        return result

    def assess_nontargets_after_cr(self, index: int) -> NonTargetAssessment:
        """:func:`assess_nontargets` of timepoint ``index`` with ``after_cr`` (A2)."""
        result = self._nontargets_cr[index]
        if result is None:
            result = self._nontargets_cr[index] = assess_nontargets(
                self.baseline, self.subject.timepoints[index], after_cr=True)
        return result
