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
from trialreads.choices import MeasurementState, NonTargetStatus
from trialreads.errors import FieldPath, FieldProblem, path_text
from trialreads.services import auth as auth_services
from trialreads.services.reads import NewLesionInput, NonTargetInput, TargetInput, TargetValueInput

BASELINE_TARGET_ROWS = 5  # R11-TGT-SEL: at most five targets, so five rows always suffice
BASELINE_NON_TARGET_ROWS = 6
NEW_LESION_ROWS = 3
MAX_ROWS = 40  # "Add a row" stops here (a bound on what one POST may carry)
NON_FIELD = "form"
_ONE_DP = Decimal("0.1")

#: Follow-up target states offered on the form (split/coalescence are entered via the API).
FOLLOWUP_STATES: tuple[tuple[str, str], ...] = (
    (MeasurementState.MEASURED, "Measured"),
    (MeasurementState.TOO_SMALL, f"Too small to measure ({TSTM_MM} mm)"),
    (MeasurementState.NOT_ASSESSED, "Not assessed"),
)


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

    def measured_row(self, p: str) -> tuple[str, str, Decimal | None] | None:
        """Code, organ and mm of the measured lesion row with prefix ``p`` (baseline targets,
        new lesions). ``None`` for a blank row, or when the mm does not parse (the error is
        placed next to it); a missing code or organ is flagged but the row still counts."""
        code, organ, raw = (
            self.value(p + "code").strip(),
            self.value(p + "organ").strip(),
            self.value(p + "value_mm"),
        )
        if not (code or organ or raw.strip()):
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
                self.add(NON_FIELD, problem.message)
            else:
                self.add(NON_FIELD, f"{problem.field}: {problem.message}")

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
    """Five target rows (code, organ, node, longest diameter / short axis) and non-target
    rows (code, organ, node). Blank rows are ignored."""

    def field_ids(self) -> set[str]:
        ids = {NON_FIELD, "targets", "non_targets"}
        for i in range(BASELINE_TARGET_ROWS):
            ids |= {f"targets-{i}-{f}" for f in ("code", "organ", "is_node", "value_mm")}
        for j in self.non_target_rows():
            ids |= {f"non_targets-{j}-{f}" for f in ("code", "organ", "is_node")}
        return ids

    @classmethod
    def initial(cls, measurements: Sequence[Any], ratings: Sequence[Any]) -> BaselineForm:
        data: dict[str, str] = {}
        for i, m in enumerate(
            sorted(measurements, key=lambda m: m.lesion.lesion_code)[:BASELINE_TARGET_ROWS]
        ):
            data |= {
                f"targets-{i}-code": m.lesion.lesion_code,
                f"targets-{i}-organ": m.lesion.organ,
                f"targets-{i}-value_mm": "" if m.value_mm is None else str(m.value_mm),
            }
            if m.lesion.is_node:
                data[f"targets-{i}-is_node"] = "on"
        data["non_targets-TOTAL"] = str(max(BASELINE_NON_TARGET_ROWS, len(ratings) + 1))
        for j, r in enumerate(sorted(ratings, key=lambda r: r.lesion.lesion_code)[:MAX_ROWS]):
            data |= {f"non_targets-{j}-code": r.lesion.lesion_code, f"non_targets-{j}-organ": r.lesion.organ}
            if r.lesion.is_node:
                data[f"non_targets-{j}-is_node"] = "on"
        return cls(data)

    def target_rows(self) -> list[int]:
        return list(range(BASELINE_TARGET_ROWS))

    def non_target_rows(self) -> list[int]:
        return list(range(self.total("non_targets", BASELINE_NON_TARGET_ROWS)))

    def parse(self) -> tuple[list[TargetInput], list[NonTargetInput]]:
        targets: list[TargetInput] = []
        non_targets: list[NonTargetInput] = []
        self.rows = {"targets": [], "non_targets": []}
        for i in range(BASELINE_TARGET_ROWS):
            p = f"targets-{i}-"
            row = self.measured_row(p)
            if row is None:
                continue
            code, organ, mm = row
            if mm is None:
                self.add(p + "value_mm", "required")
                continue
            self.rows["targets"].append(i)
            targets.append(
                TargetInput(code=code, organ=organ, value_mm=mm, is_node=self.checked(p + "is_node"))
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
            non_targets.append(NonTargetInput(code=code, organ=organ, is_node=self.checked(p + "is_node")))
        return targets, non_targets


class FollowupForm(_Form):
    """A value (or state) for every baseline target, a rating for every baseline
    non-target, and up to three new lesions."""

    def __init__(self, data: Mapping[str, Any], target_codes: Sequence[str], non_target_codes: Sequence[str]):
        super().__init__(data)
        self.target_codes = list(target_codes)
        self.non_target_codes = list(non_target_codes)
        self.codes = {code: i for i, code in enumerate(self.target_codes)}

    def field_ids(self) -> set[str]:
        ids = {NON_FIELD, "targets", "non_targets", "new_lesions"}
        for i in range(len(self.target_codes)):
            ids |= {f"targets-{i}-{f}" for f in ("state", "value_mm", "code")}
        ids |= {f"non_targets-{code}" for code in self.non_target_codes}
        for k in self.new_lesion_rows():
            ids |= {
                f"new_lesions-{k}-{f}"
                for f in ("code", "organ", "is_node", "measurable", "equivocal", "value_mm")
            }
        return ids

    @classmethod
    def initial(
        cls,
        target_codes: Sequence[str],
        non_target_codes: Sequence[str],
        measurements: Sequence[Any],
        ratings: Sequence[Any],
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
        status = {r.lesion.lesion_code: r.status for r in ratings}
        for code in non_target_codes:
            data[f"non_targets-{code}"] = status.get(code, NonTargetStatus.PRESENT)
        new = [m for m in measurements if m.lesion.kind == "NEW"]
        total = max(NEW_LESION_ROWS, len(new) + 1)
        data["new_lesions-TOTAL"] = str(total)
        for k, m in enumerate(sorted(new, key=lambda m: m.lesion.lesion_code)[:MAX_ROWS]):
            data |= {
                f"new_lesions-{k}-code": m.lesion.lesion_code,
                f"new_lesions-{k}-organ": m.lesion.organ,
                f"new_lesions-{k}-value_mm": "" if m.value_mm is None else str(m.value_mm),
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
        return cls(data, target_codes, non_target_codes)

    def new_lesion_rows(self) -> list[int]:
        return list(range(self.total("new_lesions", NEW_LESION_ROWS)))

    def parse(self) -> tuple[list[TargetValueInput], dict[str, str], list[NewLesionInput]]:
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
            if state != MeasurementState.MEASURED:
                mm = None
            targets.append(TargetValueInput(code=code, state=state, value_mm=mm))
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
            row = self.measured_row(p)
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
                )
            )
        return targets, non_targets, new


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
        }
        for i in form.target_rows()
    ]
    non_targets = [non_target_row(form, j) for j in form.non_target_rows()]
    return {"targets": targets, "non_targets": non_targets, "non_target_total": len(non_targets)}


def non_target_row(form: _Form, j: int) -> dict[str, Any]:
    return {
        "n": j + 1,
        "code": input_field(form, f"non_targets-{j}-code", f"Non-target {j + 1} lesion code"),
        "organ": input_field(form, f"non_targets-{j}-organ", f"Non-target {j + 1} organ"),
        "is_node": input_field(form, f"non_targets-{j}-is_node", f"Non-target {j + 1} is a lymph node"),
    }


def followup_rows(
    form: FollowupForm, target_rows: Sequence[Any], non_target_rows: Sequence[Any]
) -> dict[str, Any]:
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
    non_targets = [
        {
            "row": row,
            "status": input_field(
                form, f"non_targets-{row.lesion.lesion_code}", f"{row.lesion.lesion_code} rating"
            ),
        }
        for row in non_target_rows
    ]
    new = [new_lesion_row(form, k) for k in form.new_lesion_rows()]
    return {"targets": targets, "non_targets": non_targets, "new_lesions": new, "new_lesion_total": len(new)}


def new_lesion_row(form: _Form, k: int) -> dict[str, Any]:
    return {
        "n": k + 1,
        "code": input_field(form, f"new_lesions-{k}-code", f"New lesion {k + 1} code"),
        "organ": input_field(form, f"new_lesions-{k}-organ", f"New lesion {k + 1} organ"),
        "is_node": input_field(form, f"new_lesions-{k}-is_node", f"New lesion {k + 1} is a lymph node"),
        "measurable": input_field(form, f"new_lesions-{k}-measurable", f"New lesion {k + 1} measurable"),
        "equivocal": input_field(form, f"new_lesions-{k}-equivocal", f"New lesion {k + 1} equivocal"),
        "value_mm": input_field(form, f"new_lesions-{k}-value_mm", f"New lesion {k + 1} diameter (mm)"),
    }
