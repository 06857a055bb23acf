"""The trial snapshot: stored reads -> named rows -> ``criteria.types`` engine inputs.

The single place that maps ORM rows to the engine's inputs (``mappers`` keeps only the
builders from *submitted* service inputs, which are not stored rows yet). Two ways in, one
row shape out:

- :meth:`TrialSnapshot.load` reads the **signed** timepoint reads of a whole trial, or of
  one subject, in a fixed number of queries (:data:`SNAPSHOT_QUERIES`; each filters by a join
  on the trial, never by an ``IN`` list that grows with the trial), as plain value rows
  turned into named rows. Endpoints, adjudication and the exports use it.
- :func:`read_from_instances` turns one read's prefetched ``TimepointRead`` instances (drafts
  included, as the subject page and the per-read preview may show them) into the same rows.

Either way :func:`engine_subject` builds the engine's :class:`~criteria.types.Subject`,
optionally as the data stood at a cut-off date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from criteria.parse import TSTM, parse_settings
from criteria.types import (
    Baseline,
    BaselineNonTarget,
    BaselineTarget,
    NewLesion,
    NonTargetStatus,
    ScanKind,
    Settings,
    TargetKind,
    TargetMeasurement,
    Timepoint,
)
from criteria.types import Subject as EngineSubject
from trialreads.choices import AcceptanceBasis, LesionKind, MeasurementState
from trialreads.models import (
    AcceptedRead,
    Charter,
    ImagingTimepoint,
    Lesion,
    Measurement,
    NonTargetRating,
    Read,
    Subject,
    TimepointRead,
    signed_q,
)

#: Queries of :meth:`TrialSnapshot.load`, whatever the size of the trial.
SNAPSHOT_QUERIES = 9


# --- named rows ------------------------------------------------------------------------------


class LesionRow(NamedTuple):
    code: str
    kind: str  # LesionKind
    organ: str
    node: bool
    measurable: bool
    first_timepoint_id: int | None = None


class MeasurementRow(NamedTuple):
    """One stored measurement of one lesion at one timepoint read: the one shape of a value."""

    lesion: LesionRow
    state: str  # MeasurementState
    value_mm: Decimal | None
    fragments_mm: Sequence[Any]
    coalesced_with: Sequence[str]
    coalesced_into: str
    equivocal: bool
    collected: str = ""  # the result text as collected (a transcribed value), else ""


class RatingRow(NamedTuple):
    lesion: LesionRow
    status: str  # NonTargetStatus value


class TimepointRow(NamedTuple):
    id: int
    sequence: int
    visit_number: Decimal
    visit_label: str
    is_baseline: bool
    modality: str
    scan_date_earliest: dt.date
    scan_date_latest: dt.date
    scan_date_collected: str = ""  # a partial date as collected (e.g. "2014-02"), else ""


class TimepointReadRow(NamedTuple):
    id: int
    timepoint: TimepointRow
    content_sha256: str
    measurements: tuple[MeasurementRow, ...]
    ratings: tuple[RatingRow, ...]


class ReadRow(NamedTuple):
    id: int
    slot: int
    lesions: tuple[LesionRow, ...]
    timepoint_reads: tuple[TimepointReadRow, ...]  # saved ones only, in visit order


class SubjectSnapshot(NamedTuple):
    id: int
    code: str
    randomisation_date: dt.date
    death_date: dt.date | None
    last_contact_date: dt.date | None
    reads: Mapping[int, ReadRow]  # slot -> read
    accepted_slot: int | None  # None while no read is accepted (pending / not yet compared)


class TrialSnapshot(NamedTuple):
    """The signed state of a trial (or of one of its subjects)."""

    subjects: tuple[SubjectSnapshot, ...]  # by subject code
    timepoints: Mapping[int, TimepointRow]  # every imaging timepoint of the subjects, by id

    @classmethod
    def load(cls, trial_id: int, *, subject_id: int | None = None) -> TrialSnapshot:
        """Every subject of the trial (or only ``subject_id``) with its reads' signed, saved
        timepoint reads, lesions, values and ratings: :data:`SNAPSHOT_QUERIES` queries."""
        scope: dict[str, Any] = {"trial_id": trial_id}
        if subject_id is not None:
            scope["pk"] = subject_id

        def via(path: str) -> dict[str, Any]:
            return {f"{path}{'__' if path else ''}{'id' if k == 'pk' else k}": v for k, v in scope.items()}

        subject_rows = list(
            Subject.objects.filter(**scope)
            .order_by("subject_code")
            .values_list("id", "subject_code", "randomisation_date", "death_date", "last_contact_date")
        )
        reads = list(Read.objects.filter(**via("subject")).values_list("id", "subject_id", "slot"))
        timepoints = {
            row[0]: TimepointRow(*row)
            for row in ImagingTimepoint.objects.filter(**via("subject")).values_list(
                "id",
                "sequence",
                "visit_number",
                "visit_label",
                "is_baseline",
                "modality",
                "scan_date_earliest",
                "scan_date_latest",
                "scan_date_collected",
            )
        }
        signed_trs = list(
            TimepointRead.objects.signed()
            .filter(**via("read__subject"), saved_at__isnull=False)
            .values_list("id", "read_id", "timepoint_id", "content_sha256")
        )
        lesions: dict[int, LesionRow] = {}
        lesions_of_read: dict[int, list[LesionRow]] = defaultdict(list)
        for lid, rid, code, kind, organ, node, measurable, first_tp in Lesion.objects.filter(
            **via("read__subject")
        ).values_list(
            "id", "read_id", "lesion_code", "kind", "organ", "is_node", "measurable", "first_timepoint_id"
        ):
            lesion = LesionRow(code, kind, organ, node, measurable, first_tp)
            lesions[lid] = lesion
            lesions_of_read[rid].append(lesion)
        signed_measurements = Measurement.objects.filter(
            signed_q("timepoint_read"), **via("timepoint_read__read__subject")
        )
        # The JSON columns (fragments, coalescence) are decoded only for the few split or
        # coalesced lesions: decoding them on every row costs more than the second query.
        compound = {
            (tr_id, lesion_id): (fragments, with_)
            for tr_id, lesion_id, fragments, with_ in signed_measurements.filter(
                state__in=(
                    MeasurementState.SPLIT,
                    MeasurementState.COALESCED,
                    MeasurementState.COALESCED_INTO,
                )
            ).values_list("timepoint_read_id", "lesion_id", "fragments_mm", "coalesced_with")
        }
        measurements: dict[int, list[MeasurementRow]] = defaultdict(list)
        no_parts: tuple[Sequence[Any], Sequence[str]] = ((), ())
        for tr_id, lesion_id, state, value, into, equivocal, collected in signed_measurements.values_list(
            "timepoint_read_id", "lesion_id", "state", "value_mm", "coalesced_into", "equivocal", "collected"
        ):
            fragments, with_ = compound.get((tr_id, lesion_id), no_parts)
            measurements[tr_id].append(
                MeasurementRow(lesions[lesion_id], state, value, fragments, with_, into, equivocal, collected)
            )
        ratings: dict[int, list[RatingRow]] = defaultdict(list)
        for tr_id, lesion_id, status in NonTargetRating.objects.filter(
            signed_q("timepoint_read"), **via("timepoint_read__read__subject")
        ).values_list("timepoint_read_id", "lesion_id", "status"):
            ratings[tr_id].append(RatingRow(lesions[lesion_id], status))
        accepted = {
            sid: slot
            for sid, slot, basis in AcceptedRead.objects.filter(**via("subject")).values_list(
                "subject_id", "read__slot", "basis"
            )
            if basis != AcceptanceBasis.PENDING and slot is not None
        }

        trs_of_read: dict[int, list[TimepointReadRow]] = defaultdict(list)
        for tr_id, rid, tpid, sha in signed_trs:
            trs_of_read[rid].append(
                TimepointReadRow(
                    tr_id,
                    timepoints[tpid],
                    sha,
                    tuple(measurements.get(tr_id, ())),
                    tuple(ratings.get(tr_id, ())),
                )
            )
        reads_of_subject: dict[int, dict[int, ReadRow]] = defaultdict(dict)
        for rid, sid, slot in sorted(reads, key=lambda r: (r[1], r[2])):
            reads_of_subject[sid][slot] = ReadRow(
                rid,
                slot,
                tuple(lesions_of_read.get(rid, ())),
                tuple(sorted(trs_of_read.get(rid, ()), key=lambda tr: tr.timepoint.sequence)),
            )
        return cls(
            subjects=tuple(
                SubjectSnapshot(
                    sid,
                    code,
                    randomised,
                    death,
                    last_contact,
                    reads_of_subject.get(sid, {}),
                    accepted.get(sid),
                )
                for sid, code, randomised, death, last_contact in subject_rows
            ),
            timepoints=timepoints,
        )


# --- one read from prefetched instances (drafts included) -------------------------------------


def _lesion_row(lesion: Lesion) -> LesionRow:
    return LesionRow(
        lesion.lesion_code,
        lesion.kind,
        lesion.organ,
        lesion.is_node,
        lesion.measurable,
        lesion.first_timepoint_id,
    )


def _timepoint_row(tp: ImagingTimepoint) -> TimepointRow:
    return TimepointRow(
        tp.pk,
        tp.sequence,
        tp.visit_number,
        tp.visit_label,
        tp.is_baseline,
        tp.modality,
        tp.scan_date_earliest,
        tp.scan_date_latest,
    )


def timepoint_read_row(tr: TimepointRead) -> TimepointReadRow:
    """A timepoint read with ``timepoint`` selected and ``measurements__lesion`` /
    ``ratings__lesion`` prefetched, as a row (no query)."""
    measurements: Iterable[Measurement] = tr.measurements.all()
    ratings: Iterable[NonTargetRating] = tr.ratings.all()
    return TimepointReadRow(
        tr.pk,
        _timepoint_row(tr.timepoint),
        tr.content_sha256,
        tuple(
            MeasurementRow(
                _lesion_row(m.lesion),
                m.state,
                m.value_mm,
                m.fragments_mm or (),
                m.coalesced_with or (),
                m.coalesced_into,
                m.equivocal,
            )
            for m in measurements
        ),
        tuple(RatingRow(_lesion_row(r.lesion), r.status) for r in ratings),
    )


def read_from_instances(read: Read, timepoint_reads: Iterable[TimepointRead]) -> ReadRow:
    """One read from the timepoint reads the caller may use (signed only, or drafts too),
    prefetched as :func:`timepoint_read_row` needs; only saved ones count."""
    saved = sorted(
        (tr for tr in timepoint_reads if tr.saved_at is not None), key=lambda tr: tr.timepoint.sequence
    )
    return ReadRow(read.pk, read.slot, (), tuple(timepoint_read_row(tr) for tr in saved))


def subject_from_instance(subject: Subject, reads: Mapping[int, ReadRow]) -> SubjectSnapshot:
    return SubjectSnapshot(
        subject.pk,
        subject.subject_code,
        subject.randomisation_date,
        subject.death_date,
        subject.last_contact_date,
        reads,
        None,
    )


# --- rows -> engine inputs ---------------------------------------------------------------------


def settings_from_charter(charter: Charter | None) -> Settings:
    """The engine settings of a charter: its ``engine_settings`` object read by the engine's
    own parser (``criteria.parse.parse_settings``, as the CLI reads ``settings``), then the
    charter's own columns (SD duration, confirmation interval, iRECIST window).

    The columns are applied last, so they take priority; ``engine_settings`` may not name
    those settings anyway (``services.trials.engine_settings_check`` refuses them), so the
    order only matters for a row written around the service. An empty ``engine_settings``
    (every charter before it existed) gives exactly the settings of the columns alone."""
    if charter is None:
        return Settings()
    base = parse_settings(charter.engine_settings) if charter.engine_settings else Settings()
    return dataclasses.replace(
        base,
        sd_min_days=charter.sd_min_days,
        confirm_min_days=charter.confirm_min_days,
        irecist_confirm_window_days=(charter.irecist_window_min_days, charter.irecist_window_max_days),
    )


_TARGET_KIND = {state: TargetKind(state.lower()) for state in MeasurementState.values}


_simple_targets: dict[tuple[str, Decimal | None], TargetMeasurement] = {}


def target_measurement(row: MeasurementRow) -> TargetMeasurement:
    """A stored target measurement (too small to measure keeps its raw ``TSTM``). The plain
    cases (no fragments, no coalescence) are frozen values, shared (a bounded memo: a large
    trial repeats the same few hundred)."""
    simple = not row.fragments_mm and not row.coalesced_with and not row.coalesced_into
    if simple:
        cached = _simple_targets.get((row.state, row.value_mm))
        if cached is not None:
            return cached
    made = TargetMeasurement(
        kind=_TARGET_KIND[row.state],
        mm=row.value_mm,
        fragments_mm=tuple(Decimal(str(f)) for f in row.fragments_mm or ()),
        coalesced_with=tuple(row.coalesced_with or ()),
        coalesced_into=row.coalesced_into or None,
        raw=TSTM if row.state == MeasurementState.TOO_SMALL else None,
    )
    if simple and len(_simple_targets) < 100_000:
        _simple_targets[(row.state, row.value_mm)] = made
    return made


def baseline_from_rows(tr: TimepointReadRow) -> Baseline:
    """The baseline: measured targets and rated non-targets, by lesion code."""
    targets = sorted((m.lesion, m.value_mm) for m in tr.measurements if m.lesion.kind == LesionKind.TARGET)
    non_targets = sorted(r.lesion for r in tr.ratings if r.lesion.kind == LesionKind.NON_TARGET)
    return Baseline(
        date=tr.timepoint.scan_date_latest,
        targets=tuple(
            BaselineTarget(id=lesion.code, organ=lesion.organ, node=lesion.node, mm=value)
            for lesion, value in targets
            if value is not None
        ),
        non_targets=tuple(
            BaselineNonTarget(id=lesion.code, organ=lesion.organ, node=lesion.node) for lesion in non_targets
        ),
    )


def _by_code(row: MeasurementRow | RatingRow) -> str:
    return row.lesion.code


def timepoint_from_rows(tr: TimepointReadRow) -> Timepoint:
    """A follow-up: target measurements, non-target statuses and new lesions, by code."""
    targets: dict[str, TargetMeasurement] = {}
    new_lesions: list[NewLesion] = []
    for m in sorted(tr.measurements, key=_by_code):
        lesion = m.lesion
        if lesion.kind == LesionKind.TARGET:
            targets[lesion.code] = target_measurement(m)
        elif lesion.kind == LesionKind.NEW:
            new_lesions.append(
                NewLesion(
                    id=lesion.code,
                    organ=lesion.organ,
                    node=lesion.node,
                    mm=m.value_mm,
                    measurable=lesion.measurable,
                    equivocal=m.equivocal,
                )
            )
    non_targets = {
        r.lesion.code: NonTargetStatus(r.status)
        for r in sorted(tr.ratings, key=_by_code)
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


def engine_subject(
    subject: SubjectSnapshot, read: ReadRow, settings: Settings, *, as_of: dt.date | None = None
) -> EngineSubject:
    """One read of the subject as the engine's :class:`~criteria.types.Subject`; without a
    saved baseline there are no follow-ups to judge (``baseline`` is ``None``).

    ``as_of``: the data as it stood at the cut-off: the visits whose imaging began on or
    before it (the earliest scan date, the date a progression counts from, §3.3), a death
    after it unknown, the last contact no later than it; no baseline when the baseline's
    scan is after it.
    """
    base = next((tr for tr in read.timepoint_reads if tr.timepoint.is_baseline), None)
    death, last_contact = subject.death_date, subject.last_contact_date
    if as_of is not None:
        if base is not None and base.timepoint.scan_date_latest > as_of:
            base = None
        death = death if death and death <= as_of else None
        last_contact = min(last_contact, as_of) if last_contact else None
    return EngineSubject(
        subject=subject.code,
        reference_date=subject.randomisation_date,
        baseline=baseline_from_rows(base) if base is not None else None,
        timepoints=tuple(
            timepoint_from_rows(tr)
            for tr in read.timepoint_reads
            if not tr.timepoint.is_baseline and (as_of is None or tr.timepoint.scan_date_earliest <= as_of)
        )
        if base is not None
        else (),
        settings=settings,
        death_date=death,
        last_contact_date=last_contact,
    )


def input_rows(read: ReadRow) -> list[tuple[Any, ...]]:
    """The plain values a read's engine input is built from (lesions by code, never by id),
    for hashing: exactly the engine's inputs, far cheaper to take than to render them.
    The shape is stable on purpose: it keys stored endpoint runs."""
    return [
        (
            (tp.sequence, tp.is_baseline, tp.scan_date_earliest, tp.scan_date_latest),
            sorted(
                (
                    _lesion_key(m.lesion),
                    (m.state, m.value_mm, m.fragments_mm, m.coalesced_with, m.coalesced_into, m.equivocal),
                )
                for m in tr.measurements
            ),
            sorted((_lesion_key(r.lesion), r.status) for r in tr.ratings),
        )
        for tr in read.timepoint_reads
        for tp in (tr.timepoint,)
    ]


def _lesion_key(lesion: LesionRow) -> tuple[str, str, str, bool, bool]:
    return (lesion.code, lesion.kind, lesion.organ, lesion.node, lesion.measurable)
