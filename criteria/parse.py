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
from criteria.errors import InputError, describe_value
from criteria.lesions import TSTM_MM
from criteria.types import (
    Baseline,
    BaselineNonTarget,
    BaselineTarget,
    Injection,
    NewLesion,
    NonTargetStatus,
    PetLesion,
    PetReference,
    PetScan,
    PetStudy,
    ScanKind,
    Settings,
    Subject,
    TargetKind,
    TargetMeasurement,
    Timepoint,
)
from criteria.validate import is_measurable_size, validate_subject

#: R11-TSTM / CDISC-TSTM: the input string of a lesion present but too small to measure,
#: which counts as :data:`criteria.lesions.TSTM_MM` (5 mm).
TSTM = "TSTM"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SUBJECT_KEYS = frozenset({"subject", "reference_date", "settings", "death_date", "last_contact_date",
                           "baseline", "timepoints", "pet",  # pet: PERCIST family
                           "prebaseline", "clinical"})  # growth family
_BASELINE_KEYS = frozenset({"date", "targets", "non_targets"})
_TARGET_KEYS = frozenset({"id", "organ", "node", "mm", "injected"})  # injected: itRECIST block below
_NON_TARGET_KEYS = frozenset({"id", "organ", "node", "injected"})
_TIMEPOINT_KEYS = frozenset({"date", "scan", "targets", "non_targets", "new_lesions", "overall",
                             "scan_dates", "injected"})
_NEW_LESION_KEYS = frozenset({"id", "organ", "node", "mm", "measurable", "equivocal", "perp_mm", "long_mm"})
# irRC bidimensional values (optional; docs/criteria-cli.md "Bidimensional values")
_BIDIM_KEYS = frozenset({"perp_mm", "long_mm"})
_TARGET_KEYS_2D = _TARGET_KEYS | _BIDIM_KEYS
_SCAN_WORDS = MappingProxyType({kind.value: kind for kind in ScanKind})
_STATUS_WORDS = MappingProxyType({status.value: status for status in NonTargetStatus})
_NO_VALUES: Mapping[str, Any] = MappingProxyType({})  # an absent targets / non_targets object


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
        # The common case first: json builds the objects itself, and counts their keys. Every
        # member of an object has one ':' outside strings, so when the objects hold as many keys
        # as the text has ':' characters no object repeated a key. Otherwise (a repeated key, or
        # a ':' inside a string) the text is read again naming the repeated keys (_object).
        objects: list[dict[str, Any]] = []
        keep = objects.append

        def kept(obj: dict[str, Any]) -> dict[str, Any]:
            keep(obj)
            return obj

        value = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_non_finite,
                           object_hook=kept)
        if sum(map(len, objects)) == text.count(":"):
            return value
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
            raise self.fail(field, f"expected an object, got {describe_value(value)}")
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
            raise self.fail(field, f"expected a list, got {describe_value(value)}")
        return value

    def string(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, f"expected a non-empty string, got {describe_value(value)}")
        return value

    def boolean(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(field, f"expected true or false, got {describe_value(value)}")
        return value

    def number(self, value: Any, field: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
            raise self.fail(field, f"expected a number, got {describe_value(value)}")
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
            raise self.fail(field, f"expected an ISO date YYYY-MM-DD, got {describe_value(value)}")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.fail(field, f"invalid date {value!r}") from None

    def optional_date(self, value: Any, field: str) -> dt.date | None:
        return None if value is None else self.date(value, field)


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
                raise r.fail(field,
                             f"expected one of {', '.join(map(repr, choices))}, got {describe_value(raw)}")
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
        raise r.fail(field, 'expected a number of mm, null, "TSTM" or an object, got '
                            f"{describe_value(value)}")
    if _is_object(value):
        if "fragments_mm" in value:
            data = r.obj(value, field, frozenset({"fragments_mm", "fragments_perp_mm"}))
            items = r.list(data["fragments_mm"], f"{field}.fragments_mm")
            if not items:
                raise r.fail(f"{field}.fragments_mm", "a split lesion needs at least one fragment")
            fragments = tuple(r.mm(x, f"{field}.fragments_mm[{k}]") for k, x in enumerate(items))
            perps = _fragments_perp(r, data, field, len(fragments))
            return TargetMeasurement(kind=TargetKind.SPLIT, mm=sum(fragments, Decimal(0)),
                                     fragments_mm=fragments, fragments_perp_mm=perps)
        if "coalesced_with" in value:
            data = r.obj(value, field, frozenset({"coalesced_with", "mm"}) | _BIDIM_KEYS)
            others = r.list(data["coalesced_with"], f"{field}.coalesced_with")
            if not others:
                raise r.fail(f"{field}.coalesced_with", "needs at least one other target id")
            ids = tuple(r.string(x, f"{field}.coalesced_with[{k}]") for k, x in enumerate(others))
            if "mm" not in data:
                raise r.fail(f"{field}.mm", "a coalesced lesion needs the coalesced diameter mm")
            perp, long = _bidim(r, data, field)
            return TargetMeasurement(kind=TargetKind.COALESCED, mm=r.mm(data["mm"], f"{field}.mm"),
                                     coalesced_with=ids, perp_mm=perp, long_mm=long)
        if "coalesced_into" in value:
            data = r.obj(value, field, frozenset({"coalesced_into", "mm"}) | _BIDIM_KEYS)
            into = r.string(data["coalesced_into"], f"{field}.coalesced_into")
            mm = r.mm(data["mm"], f"{field}.mm") if "mm" in data else Decimal(0)
            perp, long = _bidim(r, data, field)
            return TargetMeasurement(kind=TargetKind.COALESCED_INTO, mm=mm, coalesced_into=into,
                                     perp_mm=perp, long_mm=long)
        if "mm" in value:  # irRC: {"mm": 30, "perp_mm": 20} (node: {"mm": 12, "long_mm": 18})
            data = r.obj(value, field, frozenset({"mm"}) | _BIDIM_KEYS)
            perp, long = _bidim(r, data, field)
            return TargetMeasurement(kind=TargetKind.MEASURED, mm=r.mm(data["mm"], f"{field}.mm"),
                                     perp_mm=perp, long_mm=long)
        raise r.fail(field, "a target object needs mm, fragments_mm, coalesced_with or coalesced_into")
    return TargetMeasurement(kind=TargetKind.MEASURED, mm=r.mm(value, field))


# --- irRC bidimensional values (issue 14): optional second diameters --------------------

def _bidim(r: _Reader, data: Mapping[str, Any], field: str) -> tuple[Decimal | None, Decimal | None]:
    """``perp_mm`` and ``long_mm`` of an object (each None when absent or null)."""
    perp = None if data.get("perp_mm") is None else r.mm(data["perp_mm"], f"{field}.perp_mm")
    long = None if data.get("long_mm") is None else r.mm(data["long_mm"], f"{field}.long_mm")
    return perp, long


def _fragments_perp(r: _Reader, data: Mapping[str, Any], field: str, count: int) -> tuple[Decimal, ...]:
    """``fragments_perp_mm``: one perpendicular diameter per fragment, in the same order."""
    if data.get("fragments_perp_mm") is None:
        return ()
    items = r.list(data["fragments_perp_mm"], f"{field}.fragments_perp_mm")
    if len(items) != count:
        raise r.fail(f"{field}.fragments_perp_mm",
                     f"expected {count} values, one per fragment, got {len(items)}")
    return tuple(r.mm(x, f"{field}.fragments_perp_mm[{k}]") for k, x in enumerate(items))


def _parse_new_lesion(r: _Reader, value: Any, field: str) -> NewLesion:
    data = r.obj(value, field, _NEW_LESION_KEYS)
    if "id" not in data:
        raise r.fail(f"{field}.id", "missing")
    lesion_id = r.string(data["id"], f"{field}.id")
    organ = r.string(data["organ"], f"{field}.organ") if "organ" in data else "unknown"
    node = r.boolean(data["node"], f"{field}.node") if "node" in data else False
    raw_mm = data.get("mm")
    mm = None if raw_mm is None else r.mm(raw_mm, f"{field}.mm")
    stated: bool | None = None
    if "measurable" in data:
        measurable = stated = r.boolean(data["measurable"], f"{field}.measurable")
    else:
        # Not stated: measurable when it meets the RECIST 1.1 size rule (R11-MEAS / R11-NODE).
        measurable = mm is not None and mm.is_finite() and is_measurable_size(mm, node)
    equivocal = r.boolean(data["equivocal"], f"{field}.equivocal") if "equivocal" in data else False
    if "perp_mm" in data or "long_mm" in data:
        perp, long = _bidim(r, data, field)
        return NewLesion(lesion_id, organ, node, mm, measurable, equivocal, perp, long, stated)
    return NewLesion(id=lesion_id, organ=organ, node=node, mm=mm, measurable=measurable, equivocal=equivocal,
                     measurable_stated=stated)


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
        item = r.obj(raw, field, _TARGET_KEYS_2D)
        for key in ("id", "organ", "mm"):
            if key not in item:
                raise r.fail(f"{field}.{key}", "missing")
        perp, long = _bidim(r, item, field)
        targets.append(BaselineTarget(
            id=r.string(item["id"], f"{field}.id"),
            organ=r.string(item["organ"], f"{field}.organ"),
            node=r.boolean(item["node"], f"{field}.node") if "node" in item else False,
            mm=r.mm(item["mm"], f"{field}.mm"),
            perp_mm=perp, long_mm=long,
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
    # (_plain inlined)
    data = value if type(value) is dict and _TIMEPOINT_KEYS.issuperset(value) else r.obj(
        value, field, _TIMEPOINT_KEYS)
    if "date" not in data:
        raise r.fail(f"{field}.date", "missing")
    date = _iso_date(data["date"]) or r.date(data["date"], f"{field}.date")
    scan = ScanKind.SCHEDULED
    if "scan" in data:
        word = data["scan"]
        kind = _SCAN_WORDS.get(word) if isinstance(word, str) else None
        if kind is None:
            raise r.fail(f"{field}.scan", f"unknown scan kind {describe_value(word)} "
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
    raw_targets = data.get("targets", _NO_VALUES)
    if type(raw_targets) is not dict:  # (dict: the common case of _is_object)
        if not _is_object(raw_targets):
            raise r.fail(f"{field}.targets",
                         f"expected an object of lesion id -> mm, got {describe_value(raw_targets)}")
        if type(raw_targets) is _Object:
            r.no_duplicates(raw_targets, f"{field}.targets")
    measured = TargetKind.MEASURED
    for lesion_id, raw in raw_targets.items():
        if type(raw) is Decimal and raw.is_finite():  # the common case, without a field path
            targets[lesion_id] = TargetMeasurement(measured, raw)
        else:
            targets[lesion_id] = _parse_target_value(r, raw, f"{field}.targets.{lesion_id}")
    non_targets: dict[str, NonTargetStatus] = {}
    raw_nt = data.get("non_targets", _NO_VALUES)
    if type(raw_nt) is not dict:
        if not _is_object(raw_nt):
            raise r.fail(f"{field}.non_targets",
                         f"expected an object of lesion id -> status, got {describe_value(raw_nt)}")
        if type(raw_nt) is _Object:
            r.no_duplicates(raw_nt, f"{field}.non_targets")
    words = _STATUS_WORDS
    for lesion_id, word in raw_nt.items():
        status = words.get(word) if isinstance(word, str) else None
        if status is None:
            raise r.fail(f"{field}.non_targets.{lesion_id}",
                         f"unknown non-target status {describe_value(word)} "
                         f"(expected one of {', '.join(_STATUS_WORDS)})")
        non_targets[lesion_id] = status
    raw_new = data.get("new_lesions")  # absent, null or empty: no new lesion
    new_lesions: tuple[NewLesion, ...] = ()
    if raw_new:
        new_lesions = tuple(
            _parse_new_lesion(r, raw, f"{field}.new_lesions[{k}]")
            for k, raw in enumerate(r.list(raw_new, f"{field}.new_lesions")))
    return Timepoint(date, scan, targets, non_targets, new_lesions, overall, scan_dates)


# --- PERCIST family: the ``pet`` input (criteria.percist) -----------------------------------

_PET_KEYS = frozenset({"tracer", "baseline", "timepoints"})
_PET_SCAN_KEYS = frozenset({"date", "uptake_min", "reference", "lesions", "unequivocal_progression",
                            "not_done"})
_PET_REFERENCE_KEYS = frozenset({"site", "mean", "sd"})
_PET_LESION_KEYS = frozenset({"id", "organ", "sul_peak", "sul_max", "tlg", "new", "mm"})
#: Plausibility bounds: SUL (lean-body-mass SUV) above 100, TLG above 10^6 SUL.mL, an uptake
#: time above 600 min or a functional diameter above 1000 mm is a data-entry error.
MAX_SUL = Decimal(100)
MAX_TLG = Decimal(1000000)
MAX_UPTAKE_MIN = Decimal(600)
MAX_PET_MM = Decimal(1000)


def _bounded(r: _Reader, value: Any, field: str, high: Decimal, positive: bool = False) -> Decimal:
    number = r.number(value, field)
    if number < 0 or (positive and number == 0):
        raise r.fail(field, f"must be {'> 0' if positive else '>= 0'}, got {number}")
    if number > high:
        raise r.fail(field, f"must be <= {high}, got {number}")
    return number


def _parse_pet_reference(r: _Reader, value: Any, field: str) -> PetReference:
    data = r.obj(value, field, _PET_REFERENCE_KEYS)
    for key in ("site", "mean", "sd"):
        if key not in data:
            raise r.fail(f"{field}.{key}", "missing")
    site = data["site"]
    if site not in ("liver", "blood_pool"):
        raise r.fail(f"{field}.site", f"expected 'liver' or 'blood_pool', got {describe_value(site)}")
    return PetReference(site=site, mean=_bounded(r, data["mean"], f"{field}.mean", MAX_SUL, positive=True),
                        sd=_bounded(r, data["sd"], f"{field}.sd", MAX_SUL))


def _parse_pet_lesion(r: _Reader, value: Any, field: str, baseline: bool) -> PetLesion:
    data = r.obj(value, field, _PET_LESION_KEYS)
    for key in ("id", "sul_peak"):
        if key not in data:
            raise r.fail(f"{field}.{key}", "missing")
    new = r.boolean(data["new"], f"{field}.new") if "new" in data else False
    if new and baseline:
        raise r.fail(f"{field}.new", "a baseline lesion cannot be new")

    def optional(key: str, high: Decimal) -> Decimal | None:
        raw = data.get(key)
        return None if raw is None else _bounded(r, raw, f"{field}.{key}", high)

    return PetLesion(
        id=r.string(data["id"], f"{field}.id"),
        organ=r.string(data["organ"], f"{field}.organ") if "organ" in data else "unknown",
        sul_peak=_bounded(r, data["sul_peak"], f"{field}.sul_peak", MAX_SUL),
        sul_max=optional("sul_max", MAX_SUL), tlg=optional("tlg", MAX_TLG), new=new,
        mm=optional("mm", MAX_PET_MM))


def _parse_pet_scan(r: _Reader, value: Any, field: str, baseline: bool) -> PetScan:
    data = r.obj(value, field, _PET_SCAN_KEYS)
    if "date" not in data:
        raise r.fail(f"{field}.date", "missing")
    date = r.date(data["date"], f"{field}.date")
    not_done = r.boolean(data["not_done"], f"{field}.not_done") if "not_done" in data else False
    if not_done and baseline:
        raise r.fail(f"{field}.not_done", "the baseline PET scan must be done")
    raw_ref = data.get("reference")
    if raw_ref is None and not not_done:
        raise r.fail(f"{field}.reference", "missing (liver or blood-pool SUL mean and SD, PERC-MEAS)")
    reference = None if raw_ref is None else _parse_pet_reference(r, raw_ref, f"{field}.reference")
    lesions = tuple(_parse_pet_lesion(r, raw, f"{field}.lesions[{k}]", baseline)
                    for k, raw in enumerate(r.list(data.get("lesions", []), f"{field}.lesions")))
    if not_done and lesions:
        raise r.fail(f"{field}.lesions", "a scan not done has no lesions")
    seen: set[str] = set()
    for k, lesion in enumerate(lesions):
        if lesion.id in seen:
            raise r.fail(f"{field}.lesions[{k}].id", f"lesion id {lesion.id!r} given twice")
        seen.add(lesion.id)
    uptake = data.get("uptake_min")
    up = None if uptake is None else _bounded(r, uptake, f"{field}.uptake_min", MAX_UPTAKE_MIN, positive=True)
    progression = (r.boolean(data["unequivocal_progression"], f"{field}.unequivocal_progression")
                   if "unequivocal_progression" in data else False)
    return PetScan(date=date, reference=reference, lesions=lesions, uptake_min=up,
                   unequivocal_progression=progression, not_done=not_done)


def parse_pet(r: _Reader, value: Any) -> PetStudy:
    """The subject's ``pet`` object -> :class:`PetStudy` (strict: unknown keys, wrong types and
    out-of-range values are errors naming the field path)."""
    data = r.obj(value, "pet", _PET_KEYS)
    if "baseline" not in data:
        raise r.fail("pet.baseline", "missing")
    tracer = r.string(data["tracer"], "pet.tracer") if "tracer" in data else "FDG"
    if tracer.upper() != "FDG":
        raise r.fail("pet.tracer", f"PERCIST is defined for FDG only, got {tracer!r}")
    baseline = _parse_pet_scan(r, data["baseline"], "pet.baseline", True)
    scans = tuple(_parse_pet_scan(r, raw, f"pet.timepoints[{k}]", False)
                  for k, raw in enumerate(r.list(data.get("timepoints", []), "pet.timepoints")))
    previous = baseline.date
    for k, scan in enumerate(scans):
        if scan.date <= previous:
            raise r.fail(f"pet.timepoints[{k}].date",
                         f"{scan.date} is not after the previous PET scan ({previous})")
        previous = scan.date
    return PetStudy(tracer="FDG", baseline=baseline, timepoints=scans)


# --- subjects ----------------------------------------------------------------------------

def parse_subject(value: Any, index: int | None = None) -> Subject:
    """One subject object (already loaded, numbers as ``Decimal``) -> validated :class:`Subject`.

    ``index`` is the position in a batch, used to name a subject whose id is missing.
    Raises :class:`InputError` on the first problem found.
    """
    where = "" if index is None else f"[{index}]"
    if not _is_object(value):
        raise InputError("?", where or "$", f"expected a subject object, got {describe_value(value)}")
    raw_id = value.get("subject")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise InputError("?", f"{where}.subject" if where else "subject",
                         f"missing or empty subject id (got {describe_value(raw_id)})")
    r = _Reader(raw_id)
    data = r.obj(value, "", _SUBJECT_KEYS)
    if "reference_date" not in data:
        raise r.fail("reference_date", "missing (randomisation / treatment start: the PFS origin)")
    reference_date = r.date(data["reference_date"], "reference_date")
    settings = parse_settings(data.get("settings"), raw_id)
    baseline = None if data.get("baseline") is None else _parse_baseline(r, data["baseline"])
    timepoints = tuple([
        _parse_timepoint(r, raw, f"timepoints[{i}]", baseline is None)
        for i, raw in enumerate(r.list(data.get("timepoints", []), "timepoints"))])
    death_date = r.optional_date(data.get("death_date"), "death_date")
    last_contact_date = r.optional_date(data.get("last_contact_date"), "last_contact_date")
    pet = None if data.get("pet") is None else parse_pet(r, data["pet"])
    injection = _parse_injection(r, data, baseline)
    # growth family (optional; criteria.growth_input)
    raw_prebaseline, raw_clinical = data.get("prebaseline"), data.get("clinical")
    prebaseline = (() if raw_prebaseline is None
                   else growth_input.parse_prebaseline(raw_id, raw_prebaseline, baseline))
    clinical = (None if raw_clinical is None
                else growth_input.parse_clinical(raw_id, raw_clinical, reference_date))
    # Subject's fields in order: subject, reference_date, timepoints, baseline, settings,
    # death_date, last_contact_date, pet, injection, prebaseline, clinical
    subject = Subject(raw_id, reference_date, timepoints, baseline, settings, death_date, last_contact_date,
                      pet, injection, prebaseline, clinical)
    problems = validate_subject(subject)
    if problems:
        raise r.fail(problems[0].field, problems[0].message)
    return subject


# --- itRECIST: injected flags (GOL20, ITR-CLASS) -------------------------------------------

def _parse_injection(r: _Reader, data: Mapping[str, Any], baseline: Baseline | None) -> Injection | None:
    """``baseline.targets[i].injected`` / ``baseline.non_targets[i].injected`` (true / false)
    and ``timepoints[j].injected`` (ids of baseline lesions first injected there) ->
    :class:`Injection`; None when the input has no ``injected`` key at all. Once one
    baseline lesion carries ``injected``, every baseline lesion must (ITR-CLASS: each
    lesion is classified at baseline)."""
    raw_baseline = data.get("baseline")
    raw_tps = data.get("timepoints") or []
    if not _has_injected(raw_baseline, raw_tps):
        return None  # the common case, checked without building field paths
    lesions: list[tuple[str, Any]] = []
    if _is_object(raw_baseline):
        for key in ("targets", "non_targets"):
            items = raw_baseline.get(key) or []
            lesions += [(f"baseline.{key}[{i}]", item) for i, item in enumerate(items)]
    flagged = any(_is_object(item) and "injected" in item for _, item in lesions)
    later_given = any(_is_object(tp) and "injected" in tp for tp in raw_tps)
    if not flagged and not later_given:
        return None
    if baseline is None:
        where = next(f"timepoints[{i}].injected" for i, tp in enumerate(raw_tps) if "injected" in tp)
        raise r.fail(where, "injected lesions need a baseline (measurement level)")
    flags: dict[str, bool] = {}
    for field, item in lesions:
        if "injected" not in item:
            raise r.fail(f"{field}.injected", "missing: with itRECIST flags every baseline lesion "
                                              "is classified injected true or false (ITR-CLASS)")
        flags[item["id"]] = r.boolean(item["injected"], f"{field}.injected")
    injected = {lesion for lesion, flag in flags.items() if flag}
    later: list[tuple[str, ...]] = []
    for i, tp in enumerate(raw_tps):
        field = f"timepoints[{i}].injected"
        ids: list[str] = []
        for k, raw in enumerate(r.list(tp.get("injected", []), field)):
            lesion = r.string(raw, f"{field}[{k}]")
            if lesion not in flags:
                raise r.fail(f"{field}[{k}]", f"{lesion!r} is not a baseline lesion (new lesions are "
                                              "not classified, ITR-CLASS)")
            if lesion in injected:
                raise r.fail(f"{field}[{k}]", f"{lesion!r} is already injected (a lesion moves from "
                                              "non-injected to injected once, ITR-CLASS)")
            injected.add(lesion)
            ids.append(lesion)
        later.append(tuple(ids))
    return Injection(baseline=MappingProxyType(flags), later=tuple(later))


def _has_injected(raw_baseline: Any, raw_tps: list[Any]) -> bool:
    """Whether a baseline lesion or a timepoint carries the ``injected`` key."""
    if _is_object(raw_baseline):
        for key in ("targets", "non_targets"):
            for item in raw_baseline.get(key) or []:
                if _is_object(item) and "injected" in item:
                    return True
    for tp in raw_tps:  # noqa: SIM110 -- a plain loop: any() over a generator costs more
        if _is_object(tp) and "injected" in tp:
            return True
    return False


def parse_payload(value: Any) -> Subject | list[Subject]:
    """A loaded payload: one subject object, or a list of them (batch, order kept)."""
    if isinstance(value, list):
        return [parse_subject(item, i) for i, item in enumerate(value)]
    return parse_subject(value)


def parse(text_or_value: str | Any) -> Subject | list[Subject]:
    """JSON text (or an already loaded value) -> one :class:`Subject` or a list of them."""
    value = load_json(text_or_value) if isinstance(text_or_value, str) else text_or_value
    return parse_payload(value)
