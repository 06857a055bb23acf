"""Submitted service inputs -> ``criteria.types``, and a thin front of :mod:`trialreads.snapshot`.

Services use the ``*_from_input`` builders to run the criteria package's own validity rules
on what a reader submits (not stored rows yet). Stored rows are mapped to engine inputs in
one place only, :mod:`trialreads.snapshot`; :func:`subject_for_read` and
:func:`baseline_from_timepoint_read` are its entry points for one read's prefetched
instances (the subject page, the per-read preview, the save service's baseline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from criteria.parse import TSTM
from criteria.types import (
    Baseline,
    BaselineNonTarget,
    BaselineTarget,
    NewLesion,
    NonTargetStatus,
    PetLesion,
    PetReference,
    PetScan,
    PrebaselineScan,
    Subject,
    TargetKind,
    TargetMeasurement,
    Timepoint,
)
from trialreads import snapshot
from trialreads.choices import MeasurementState
from trialreads.models import Charter, Read, TimepointRead
from trialreads.snapshot import settings_from_charter

# --- the shapes of submitted inputs (``services.reads``' input dataclasses have them; typed
# by shape so this module does not import the services that call it) -----------------------


class TargetInput(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def organ(self) -> str: ...
    @property
    def value_mm(self) -> Decimal: ...
    @property
    def is_node(self) -> bool: ...
    @property
    def perp_mm(self) -> Decimal | None: ...
    @property
    def long_mm(self) -> Decimal | None: ...


class NonTargetInput(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def organ(self) -> str: ...
    @property
    def is_node(self) -> bool: ...


class TargetValueInput(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def value_mm(self) -> Decimal | None: ...
    @property
    def fragments_mm(self) -> tuple[Decimal, ...]: ...
    @property
    def coalesced_with(self) -> tuple[str, ...]: ...
    @property
    def coalesced_into(self) -> str: ...
    @property
    def perp_mm(self) -> Decimal | None: ...
    @property
    def long_mm(self) -> Decimal | None: ...
    @property
    def fragments_perp_mm(self) -> tuple[Decimal, ...]: ...


class NewLesionInput(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def organ(self) -> str: ...
    @property
    def value_mm(self) -> Decimal | None: ...
    @property
    def is_node(self) -> bool: ...
    @property
    def measurable(self) -> bool: ...
    @property
    def equivocal(self) -> bool: ...
    @property
    def perp_mm(self) -> Decimal | None: ...
    @property
    def long_mm(self) -> Decimal | None: ...


# --- service inputs -----------------------------------------------------------------------


def baseline_targets_from_input(targets: Sequence[TargetInput]) -> tuple[BaselineTarget, ...]:
    return tuple(
        BaselineTarget(
            id=t.code, organ=t.organ, node=t.is_node, mm=t.value_mm, perp_mm=t.perp_mm, long_mm=t.long_mm
        )
        for t in targets
    )


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
        perp_mm=value.perp_mm,
        long_mm=value.long_mm,
        fragments_perp_mm=tuple(value.fragments_perp_mm),
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
        measurable_stated=lesion.measurable,
        perp_mm=lesion.perp_mm,
        long_mm=lesion.long_mm,
    )


class PetLesionInput(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def organ(self) -> str: ...
    @property
    def sul_peak(self) -> Decimal: ...
    @property
    def sul_max(self) -> Decimal | None: ...
    @property
    def tlg(self) -> Decimal | None: ...
    @property
    def value_mm(self) -> Decimal | None: ...


class PetScanInput(Protocol):
    @property
    def reference_site(self) -> str: ...
    @property
    def reference_mean(self) -> Decimal | None: ...
    @property
    def reference_sd(self) -> Decimal | None: ...
    @property
    def uptake_min(self) -> Decimal | None: ...
    @property
    def lesions(self) -> Sequence[PetLesionInput]: ...
    @property
    def unequivocal_progression(self) -> bool: ...
    @property
    def not_done(self) -> bool: ...


def pet_scan_from_input(date: dt.date, scan: PetScanInput, baseline_codes: Iterable[str] | None) -> PetScan:
    """A PET scan as submitted (already checked by ``validation.pet_problems``), as the
    snapshot maps a stored one: a lesion not on the baseline scan (``baseline_codes``; None
    for the baseline scan itself) is new."""
    known = None if baseline_codes is None else set(baseline_codes)
    reference = (
        PetReference(site=scan.reference_site, mean=scan.reference_mean, sd=scan.reference_sd)  # type: ignore[arg-type]
        if not scan.not_done and scan.reference_mean is not None and scan.reference_sd is not None
        else None
    )
    return PetScan(
        date=date,
        reference=reference,
        lesions=tuple(
            PetLesion(
                id=lesion.code,
                organ=lesion.organ.strip(),
                sul_peak=lesion.sul_peak,
                sul_max=lesion.sul_max,
                tlg=lesion.tlg,
                new=known is not None and lesion.code not in known,
                mm=lesion.value_mm,
            )
            for lesion in sorted(scan.lesions, key=lambda lesion: lesion.code)
        ),
        uptake_min=scan.uptake_min,
        unequivocal_progression=scan.unequivocal_progression and not scan.not_done,
        not_done=scan.not_done,
    )


def prebaseline_scan_from_input(
    date: dt.date, targets: Sequence[TargetValueInput], sum_mm: Decimal | None
) -> PrebaselineScan:
    """A pre-baseline scan as submitted: the targets' values (None when not assessed) or the sum."""
    return PrebaselineScan(
        date=date,
        targets={} if sum_mm is not None else {t.code: t.value_mm for t in targets},
        sum_mm=sum_mm,
    )


# --- stored rows: a thin front of ``trialreads.snapshot`` -------------------------------------


def baseline_from_timepoint_read(tr: TimepointRead) -> Baseline:
    """A saved baseline timepoint read (``timepoint`` selected, values and ratings
    prefetched) as the engine's :class:`Baseline` (:mod:`trialreads.snapshot` maps it)."""
    return snapshot.baseline_from_rows(snapshot.timepoint_read_row(tr))


def subject_for_read(
    read: Read, timepoint_reads: Iterable[TimepointRead], charter: Charter | None
) -> Subject:
    """One reader's read as the engine's :class:`Subject`.

    ``timepoint_reads`` are the ones the caller may use (signed only, or drafts too), with
    ``timepoint`` selected and ``measurements__lesion``/``ratings__lesion`` prefetched. Only
    timepoint reads that have been saved count; without a saved baseline there are no
    follow-ups to judge. The rows and the mapping are :mod:`trialreads.snapshot`'s.
    """
    row = snapshot.read_from_instances(read, timepoint_reads)
    subject = snapshot.subject_from_instance(read.subject, {row.slot: row})
    return snapshot.engine_subject(
        subject, row, settings_from_charter(charter), scope=snapshot.scope_from_charter(charter)
    )
