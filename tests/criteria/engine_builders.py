"""Small builders for the engine tests: criteria types straight from short literals.

Dates count in days from the baseline (2024-01-01). Target values follow the contract:
a number (mm), ``"TSTM"``, ``None`` (not assessed) or a ready :class:`TargetMeasurement`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

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
    TimepointResult,
)

BASE_DATE = dt.date(2024, 1, 1)
TargetValue = int | str | Decimal | TargetMeasurement | None


def d(value: int | str | Decimal) -> Decimal:
    return Decimal(str(value))


def day(n: int) -> dt.date:
    return BASE_DATE + dt.timedelta(days=n)


def target(lesion_id: str, mm: int | str, organ: str = "", node: bool = False) -> BaselineTarget:
    return BaselineTarget(lesion_id, organ or f"organ-{lesion_id}", node, d(mm))


def non_target(lesion_id: str, organ: str = "bone", node: bool = False) -> BaselineNonTarget:
    return BaselineNonTarget(lesion_id, organ, node)


def measurement(value: TargetValue) -> TargetMeasurement:
    if isinstance(value, TargetMeasurement):
        return value
    if value is None:
        return TargetMeasurement(TargetKind.NOT_ASSESSED, None)
    if value == "TSTM":
        return TargetMeasurement(TargetKind.TOO_SMALL, d(5), raw="TSTM")
    assert not isinstance(value, str) or value.replace(".", "").isdigit()
    return TargetMeasurement(TargetKind.MEASURED, d(value))


def split(*fragments: int | str) -> TargetMeasurement:
    parts = tuple(d(x) for x in fragments)
    return TargetMeasurement(TargetKind.SPLIT, sum(parts, Decimal(0)), fragments_mm=parts)


def coalesced(mm: int | str, *others: str) -> TargetMeasurement:
    return TargetMeasurement(TargetKind.COALESCED, d(mm), coalesced_with=others)


def coalesced_into(into: str, mm: int | str = 0) -> TargetMeasurement:
    return TargetMeasurement(TargetKind.COALESCED_INTO, d(mm), coalesced_into=into)


def new(
    lesion_id: str,
    mm: int | str | None,
    organ: str = "lung",
    node: bool = False,
    measurable: bool | None = None,
    equivocal: bool = False,
) -> NewLesion:
    size = None if mm is None else d(mm)
    if measurable is None:
        measurable = size is not None and size >= (15 if node else 10)
    return NewLesion(lesion_id, organ, node, size, measurable, equivocal)


def visit(
    days: int,
    targets: Mapping[str, TargetValue] | None = None,
    nt: Mapping[str, str] | None = None,
    new_lesions: tuple[NewLesion, ...] | list[NewLesion] = (),
    scan: ScanKind = ScanKind.SCHEDULED,
) -> Timepoint:
    return Timepoint(
        date=day(days),
        scan=scan,
        targets={k: measurement(v) for k, v in (targets or {}).items()},
        non_targets={k: NonTargetStatus(v) for k, v in (nt or {}).items()},
        new_lesions=tuple(new_lesions),
    )


def not_done(days: int) -> Timepoint:
    return Timepoint(date=day(days), scan=ScanKind.NOT_DONE)


def subject(
    targets: list[BaselineTarget],
    timepoints: list[Timepoint],
    non_targets: list[BaselineNonTarget] | None = None,
    **settings: Any,
) -> Subject:
    return Subject(
        subject="S-TEST",
        reference_date=BASE_DATE,
        timepoints=tuple(timepoints),
        baseline=Baseline(BASE_DATE, tuple(targets), tuple(non_targets or ())),
        settings=dataclasses.replace(Settings(), **settings),
    )


def sums_subject(baseline_mm: int | str, sums: list[int | str | None], **settings: Any) -> Subject:
    """One non-nodal target whose value is the sum; visits every 8 weeks."""
    return subject(
        [target("T1", baseline_mm, "liver")],
        [visit(56 * (i + 1), {"T1": s}) for i, s in enumerate(sums)],
        **settings,
    )


def overall(results: tuple[TimepointResult, ...]) -> list[str]:
    return [r.overall for r in results]
