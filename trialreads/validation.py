"""The checks of a reader's input, one function per form of input, for every entry point.

* :func:`baseline_problems`: the baseline selection (target and non-target lesions);
* :func:`followup_problems`: a follow-up (a value per baseline target, a rating per
  baseline non-target, new lesions), against the saved baseline when one is given;
* :func:`signature_problems`: the printed name and meaning of an e-signature.

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

from criteria import lesions as criteria_lesions
from criteria import validate as rules
from criteria.types import Baseline
from trialreads import mappers, validators
from trialreads.choices import LesionKind, MeasurementState, NonTargetStatus
from trialreads.errors import FieldPath, FieldProblem
from trialreads.inputs import NewLesionInput, NonTargetInput, TargetInput, TargetValueInput
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
    targets: Sequence[TargetInput], non_targets: Sequence[NonTargetInput]
) -> list[FieldProblem]:
    """Problems with a baseline selection: the shapes (codes, organs, 0.1 mm diameters) and,
    once every diameter is a usable number, the RECIST selection rules of ``criteria.validate``
    (R11-MEAS, R11-NODE, R11-TGT-SEL) on the diameters as stored (0.1 mm, so that a message
    says "8.0 mm" whether "8" came from the form or the API) and on the fields without a shape
    problem (a duplicate code is reported once, not again as criteria's duplicate id)."""
    found = _Problems()
    seen: set[str] = set()
    stored: list[TargetInput] = []  # the targets as the service stores them (0.1 mm: "8" is 8.0)
    for i, t in enumerate(targets):
        found.check_lesion_code(("targets", i, "code"), t.code, seen)
        found.check_text(("targets", i, "organ"), t.organ)
        value = found.check_diameter(("targets", i, "value_mm"), t.value_mm, collected=t.collected)
        stored.append(dataclasses.replace(t, value_mm=value) if value is not None else t)
    for i, n in enumerate(non_targets):
        found.check_lesion_code(("non_targets", i, "code"), n.code, seen)
        found.check_text(("non_targets", i, "organ"), n.organ)
    if any(problem.path[-1] == "value_mm" for problem in found.items):
        return found.items
    engine_targets = mappers.baseline_targets_from_input(stored)
    selection = _criteria_problems(
        rules.validate_baseline_targets(engine_targets, prefix="@.targets")
        + rules.validate_baseline_non_targets(
            mappers.baseline_non_targets_from_input(non_targets),
            (t.id for t in engine_targets),
            prefix="@.non_targets",
        )
    )
    shaped = {problem.path for problem in found.items}
    return found.items + [problem for problem in selection if problem.path not in shaped]


# --- follow-up ---------------------------------------------------------------------------------------


def followup_problems(
    targets: Sequence[TargetValueInput],
    non_targets: Mapping[str, str],
    new_lesions: Sequence[NewLesionInput],
    against: FollowupContext | None = None,
) -> list[FieldProblem]:
    """Problems with a follow-up. Without ``against``: the shape rules only (what can be
    judged before the read is loaded). With it, once the shapes are right: every baseline
    lesion given, ``criteria.validate.validate_timepoint_lesions`` (lesion identity,
    coalescence partners, new-lesion ids), and a new lesion's code, organ and node kept from
    the timepoint it was first recorded at."""
    found = _Problems()
    seen: set[str] = set()
    for i, t in enumerate(targets):
        _check_target_value(found, i, t, seen)
    for code, status in non_targets.items():
        if status not in NonTargetStatus.values:
            found.add(("non_targets", code), f"one of {', '.join(NonTargetStatus.values)}")
    for i, n in enumerate(new_lesions):
        found.check_lesion_code(("new_lesions", i, "code"), n.code, seen)
        found.check_text(("new_lesions", i, "organ"), n.organ)
        required = n.measurable and not n.equivocal
        found.check_diameter(("new_lesions", i, "value_mm"), n.value_mm, required=required,
                             collected=n.collected)
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
