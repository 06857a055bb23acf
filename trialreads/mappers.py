"""ORM rows (and service inputs) -> ``criteria.types``: the single place that knows both shapes.

Services use the ``*_from_input`` builders to run the criteria package's own validity rules
on what a reader submits; selectors use :func:`subject_for_read` to evaluate a read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

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
    from trialreads.models import Charter, Measurement, NonTargetRating, Read, TimepointRead
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
        raw="TSTM" if value.state == MeasurementState.TOO_SMALL else None,
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


# --- ORM rows ---------------------------------------------------------------------------


def _target_measurement(m: Measurement) -> TargetMeasurement:
    return TargetMeasurement(
        kind=TargetKind(m.state.lower()),
        mm=m.value_mm,
        fragments_mm=tuple(Decimal(str(f)) for f in m.fragments_mm),
        coalesced_with=tuple(m.coalesced_with),
        coalesced_into=m.coalesced_into or None,
        raw="TSTM" if m.state == MeasurementState.TOO_SMALL else None,
    )


def baseline_from_timepoint_read(tr: TimepointRead) -> Baseline:
    measurements: Iterable[Measurement] = tr.measurements.all()
    ratings: Iterable[NonTargetRating] = tr.ratings.all()
    targets = sorted(
        (m for m in measurements if m.lesion.kind == LesionKind.TARGET), key=lambda m: m.lesion.lesion_code
    )
    non_targets = sorted(
        (r for r in ratings if r.lesion.kind == LesionKind.NON_TARGET), key=lambda r: r.lesion.lesion_code
    )
    return Baseline(
        date=tr.timepoint.scan_date_latest,
        targets=tuple(
            BaselineTarget(
                id=m.lesion.lesion_code, organ=m.lesion.organ, node=m.lesion.is_node, mm=m.value_mm
            )
            for m in targets
            if m.value_mm is not None
        ),
        non_targets=tuple(
            BaselineNonTarget(id=r.lesion.lesion_code, organ=r.lesion.organ, node=r.lesion.is_node)
            for r in non_targets
        ),
    )


def timepoint_from_timepoint_read(tr: TimepointRead) -> Timepoint:
    targets: dict[str, TargetMeasurement] = {}
    new_lesions: list[NewLesion] = []
    for m in sorted(tr.measurements.all(), key=lambda m: m.lesion.lesion_code):
        if m.lesion.kind == LesionKind.TARGET:
            targets[m.lesion.lesion_code] = _target_measurement(m)
        elif m.lesion.kind == LesionKind.NEW:
            new_lesions.append(
                NewLesion(
                    id=m.lesion.lesion_code,
                    organ=m.lesion.organ,
                    node=m.lesion.is_node,
                    mm=m.value_mm,
                    measurable=m.lesion.measurable,
                    equivocal=m.equivocal,
                )
            )
    non_targets = {
        r.lesion.lesion_code: NonTargetStatus(r.status)
        for r in sorted(tr.ratings.all(), key=lambda r: r.lesion.lesion_code)
        if r.lesion.kind == LesionKind.NON_TARGET
    }
    tp = tr.timepoint
    return Timepoint(
        date=tp.scan_date_latest,
        scan=ScanKind.SCHEDULED,
        targets=targets,
        non_targets=non_targets,
        new_lesions=tuple(new_lesions),
        scan_dates=(tp.scan_date_earliest, tp.scan_date_latest),
    )


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
