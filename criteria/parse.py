"""Contract JSON (``docs/criteria-cli.md``) -> validated :class:`Subject` values.

Numbers are read as exact ``Decimal`` (:func:`load_json` parses floats *and* ints that
way), so ``0.7 x 90`` is exactly 63 downstream (CONV-ARITH). Shape errors (a string where a
number belongs, an unknown status word or key) are raised here; the validity rules on
typed values live in :mod:`criteria.validate` and are applied by :func:`parse_subject`.
Every error is an :class:`InputError` naming the subject and the field path.

Input is strict: unknown keys are rejected (a typo such as ``"non_target"`` must not
silently drop lesions); keys starting with ``_`` are comments and ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import typing
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeGuard

from criteria import growth_input
from criteria.errors import InputError
from criteria.types import (
    Baseline,
    BaselineNonTarget,
    BaselineTarget,
    NewLesion,
    NonTargetStatus,
    ScanKind,
    Settings,
    Subject,
    TargetKind,
    TargetMeasurement,
    Timepoint,
)
from criteria.validate import is_measurable_size, validate_subject

#: R11-TSTM / CDISC-TSTM: a lesion present but too small to measure counts as 5 mm.
TSTM_MM = Decimal(5)
TSTM = "TSTM"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SUBJECT_KEYS = frozenset({"subject", "reference_date", "settings", "death_date", "last_contact_date",
                           "baseline", "timepoints", "prebaseline", "clinical"})  # the last two: growth
_BASELINE_KEYS = frozenset({"date", "targets", "non_targets"})
_TARGET_KEYS = frozenset({"id", "organ", "node", "mm"})
_NON_TARGET_KEYS = frozenset({"id", "organ", "node"})
_TIMEPOINT_KEYS = frozenset({"date", "scan", "targets", "non_targets", "new_lesions", "overall",
                             "scan_dates"})
_NEW_LESION_KEYS = frozenset({"id", "organ", "node", "mm", "measurable", "equivocal"})
_SCAN_WORDS = MappingProxyType({kind.value: kind for kind in ScanKind})
_STATUS_WORDS = MappingProxyType({status.value: status for status in NonTargetStatus})


def _non_finite(name: str) -> Decimal:
    # NaN / Infinity are not JSON; Python's json accepts them. Keep them as non-finite
    # Decimals so the error can name the subject and the field (criteria.validate).
    return Decimal(name)


class _Object(dict[str, Any]):
    """A JSON object with keys given twice (json keeps only the last value); ``duplicates``
    names them. Objects without repeated keys are plain dicts."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)  # the common case: a plain dict (cheaper to build than the subclass)
    if len(obj) == len(pairs):
        return obj
    repeated = _Object(pairs)
    seen: set[str] = set()
    keys: list[str] = []
    for key, _ in pairs:
        if key in seen:
            keys.append(key)
        seen.add(key)
    repeated.duplicates = tuple(keys)
    return repeated


def _duplicates(value: Any) -> tuple[str, ...]:
    """The keys given twice in a loaded JSON object (none for any other mapping)."""
    return value.duplicates if type(value) is _Object else ()


def load_json(text: str) -> Any:
    """Parse JSON text with every number as an exact ``Decimal``.

    Raises :class:`InputError` with subject ``"?"`` and the line/column for invalid JSON.
    """
    try:
        return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_non_finite,
                          object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise InputError("?", f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError("?", "$", "invalid JSON: nested too deeply") from None


# --- typed readers -----------------------------------------------------------------------

def _is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # dict first: an ABC isinstance check costs ~10x more, and parsed JSON objects are dicts.
    return isinstance(value, (dict, Mapping))


class _Reader:
    """Reads one subject's JSON, raising InputError(subject, field, message)."""

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def fail(self, field: str, message: str) -> InputError:
        return InputError(self.subject, field, message)

    def no_duplicates(self, value: Mapping[str, Any], field: str) -> None:
        duplicates = _duplicates(value)
        if duplicates:
            key = duplicates[0]
            raise self.fail(f"{field}.{key}" if field else key, f"key {key!r} given more than once")

    def obj(self, value: Any, field: str, keys: frozenset[str]) -> Mapping[str, Any]:
        if not _is_object(value):
            raise self.fail(field, f"expected an object, got {_describe(value)}")
        self.no_duplicates(value, field)
        if keys.issuperset(value):
            return value
        for key in value:
            if not isinstance(key, str) or (key not in keys and not key.startswith("_")):
                raise self.fail(f"{field}.{key}" if field else str(key),
                                f"unknown field {key!r} (expected one of {', '.join(sorted(keys))})")
        return value

    def list(self, value: Any, field: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(field, f"expected a list, got {_describe(value)}")
        return value

    def string(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, f"expected a non-empty string, got {_describe(value)}")
        return value

    def boolean(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(field, f"expected true or false, got {_describe(value)}")
        return value

    def number(self, value: Any, field: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
            raise self.fail(field, f"expected a number, got {_describe(value)}")
        if isinstance(value, float):
            value = Decimal(repr(value))  # Python callers: the shortest repr is the intended value
        number = Decimal(value)
        if not number.is_finite():
            raise self.fail(field, f"not a finite number: {value}")
        return number

    def mm(self, value: Any, field: str) -> Decimal:
        # Range (negative, > 1000 mm) is a validity rule: criteria.validate.diameter_problem.
        return self.number(value, field)

    def integer(self, value: Any, field: str) -> int:
        number = self.number(value, field)
        if number != number.to_integral_value():
            raise self.fail(field, f"expected a whole number, got {number}")
        return int(number)

    def date(self, value: Any, field: str) -> dt.date:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise self.fail(field, f"expected an ISO date YYYY-MM-DD, got {_describe(value)}")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"invalid date {value!r}") from None

    def optional_date(self, value: Any, field: str) -> dt.date | None:
        return None if value is None else self.date(value, field)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, Decimal | int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if _is_object(value):
        return "an object"
    return type(value).__name__


def _iso_date(value: Any) -> dt.date | None:
    """``YYYY-MM-DD`` text -> the date; None for anything else (then :meth:`_Reader.date`
    raises the error naming the field). The hot path: no field path is built."""
    if type(value) is str and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _plain(value: Any, keys: frozenset[str]) -> bool:
    """Whether ``value`` is a parsed JSON object with known keys only, none given twice: what
    :meth:`_Reader.obj` accepts without building a field path (the common case)."""
    return type(value) is dict and keys.issuperset(value)


# --- settings --------------------------------------------------------------------------

_SETTINGS_FIELDS = MappingProxyType({f.name: f for f in dataclasses.fields(Settings)})
_SETTINGS_HINTS = MappingProxyType(typing.get_type_hints(Settings))
_SETTINGS_DEFAULTS = Settings()


def _literal_choices(name: str) -> tuple[str, ...]:
    hint = _SETTINGS_HINTS[name]
    return tuple(str(a) for a in typing.get_args(hint)) if typing.get_origin(hint) is typing.Literal else ()


def parse_settings(value: Any, subject: str = "?") -> Settings:
    """The ``settings`` object -> :class:`Settings`; unknown keys and wrong types are errors."""
    r = _Reader(subject)
    if value is None:
        return _SETTINGS_DEFAULTS
    data = r.obj(value, "settings", frozenset(_SETTINGS_FIELDS))
    kwargs: dict[str, Any] = {}
    for key, raw in data.items():
        if key.startswith("_"):
            continue
        field = f"settings.{key}"
        default = getattr(_SETTINGS_DEFAULTS, key)
        if key in growth_input.SETTINGS:  # growth family: a Decimal and a list of names
            kwargs[key] = growth_input.parse_setting(subject, key, raw)
        elif isinstance(default, bool):
            kwargs[key] = r.boolean(raw, field)
        elif isinstance(default, int):
            number = r.integer(raw, field)
            if number < 0:
                raise r.fail(field, f"must not be negative, got {number}")
            kwargs[key] = number
        elif isinstance(default, tuple):
            items = r.list(raw, field)
            if len(items) != 2:
                raise r.fail(field, f"expected [low, high] days, got {len(items)} values")
            low, high = (r.integer(x, f"{field}[{k}]") for k, x in enumerate(items))
            if low < 0 or high < low:
                raise r.fail(field, f"needs 0 <= low <= high, got [{low}, {high}]")
            kwargs[key] = (low, high)
        else:
            choices = _literal_choices(key)
            if not isinstance(raw, str) or raw not in choices:
                raise r.fail(field, f"expected one of {', '.join(map(repr, choices))}, got {_describe(raw)}")
            kwargs[key] = raw
    return dataclasses.replace(_SETTINGS_DEFAULTS, **kwargs) if kwargs else _SETTINGS_DEFAULTS


# --- lesions ---------------------------------------------------------------------------

_NOT_ASSESSED = TargetMeasurement(kind=TargetKind.NOT_ASSESSED, mm=None)
_TOO_SMALL = TargetMeasurement(kind=TargetKind.TOO_SMALL, mm=TSTM_MM, raw=TSTM)


def _parse_target_value(r: _Reader, value: Any, field: str) -> TargetMeasurement:
    if type(value) is Decimal and value.is_finite():  # the common case, first
        return TargetMeasurement(kind=TargetKind.MEASURED, mm=value)
    if value is None:
        return _NOT_ASSESSED  # frozen: one shared instance is safe
    if isinstance(value, str):
        if value == TSTM:
            return _TOO_SMALL
        raise r.fail(field, f"expected a number of mm, null, \"TSTM\" or an object, got {_describe(value)}")
    if _is_object(value):
        if "fragments_mm" in value:
            data = r.obj(value, field, frozenset({"fragments_mm"}))
            items = r.list(data["fragments_mm"], f"{field}.fragments_mm")
            if not items:
                raise r.fail(f"{field}.fragments_mm", "a split lesion needs at least one fragment")
            fragments = tuple(r.mm(x, f"{field}.fragments_mm[{k}]") for k, x in enumerate(items))
            return TargetMeasurement(kind=TargetKind.SPLIT, mm=sum(fragments, Decimal(0)),
                                     fragments_mm=fragments)
        if "coalesced_with" in value:
            data = r.obj(value, field, frozenset({"coalesced_with", "mm"}))
            others = r.list(data["coalesced_with"], f"{field}.coalesced_with")
            if not others:
                raise r.fail(f"{field}.coalesced_with", "needs at least one other target id")
            ids = tuple(r.string(x, f"{field}.coalesced_with[{k}]") for k, x in enumerate(others))
            if "mm" not in data:
                raise r.fail(f"{field}.mm", "a coalesced lesion needs the coalesced diameter mm")
            return TargetMeasurement(kind=TargetKind.COALESCED, mm=r.mm(data["mm"], f"{field}.mm"),
                                     coalesced_with=ids)
        if "coalesced_into" in value:
            data = r.obj(value, field, frozenset({"coalesced_into", "mm"}))
            into = r.string(data["coalesced_into"], f"{field}.coalesced_into")
            mm = r.mm(data["mm"], f"{field}.mm") if "mm" in data else Decimal(0)
            return TargetMeasurement(kind=TargetKind.COALESCED_INTO, mm=mm, coalesced_into=into)
        raise r.fail(field, "a target object needs fragments_mm, coalesced_with or coalesced_into")
    return TargetMeasurement(kind=TargetKind.MEASURED, mm=r.mm(value, field))


def _parse_new_lesion(r: _Reader, value: Any, field: str) -> NewLesion:
    data = r.obj(value, field, _NEW_LESION_KEYS)
    if "id" not in data:
        raise r.fail(f"{field}.id", "missing")
    lesion_id = r.string(data["id"], f"{field}.id")
    organ = r.string(data["organ"], f"{field}.organ") if "organ" in data else "unknown"
    node = r.boolean(data["node"], f"{field}.node") if "node" in data else False
    raw_mm = data.get("mm")
    mm = None if raw_mm is None else r.mm(raw_mm, f"{field}.mm")
    if "measurable" in data:
        measurable = r.boolean(data["measurable"], f"{field}.measurable")
    else:
        # Not stated: measurable when it meets the RECIST 1.1 size rule (R11-MEAS / R11-NODE).
        measurable = mm is not None and mm.is_finite() and is_measurable_size(mm, node)
    equivocal = r.boolean(data["equivocal"], f"{field}.equivocal") if "equivocal" in data else False
    return NewLesion(id=lesion_id, organ=organ, node=node, mm=mm, measurable=measurable, equivocal=equivocal)


def _parse_baseline(r: _Reader, value: Any) -> Baseline:
    data = r.obj(value, "baseline", _BASELINE_KEYS)
    if "date" not in data:
        raise r.fail("baseline.date", "missing")
    date = r.date(data["date"], "baseline.date")
    targets: list[BaselineTarget] = []
    for i, raw in enumerate(r.list(data.get("targets", []), "baseline.targets")):
        if _plain(raw, _TARGET_KEYS):  # the common case, checked without building field paths
            lesion_id, organ, mm = raw.get("id"), raw.get("organ"), raw.get("mm")
            node = raw.get("node", False)
            if (type(lesion_id) is str and lesion_id.strip() and type(organ) is str and organ.strip()
                    and type(node) is bool and type(mm) is Decimal and mm.is_finite()):
                targets.append(BaselineTarget(lesion_id, organ, node, mm))
                continue
        field = f"baseline.targets[{i}]"
        item = r.obj(raw, field, _TARGET_KEYS)
        for key in ("id", "organ", "mm"):
            if key not in item:
                raise r.fail(f"{field}.{key}", "missing")
        targets.append(BaselineTarget(
            id=r.string(item["id"], f"{field}.id"),
            organ=r.string(item["organ"], f"{field}.organ"),
            node=r.boolean(item["node"], f"{field}.node") if "node" in item else False,
            mm=r.mm(item["mm"], f"{field}.mm"),
        ))
    non_targets: list[BaselineNonTarget] = []
    for i, raw in enumerate(r.list(data.get("non_targets", []), "baseline.non_targets")):
        if _plain(raw, _NON_TARGET_KEYS):
            lesion_id, organ, node = raw.get("id"), raw.get("organ"), raw.get("node", False)
            if (type(lesion_id) is str and lesion_id.strip() and type(organ) is str and organ.strip()
                    and type(node) is bool):
                non_targets.append(BaselineNonTarget(lesion_id, organ, node))
                continue
        field = f"baseline.non_targets[{i}]"
        item = r.obj(raw, field, _NON_TARGET_KEYS)
        for key in ("id", "organ"):
            if key not in item:
                raise r.fail(f"{field}.{key}", "missing")
        non_targets.append(BaselineNonTarget(
            id=r.string(item["id"], f"{field}.id"),
            organ=r.string(item["organ"], f"{field}.organ"),
            node=r.boolean(item["node"], f"{field}.node") if "node" in item else False,
        ))
    if not targets and not non_targets:
        raise r.fail("baseline", "no target and no non-target lesions: nothing to assess")
    return Baseline(date=date, targets=tuple(targets), non_targets=tuple(non_targets))


def _parse_timepoint(r: _Reader, value: Any, field: str, response_level: bool) -> Timepoint:
    # Field paths (f"{field}...") are built only on the way to an error: the checks come first.
    data = value if _plain(value, _TIMEPOINT_KEYS) else r.obj(value, field, _TIMEPOINT_KEYS)
    if "date" not in data:
        raise r.fail(f"{field}.date", "missing")
    date = _iso_date(data["date"]) or r.date(data["date"], f"{field}.date")
    scan = ScanKind.SCHEDULED
    if "scan" in data:
        word = data["scan"]
        kind = _SCAN_WORDS.get(word) if isinstance(word, str) else None
        if kind is None:
            raise r.fail(f"{field}.scan", f"unknown scan kind {_describe(word)} "
                                          f"(expected one of {', '.join(_SCAN_WORDS)})")
        scan = kind
    scan_dates: tuple[dt.date, ...] = ()
    if "scan_dates" in data and data["scan_dates"] is not None:
        items = r.list(data["scan_dates"], f"{field}.scan_dates")
        scan_dates = tuple(r.date(x, f"{field}.scan_dates[{k}]") for k, x in enumerate(items))
    overall: str | None = None
    if "overall" in data:
        overall = r.string(data["overall"], f"{field}.overall")
    if response_level:
        for key in ("targets", "non_targets", "new_lesions"):
            if data.get(key):
                raise r.fail(f"{field}.{key}", "lesion data without a baseline: give the baseline, "
                                               "or only overall responses (response level)")
        return Timepoint(date, scan, overall=overall, scan_dates=scan_dates)
    targets: dict[str, TargetMeasurement] = {}
    raw_targets = data.get("targets", {})
    if not _is_object(raw_targets):
        raise r.fail(f"{field}.targets",
                     f"expected an object of lesion id -> mm, got {_describe(raw_targets)}")
    if type(raw_targets) is _Object:
        r.no_duplicates(raw_targets, f"{field}.targets")
    measured = TargetKind.MEASURED
    for lesion_id, raw in raw_targets.items():
        if type(raw) is Decimal and raw.is_finite():  # the common case, without a field path
            targets[lesion_id] = TargetMeasurement(measured, raw)
        else:
            targets[lesion_id] = _parse_target_value(r, raw, f"{field}.targets.{lesion_id}")
    non_targets: dict[str, NonTargetStatus] = {}
    raw_nt = data.get("non_targets", {})
    if not _is_object(raw_nt):
        raise r.fail(f"{field}.non_targets",
                     f"expected an object of lesion id -> status, got {_describe(raw_nt)}")
    if type(raw_nt) is _Object:
        r.no_duplicates(raw_nt, f"{field}.non_targets")
    words = _STATUS_WORDS
    for lesion_id, word in raw_nt.items():
        status = words.get(word) if isinstance(word, str) else None
        if status is None:
            raise r.fail(f"{field}.non_targets.{lesion_id}",
                         f"unknown non-target status {_describe(word)} "
                         f"(expected one of {', '.join(_STATUS_WORDS)})")
        non_targets[lesion_id] = status
    raw_new = data.get("new_lesions")  # absent, null or empty: no new lesion
    new_lesions: tuple[NewLesion, ...] = ()
    if raw_new:
        new_lesions = tuple(
            _parse_new_lesion(r, raw, f"{field}.new_lesions[{k}]")
            for k, raw in enumerate(r.list(raw_new, f"{field}.new_lesions")))
    return Timepoint(date, scan, targets, non_targets, new_lesions, overall, scan_dates)


# --- subjects ----------------------------------------------------------------------------

def parse_subject(value: Any, index: int | None = None) -> Subject:
    """One subject object (already loaded, numbers as ``Decimal``) -> validated :class:`Subject`.

    ``index`` is the position in a batch, used to name a subject whose id is missing.
    Raises :class:`InputError` on the first problem found.
    """
    where = "" if index is None else f"[{index}]"
    if not _is_object(value):
        raise InputError("?", where or "$", f"expected a subject object, got {_describe(value)}")
    raw_id = value.get("subject")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise InputError("?", f"{where}.subject" if where else "subject",
                         f"missing or empty subject id (got {_describe(raw_id)})")
    r = _Reader(raw_id)
    data = r.obj(value, "", _SUBJECT_KEYS)
    if "reference_date" not in data:
        raise r.fail("reference_date", "missing (randomisation / treatment start: the PFS origin)")
    reference_date = r.date(data["reference_date"], "reference_date")
    settings = parse_settings(data.get("settings"), raw_id)
    baseline = None if data.get("baseline") is None else _parse_baseline(r, data["baseline"])
    timepoints = tuple(
        _parse_timepoint(r, raw, f"timepoints[{i}]", baseline is None)
        for i, raw in enumerate(r.list(data.get("timepoints", []), "timepoints")))
    subject = Subject(
        subject=raw_id,
        reference_date=reference_date,
        timepoints=timepoints,
        baseline=baseline,
        settings=settings,
        death_date=r.optional_date(data.get("death_date"), "death_date"),
        last_contact_date=r.optional_date(data.get("last_contact_date"), "last_contact_date"),
        # growth family (optional; criteria.growth_input)
        prebaseline=growth_input.parse_prebaseline(raw_id, data.get("prebaseline"), baseline),
        clinical=growth_input.parse_clinical(raw_id, data.get("clinical"), reference_date),
    )
    problems = validate_subject(subject)
    if problems:
        raise r.fail(problems[0].field, problems[0].message)
    return subject


def parse_payload(value: Any) -> Subject | list[Subject]:
    """A loaded payload: one subject object, or a list of them (batch, order kept)."""
    if isinstance(value, list):
        return [parse_subject(item, i) for i, item in enumerate(value)]
    return parse_subject(value)


def parse(text_or_value: str | Any) -> Subject | list[Subject]:
    """JSON text (or an already loaded value) -> one :class:`Subject` or a list of them."""
    value = load_json(text_or_value) if isinstance(text_or_value, str) else text_or_value
    return parse_payload(value)
