"""Forms of the web pages.

The read forms are plain classes rather than Django ``Form``s: their rows are the lesions
of the read, and their job is only to turn POSTed strings into the services' input
dataclasses and to put every error (the form's own parse errors, and the problems of
``trialreads.validation`` that the services raise and the live preview finds, with paths such
as ``("targets", 2, "value_mm")``) next to the input it concerns (:meth:`_Form.field_id`).
Business rules stay in ``trialreads.validation`` and in ``criteria``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from criteria.lesions import TSTM_MM
from trialreads import errors, validators
from trialreads.choices import MeasurementState, NonTargetStatus, PetReferenceSite
from trialreads.errors import FieldPath, FieldProblem, path_text
from trialreads.services import auth as auth_services
from trialreads.services.reads import (
    NewLesionInput,
    NonTargetInput,
    PetLesionInput,
    PetScanInput,
    PrebaselineInput,
    TargetInput,
    TargetValueInput,
)

BASELINE_TARGET_ROWS = 5  # R11-TGT-SEL: at most five targets, so five rows always suffice
BASELINE_NON_TARGET_ROWS = 6
NEW_LESION_ROWS = 3
PET_LESION_ROWS = 3
MAX_ROWS = 40  # "Add a row" stops here (a bound on what one POST may carry)
NON_FIELD = "form"
_ONE_DP = Decimal("0.1")

#: Follow-up target states offered on the form (split/coalescence are entered via the API).
FOLLOWUP_STATES: tuple[tuple[str, str], ...] = (
    (MeasurementState.MEASURED, "Measured"),
    (MeasurementState.TOO_SMALL, f"Too small to measure ({TSTM_MM} mm)"),
    (MeasurementState.NOT_ASSESSED, "Not assessed"),
)
#: A baseline target on a pre-baseline scan: measured, or not assessed there.
PREBASELINE_STATES: tuple[tuple[str, str], ...] = (
    (MeasurementState.MEASURED, "Measured"),
    (MeasurementState.NOT_ASSESSED, "Not assessed"),
)
PET_REFERENCE_SITES: tuple[tuple[str, str], ...] = (("", "—"), *PetReferenceSite.choices)


@dataclass(frozen=True)
class ReadOptions:
    """What the charter's criteria ask the read form to collect beyond RECIST 1.1 (the view
    takes it from ``selectors.web.FormContext``)."""

    #: Baseline target rows: as many as the criteria allow (``validation.baseline_target_limit``).
    target_rows: int = BASELINE_TARGET_ROWS
    #: irRC's second diameters (a non-nodal lesion's perpendicular, a node's long axis):
    #: always for a charter naming irRC, otherwise once the reader entered any.
    second_diameters: bool = False
    #: itRECIST: "injected" at baseline, "first injected here" at a follow-up.
    injection: bool = False
    #: The baseline lesions injected before this follow-up (no second "first injected here").
    injected_before: frozenset[str] = frozenset()


def parse_number(raw: str) -> Decimal | None:
    """A PET value as typed (SUL, TLG, minutes): empty -> None; else an exact ``Decimal``
    (the range and the decimals are ``validation.pet_problems``'), or ``ValueError``."""
    text = raw.strip().replace(",", ".")
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,7}(\.[0-9]{1,15})?", text, re.ASCII):
        raise ValueError("enter a number, e.g. 2.35")
    return Decimal(text)


def parse_mm(raw: str) -> Decimal | None:
    """A diameter as typed: empty -> None; a decimal point or comma; else ``ValueError``."""
    text = raw.strip().replace(",", ".")
    if not text:
        return None
    # ASCII digits only: re's \d and Decimal() also read "٣" and "３" as 3.
    if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,15})?", text, re.ASCII):
        raise ValueError("enter a diameter in mm, e.g. 23.5")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError("enter a diameter in mm, e.g. 23.5") from exc
    # "50" means 50.0 mm (exact); more than one decimal is left for the service to refuse.
    return value.quantize(_ONE_DP) if "." not in text else value


def _checked(data: Mapping[str, Any], name: str) -> bool:
    return str(data.get(name, "")).lower() in {"on", "1", "true", "yes"}


@dataclass
class _Form:
    data: Mapping[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    # (group, index in the submitted list) -> form row, to place service errors.
    rows: dict[str, list[int]] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    options: ReadOptions = field(default_factory=ReadOptions)
    #: Where the problems without an input of their own go (the form's error list).
    non_field: str = NON_FIELD

    def value(self, name: str) -> str:
        return str(self.data.get(name, ""))

    def total(self, group: str, default: int) -> int:
        """Rows of a growable group: ``<group>-TOTAL`` as posted (within bounds)."""
        try:
            posted = validators.parse_int(
                self.value(f"{group}-TOTAL") or str(default), minimum=0, maximum=validators.ID_MAX
            )
        except ValueError:
            return default
        return min(MAX_ROWS, max(default, posted))

    def checked(self, name: str) -> bool:
        return _checked(self.data, name)

    def add(self, field_id: str, message: str) -> None:
        bucket = self.errors.setdefault(field_id, [])
        if message not in bucket:
            bucket.append(message)

    def optional_mm(self, name: str) -> Decimal | None:
        """An optional diameter input (a second diameter); a parse error is placed next to it."""
        try:
            return parse_mm(self.value(name))
        except ValueError as exc:
            self.add(name, str(exc))
            return None

    def measured_row(self, p: str, also: Sequence[str] = ()) -> tuple[str, str, Decimal | None] | None:
        """Code, organ and mm of the measured lesion row with prefix ``p`` (baseline targets,
        new lesions). ``None`` for a blank row (``also``: the row's other inputs that make it
        not blank), or when the mm does not parse (the error is placed next to it); a missing
        code or organ is flagged but the row still counts."""
        code, organ, raw = (
            self.value(p + "code").strip(),
            self.value(p + "organ").strip(),
            self.value(p + "value_mm"),
        )
        if not (code or organ or raw.strip() or any(self.value(p + name).strip() for name in also)):
            return None
        if not code:
            self.add(p + "code", "required")
        if not organ:
            self.add(p + "organ", "required")
        try:
            return code, organ, parse_mm(raw)
        except ValueError as exc:
            self.add(p + "value_mm", str(exc))
            return None

    def field_ids(self) -> set[str]:
        raise NotImplementedError

    def place(self, problems: Sequence[FieldProblem]) -> None:
        """Put the problems of ``trialreads.validation`` (as the services raise them and the
        live preview finds them) next to their inputs; one without an input on this form goes
        to the form's own error list, with its written path."""
        known = self.field_ids()
        for problem in problems:
            target = self.field_id(problem.path)
            if target in known:
                self.add(target, problem.message)
            elif problem.path in ((), ("non_field_errors",)):
                self.add(self.non_field, problem.message)
            else:
                self.add(self.non_field, f"{problem.field}: {problem.message}")

    def field_id(self, path: FieldPath) -> str:
        """The input (its ``name`` and ``id``) of a :data:`~trialreads.errors.FieldPath`:
        ``("targets", 2, "value_mm")`` -> ``targets-<row>-value_mm`` (the form row the
        submitted item came from), ``("targets", "T1", ...)`` -> the row of target T1,
        ``("non_targets", "NT1")`` -> ``non_targets-NT1``, a bare group -> the group."""
        match path:
            case (str(group), int(index), *rest):
                rows = self.rows.get(group, [])
                row = rows[index] if index < len(rows) else index
                name = rest[0] if rest and isinstance(rest[0], str) else "code"
                return f"{group}-{row}-{name}"
            case ("targets", str(code), *rest) if code in self.codes:
                name = rest[0] if rest and isinstance(rest[0], str) else "value_mm"
                return f"targets-{self.codes[code]}-{name}"
            case ("non_targets", str(code)):
                return f"non_targets-{code}"
            case (str(name),):
                return name
        return path_text(path)


class RowForm(_Form):
    """A single blank row of a growable group ("Add a row")."""

    def field_ids(self) -> set[str]:
        return set()


class BaselineForm(_Form):
    """Target rows (code, organ, node, longest diameter / short axis; the second diameter and
    the injected flag where the charter asks for them) and non-target rows (code, organ,
    node, injected). Blank rows are ignored."""

    def field_ids(self) -> set[str]:
        ids = {NON_FIELD, "targets", "non_targets"}
        for i in self.target_rows():
            ids |= {f"targets-{i}-{f}" for f in ("code", "organ", "is_node", "value_mm", *_TARGET_EXTRAS)}
            ids.add(f"targets-{i}-injected")
        for j in self.non_target_rows():
            ids |= {f"non_targets-{j}-{f}" for f in ("code", "organ", "is_node", "injected")}
        return ids

    @classmethod
    def initial(
        cls, measurements: Sequence[Any], ratings: Sequence[Any], options: ReadOptions | None = None
    ) -> BaselineForm:
        options = options or ReadOptions()
        data: dict[str, str] = {}
        for i, m in enumerate(
            sorted(measurements, key=lambda m: m.lesion.lesion_code)[: options.target_rows]
        ):
            data |= {
                f"targets-{i}-code": m.lesion.lesion_code,
                f"targets-{i}-organ": m.lesion.organ,
                f"targets-{i}-value_mm": "" if m.value_mm is None else str(m.value_mm),
                f"targets-{i}-perp_mm": "" if m.perp_mm is None else str(m.perp_mm),
                f"targets-{i}-long_mm": "" if m.long_mm is None else str(m.long_mm),
            }
            for flag, on in (("is_node", m.lesion.is_node), ("injected", m.lesion.injected)):
                if on:
                    data[f"targets-{i}-{flag}"] = "on"
        data["non_targets-TOTAL"] = str(max(BASELINE_NON_TARGET_ROWS, len(ratings) + 1))
        for j, r in enumerate(sorted(ratings, key=lambda r: r.lesion.lesion_code)[:MAX_ROWS]):
            data |= {f"non_targets-{j}-code": r.lesion.lesion_code, f"non_targets-{j}-organ": r.lesion.organ}
            for flag, on in (("is_node", r.lesion.is_node), ("injected", r.lesion.injected)):
                if on:
                    data[f"non_targets-{j}-{flag}"] = "on"
        return cls(data, options=options)

    def target_rows(self) -> list[int]:
        return list(range(self.options.target_rows))

    def non_target_rows(self) -> list[int]:
        return list(range(self.total("non_targets", BASELINE_NON_TARGET_ROWS)))

    def shows_second_diameters(self) -> bool:
        """The second-diameter inputs: asked for by the charter, or entered (saved or posted)."""
        return self.options.second_diameters or any(
            self.value(f"targets-{i}-{name}").strip() for i in self.target_rows() for name in _TARGET_EXTRAS
        )

    def shows_injection(self) -> bool:
        """The injected checkboxes: for itRECIST, or when one was sent anyway (its error shows)."""
        names = [f"targets-{i}-injected" for i in self.target_rows()]
        names += [f"non_targets-{j}-injected" for j in self.non_target_rows()]
        return self.options.injection or any(self.checked(name) for name in names)

    def parse(self) -> tuple[list[TargetInput], list[NonTargetInput]]:
        targets: list[TargetInput] = []
        non_targets: list[NonTargetInput] = []
        self.rows = {"targets": [], "non_targets": []}
        for i in self.target_rows():
            p = f"targets-{i}-"
            row = self.measured_row(p, also=_TARGET_EXTRAS)
            perp, long = self.optional_mm(p + "perp_mm"), self.optional_mm(p + "long_mm")
            if row is None:
                continue
            code, organ, mm = row
            if mm is None:
                self.add(p + "value_mm", "required")
                continue
            self.rows["targets"].append(i)
            targets.append(
                TargetInput(
                    code=code,
                    organ=organ,
                    value_mm=mm,
                    is_node=self.checked(p + "is_node"),
                    injected=self.checked(p + "injected"),
                    perp_mm=perp,
                    long_mm=long,
                )
            )
        for j in self.non_target_rows():
            p = f"non_targets-{j}-"
            code, organ = self.value(p + "code").strip(), self.value(p + "organ").strip()
            if not (code or organ):
                continue
            if not code:
                self.add(p + "code", "required")
            if not organ:
                self.add(p + "organ", "required")
            self.rows["non_targets"].append(j)
            non_targets.append(
                NonTargetInput(
                    code=code,
                    organ=organ,
                    is_node=self.checked(p + "is_node"),
                    injected=self.checked(p + "injected"),
                )
            )
        return targets, non_targets


#: A lesion's second-diameter inputs (irRC): a non-nodal lesion's perpendicular, a node's long axis.
_TARGET_EXTRAS = ("perp_mm", "long_mm")


class FollowupForm(_Form):
    """A value (or state) for every baseline target, a rating for every baseline
    non-target, and up to three new lesions; the second diameters and "first injected here"
    where the charter asks for them."""

    def __init__(
        self,
        data: Mapping[str, Any],
        target_codes: Sequence[str],
        non_target_codes: Sequence[str],
        options: ReadOptions | None = None,
    ):
        super().__init__(data, options=options or ReadOptions())
        self.target_codes = list(target_codes)
        self.non_target_codes = list(non_target_codes)
        self.codes = {code: i for i, code in enumerate(self.target_codes)}
        self.injected_codes: list[str] = []  # as submitted, to place ("injected", k)

    def field_ids(self) -> set[str]:
        ids = {NON_FIELD, "targets", "non_targets", "new_lesions", "injected"}
        for i in range(len(self.target_codes)):
            ids |= {f"targets-{i}-{f}" for f in ("state", "value_mm", "code", *_TARGET_EXTRAS)}
        ids |= {f"non_targets-{code}" for code in self.non_target_codes}
        ids |= {f"injected-{code}" for code in (*self.target_codes, *self.non_target_codes)}
        for k in self.new_lesion_rows():
            ids |= {
                f"new_lesions-{k}-{f}"
                for f in ("code", "organ", "is_node", "measurable", "equivocal", "value_mm", *_TARGET_EXTRAS)
            }
        return ids

    def field_id(self, path: FieldPath) -> str:
        """As :meth:`_Form.field_id`; ``("injected", k)`` is the checkbox of the k-th code submitted."""
        match path:
            case ("injected", int(k)) if k < len(self.injected_codes):
                return f"injected-{self.injected_codes[k]}"
        return super().field_id(path)

    @classmethod
    def initial(
        cls,
        target_codes: Sequence[str],
        non_target_codes: Sequence[str],
        measurements: Sequence[Any],
        ratings: Sequence[Any],
        options: ReadOptions | None = None,
    ) -> FollowupForm:
        by_code = {m.lesion.lesion_code: m for m in measurements}
        data: dict[str, str] = {}
        for i, code in enumerate(target_codes):
            m = by_code.get(code)
            data[f"targets-{i}-state"] = m.state if m else MeasurementState.MEASURED
            data[f"targets-{i}-value_mm"] = (
                str(m.value_mm)
                if m and m.value_mm is not None and m.state == MeasurementState.MEASURED
                else ""
            )
            for name in _TARGET_EXTRAS:
                value = getattr(m, name) if m else None
                data[f"targets-{i}-{name}"] = "" if value is None else str(value)
        status = {r.lesion.lesion_code: r.status for r in ratings}
        for code in non_target_codes:
            data[f"non_targets-{code}"] = status.get(code, NonTargetStatus.PRESENT)
        for item in (*measurements, *ratings):
            if item.newly_injected:
                data[f"injected-{item.lesion.lesion_code}"] = "on"
        new = [m for m in measurements if m.lesion.kind == "NEW"]
        total = max(NEW_LESION_ROWS, len(new) + 1)
        data["new_lesions-TOTAL"] = str(total)
        for k, m in enumerate(sorted(new, key=lambda m: m.lesion.lesion_code)[:MAX_ROWS]):
            data |= {
                f"new_lesions-{k}-code": m.lesion.lesion_code,
                f"new_lesions-{k}-organ": m.lesion.organ,
                f"new_lesions-{k}-value_mm": "" if m.value_mm is None else str(m.value_mm),
                f"new_lesions-{k}-perp_mm": "" if m.perp_mm is None else str(m.perp_mm),
                f"new_lesions-{k}-long_mm": "" if m.long_mm is None else str(m.long_mm),
            }
            for flag, on in (
                ("is_node", m.lesion.is_node),
                ("measurable", m.lesion.measurable),
                ("equivocal", m.equivocal),
            ):
                if on:
                    data[f"new_lesions-{k}-{flag}"] = "on"
        for k in range(len(new), total):
            data[f"new_lesions-{k}-measurable"] = "on"
        return cls(data, target_codes, non_target_codes, options)

    def new_lesion_rows(self) -> list[int]:
        return list(range(self.total("new_lesions", NEW_LESION_ROWS)))

    def shows_second_diameters(self) -> bool:
        return self.options.second_diameters or any(
            self.value(name).strip()
            for name in self.data
            if name.startswith(("targets-", "new_lesions-")) and name.endswith(_TARGET_EXTRAS)
        )

    def shows_injection(self) -> bool:
        return self.options.injection or any(
            self.checked(f"injected-{code}") for code in (*self.target_codes, *self.non_target_codes)
        )

    def parse(self) -> tuple[list[TargetValueInput], dict[str, str], list[NewLesionInput], list[str]]:
        targets: list[TargetValueInput] = []
        for i, code in enumerate(self.target_codes):
            p = f"targets-{i}-"
            state = self.value(p + "state") or MeasurementState.MEASURED
            if state not in dict(FOLLOWUP_STATES):
                self.add(p + "state", "choose a state")
                state = MeasurementState.MEASURED
            try:
                mm = parse_mm(self.value(p + "value_mm"))
            except ValueError as exc:
                self.add(p + "value_mm", str(exc))
                mm = None
            if state == MeasurementState.MEASURED and mm is None and p + "value_mm" not in self.errors:
                self.add(p + "value_mm", "required (or choose another state)")
            perp, long = self.optional_mm(p + "perp_mm"), self.optional_mm(p + "long_mm")
            if state != MeasurementState.MEASURED:
                mm = perp = long = None
            targets.append(TargetValueInput(code=code, state=state, value_mm=mm, perp_mm=perp, long_mm=long))
        non_targets: dict[str, str] = {}
        for code in self.non_target_codes:
            status = self.value(f"non_targets-{code}")
            if status not in NonTargetStatus.values:
                self.add(f"non_targets-{code}", "choose a rating")
            else:
                non_targets[code] = status
        new: list[NewLesionInput] = []
        self.rows = {"new_lesions": []}
        for k in self.new_lesion_rows():
            p = f"new_lesions-{k}-"
            row = self.measured_row(p, also=_TARGET_EXTRAS)
            perp, long = self.optional_mm(p + "perp_mm"), self.optional_mm(p + "long_mm")
            if row is None:
                continue
            code, organ, mm = row
            self.rows["new_lesions"].append(k)
            new.append(
                NewLesionInput(
                    code=code,
                    organ=organ,
                    value_mm=mm,
                    is_node=self.checked(p + "is_node"),
                    measurable=self.checked(p + "measurable"),
                    equivocal=self.checked(p + "equivocal"),
                    perp_mm=perp,
                    long_mm=long,
                )
            )
        self.injected_codes = [
            code for code in (*self.target_codes, *self.non_target_codes) if self.checked(f"injected-{code}")
        ]
        return targets, non_targets, new, list(self.injected_codes)


class PrebaselineForm(_Form):
    """A pre-baseline scan: each baseline target's value there (measured, or not assessed),
    or only the sum of the diameters when that is all that is known."""

    def __init__(self, data: Mapping[str, Any], target_codes: Sequence[str]):
        super().__init__(data)
        self.target_codes = list(target_codes)
        self.codes = {code: i for i, code in enumerate(self.target_codes)}

    def field_ids(self) -> set[str]:
        ids = {NON_FIELD, "targets", "sum_mm"}
        for i in range(len(self.target_codes)):
            ids |= {f"targets-{i}-{f}" for f in ("state", "value_mm", "code")}
        return ids

    @classmethod
    def initial(
        cls, target_codes: Sequence[str], measurements: Sequence[Any], sum_mm: Any
    ) -> PrebaselineForm:
        by_code = {m.lesion.lesion_code: m for m in measurements}
        data: dict[str, str] = {"sum_mm": "" if sum_mm is None else _mm_text(sum_mm)}
        for i, code in enumerate(target_codes):
            m = by_code.get(code)
            data[f"targets-{i}-state"] = m.state if m else MeasurementState.MEASURED
            data[f"targets-{i}-value_mm"] = "" if m is None or m.value_mm is None else str(m.value_mm)
        return cls(data, target_codes)

    def parse(self) -> PrebaselineInput:
        sum_mm = self.optional_mm("sum_mm")
        typed = any(
            self.value(f"targets-{i}-value_mm").strip()
            or self.value(f"targets-{i}-state") == MeasurementState.NOT_ASSESSED
            for i in range(len(self.target_codes))
        )
        targets: list[TargetValueInput] = []
        if typed or sum_mm is None:  # no value and no sum: every target's value is missing
            for i, code in enumerate(self.target_codes):
                p = f"targets-{i}-"
                state = self.value(p + "state") or MeasurementState.MEASURED
                if state not in dict(PREBASELINE_STATES):
                    self.add(p + "state", "choose Measured or Not assessed")
                    state = MeasurementState.MEASURED
                mm = self.optional_mm(p + "value_mm")
                if state == MeasurementState.MEASURED and mm is None and p + "value_mm" not in self.errors:
                    self.add(p + "value_mm", "required (or choose Not assessed, or give only the sum)")
                targets.append(
                    TargetValueInput(
                        code=code, state=state, value_mm=mm if state == MeasurementState.MEASURED else None
                    )
                )
            self.rows = {"targets": list(range(len(self.target_codes)))}
        return PrebaselineInput(targets=tuple(targets), sum_mm=sum_mm)


class PetForm(_Form):
    """A PET/CT timepoint's PET scan: the reference region (site, mean, SD), the uptake time,
    lesion rows (code, organ, SULpeak, SULmax, TLG, CT size), the reader's unequivocal
    progression, or "not done". Its inputs are named ``pet-...`` (one page with the CT form)."""

    SCAN_FIELDS = ("reference_site", "reference_mean", "reference_sd", "uptake_min")
    LESION_FIELDS = ("code", "organ", "sul_peak", "sul_max", "tlg", "value_mm")

    def __init__(self, data: Mapping[str, Any]):
        super().__init__(data, non_field=PET_NON_FIELD)

    def field_ids(self) -> set[str]:
        ids = {PET_NON_FIELD, "pet-lesions", "pet-unequivocal_progression", "pet-not_done"}
        ids |= {f"pet-{name}" for name in self.SCAN_FIELDS}
        for k in self.lesion_rows():
            ids |= {f"pet-lesions-{k}-{name}" for name in self.LESION_FIELDS}
        return ids

    def field_id(self, path: FieldPath) -> str:
        match path:
            case ("lesions", int(index), *rest):
                rows = self.rows.get("lesions", [])
                row = rows[index] if index < len(rows) else index
                name = rest[0] if rest and isinstance(rest[0], str) else "code"
                return f"pet-lesions-{row}-{name}"
            case (str(name),):
                return f"pet-{name}"
        return path_text(path)

    @classmethod
    def initial(cls, tr: Any) -> PetForm:
        lesions = sorted(
            (m for m in tr.measurements.all() if m.lesion.kind == "PET"), key=lambda m: m.lesion.lesion_code
        )
        data: dict[str, str] = {
            "pet-reference_site": tr.pet_reference_site,
            "pet-lesions-TOTAL": str(max(PET_LESION_ROWS, len(lesions) + 1)),
        }
        for name, value in (
            ("reference_mean", tr.pet_reference_mean),
            ("reference_sd", tr.pet_reference_sd),
            ("uptake_min", tr.pet_uptake_min),
        ):
            data[f"pet-{name}"] = "" if value is None else _plain(value)
        for flag, on in (
            ("unequivocal_progression", tr.pet_unequivocal_progression),
            ("not_done", tr.pet_not_done),
        ):
            if on:
                data[f"pet-{flag}"] = "on"
        for k, m in enumerate(lesions[:MAX_ROWS]):
            data |= {f"pet-lesions-{k}-code": m.lesion.lesion_code, f"pet-lesions-{k}-organ": m.lesion.organ}
            for name in ("sul_peak", "sul_max", "tlg", "value_mm"):
                value = getattr(m, name)
                data[f"pet-lesions-{k}-{name}"] = "" if value is None else _plain(value)
        return cls(data)

    def lesion_rows(self) -> list[int]:
        return list(range(self.total("pet-lesions", PET_LESION_ROWS)))

    def blank(self) -> bool:
        """Nothing typed in the PET form (it is left out of the live check until it is)."""
        return not any(
            str(value).strip()
            for name, value in self.data.items()
            if name.startswith("pet-") and name != "pet-lesions-TOTAL"
        )

    def number(self, name: str) -> Decimal | None:
        try:
            return parse_number(self.value(name))
        except ValueError as exc:
            self.add(name, str(exc))
            return None

    def parse(self) -> PetScanInput:
        lesions: list[PetLesionInput] = []
        self.rows = {"lesions": []}
        for k in self.lesion_rows():
            p = f"pet-lesions-{k}-"
            if not any(self.value(p + name).strip() for name in self.LESION_FIELDS):
                continue
            code, organ = self.value(p + "code").strip(), self.value(p + "organ").strip()
            peak, peak_max, tlg = (
                self.number(p + "sul_peak"),
                self.number(p + "sul_max"),
                self.number(p + "tlg"),
            )
            size = self.optional_mm(p + "value_mm")
            if not code:
                self.add(p + "code", "required")
            if not organ:
                self.add(p + "organ", "required")
            if peak is None:
                if p + "sul_peak" not in self.errors:
                    self.add(p + "sul_peak", "required")
                continue
            self.rows["lesions"].append(k)
            lesions.append(
                PetLesionInput(
                    code=code, organ=organ, sul_peak=peak, sul_max=peak_max, tlg=tlg, value_mm=size
                )
            )
        return PetScanInput(
            reference_site=self.value("pet-reference_site"),
            reference_mean=self.number("pet-reference_mean"),
            reference_sd=self.number("pet-reference_sd"),
            uptake_min=self.number("pet-uptake_min"),
            lesions=tuple(lesions),
            unequivocal_progression=self.checked("pet-unequivocal_progression"),
            not_done=self.checked("pet-not_done"),
        )


#: The PET form's own error list (its problems without an input, e.g. "the charter names no
#: PET criterion").
PET_NON_FIELD = "pet-form"


def _mm_text(value: Decimal) -> str:
    """A stored diameter as typed: ``21.5000`` -> ``21.5``, ``20.0000`` -> ``20.0``."""
    tenths = value.quantize(_ONE_DP)
    return str(tenths if tenths == value else value.normalize())


def _plain(value: Decimal) -> str:
    """A stored PET value as the reader typed it (``2.1000`` -> ``2.1``)."""
    text = format(value.normalize(), "f")
    return text


class LoginForm(AuthenticationForm):
    """Django's login form with autocomplete hints (password managers, accessibility), checking
    the password through the same throttled, audited service as the token endpoint."""

    locked_out = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django sets the username's max_length after the field is built, so without this
        # validator an over-long username is only "a wrong username or password".
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(getattr(username, "max_length", None) or 150))
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password and self.request is not None:
            try:
                self.user_cache = auth_services.login_authenticate(
                    request=self.request, username=username, password=password
                )
            except errors.LoginLockedOut as exc:
                self.locked_out = True
                raise forms.ValidationError(exc.message, code="locked_out") from exc
            except errors.ValidationError as exc:
                raise self.get_invalid_login_error() from exc
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SignForm(forms.Form):
    """Electronic signature (21 CFR 11.50/11.200): printed name, meaning, password re-entry."""

    printed_name = forms.CharField(label="Printed name", max_length=validators.PRINTED_NAME_MAX, strip=False)
    password = forms.CharField(
        label="Password (re-enter to sign)",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        strip=False,
    )

    def clean_printed_name(self) -> str:
        # The services' rule (one for every e-signature), here so the form names the field.
        name: str = self.cleaned_data["printed_name"]
        problem = validators.printed_name_error(name)
        if problem:
            raise forms.ValidationError(problem)
        return name


class DecisionForm(SignForm):
    chosen = forms.ChoiceField(
        label="Accepted read", choices=(("A", "Read A"), ("B", "Read B")), widget=forms.RadioSelect
    )
    rationale = forms.CharField(label="Rationale", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)

    field_order = ["chosen", "rationale", "printed_name", "password"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # On the adjudication page the form is not in a dialog: do not jump to the password.
        self.fields["password"].widget.attrs.pop("autofocus", None)


class UnlockForm(forms.Form):
    reason = forms.CharField(
        label="Reason for unlocking", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class ExportForm(forms.Form):
    """The optional data cut-off of a sponsor export. The form checks only that it is a date;
    the service owns the rules (not in the future, not before the first randomisation) and
    its ``ValidationError`` is put on this field."""

    data_cutoff = forms.DateField(
        label="Data cut-off",
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "enter a date as YYYY-MM-DD"},
        widget=forms.DateInput(
            format="%Y-%m-%d", attrs={"type": "date", "aria-describedby": "err-data_cutoff hint-data_cutoff"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A hint for the date picker only; the server refuses a future date either way.
        self.fields["data_cutoff"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean_data_cutoff(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data["data_cutoff"]
        problem = validators.date_error(value) if value is not None else None
        if problem:
            raise forms.ValidationError(problem)
        return value


class AuditFilterForm(forms.Form):
    subject = forms.TypedChoiceField(label="Subject", required=False, coerce=int, empty_value=None)
    user = forms.ChoiceField(label="User", required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, subjects: Sequence[tuple[int, str]], users: Sequence[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["subject"].choices = [("", "All subjects"), *subjects]  # type: ignore[attr-defined]
        self.fields["user"].choices = [("", "All users"), *((u, u) for u in users)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since: dt.date | None = data.get("since")
        until: dt.date | None = data.get("until")
        if since and until and until < since:
            self.add_error("until", "must not be before From")
        return data


# --- view models of the read form's inputs -------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One input as the template renders it: name = id, its label, value and errors."""

    name: str
    label: str
    value: str
    checked: bool
    errors: tuple[str, ...]


def input_field(form: _Form, name: str, label: str) -> Field:
    return Field(name, label, form.value(name), form.checked(name), tuple(form.errors.get(name, ())))


def baseline_rows(form: BaselineForm) -> dict[str, Any]:
    targets = [
        {
            "n": i + 1,
            "code": input_field(form, f"targets-{i}-code", f"Target {i + 1} lesion code"),
            "organ": input_field(form, f"targets-{i}-organ", f"Target {i + 1} organ"),
            "is_node": input_field(form, f"targets-{i}-is_node", f"Target {i + 1} is a lymph node"),
            "value_mm": input_field(form, f"targets-{i}-value_mm", f"Target {i + 1} diameter (mm)"),
            **_second_fields(form, f"targets-{i}-", f"Target {i + 1}"),
            "injected": input_field(form, f"targets-{i}-injected", f"Target {i + 1} is injected"),
        }
        for i in form.target_rows()
    ]
    non_targets = [non_target_row(form, j) for j in form.non_target_rows()]
    return {
        "targets": targets,
        "non_targets": non_targets,
        "non_target_total": len(non_targets),
        "second": form.shows_second_diameters(),
        "injection": form.shows_injection(),
    }


def _second_fields(form: _Form, p: str, who: str) -> dict[str, Field]:
    return {
        "perp_mm": input_field(form, p + "perp_mm", f"{who} perpendicular diameter (mm)"),
        "long_mm": input_field(form, p + "long_mm", f"{who} long axis of a node (mm)"),
    }


def non_target_row(form: _Form, j: int) -> dict[str, Any]:
    return {
        "n": j + 1,
        "code": input_field(form, f"non_targets-{j}-code", f"Non-target {j + 1} lesion code"),
        "organ": input_field(form, f"non_targets-{j}-organ", f"Non-target {j + 1} organ"),
        "is_node": input_field(form, f"non_targets-{j}-is_node", f"Non-target {j + 1} is a lymph node"),
        "injected": input_field(form, f"non_targets-{j}-injected", f"Non-target {j + 1} is injected"),
    }


def followup_rows(
    form: FollowupForm, target_rows: Sequence[Any], non_target_rows: Sequence[Any]
) -> dict[str, Any]:
    targets = [
        {
            "row": row,
            "state": input_field(form, f"targets-{i}-state", f"{row.lesion.lesion_code} state"),
            "value_mm": input_field(form, f"targets-{i}-value_mm", f"{row.lesion.lesion_code} diameter (mm)"),
            **_second_fields(form, f"targets-{i}-", row.lesion.lesion_code),
            "code_name": f"targets-{i}-code",
            "errors": tuple(form.errors.get(f"targets-{i}-code", ())),
            **_injected_field(form, row.lesion.lesion_code),
        }
        for i, row in enumerate(target_rows)
    ]
    non_targets = [
        {
            "row": row,
            "status": input_field(
                form, f"non_targets-{row.lesion.lesion_code}", f"{row.lesion.lesion_code} rating"
            ),
            **_injected_field(form, row.lesion.lesion_code),
        }
        for row in non_target_rows
    ]
    new = [new_lesion_row(form, k) for k in form.new_lesion_rows()]
    return {
        "targets": targets,
        "non_targets": non_targets,
        "new_lesions": new,
        "new_lesion_total": len(new),
        "second": form.shows_second_diameters(),
        "injection": form.shows_injection(),
    }


def _injected_field(form: _Form, code: str) -> dict[str, Any]:
    """itRECIST's "first injected here" checkbox, or that the lesion was injected before."""
    return {
        "injected": input_field(form, f"injected-{code}", f"{code} first injected at this timepoint"),
        "injected_before": code in form.options.injected_before,
    }


def new_lesion_row(form: _Form, k: int) -> dict[str, Any]:
    return {
        "n": k + 1,
        "code": input_field(form, f"new_lesions-{k}-code", f"New lesion {k + 1} code"),
        "organ": input_field(form, f"new_lesions-{k}-organ", f"New lesion {k + 1} organ"),
        "is_node": input_field(form, f"new_lesions-{k}-is_node", f"New lesion {k + 1} is a lymph node"),
        "measurable": input_field(form, f"new_lesions-{k}-measurable", f"New lesion {k + 1} measurable"),
        "equivocal": input_field(form, f"new_lesions-{k}-equivocal", f"New lesion {k + 1} equivocal"),
        "value_mm": input_field(form, f"new_lesions-{k}-value_mm", f"New lesion {k + 1} diameter (mm)"),
        **_second_fields(form, f"new_lesions-{k}-", f"New lesion {k + 1}"),
    }


def prebaseline_rows(form: PrebaselineForm, target_rows: Sequence[Any]) -> dict[str, Any]:
    targets = [
        {
            "row": row,
            "state": input_field(form, f"targets-{i}-state", f"{row.lesion.lesion_code} state"),
            "value_mm": input_field(form, f"targets-{i}-value_mm", f"{row.lesion.lesion_code} diameter (mm)"),
            "code_name": f"targets-{i}-code",
            "errors": tuple(form.errors.get(f"targets-{i}-code", ())),
        }
        for i, row in enumerate(target_rows)
    ]
    return {"targets": targets, "sum_mm": input_field(form, "sum_mm", "Sum of the target diameters (mm)")}


def pet_rows(form: PetForm) -> dict[str, Any]:
    lesions = [pet_lesion_row(form, k) for k in form.lesion_rows()]
    scan = {
        name: input_field(form, f"pet-{name}", label)
        for name, label in (
            ("reference_site", "Reference region"),
            ("reference_mean", "Reference SUL mean"),
            ("reference_sd", "Reference SUL SD"),
            ("uptake_min", "Uptake time (min)"),
            ("unequivocal_progression", "Unequivocal progression of non-measured disease"),
            ("not_done", "PET scan not done or not evaluable"),
        )
    }
    return {
        **scan,
        "lesions": lesions,
        "lesion_total": len(lesions),
        "errors": form.errors.get(PET_NON_FIELD, []),
        "lesion_errors": form.errors.get("pet-lesions", []),
    }


def pet_lesion_row(form: _Form, k: int) -> dict[str, Any]:
    who = f"PET lesion {k + 1}"
    return {
        "n": k + 1,
        "code": input_field(form, f"pet-lesions-{k}-code", f"{who} code"),
        "organ": input_field(form, f"pet-lesions-{k}-organ", f"{who} organ"),
        "sul_peak": input_field(form, f"pet-lesions-{k}-sul_peak", f"{who} SULpeak"),
        "sul_max": input_field(form, f"pet-lesions-{k}-sul_max", f"{who} SULmax"),
        "tlg": input_field(form, f"pet-lesions-{k}-tlg", f"{who} TLG"),
        "value_mm": input_field(form, f"pet-lesions-{k}-value_mm", f"{who} CT size (mm)"),
    }
