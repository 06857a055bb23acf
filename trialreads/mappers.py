"""ORM rows (and service inputs) -> ``criteria.types``: the single place that knows both shapes.

Services use the ``*_from_input`` builders to run the criteria package's own validity rules
on what a reader submits; selectors use :func:`subject_for_read` to evaluate a read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from criteria.parse import TSTM
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
from trialreads.choices import LesionKind, MeasurementState

if TYPE_CHECKING:
    from trialreads.models import Charter, Lesion, Measurement, NonTargetRating, Read, TimepointRead
    from trialreads.services.reads import NewLesionInput, NonTargetInput, TargetInput, TargetValueInput


def settings_from_charter(charter: Charter | None) -> Settings:
    if charter is None:
        return Settings()
    return Settings(
        sd_min_days=charter.sd_min_days,
        confirm_min_days=charter.confirm_min_days,
        irecist_confirm_window_days=(charter.irecist_window_min_days, charter.irecist_window_max_days),
    )


# --- service inputs -----------------------------------------------------------------------


def baseline_targets_from_input(targets: Sequence[TargetInput]) -> tuple[BaselineTarget, ...]:
    return tuple(BaselineTarget(id=t.code, organ=t.organ, node=t.is_node, mm=t.value_mm) for t in targets)


def baseline_non_targets_from_input(non_targets: Sequence[NonTargetInput]) -> tuple[BaselineNonTarget, ...]:
    return tuple(BaselineNonTarget(id=n.code, organ=n.organ, node=n.is_node) for n in non_targets)


def target_measurement_from_input(value: TargetValueInput) -> TargetMeasurement:
    return TargetMeasurement(
        kind=TargetKind(value.state.lower()),
        mm=value.value_mm,
        fragments_mm=tuple(value.fragments_mm),
        coalesced_with=tuple(value.coalesced_with),
        coalesced_into=value.coalesced_into or None,
        raw=TSTM if value.state == MeasurementState.TOO_SMALL else None,
    )


def timepoint_from_input(
    date: dt.date,
    targets: Sequence[TargetValueInput],
    non_targets: Mapping[str, str],
    new_lesions: Sequence[NewLesionInput],
) -> Timepoint:
    """A follow-up as submitted (already shape-checked), for the criteria validity rules."""
    return Timepoint(
        date=date,
        targets={t.code: target_measurement_from_input(t) for t in targets},
        non_targets={code: NonTargetStatus(status) for code, status in non_targets.items()},
        new_lesions=tuple(new_lesion_from_input(n) for n in new_lesions),
    )


def new_lesion_from_input(lesion: NewLesionInput) -> NewLesion:
    return NewLesion(
        id=lesion.code,
        organ=lesion.organ,
        node=lesion.is_node,
        mm=lesion.value_mm,
        measurable=lesion.measurable,
        equivocal=lesion.equivocal,
    )


# --- value rows: the one mapping from stored lesions, measurements and ratings ----------------

#: A lesion as the engine needs it: (lesion code, kind, organ, is node, measurable).
LesionRow = tuple[str, str, str, bool, bool]
#: A measurement: (lesion, state, value mm, fragments mm, coalesced with, coalesced into,
#: equivocal). Plain values, so the bulk loader (``services.endpoints``) can build them
#: straight from ``values_list`` rows and the per-read path from model instances.
MeasurementRow = tuple[LesionRow, str, Decimal | None, Any, Any, str, bool]
#: A non-target rating: (lesion, status).
RatingRow = tuple[LesionRow, str]

_TARGET_KIND = {state: TargetKind(state.lower()) for state in MeasurementState.values}
_simple_targets: dict[tuple[str, Decimal | None], TargetMeasurement] = {}


def target_measurement_from_row(
    state: str, value: Decimal | None, fragments: Any, with_: Any, into: str
) -> TargetMeasurement:
    """A stored target measurement. The plain cases (no fragments, no coalescence) are
    frozen values, shared (a bounded memo: a large trial repeats the same few hundred)."""
    simple = not fragments and not with_ and not into
    if simple:
        cached = _simple_targets.get((state, value))
        if cached is not None:
            return cached
    made = TargetMeasurement(
        kind=_TARGET_KIND[state],
        mm=value,
        fragments_mm=tuple(Decimal(str(f)) for f in fragments or ()),
        coalesced_with=tuple(with_ or ()),
        coalesced_into=into or None,
        raw=TSTM if state == MeasurementState.TOO_SMALL else None,
    )
    if simple and len(_simple_targets) < 100_000:
        _simple_targets[(state, value)] = made
    return made


def baseline_from_rows(
    date: dt.date, measurements: Iterable[MeasurementRow], ratings: Iterable[RatingRow]
) -> Baseline:
    """The baseline: measured targets and rated non-targets, by lesion code."""
    targets = sorted((m[0], m[2]) for m in measurements if m[0][1] == LesionKind.TARGET)
    non_targets = sorted(lesion for lesion, _ in ratings if lesion[1] == LesionKind.NON_TARGET)
    return Baseline(
        date=date,
        targets=tuple(
            BaselineTarget(id=lesion[0], organ=lesion[2], node=lesion[3], mm=value)
            for lesion, value in targets
            if value is not None
        ),
        non_targets=tuple(
            BaselineNonTarget(id=lesion[0], organ=lesion[2], node=lesion[3]) for lesion in non_targets
        ),
    )


def _by_code(row: MeasurementRow | RatingRow) -> str:
    return row[0][0]


def timepoint_from_rows(
    earliest: dt.date,
    latest: dt.date,
    measurements: Iterable[MeasurementRow],
    ratings: Iterable[RatingRow],
) -> Timepoint:
    """A follow-up: target measurements, non-target statuses and new lesions, by code."""
    targets: dict[str, TargetMeasurement] = {}
    new_lesions: list[NewLesion] = []
    for lesion, state, value, fragments, with_, into, equivocal in sorted(measurements, key=_by_code):
        code, kind, organ, node, measurable = lesion
        if kind == LesionKind.TARGET:
            targets[code] = target_measurement_from_row(state, value, fragments, with_, into)
        elif kind == LesionKind.NEW:
            new_lesions.append(
                NewLesion(
                    id=code, organ=organ, node=node, mm=value, measurable=measurable, equivocal=equivocal
                )
            )
    non_targets = {
        lesion[0]: NonTargetStatus(status)
        for lesion, status in sorted(ratings, key=_by_code)
        if lesion[1] == LesionKind.NON_TARGET
    }
    return Timepoint(
        date=latest,
        scan=ScanKind.SCHEDULED,
        targets=targets,
        non_targets=non_targets,
        new_lesions=tuple(new_lesions),
        scan_dates=(earliest, latest),
    )


# --- ORM instances (one read, prefetched) -------------------------------------------------


def _lesion_row(lesion: Lesion) -> LesionRow:
    return (lesion.lesion_code, lesion.kind, lesion.organ, lesion.is_node, lesion.measurable)


def _measurement_rows(tr: TimepointRead) -> list[MeasurementRow]:
    measurements: Iterable[Measurement] = tr.measurements.all()
    return [
        (
            _lesion_row(m.lesion),
            m.state,
            m.value_mm,
            m.fragments_mm,
            m.coalesced_with,
            m.coalesced_into,
            m.equivocal,
        )
        for m in measurements
    ]


def _rating_rows(tr: TimepointRead) -> list[RatingRow]:
    ratings: Iterable[NonTargetRating] = tr.ratings.all()
    return [(_lesion_row(r.lesion), r.status) for r in ratings]


def baseline_from_timepoint_read(tr: TimepointRead) -> Baseline:
    return baseline_from_rows(tr.timepoint.scan_date_latest, _measurement_rows(tr), _rating_rows(tr))


def timepoint_from_timepoint_read(tr: TimepointRead) -> Timepoint:
    tp = tr.timepoint
    measurements, ratings = _measurement_rows(tr), _rating_rows(tr)
    return timepoint_from_rows(tp.scan_date_earliest, tp.scan_date_latest, measurements, ratings)


def subject_for_read(
    read: Read, timepoint_reads: Iterable[TimepointRead], charter: Charter | None
) -> Subject:
    """One reader's read as the engine's :class:`Subject`.

    ``timepoint_reads`` are the ones the caller may use (signed only, or drafts too), with
    ``timepoint`` selected and ``measurements__lesion``/``ratings__lesion`` prefetched. Only
    timepoint reads that have been saved count; without a saved baseline there are no
    follow-ups to judge.
    """
    ordered = sorted(
        (tr for tr in timepoint_reads if tr.saved_at is not None), key=lambda tr: tr.timepoint.sequence
    )
    baseline_tr = next((tr for tr in ordered if tr.timepoint.is_baseline), None)
    subject = read.subject
    return Subject(
        subject=subject.subject_code,
        reference_date=subject.randomisation_date,
        baseline=baseline_from_timepoint_read(baseline_tr) if baseline_tr is not None else None,
        timepoints=tuple(timepoint_from_timepoint_read(tr) for tr in ordered if not tr.timepoint.is_baseline)
        if baseline_tr is not None
        else (),
        settings=settings_from_charter(charter),
        death_date=subject.death_date,
        last_contact_date=subject.last_contact_date,
    )
