"""The checks of a reader's input, one function per form of input, for every entry point.

* :func:`baseline_problems`: the baseline selection (target and non-target lesions);
* :func:`followup_problems`: a follow-up (a value per baseline target, a rating per
  baseline non-target, new lesions), against the saved baseline when one is given;
* :func:`pet_problems`: a timepoint's PET scan (PERCIST family);
* :func:`prebaseline_problems`: a pre-baseline scan (tumour growth rate);
* :func:`signature_problems`: the printed name and meaning of an e-signature.

What a criterion needs beyond RECIST 1.1 is checked when the charter names it (``criteria``,
the charter's list): the second diameters of irRC (``criteria.validate``'s pair and
selection rules), itRECIST's injected flags (ITR-CLASS), and any of those inputs given for a
charter whose criteria have no use for them is refused, naming the field.

Each returns :class:`~trialreads.errors.FieldProblem` values with one path format
(:data:`~trialreads.errors.FieldPath`, written by :func:`~trialreads.errors.path_text`); the
services raise them as one :class:`~trialreads.errors.ValidationError`, the API renders them
as a 400 body, and the web form and its live preview put them next to their inputs
(``web.forms.field_id``). The shape rules (codes, text, 0.1 mm decimals, states) are here;
the RECIST rules (measurability, at most five targets and two per organ, lesion identity,
coalescence partners) are ``criteria.validate``'s, called here and not repeated, their paths
translated by :func:`_from_criteria_field`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from criteria import irrc as irrc_rules
from criteria import lesions as criteria_lesions
from criteria import validate as rules
from criteria.errors import InputError
from criteria.growth_input import parse_prebaseline
from criteria.types import (
    IRRC,
    ITRECIST,
    PET_CRITERIA,
    Baseline,
    Injection,
    Timepoint,
)
from criteria.types import Subject as EngineSubject
from trialreads import mappers, validators
from trialreads.choices import LesionKind, MeasurementState, NonTargetStatus, PetReferenceSite
from trialreads.errors import FieldPath, FieldProblem
from trialreads.inputs import (
    NewLesionInput,
    NonTargetInput,
    PetScanInput,
    PrebaselineInput,
    TargetInput,
    TargetValueInput,
)
from trialreads.models import read as read_models

ONE_DECIMAL = Decimal("0.1")
#: Decimal places a value transcribed from a source keeps (``Measurement.value_mm``).
COLLECTED_PLACES = read_models.MM_PLACES
COLLECTED_QUANTUM = Decimal(1).scaleb(-COLLECTED_PLACES)
#: R11-TSTM: a target present but too small to measure counts as 5 mm: the criteria engine's
#: value, at the 0.1 mm the product stores.
TOO_SMALL_MM = criteria_lesions.TSTM_MM.quantize(ONE_DECIMAL)
LESION_CODE_MAX = 20
_CODE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclasses.dataclass(frozen=True)
class RecordedLesion:
    """A lesion already recorded in the read, as the follow-up rules need it."""

    kind: str  # LesionKind
    organ: str
    is_node: bool
    first_sequence: int | None  # the sequence of the timepoint it was first recorded at


@dataclasses.dataclass(frozen=True)
class FollowupContext:
    """What a follow-up is checked against: the saved baseline, this timepoint (date and
    sequence in the read) and the lesions the read already holds, by code."""

    baseline: Baseline
    date: dt.date
    sequence: int
    recorded: Mapping[str, RecordedLesion]
    #: The charter's criteria (what the follow-up must carry for them) and the baseline
    #: lesions already injected before this timepoint (itRECIST).
    criteria: Sequence[str] = ()
    injected_before: frozenset[str] = frozenset()


class _Problems:
    """Collects problems; the ``check_*`` helpers add to it."""

    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.items.append(FieldProblem(path, message))

    def check_diameter(
        self, path: FieldPath, value: object, *, required: bool = True, collected: str = ""
    ) -> Decimal | None:
        """A diameter: a ``Decimal`` (never float/bool/str), finite, unsigned, one decimal at
        most, at most ``criteria.validate.MAX_DIAMETER_MM``. A value transcribed from a source
        names its result text as ``collected`` (which must read as exactly ``value``, reported
        at the sibling ``collected`` path) and keeps up to :data:`COLLECTED_PLACES` decimals:
        rounding it would let the transcription change a response (issue 18 item 6)."""
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not isinstance(value, Decimal):
            self.add(path, "must be a decimal number of millimetres")
            return None
        if not value.is_finite():
            self.add(path, "must be a finite number")
            return None
        if value.is_signed():
            self.add(path, "must not be negative")
            return None
        quantum = COLLECTED_QUANTUM if collected else ONE_DECIMAL
        try:
            quantized = value.quantize(quantum)
        except InvalidOperation:
            self.add(path, "out of range")
            return None
        if quantized != value:
            self.add(path, f"at most {COLLECTED_PLACES} decimal places" if collected
                     else "at most one decimal place (0.1 mm)")
            return None
        if collected:
            try:
                exact = Decimal(collected) == value
            except InvalidOperation:
                exact = False
            if not exact:
                self.add((*path[:-1], "collected"), f"{collected!r} is not {value} mm")
                return None
            quantized = value
        if quantized > rules.MAX_DIAMETER_MM:
            self.add(path, f"implausible diameter (more than {rules.MAX_DIAMETER_MM} mm)")
            return None
        return quantized

    def check_text(self, path: FieldPath, value: object, *, max_len: int = 60) -> None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, "required")
        elif len(value) > max_len or not value.isascii() or any(ord(c) < 32 for c in value):
            self.add(path, f"at most {max_len} printable ASCII characters")

    def check_lesion_code(self, path: FieldPath, code: object, seen: set[str]) -> None:
        if not is_lesion_code(code):
            self.add(path, f"1-{LESION_CODE_MAX} ASCII letters, digits, '_' or '-'")
        elif code in seen:
            self.add(path, f"duplicate lesion code {code}")
        else:
            seen.add(str(code))


def is_lesion_code(code: object) -> bool:
    return isinstance(code, str) and 0 < len(code) <= LESION_CODE_MAX and set(code) <= _CODE_CHARACTERS


# --- criteria's field paths ----------------------------------------------------------------------

#: criteria's names of the input fields -> the product's (``criteria.types`` vs the services' inputs).
_CRITERIA_NAMES = {"mm": "value_mm", "id": "code"}


def _criteria_parts(field: str) -> list[str | int]:
    """``criteria.validate``'s written path (``@.targets.T1.fragments_mm[1]``) as its parts:
    names split at dots, ``[n]`` list indexes as ints (lesion codes never hold ``.`` or ``[``)."""
    parts: list[str | int] = []
    for name in field.split("."):
        head, *indexes = name.split("[")
        if head:
            parts.append(_CRITERIA_NAMES.get(head, head))
        parts.extend(int(index.rstrip("]")) for index in indexes)
    return parts


def _from_criteria_field(field: str, target_index: Mapping[str, int] | None = None) -> FieldPath:
    """A ``criteria.validate`` path (called with prefix ``@``) as a product :data:`FieldPath`.

    The engine keys follow-up targets by lesion code; the product's inputs are lists, so with
    ``target_index`` (code -> position in the submitted list) ``@.targets.T1.coalesced_with``
    becomes ``("targets", i, "coalesced_with")``, and ``@.targets.T1`` (the item itself: an
    unknown lesion id) ``("targets", i)``."""
    parts = _criteria_parts(field)[1:]  # without the "@"
    if target_index is not None and len(parts) >= 2 and parts[0] == "targets" and parts[1] in target_index:
        return ("targets", target_index[str(parts[1])], *parts[2:])
    return tuple(parts)


def _criteria_problems(
    problems: Sequence[rules.Problem], target_index: Mapping[str, int] | None = None
) -> list[FieldProblem]:
    return [FieldProblem(_from_criteria_field(p.field, target_index), p.message) for p in problems]


# --- baseline ----------------------------------------------------------------------------------------


def baseline_problems(
    targets: Sequence[TargetInput], non_targets: Sequence[NonTargetInput], criteria: Sequence[str] = ()
) -> list[FieldProblem]:
    """Problems with a baseline selection: the shapes (codes, organs, 0.1 mm diameters) and,
    once every diameter is a usable number, the RECIST selection rules of ``criteria.validate``
    (R11-MEAS, R11-NODE, R11-TGT-SEL) on the diameters as stored (0.1 mm, so that a message
    says "8.0 mm" whether "8" came from the form or the API) and on the fields without a shape
    problem (a duplicate code is reported once, not again as criteria's duplicate id).

    ``criteria`` (the charter's) adds their rules: the second diameters and irRC's index-lesion
    selection (IRRC-BURDEN) for ``irrc``, the injected / non-injected classification for
    ``itrecist`` (ITR-CLASS, up to 10 targets when no RECIST-limited criterion is named);
    a second diameter is checked whenever given, an injected flag is refused without
    ``itrecist``."""
    found = _Problems()
    seen: set[str] = set()
    stored: list[TargetInput] = []  # the targets as the service stores them (0.1 mm: "8" is 8.0)
    itrecist = ITRECIST in criteria
    for i, t in enumerate(targets):
        found.check_lesion_code(("targets", i, "code"), t.code, seen)
        found.check_text(("targets", i, "organ"), t.organ)
        value = found.check_diameter(("targets", i, "value_mm"), t.value_mm, collected=t.collected)
        perp = found.check_diameter(("targets", i, "perp_mm"), t.perp_mm, required=False)
        long = found.check_diameter(("targets", i, "long_mm"), t.long_mm, required=False)
        if t.injected and not itrecist:
            found.add(("targets", i, "injected"), _NO_INJECTION)
        stored.append(
            dataclasses.replace(
                t,
                value_mm=value if value is not None else t.value_mm,
                perp_mm=perp if perp is not None else t.perp_mm,
                long_mm=long if long is not None else t.long_mm,
            )
        )
    for i, n in enumerate(non_targets):
        found.check_lesion_code(("non_targets", i, "code"), n.code, seen)
        found.check_text(("non_targets", i, "organ"), n.organ)
        if n.injected and not itrecist:
            found.add(("non_targets", i, "injected"), _NO_INJECTION)
    if any(problem.path[-1] in _DIAMETER_FIELDS for problem in found.items):
        return found.items
    engine_targets = mappers.baseline_targets_from_input(stored)
    engine_non_targets = mappers.baseline_non_targets_from_input(non_targets)
    checks: list[rules.Problem] = []
    if _recist_limited(criteria):
        checks += rules.validate_baseline_targets(
            engine_targets, prefix="@.targets", max_targets=baseline_target_limit(criteria)
        )
    if any(t.perp_mm is not None or t.long_mm is not None for t in engine_targets):
        checks += [
            p for p in rules.bidimensional_baseline_problems(engine_targets, prefix="@.targets")
            if p.field.endswith(("perp_mm", "long_mm"))
        ]
    baseline = Baseline(date=dt.date.min, targets=engine_targets, non_targets=engine_non_targets)
    if IRRC in criteria:
        checks += [
            rules.Problem(p.field.replace("baseline.", "@.", 1), p.message)
            for p in rules.selection_problems(baseline, IRRC)
        ]
    if itrecist:
        flags = {t.code: t.injected for t in targets} | {n.code: n.injected for n in non_targets}
        injection = Injection(baseline=flags, later=())
        subject = EngineSubject(subject="", reference_date=dt.date.min, timepoints=(), baseline=baseline,
                                injection=injection)
        checks += [rules.Problem("@.targets", p.message) for p in rules.validate_injection(subject)]
    selection = _criteria_problems(
        checks + rules.validate_baseline_non_targets(
            engine_non_targets, (t.id for t in engine_targets), prefix="@.non_targets"
        )
    )
    shaped = {problem.path for problem in found.items}
    return found.items + [problem for problem in selection if problem.path not in shaped]


_DIAMETER_FIELDS = frozenset({"value_mm", "perp_mm", "long_mm"})
_NO_INJECTION = "the charter's criteria do not classify injected lesions (only itrecist does)"
#: Criteria that only itRECIST's target limits bound (ITR-CLASS: up to 10 targets).
_ITRECIST_LIMITED = frozenset({ITRECIST, *PET_CRITERIA})


def baseline_target_limit(criteria: Sequence[str]) -> int:
    """The most baseline targets the charter's criteria allow (what the read form offers rows
    for): RECIST 1.1's five, itRECIST's ten when no other criterion limits them, irRC's
    visceral plus cutaneous index lesions (IRRC-BURDEN) when only irRC selects them."""
    if not _recist_limited(criteria):
        return rules.IRRC_MAX_VISCERAL + rules.IRRC_MAX_CUTANEOUS
    # no criteria (no charter) means RECIST 1.1's limit, not itRECIST's
    return rules.ITR_MAX_TARGETS if criteria and set(criteria) <= _ITRECIST_LIMITED else rules.MAX_TARGETS


def _recist_limited(criteria: Sequence[str]) -> bool:
    """Whether the RECIST 1.1 target selection rules apply: any criterion but irRC's own
    selection (and the PET criteria, which have no CT targets); no charter means RECIST."""
    return not criteria or any(c != IRRC and c not in PET_CRITERIA for c in criteria)


# --- follow-up ---------------------------------------------------------------------------------------


def followup_problems(
    targets: Sequence[TargetValueInput],
    non_targets: Mapping[str, str],
    new_lesions: Sequence[NewLesionInput],
    against: FollowupContext | None = None,
    injected: Sequence[str] = (),
) -> list[FieldProblem]:
    """Problems with a follow-up. Without ``against``: the shape rules only (what can be
    judged before the read is loaded). With it, once the shapes are right: every baseline
    lesion given, ``criteria.validate.validate_timepoint_lesions`` (lesion identity,
    coalescence partners, new-lesion ids), and a new lesion's code, organ and node kept from
    the timepoint it was first recorded at; the second diameters when given (and, for a
    charter naming irRC, where its products need them); ``injected``, the baseline lesions
    first injected at this timepoint (itRECIST only: not injected before)."""
    found = _Problems()
    seen: set[str] = set()
    for i, t in enumerate(targets):
        _check_target_value(found, i, t, seen)
        found.check_diameter(("targets", i, "perp_mm"), t.perp_mm, required=False)
        found.check_diameter(("targets", i, "long_mm"), t.long_mm, required=False)
        for k, fragment in enumerate(t.fragments_perp_mm):
            found.check_diameter(("targets", i, "fragments_perp_mm", k), fragment)
    for code, status in non_targets.items():
        if status not in NonTargetStatus.values:
            found.add(("non_targets", code), f"one of {', '.join(NonTargetStatus.values)}")
    for i, n in enumerate(new_lesions):
        found.check_lesion_code(("new_lesions", i, "code"), n.code, seen)
        found.check_text(("new_lesions", i, "organ"), n.organ)
        required = n.measurable and not n.equivocal
        found.check_diameter(("new_lesions", i, "value_mm"), n.value_mm, required=required,
                             collected=n.collected)
        found.check_diameter(("new_lesions", i, "perp_mm"), n.perp_mm, required=False)
        found.check_diameter(("new_lesions", i, "long_mm"), n.long_mm, required=False)
    injected_seen: set[str] = set()
    for k, code in enumerate(injected):
        if not isinstance(code, str) or code in injected_seen:
            found.add(("injected", k), "a baseline lesion code, once")
        injected_seen.add(str(code))
    if found.items or against is None:
        return found.items
    baseline = against.baseline
    given = {t.code for t in targets}
    for code in sorted({t.id for t in baseline.targets} - given):
        found.add(("targets", code), "missing: every baseline target needs a value")
    for code in sorted({n.id for n in baseline.non_targets} - set(non_targets)):
        found.add(("non_targets", code), "missing: every baseline non-target needs a rating")
    timepoint = mappers.timepoint_from_input(against.date, targets, non_targets, new_lesions)
    target_index = {t.code: i for i, t in enumerate(targets)}
    found.items += _criteria_problems(
        rules.validate_timepoint_lesions(timepoint, baseline, prefix="@"), target_index
    )
    found.items += _criteria_problems(
        rules.bidimensional_timepoint_problems(baseline, timepoint, "@"), target_index
    )
    if IRRC in against.criteria and rules.is_bidimensional(baseline):
        found.items += _irrc_product_problems(baseline, timepoint, target_index)
    _check_injected(found, injected, against)
    for i, n in enumerate(new_lesions):
        known = against.recorded.get(n.code)
        if known is None or known.kind != LesionKind.NEW or known.first_sequence is None:
            continue  # a clash with a baseline id is criteria's problem, reported above
        if known.first_sequence > against.sequence:
            found.add(("new_lesions", i, "code"), f"{n.code} is first recorded at a later timepoint")
        elif (known.organ, known.is_node) != (n.organ.strip(), n.is_node) and (
            known.first_sequence < against.sequence
        ):
            found.add(("new_lesions", i, "organ"), f"{n.code} was recorded earlier in another organ")
    return found.items


def _irrc_product_problems(
    baseline: Baseline, timepoint: Timepoint, target_index: Mapping[str, int]
) -> list[FieldProblem]:
    """irRC's products need each measured lesion's second diameter (``criteria.irrc``'s own
    checks, which name the missing field)."""
    problems: list[rules.Problem] = []
    nodes = {t.id: t.node for t in baseline.targets}
    for code, m in timepoint.targets.items():
        try:
            irrc_rules.target_product("", f"@.targets.{code}", nodes.get(code, False), m)
        except InputError as error:
            problems.append(rules.Problem(error.field, error.message))
    for k, lesion in enumerate(timepoint.new_lesions):
        try:
            irrc_rules.new_lesion_product("", f"@.new_lesions[{k}]", lesion)
        except InputError as error:
            problems.append(rules.Problem(error.field, error.message))
    return _criteria_problems(problems, target_index)


def _check_injected(found: _Problems, injected: Sequence[str], against: FollowupContext) -> None:
    if not injected:
        return
    if ITRECIST not in against.criteria:
        found.add(("injected",), _NO_INJECTION)
        return
    baseline_ids = {t.id for t in against.baseline.targets} | {n.id for n in against.baseline.non_targets}
    for k, code in enumerate(injected):
        if code not in baseline_ids:
            found.add(("injected", k), f"{code!r} is not a baseline lesion (ITR-CLASS)")
        elif code in against.injected_before:
            found.add(("injected", k), f"{code} is already injected (a lesion is injected once, ITR-CLASS)")


def _check_target_value(found: _Problems, i: int, t: TargetValueInput, seen: set[str]) -> None:
    found.check_lesion_code(("targets", i, "code"), t.code, seen)
    if t.state not in MeasurementState.values:
        found.add(("targets", i, "state"), f"one of {', '.join(MeasurementState.values)}")
        return
    value_path: FieldPath = ("targets", i, "value_mm")
    state = MeasurementState(t.state)
    if state == MeasurementState.MEASURED:
        found.check_diameter(value_path, t.value_mm, collected=t.collected)
    elif state == MeasurementState.TOO_SMALL:
        if t.value_mm is not None:
            value = found.check_diameter(value_path, t.value_mm)
            if value is not None and value != TOO_SMALL_MM:
                counted = criteria_lesions.TSTM_MM
                found.add(value_path, f"too small to measure counts as {counted} mm; leave it empty")
    elif state == MeasurementState.NOT_ASSESSED:
        if t.value_mm is not None:
            found.add(value_path, "must be empty when not assessed")
    elif state == MeasurementState.SPLIT:
        if len(t.fragments_mm) < 2:
            found.add(("targets", i, "fragments_mm"), "a split lesion has at least two fragments")
        for k, fragment in enumerate(t.fragments_mm):
            found.check_diameter(("targets", i, "fragments_mm", k), fragment)
        if t.value_mm is not None:
            found.add(value_path, "computed from the fragments; leave it empty")
    elif state == MeasurementState.COALESCED:
        found.check_diameter(value_path, t.value_mm, collected=t.collected)
        if not t.coalesced_with:
            found.add(("targets", i, "coalesced_with"), "name the lesions that coalesced into this one")
    elif state == MeasurementState.COALESCED_INTO:
        found.check_diameter(value_path, t.value_mm, required=False)
        if not t.coalesced_into:
            found.add(("targets", i, "coalesced_into"), "name the lesion this one coalesced into")


def target_stored_mm(t: TargetValueInput) -> Decimal | None:
    """The value a follow-up target enters the sum with, as stored and as the preview
    evaluates it: too small to measure :data:`TOO_SMALL_MM` (R11-TSTM), a split lesion the sum
    of its fragments (R11-SPLIT), a lesion coalesced into another 0 unless measured."""
    if t.state == MeasurementState.TOO_SMALL:
        return TOO_SMALL_MM
    if t.state == MeasurementState.SPLIT:
        return sum(t.fragments_mm, Decimal("0.0")).quantize(ONE_DECIMAL)
    if t.state == MeasurementState.COALESCED_INTO and t.value_mm is None:
        return Decimal("0.0")
    return t.value_mm


# --- PET scan (PERCIST family) ---------------------------------------------------------------------

#: Bounds of the PET values, the criteria contract's (docs/criteria-cli.md, "pet").
SUL_MAX = Decimal(100)
TLG_MAX = Decimal(1_000_000)
UPTAKE_MAX_MIN = Decimal(1440)
PET_PLACES = Decimal("0.0001")
#: The stored precision of the uptake time (minutes) and of the TLG (a value is never rounded
#: on its way in: ``TimepointRead.pet_uptake_min``, ``Measurement.tlg``).
UPTAKE_PLACES = Decimal("0.1")
TLG_PLACES = Decimal("0.001")


def pet_problems(scan: PetScanInput, criteria: Sequence[str]) -> list[FieldProblem]:
    """Problems with a timepoint's PET scan: a PET criterion in the charter; a done scan has
    its reference region (site, mean > 0, SD >= 0: every SUL is judged against it, PERCIST
    1.0 §2) and each lesion a code, an organ and a SULpeak (0-100, 4 decimals at most),
    SULmax and TLG where given, its CT size as a diameter; a scan not done carries nothing."""
    found = _Problems()
    if not any(c in PET_CRITERIA for c in criteria):
        found.add(("pet",), "the charter names no PET criterion (percist, ipercist, impercist5, percimt)")
        return found.items
    if scan.not_done:
        if scan.lesions or scan.reference_site or scan.reference_mean is not None:
            found.add(("not_done",), "a scan not done carries no reference region or lesions")
        return found.items
    if scan.reference_site not in PetReferenceSite.values:
        found.add(("reference_site",), f"required: one of {', '.join(PetReferenceSite.values)} "
                                      "(every SULpeak is judged against the reference region)")
    _check_pet_number(found, ("reference_mean",), scan.reference_mean, SUL_MAX, positive=True)
    _check_pet_number(found, ("reference_sd",), scan.reference_sd, SUL_MAX)
    _check_pet_number(found, ("uptake_min",), scan.uptake_min, UPTAKE_MAX_MIN, required=False,
                      places=UPTAKE_PLACES)
    seen: set[str] = set()
    for i, lesion in enumerate(scan.lesions):
        found.check_lesion_code(("lesions", i, "code"), lesion.code, seen)
        found.check_text(("lesions", i, "organ"), lesion.organ)
        _check_pet_number(found, ("lesions", i, "sul_peak"), lesion.sul_peak, SUL_MAX)
        _check_pet_number(found, ("lesions", i, "sul_max"), lesion.sul_max, SUL_MAX, required=False)
        _check_pet_number(
            found, ("lesions", i, "tlg"), lesion.tlg, TLG_MAX, required=False, places=TLG_PLACES
        )
        found.check_diameter(("lesions", i, "value_mm"), lesion.value_mm, required=False)
        if (
            lesion.sul_max is not None and isinstance(lesion.sul_max, Decimal) and lesion.sul_max.is_finite()
            and isinstance(lesion.sul_peak, Decimal) and lesion.sul_peak.is_finite()
            and lesion.sul_max < lesion.sul_peak
        ):
            found.add(("lesions", i, "sul_max"), "SULmax is below the SULpeak (a peak is never above a max)")
    return found.items


def _check_pet_number(
    found: _Problems, path: FieldPath, value: object, high: Decimal, *, positive: bool = False,
    required: bool = True, places: Decimal = PET_PLACES,
) -> None:
    if value is None:
        if required:
            found.add(path, "required")
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        found.add(path, "must be a finite decimal number")
    elif value.is_signed() or (positive and value == 0):
        found.add(path, "must be above 0" if positive else "must not be negative")
    elif value > high:
        found.add(path, f"at most {high}")
    elif value.quantize(places) != value:
        digits = len(str(places).partition(".")[2])
        found.add(path, f"at most {digits} decimal place{'s' if digits != 1 else ''}")


TGR = "tgr"
NO_TGR = "the charter asks for no tumour growth rate analysis (analyses: tgr), which pre-baseline scans feed"


# --- pre-baseline scan (tumour growth rate) --------------------------------------------------------


def prebaseline_problems(
    scan: PrebaselineInput, baseline: Baseline, date: dt.date, analyses: Sequence[str]
) -> list[FieldProblem]:
    """Problems with a pre-baseline scan: the charter's analyses include the tumour growth
    rate (the only one a pre-baseline scan feeds); the baseline targets' values (measured, or
    not assessed) or the sum alone, not both (``criteria.growth_input``'s own rules, which also
    refuse a scan that is not before the baseline), each value a diameter as elsewhere."""
    found = _Problems()
    if TGR not in analyses:
        found.add(("prebaseline",), NO_TGR)
        return found.items
    seen: set[str] = set()
    values: dict[str, object] = {}
    for i, t in enumerate(scan.targets):
        found.check_lesion_code(("targets", i, "code"), t.code, seen)
        if t.state == MeasurementState.MEASURED:
            values[t.code] = found.check_diameter(("targets", i, "value_mm"), t.value_mm)
        elif t.state == MeasurementState.NOT_ASSESSED:
            if t.value_mm is not None:
                found.add(("targets", i, "value_mm"), "must be empty when not assessed")
            values[t.code] = None
        else:
            found.add(("targets", i, "state"), "MEASURED or NOT_ASSESSED on a pre-baseline scan")
    if scan.sum_mm is not None:
        found.check_diameter(("sum_mm",), scan.sum_mm)
    if found.items:
        return found.items
    data: dict[str, object] = {"date": date.isoformat()}
    if scan.targets:
        data["targets"] = values
    if scan.sum_mm is not None:
        data["sum_mm"] = scan.sum_mm
    index = {t.code: i for i, t in enumerate(scan.targets)}
    try:
        parse_prebaseline("", [data], baseline)
    except InputError as error:
        parts = _criteria_parts("@." + error.field.removeprefix("prebaseline[0]").lstrip("."))[1:]
        if parts[:1] == ["targets"] and len(parts) > 1 and str(parts[1]) in index:
            path: FieldPath = ("targets", index[str(parts[1])], "code")
        else:
            path = tuple(parts) or ("targets",)
        found.add(path, error.message)
        return found.items
    given = set(values)
    for code in sorted({t.id for t in baseline.targets} - given) if scan.targets else ():
        found.add(("targets", code), "missing: every baseline target needs a value (or give sum_mm)")
    return found.items


# --- signing -----------------------------------------------------------------------------------------


def signature_problems(printed_name: object, meaning: object) -> list[FieldProblem]:
    """Problems with an e-signature's printed name and meaning (the password is checked by
    re-authentication, not here)."""
    found = _Problems()
    name_problem = validators.printed_name_error(printed_name)
    if name_problem:
        found.add(("printed_name",), name_problem)
    if isinstance(meaning, str) and len(meaning.strip()) > 300:
        found.add(("meaning",), "at most 300 characters")
    return found.items
