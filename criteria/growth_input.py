"""Input of the growth family: ``prebaseline`` scans, ``clinical`` items and the two settings
the generic settings reader cannot type (``tgr_month_days``, ``hyperprogression_definitions``).

Strict like the rest of the contract: unknown keys, wrong types, dates not before the baseline
or out of order, ids that are not baseline targets are errors naming the field path
(``prebaseline[1].targets.T3``). Called from :mod:`criteria.parse` (a few hook lines).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from criteria.errors import InputError, describe_value
from criteria.types import Baseline, Clinical, PrebaselineScan

#: The published definitions, in output order (criteria-rules.md §9, HPD-... rule ids).
HPD_DEFINITIONS: tuple[str, ...] = (
    "champiat2017",
    "saada_bouzid2017",
    "ferrara2018",
    "kas2020",
    "kato2017",
    "lo_russo2019",
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SCAN_KEYS = frozenset({"date", "targets", "sum_mm"})
_CLINICAL_KEYS = frozenset({"treatment_failure_date", "ecog_deterioration_2_months"})
#: Plausibility bound of a sum: at most 5 targets of 1000 mm (criteria.validate.MAX_DIAMETER_MM).
_MAX_SUM_MM = Decimal(5000)
_MAX_MM = Decimal(1000)


def _obj(subject: str, value: Any, field: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(subject, field, f"expected an object, got {describe_value(value)}")
    for key in value:
        if not isinstance(key, str) or (key not in keys and not key.startswith("_")):
            raise InputError(
                subject,
                f"{field}.{key}",
                f"unknown field {key!r} (expected one of {', '.join(sorted(keys))})",
            )
    duplicates = getattr(value, "duplicates", ())
    if duplicates:
        raise InputError(subject, f"{field}.{duplicates[0]}", f"key {duplicates[0]!r} given more than once")
    return value


def _date(subject: str, value: Any, field: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InputError(subject, field, f"expected an ISO date YYYY-MM-DD, got {describe_value(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(subject, field, f"invalid date {value!r}") from None


def _mm(subject: str, value: Any, field: str, limit: Decimal) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise InputError(subject, field, f"expected a number of mm, got {describe_value(value)}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise InputError(subject, field, f"not a finite number: {value}")
    if number < 0:
        raise InputError(subject, field, f"negative value {number}")
    if number > limit:
        raise InputError(subject, field, f"implausible value {number} mm (more than {limit} mm)")
    return number


def parse_prebaseline(subject: str, value: Any, baseline: Baseline | None) -> tuple[PrebaselineScan, ...]:
    """``prebaseline``: a list of scans before the baseline, oldest first (strictly)."""
    if value is None:
        return ()
    if baseline is None:
        raise InputError(subject, "prebaseline", "pre-baseline scans need the measured baseline")
    if not isinstance(value, list):
        raise InputError(subject, "prebaseline", f"expected a list, got {describe_value(value)}")
    target_ids = {t.id for t in baseline.targets}
    scans: list[PrebaselineScan] = []
    previous: dt.date | None = None
    for i, raw in enumerate(value):
        field = f"prebaseline[{i}]"
        data = _obj(subject, raw, field, _SCAN_KEYS)
        if "date" not in data:
            raise InputError(subject, f"{field}.date", "missing")
        date = _date(subject, data["date"], f"{field}.date")
        if date >= baseline.date:
            raise InputError(
                subject,
                f"{field}.date",
                f"pre-baseline scan {date} is not before the baseline date {baseline.date}",
            )
        if previous is not None and date <= previous:
            raise InputError(subject, f"{field}.date", f"dates out of order: {date} is not after {previous}")
        previous = date
        if ("targets" in data) == ("sum_mm" in data):
            raise InputError(
                subject, field, "give either targets (lesion id -> mm) or sum_mm, not both and not neither"
            )
        if "sum_mm" in data:
            scans.append(
                PrebaselineScan(date, {}, _mm(subject, data["sum_mm"], f"{field}.sum_mm", _MAX_SUM_MM))
            )
            continue
        raw_targets = _obj(subject, data["targets"], f"{field}.targets", frozenset(target_ids))
        targets: dict[str, Decimal | None] = {}
        for lesion_id, mm in raw_targets.items():
            if lesion_id.startswith("_"):
                continue
            targets[lesion_id] = (
                None if mm is None else _mm(subject, mm, f"{field}.targets.{lesion_id}", _MAX_MM)
            )
        scans.append(PrebaselineScan(date, targets, None))
    return tuple(scans)


def parse_clinical(subject: str, value: Any, reference_date: dt.date) -> Clinical | None:
    """``clinical``: ``treatment_failure_date`` (not before ``reference_date``) and
    ``ecog_deterioration_2_months`` (true / false); either may be null or absent."""
    if value is None:
        return None
    data = _obj(subject, value, "clinical", _CLINICAL_KEYS)
    failure: dt.date | None = None
    if data.get("treatment_failure_date") is not None:
        failure = _date(subject, data["treatment_failure_date"], "clinical.treatment_failure_date")
        if failure < reference_date:
            raise InputError(
                subject,
                "clinical.treatment_failure_date",
                f"treatment failure {failure} is before the reference_date {reference_date}",
            )
    ecog = data.get("ecog_deterioration_2_months")
    if ecog is not None and not isinstance(ecog, bool):
        raise InputError(
            subject,
            "clinical.ecog_deterioration_2_months",
            f"expected true, false or null, got {describe_value(ecog)}",
        )
    return Clinical(failure, ecog)


#: Settings typed here (criteria.parse.parse_settings hands them over).
SETTINGS = frozenset({"tgr_month_days", "hyperprogression_definitions"})


def parse_setting(subject: str, key: str, raw: Any) -> object:
    """One of :data:`SETTINGS` -> its typed value."""
    field = f"settings.{key}"
    if key == "tgr_month_days":
        if isinstance(raw, bool) or not isinstance(raw, Decimal | int | float):
            raise InputError(subject, field, f"expected a number of days, got {describe_value(raw)}")
        days = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        if not days.is_finite() or not Decimal(28) <= days <= Decimal(31):
            raise InputError(subject, field, f"a month is 28 to 31 days, got {raw}")
        return days
    if not isinstance(raw, list) or not raw:
        raise InputError(subject, field,
                         f"expected a non-empty list of definition names, got {describe_value(raw)}")
    names: list[str] = []
    for k, name in enumerate(raw):
        if not isinstance(name, str) or name not in HPD_DEFINITIONS:
            raise InputError(
                subject,
                f"{field}[{k}]",
                f"unknown definition {describe_value(name)} (expected one of {', '.join(HPD_DEFINITIONS)})",
            )
        if name not in names:
            names.append(name)
    return tuple(names)
