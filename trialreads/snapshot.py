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
    ITRECIST,
    PET_CRITERIA,
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
    PrebaselineScan,
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
    injected: bool = False  # itRECIST: injected at baseline


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
    # issue 15: second diameter (irRC), first injected here (itRECIST), PET values
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None
    fragments_perp_mm: Sequence[Any] = ()
    newly_injected: bool = False
    sul_peak: Decimal | None = None
    sul_max: Decimal | None = None
    tlg: Decimal | None = None

    @property
    def extended(self) -> tuple[Any, ...]:
        """The values of the other criteria's inputs, () when none is set (so the input hash
        of a RECIST-only read is what it was before they existed)."""
        values = (self.perp_mm, self.long_mm, tuple(self.fragments_perp_mm), self.newly_injected,
                  self.sul_peak, self.sul_max, self.tlg)
        return values if any(v not in (None, (), False) for v in values) else ()


class RatingRow(NamedTuple):
    lesion: LesionRow
    status: str  # NonTargetStatus value
    newly_injected: bool = False


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
    is_prebaseline: bool = False
    scan_date_imputation: str = ""  # the rule that imputed the scan dates from the collected one


class PetRow(NamedTuple):
    """A timepoint read's PET scan (``TimepointRead.pet_*``)."""

    reference_site: str
    reference_mean: Decimal | None
    reference_sd: Decimal | None
    uptake_min: Decimal | None
    unequivocal_progression: bool
    not_done: bool


class TimepointReadRow(NamedTuple):
    id: int
    timepoint: TimepointRow
    content_sha256: str
    measurements: tuple[MeasurementRow, ...]
    ratings: tuple[RatingRow, ...]
    pet: PetRow | None = None
    prebaseline_sum_mm: Decimal | None = None


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
    # The sponsor's subject dates the engine does not see (the transfer's ADSL, --DY, EPOCH).
    first_dose_date: dt.date | None = None
    reference_start_date: dt.date | None = None


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
            .values_list(
                "id", "subject_code", "randomisation_date", "death_date", "last_contact_date",
                "first_dose_date", "reference_start_date",
            )
        )  # fmt: skip
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
                "is_prebaseline",
                "scan_date_imputation",
            )
        }
        signed_trs = list(
            TimepointRead.objects.signed()
            .filter(**via("read__subject"), saved_at__isnull=False)
            .values_list(
                "id", "read_id", "timepoint_id", "content_sha256", *PET_COLUMNS, "prebaseline_sum_mm"
            )
        )
        lesions: dict[int, LesionRow] = {}
        lesions_of_read: dict[int, list[LesionRow]] = defaultdict(list)
        for lid, rid, code, kind, organ, node, measurable, first_tp, injected in Lesion.objects.filter(
            **via("read__subject")
        ).values_list(
            "id", "read_id", "lesion_code", "kind", "organ", "is_node", "measurable", "first_timepoint_id",
            "injected",
        ):
            lesion = LesionRow(code, kind, organ, node, measurable, first_tp, injected)
            lesions[lid] = lesion
            lesions_of_read[rid].append(lesion)
        signed_measurements = Measurement.objects.filter(
            signed_q("timepoint_read"), **via("timepoint_read__read__subject")
        )
        # The JSON columns (fragments, coalescence) are decoded only for the few split or
        # coalesced lesions: decoding them on every row costs more than the second query.
        compound = {
            (tr_id, lesion_id): (fragments, with_, fragments_perp)
            for tr_id, lesion_id, fragments, with_, fragments_perp in signed_measurements.filter(
                state__in=(
                    MeasurementState.SPLIT,
                    MeasurementState.COALESCED,
                    MeasurementState.COALESCED_INTO,
                )
            ).values_list(
                "timepoint_read_id", "lesion_id", "fragments_mm", "coalesced_with", "fragments_perp_mm"
            )
        }
        measurements: dict[int, list[MeasurementRow]] = defaultdict(list)
        no_parts: tuple[Sequence[Any], Sequence[str], Sequence[Any]] = ((), (), ())
        value_rows = signed_measurements.values_list(
            "timepoint_read_id", "lesion_id", "state", "value_mm", "coalesced_into", "equivocal", "collected",
            *_OTHER_VALUE_COLUMNS,
        )
        for tr_id, lesion_id, state, value, into, equivocal, collected, *other in value_rows:
            fragments, with_, fragments_perp = compound.get((tr_id, lesion_id), no_parts)
            perp, long, injected, sul_peak, sul_max, tlg = other
            measurements[tr_id].append(
                MeasurementRow(
                    lesions[lesion_id], state, value, fragments, with_, into, equivocal, collected,
                    perp, long, fragments_perp or (), injected, sul_peak, sul_max, tlg,
                )
            )
        ratings: dict[int, list[RatingRow]] = defaultdict(list)
        for tr_id, lesion_id, status, injected in NonTargetRating.objects.filter(
            signed_q("timepoint_read"), **via("timepoint_read__read__subject")
        ).values_list("timepoint_read_id", "lesion_id", "status", "newly_injected"):
            ratings[tr_id].append(RatingRow(lesions[lesion_id], status, injected))
        accepted = {
            sid: slot
            for sid, slot, basis in AcceptedRead.objects.filter(**via("subject")).values_list(
                "subject_id", "read__slot", "basis"
            )
            if basis != AcceptanceBasis.PENDING and slot is not None
        }

        trs_of_read: dict[int, list[TimepointReadRow]] = defaultdict(list)
        for tr_id, rid, tpid, sha, *pet, prebaseline_sum in signed_trs:
            trs_of_read[rid].append(
                TimepointReadRow(
                    tr_id,
                    timepoints[tpid],
                    sha,
                    tuple(measurements.get(tr_id, ())),
                    tuple(ratings.get(tr_id, ())),
                    _pet_row(pet),
                    prebaseline_sum,
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
                    first_dose,
                    reference_start,
                )
                for sid, code, randomised, death, last_contact, first_dose, reference_start in subject_rows
            ),
            timepoints=timepoints,
        )


#: The timepoint read's PET columns, in :class:`PetRow` order.
PET_COLUMNS = (
    "pet_reference_site",
    "pet_reference_mean",
    "pet_reference_sd",
    "pet_uptake_min",
    "pet_unequivocal_progression",
    "pet_not_done",
)
#: The measurement columns of the other criteria, in :class:`MeasurementRow` order.
_OTHER_VALUE_COLUMNS = ("perp_mm", "long_mm", "newly_injected", "sul_peak", "sul_max", "tlg")


def _pet_row(values: Sequence[Any]) -> PetRow | None:
    """The PET scan of a timepoint read, None when none was saved (no site, not "not done")."""
    row = PetRow(*values)
    return row if row.reference_site or row.not_done else None


# --- one read from prefetched instances (drafts included) -------------------------------------


def _lesion_row(lesion: Lesion) -> LesionRow:
    return LesionRow(
        lesion.lesion_code,
        lesion.kind,
        lesion.organ,
        lesion.is_node,
        lesion.measurable,
        lesion.first_timepoint_id,
        lesion.injected,
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
        tp.scan_date_collected,
        tp.is_prebaseline,
        tp.scan_date_imputation,
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
                m.collected,
                m.perp_mm,
                m.long_mm,
                m.fragments_perp_mm or (),
                m.newly_injected,
                m.sul_peak,
                m.sul_max,
                m.tlg,
            )
            for m in measurements
        ),
        tuple(RatingRow(_lesion_row(r.lesion), r.status, r.newly_injected) for r in ratings),
        _pet_row([getattr(tr, column) for column in PET_COLUMNS]),
        tr.prebaseline_sum_mm,
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
        subject.first_dose_date,
        subject.reference_start_date,
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
    simple = not row.fragments_mm and not row.coalesced_with and not row.coalesced_into and not row.extended
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
        perp_mm=row.perp_mm,
        long_mm=row.long_mm,
        fragments_perp_mm=tuple(Decimal(str(f)) for f in row.fragments_perp_mm or ()),
    )
    if simple and len(_simple_targets) < 100_000:
        _simple_targets[(row.state, row.value_mm)] = made
    return made


def baseline_from_rows(tr: TimepointReadRow) -> Baseline:
    """The baseline: measured targets and rated non-targets, by lesion code."""
    targets = sorted(
        (m for m in tr.measurements if m.lesion.kind == LesionKind.TARGET and m.value_mm is not None),
        key=_by_code,
    )
    non_targets = sorted(r.lesion for r in tr.ratings if r.lesion.kind == LesionKind.NON_TARGET)
    return Baseline(
        date=tr.timepoint.scan_date_latest,
        targets=tuple(
            BaselineTarget(
                id=m.lesion.code,
                organ=m.lesion.organ,
                node=m.lesion.node,
                mm=m.value_mm,
                perp_mm=m.perp_mm,
                long_mm=m.long_mm,
            )
            for m in targets
            if m.value_mm is not None
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
                    perp_mm=m.perp_mm,
                    long_mm=m.long_mm,
                    measurable_stated=lesion.measurable,
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


class Scope(NamedTuple):
    """What the charter asks of the engine input beyond RECIST: its criteria and PET tracer."""

    criteria: tuple[str, ...] = ()
    tracer: str = "FDG"


def scope_from_charter(charter: Charter | None) -> Scope:
    if charter is None:
        return NO_SCOPE
    return Scope(tuple(charter.criteria), charter.pet_tracer)


#: The scope without a charter: RECIST input only.
NO_SCOPE = Scope()


def has_engine_input(subject: EngineSubject) -> bool:
    """Whether the mapped read has anything to evaluate: a CT baseline or a PET study."""
    return subject.baseline is not None or subject.pet is not None


def engine_subject(
    subject: SubjectSnapshot,
    read: ReadRow,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    scope: Scope = NO_SCOPE,
) -> EngineSubject:
    """One read of the subject as the engine's :class:`~criteria.types.Subject`; without a
    saved baseline there are no follow-ups to judge (``baseline`` is ``None``).

    ``scope.criteria`` (the charter's) decide what else is mapped: the PET study (``pet``, from the
    timepoint reads' PET scans, the baseline's first) when a PET criterion is named, and then
    the CT baseline and follow-ups only when a CT criterion is named too; the injected /
    non-injected classification (``injection``) for itRECIST. Pre-baseline scans
    (``prebaseline``, by date) are mapped whenever read.

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
    follow_ups = (
        tuple(
            tr
            for tr in read.timepoint_reads
            if not tr.timepoint.is_baseline
            and not tr.timepoint.is_prebaseline
            and (as_of is None or tr.timepoint.scan_date_earliest <= as_of)
        )
        if base is not None
        else ()
    )
    criteria, tracer = scope
    pet_named = any(c in PET_CRITERIA for c in criteria)
    ct_named = not criteria or any(c not in PET_CRITERIA for c in criteria)
    ct_base = base if ct_named else None
    ct_follow_ups = follow_ups if ct_named else ()
    baseline = baseline_from_rows(ct_base) if ct_base is not None else None
    return EngineSubject(
        subject=subject.code,
        reference_date=subject.randomisation_date,
        baseline=baseline,
        timepoints=tuple(timepoint_from_rows(tr) for tr in ct_follow_ups),
        settings=settings,
        death_date=death,
        last_contact_date=last_contact,
        pet=pet_study(base, follow_ups, tracer) if pet_named and base is not None else None,
        injection=injection_from_rows(ct_base, ct_follow_ups) if ITRECIST in criteria and ct_base else None,
        prebaseline=prebaseline_from_rows(read, baseline, as_of) if baseline is not None else (),
    )


def pet_study(
    base: TimepointReadRow, follow_ups: Sequence[TimepointReadRow], tracer: str
) -> PetStudy | None:
    """The PET study of a read: the baseline's PET scan and each later PET scan (None when
    the baseline has none). A lesion first recorded after the baseline is new."""
    if base.pet is None:
        return None
    baseline_tp = base.timepoint.id
    return PetStudy(
        tracer=tracer,
        baseline=_pet_scan(base, baseline_tp),
        timepoints=tuple(_pet_scan(tr, baseline_tp) for tr in follow_ups if tr.pet is not None),
    )


def _pet_scan(tr: TimepointReadRow, baseline_tp: int) -> PetScan:
    pet = tr.pet
    assert pet is not None
    reference = (
        PetReference(site=pet.reference_site, mean=pet.reference_mean, sd=pet.reference_sd)  # type: ignore[arg-type]
        if pet.reference_site and pet.reference_mean is not None and pet.reference_sd is not None
        else None
    )
    return PetScan(
        date=tr.timepoint.scan_date_latest,
        reference=reference,
        lesions=tuple(
            PetLesion(
                id=m.lesion.code,
                organ=m.lesion.organ,
                sul_peak=m.sul_peak,
                sul_max=m.sul_max,
                tlg=m.tlg,
                new=m.lesion.first_timepoint_id != baseline_tp,
                mm=m.value_mm,
            )
            for m in sorted(tr.measurements, key=_by_code)
            if m.lesion.kind == LesionKind.PET and m.sul_peak is not None
        ),
        uptake_min=pet.uptake_min,
        unequivocal_progression=pet.unequivocal_progression,
        not_done=pet.not_done,
    )


def injection_from_rows(base: TimepointReadRow, follow_ups: Sequence[TimepointReadRow]) -> Injection | None:
    """itRECIST's classification: each baseline lesion's injected flag, and per follow-up the
    baseline lesions first injected there (ITR-CLASS); None when the read classified no lesion
    as injected (read before the charter named itRECIST: the engine then says the flags are
    missing, rather than judging every lesion non-injected)."""
    flags = {
        m.lesion.code: m.lesion.injected for m in base.measurements if m.lesion.kind == LesionKind.TARGET
    }
    flags.update(
        (r.lesion.code, r.lesion.injected) for r in base.ratings if r.lesion.kind == LesionKind.NON_TARGET
    )
    later: list[tuple[str, ...]] = []
    for tr in follow_ups:
        codes = {m.lesion.code for m in tr.measurements if m.newly_injected}
        codes.update(r.lesion.code for r in tr.ratings if r.newly_injected)
        later.append(tuple(sorted(codes)))
    if not any(flags.values()) and not any(later):
        return None
    return Injection(baseline=flags, later=tuple(later))


def prebaseline_from_rows(
    read: ReadRow, baseline: Baseline, as_of: dt.date | None = None
) -> tuple[PrebaselineScan, ...]:
    """The read's pre-baseline scans, oldest first: the baseline targets' values there (a
    target not assessed is None) or the sum alone."""
    scans = sorted(
        (
            tr
            for tr in read.timepoint_reads
            if tr.timepoint.is_prebaseline and (as_of is None or tr.timepoint.scan_date_latest <= as_of)
        ),
        key=lambda tr: tr.timepoint.scan_date_latest,
    )
    target_ids = {t.id for t in baseline.targets}
    return tuple(
        PrebaselineScan(
            date=tr.timepoint.scan_date_latest,
            targets={}
            if tr.prebaseline_sum_mm is not None
            else {m.lesion.code: m.value_mm for m in tr.measurements if m.lesion.code in target_ids},
            sum_mm=tr.prebaseline_sum_mm,
        )
        for tr in scans
    )


def input_rows(read: ReadRow) -> list[tuple[Any, ...]]:
    """The plain values a read's engine input is built from (lesions by code, never by id),
    for hashing: exactly the engine's inputs, far cheaper to take than to render them.
    The shape is stable on purpose: it keys stored endpoint runs."""
    return [_input_row(tr) for tr in read.timepoint_reads]


def _input_row(tr: TimepointReadRow) -> tuple[Any, ...]:
    tp = tr.timepoint
    values = sorted(
        (
            _lesion_key(m.lesion),
            (
                m.state, m.value_mm, m.fragments_mm, m.coalesced_with, m.coalesced_into, m.equivocal,
                *m.extended,
            ),
        )
        for m in tr.measurements
    )
    ratings = sorted(
        (_lesion_key(r.lesion), r.status, *((True,) if r.newly_injected else ())) for r in tr.ratings
    )
    visit = (tp.sequence, tp.is_baseline, tp.scan_date_earliest, tp.scan_date_latest)
    row: tuple[Any, ...] = (visit, values, ratings)
    # the other criteria's inputs only when present: a RECIST-only read hashes as before
    if _has_other(tr):
        row += (tp.is_prebaseline, tr.pet, tr.prebaseline_sum_mm, tp.modality)
    return row


def _has_other(tr: TimepointReadRow) -> bool:
    return tr.timepoint.is_prebaseline or tr.pet is not None or tr.prebaseline_sum_mm is not None


def _lesion_key(lesion: LesionRow) -> tuple[Any, ...]:
    key: tuple[Any, ...] = (lesion.code, lesion.kind, lesion.organ, lesion.node, lesion.measurable)
    # itRECIST's flag (and a PET lesion's first timepoint, which makes it new) when they matter
    if lesion.injected:
        key += (True,)
    if lesion.kind == LesionKind.PET:
        key += (lesion.first_timepoint_id,)
    return key
