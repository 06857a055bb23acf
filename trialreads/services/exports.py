"""Sponsor exports: the ORM and the endpoint results of a finished job -> the exports
package's input dataclasses -> SDTM TU/TR/RS + ADaM ADRS/ADTTE as XPT, CSV and a manifest
under ``MEDIA_ROOT/exports/<batch id>/``.

Deterministic: the same data gives the same bytes (reliability-tests T-CEL-DETERMINISM,
§10.8). The transfer's timestamp is therefore derived from the data (midnight UTC after
the latest scan date, "data as of"), not from the wall clock; the wall-clock time of the
request is on the :class:`~trialreads.models.ExportBatch` row and in the audit trail. The
audit chain head (which changes with every event) is recorded in the batch's audit event
and, unless ``include_chain_head=False``, in ``manifest.json``.

Only subjects with an accepted read (concordant by rule, or chosen by the adjudicator)
and no failed run are exported; the others are listed in the batch's ``reason``.

A batch's folder appears whole or not at all (:func:`export_build`: staged, checked,
renamed in the finishing transaction), and a batch never stays RUNNING for good: a build
that fails marks it FAILED with the reason, one whose worker died is taken over through
the lease (``services.leases.lease_claim`` with :data:`EXPORT_LEASE`) when its task is
redelivered or the batch is requested again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.db import OperationalError, transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from criteria.types import ITRECIST, CriterionResult, ExtraValue
from trialreads import access, conf
from trialreads.bulk import children_allowed, fork_processes, gc_paused
from trialreads.choices import AcceptanceBasis, AuditEventType, LesionKind, MeasurementState, Modality
from trialreads.endpoint_results import (
    EVALUATOR_BY_SLOT,
    analyses_from_json,
    job_analyses,
    job_runs,
    latest_done_job,
    result_from_json,
)
from trialreads.errors import Conflict, NotFound, ValidationError
from trialreads.evaluation import evaluate_each
from trialreads.exports.criteria_codes import REFERENCE_LOCATION
from trialreads.exports.datasets import (
    Evaluator,
    ExportLesion,
    ExportStudy,
    ExportSubject,
    LesionResult,
    LesionRole,
    MeasurementStatus,
    ReaderRead,
    ReaderTimepoint,
    build_transfer,
)
from trialreads.exports.package import (
    MANIFEST_NAME,
    OLD_INFIX,
    STAGING_INFIX,
    publish,
    render_study,
    stage_files,
    write_files,
)
from trialreads.exports.spec import Dataset
from trialreads.models import (
    AcceptedRead,
    Subject,
)
from trialreads.models.audit import ChainHead
from trialreads.models.endpoint import EndpointJob, ExportBatch, JobStatus
from trialreads.services.audit import audit_record
from trialreads.services.endpoint_inputs import load_trial_inputs
from trialreads.services.leases import LeaseKind, LeaseLost, lease_claim, lease_renew, worker_identity
from trialreads.services.queue import enqueue_export
from trialreads.snapshot import (
    LesionRow,
    MeasurementRow,
    RatingRow,
    ReadRow,
    TimepointReadRow,
    TimepointRow,
    TrialSnapshot,
    engine_subject,
    has_engine_input,
    scope_from_charter,
    settings_from_charter,
)

logger = logging.getLogger(__name__)

#: The export batch's lease: a batch given up on is audited as ``EXPORT_CREATED``.
EXPORT_LEASE = LeaseKind(ExportBatch, AuditEventType.EXPORT_CREATED, "export_batch")
#: Version of this mapping; part of an export batch's key.
#: 2: every criterion, the new TR tests, SUPPTU/SUPPTR, per-criterion manifest; 3: ADSL, --DY and
#: EPOCH when given, define.xml
EXPORT_MAPPING_VERSION = "3"
#: Progress steps of a batch (``done``/``total``): the study loaded; every dataset built,
#: checked and encoded; the files written and the batch finished. Each step renews the
#: build's lease.
EXPORT_STEPS = 3

_EVALUATOR = {e.value: e for e in Evaluator}
_ROLE = {
    LesionKind.TARGET: LesionRole.TARGET,
    LesionKind.NON_TARGET: LesionRole.NON_TARGET,
    LesionKind.NEW: LesionRole.NEW,
}
_METHOD: dict[str, str] = {
    Modality.CT: "CT SCAN",
    Modality.MRI: "MRI",
    Modality.PET_CT: "PET/CT SCAN",
    Modality.XR: "X-RAY",
    Modality.OTHER: "OTHER",
}
#: Non-target ratings -> TUMSTATE (further increase has no state of its own; the iRECIST
#: response in RS carries it).
_NT_STATE = {
    "present": "PRESENT",
    "absent": "ABSENT",
    "unequivocal_progression": "UNEQUIVOCAL PROGRESSION",
    "further_increase": "PRESENT",
}


def exports_root() -> Path:
    return Path(django_settings.MEDIA_ROOT) / "exports"


# --- ORM -> export dataclasses -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StudyBuild:
    study: ExportStudy
    excluded: tuple[str, ...]  # "<subject>: why"
    as_of: dt.datetime


def _target_result(m: MeasurementRow) -> LesionResult:
    """A target's value (and, in a bidimensional read, its second diameter)."""
    code = m.lesion.code
    if m.state == MeasurementState.NOT_ASSESSED:
        return LesionResult(code, MeasurementStatus.NOT_DONE, reason_not_done="NOT ASSESSED")
    if m.state == MeasurementState.TOO_SMALL:
        return LesionResult(code, MeasurementStatus.TOO_SMALL, newly_injected=m.newly_injected)
    return LesionResult(
        code,
        MeasurementStatus.MEASURED,
        mm=m.value_mm,
        collected=m.collected,
        perp_mm=m.perp_mm,
        long_mm=m.long_mm,
        newly_injected=m.newly_injected,
    )


def _new_lesion_result(m: MeasurementRow) -> LesionResult:
    value = m.value_mm
    state = "EQUIVOCAL" if m.equivocal else ("ABSENT" if value is not None and value == 0 else "PRESENT")
    return LesionResult(
        m.lesion.code,
        MeasurementStatus.MEASURED,
        mm=value,
        state=state,
        collected=m.collected,
        perp_mm=m.perp_mm,
        long_mm=m.long_mm,
    )


def _rating_result(r: RatingRow) -> LesionResult:
    if r.status not in _NT_STATE:
        return LesionResult(r.lesion.code, MeasurementStatus.NOT_DONE, reason_not_done="NOT EVALUATED")
    return LesionResult(
        r.lesion.code, MeasurementStatus.MEASURED, state=_NT_STATE[r.status], newly_injected=r.newly_injected
    )


#: A PET scan's reference region as a TU "lesion" of the read: its id per site. A "." is
#: never in a lesion code (``validation.LESION_CODE_MAX`` characters of A-Z a-z 0-9 _ -).
REFERENCE_ID = {site: f"REF.{site.upper().replace('_', '')}" for site in REFERENCE_LOCATION}


def _pet_results(tr: TimepointReadRow, baseline_pet: Sequence[str]) -> list[LesionResult]:
    """A PET scan's values: each lesion's SULpeak (SULmax, TLG, CT size) and the reference
    region's mean and SD; a scan not done is NOT DONE for the baseline's PET lesions."""
    pet = tr.pet
    if pet is None:
        return []
    if pet.not_done:
        return [
            LesionResult(code, MeasurementStatus.NOT_DONE, reason_not_done="SCAN NOT PERFORMED")
            for code in baseline_pet
        ]
    results = [
        LesionResult(
            m.lesion.code,
            MeasurementStatus.MEASURED,
            mm=m.value_mm,
            sul_peak=m.sul_peak,
            sul_max=m.sul_max,
            tlg=m.tlg,
        )
        for m in tr.measurements
        if m.lesion.kind == LesionKind.PET and m.sul_peak is not None
    ]
    if pet.reference_site in REFERENCE_ID and pet.reference_mean is not None:
        results.append(
            LesionResult(
                REFERENCE_ID[pet.reference_site],
                MeasurementStatus.MEASURED,
                sul_mean=pet.reference_mean,
                sul_sd=pet.reference_sd,
            )
        )
    return results


def _lesion_results(tr: TimepointReadRow, baseline_pet: Sequence[str]) -> tuple[LesionResult, ...]:
    """A timepoint read's values as export results: targets and new lesions in stored
    order, then the non-target ratings, then the PET scan's values."""
    results: list[LesionResult] = []
    for m in tr.measurements:
        if m.lesion.kind == LesionKind.TARGET:
            results.append(_target_result(m))
        elif m.lesion.kind == LesionKind.NEW:
            results.append(_new_lesion_result(m))
    for r in tr.ratings:
        if r.lesion.kind == LesionKind.NON_TARGET:
            results.append(_rating_result(r))
    return (*results, *_pet_results(tr, baseline_pet))


def _timepoint(tr: TimepointReadRow, baseline_pet: Sequence[str]) -> ReaderTimepoint:
    tp = tr.timepoint
    return ReaderTimepoint(
        visitnum=tp.visit_number,
        visit=tp.visit_label,
        date=tp.scan_date_latest,
        results=_lesion_results(tr, baseline_pet),
        baseline=tp.is_baseline,
        scan_dates=(tp.scan_date_earliest, tp.scan_date_latest),
        dtc=tp.scan_date_collected,
        prebaseline=tp.is_prebaseline,
        sum_mm=tr.prebaseline_sum_mm,
        imputation=tp.scan_date_imputation,
    )


def _export_lesions(
    read: ReadRow, timepoints: Mapping[int, TimepointRow], *, classified: bool
) -> tuple[ExportLesion, ...]:
    """The read's lesions as TU records: CT lesions by kind, PET lesions MEASURED when first
    recorded at the baseline (else NEW), and one LOCATION OF INTEREST per PET reference site
    used; ``classified``: the charter names itRECIST, so baseline lesions carry their
    injected flag."""
    base = next((tr.timepoint.id for tr in read.timepoint_reads if tr.timepoint.is_baseline), None)
    out: list[ExportLesion] = []
    for lesion in read.lesions:
        kind = LesionKind(lesion.kind)
        if kind == LesionKind.PET:
            role = LesionRole.MEASURED if lesion.first_timepoint_id == base else LesionRole.NEW
        else:
            role = _ROLE[kind]
        out.append(
            ExportLesion(
                lesion_id=lesion.code,
                role=role,
                location=lesion.organ.upper(),
                nodal=lesion.node,
                method=_lesion_method(lesion, timepoints),
                injected=lesion.injected if classified and role in _CLASSIFIED_ROLES else None,
            )
        )
    sites = {tr.pet.reference_site: tr for tr in reversed(read.timepoint_reads) if tr.pet is not None}
    for site, first in sorted(sites.items()):
        if site in REFERENCE_ID:
            out.append(
                ExportLesion(
                    lesion_id=REFERENCE_ID[site],
                    role=LesionRole.LOCATION_OF_INTEREST,
                    location=REFERENCE_LOCATION[site],
                    method=_METHOD.get(first.timepoint.modality, "OTHER"),
                )
            )
    return tuple(out)


_CLASSIFIED_ROLES = frozenset({LesionRole.TARGET, LesionRole.NON_TARGET})


def _baseline_pet_codes(read: ReadRow) -> tuple[str, ...]:
    base = next((tr for tr in read.timepoint_reads if tr.timepoint.is_baseline), None)
    if base is None:
        return ()
    return tuple(m.lesion.code for m in base.measurements if m.lesion.kind == LesionKind.PET)


def build_study(job: EndpointJob, *, data_cutoff: dt.date | None = None) -> StudyBuild:
    """The export input of a DONE endpoint job: signed reads + the job's results, "as of"
    ``data_cutoff`` when given (ADTTE censoring and ADRS ``ANL01FL`` in the exports package).

    The trial's :class:`~trialreads.snapshot.TrialSnapshot` is loaded once (a fixed number
    of queries), for the export rows and, with a cut-off, for the endpoints as of then.
    """
    runs = job_runs(job)
    snapshot = TrialSnapshot.load(job.trial_id)
    timepoints = snapshot.timepoints
    as_of_cutoff = _endpoints_as_of(job, data_cutoff, snapshot) if data_cutoff is not None else None
    by_subject: dict[int, list[Any]] = defaultdict(list)
    for run in runs:
        by_subject[run.subject_id].append(run)
    subject_of = {s.id: s for s in snapshot.subjects}

    # Subjects whose accepted read is the adjudicator's choice: their RS has ADJUDICATOR records.
    adjudicated = {
        (sid, EVALUATOR_BY_SLOT.get(slot, ""))
        for sid, slot in AcceptedRead.objects.filter(
            subject__trial_id=job.trial_id, basis=AcceptanceBasis.ADJUDICATION
        ).values_list("subject_id", "read__slot")
    }
    subjects: list[ExportSubject] = []
    excluded: list[str] = []
    classified = ITRECIST in (job.charter.criteria or ())  # baseline lesions carry injected flags
    # the growth family's analyses per subject (the charter's), from the same job; a cut-off
    # export computes them as of the cut-off (``_endpoints_as_of``)
    analyses_of = {
        row.subject_id: row.result for row in job_analyses(job) if row.status == JobStatus.DONE
    }
    for sid, subject_runs in by_subject.items():
        subject = subject_of[sid]
        failed = [r for r in subject_runs if r.status != JobStatus.DONE]
        accepted = subject_runs[0].accepted_evaluator
        if failed and len(failed) == len(subject_runs):
            excluded.append(f"{subject.code}: endpoint run failed ({failed[0].reason})")
            continue
        # A criterion the engine could not evaluate on this subject's reads (its input is not
        # collected: irRC's perpendicular diameters, PET) leaves the others to export.
        for run in failed:
            excluded.append(f"{subject.code}: {run.criterion} endpoint run failed ({run.reason})")
        subject_runs = [r for r in subject_runs if r.status == JobStatus.DONE]
        if not accepted:
            excluded.append(f"{subject.code}: no accepted read yet")
            continue
        if as_of_cutoff is not None and accepted not in as_of_cutoff.get(sid, {}):
            excluded.append(f"{subject.code}: no baseline on or before the data cut-off")
            continue
        export_reads: list[ReaderRead] = []
        for slot, read in sorted(subject.reads.items()):
            evaluator = _EVALUATOR.get(EVALUATOR_BY_SLOT.get(slot, ""))
            criteria_results: dict[str, CriterionResult] = {
                run.criterion: result_from_json(run.result[evaluator.value])
                for run in subject_runs
                if evaluator is not None and evaluator.value in run.result
            }
            if evaluator is None or not criteria_results:
                continue  # this read has nothing signed yet
            stored = analyses_of.get(sid, {}).get(evaluator.value)
            analyses: Mapping[str, ExtraValue] = analyses_from_json(stored) if stored else {}
            if as_of_cutoff is not None:
                cut_of = as_of_cutoff.get(sid, {}).get(evaluator.value)
                if cut_of is None:
                    continue  # this read has no baseline on or before the cut-off
                cut, analyses = cut_of
                criteria_results = {
                    c: _endpoints_from(r, cut[c]) for c, r in criteria_results.items() if c in cut
                }
            baseline_pet = _baseline_pet_codes(read)
            export_reads.append(
                ReaderRead(
                    evaluator=evaluator,
                    lesions=_export_lesions(read, timepoints, classified=classified),
                    timepoints=tuple(_timepoint(tr, baseline_pet) for tr in read.timepoint_reads),
                    criteria=criteria_results,
                    analyses=analyses,
                )
            )
        subjects.append(
            ExportSubject(
                usubjid=subject.code,
                randomisation_date=subject.randomisation_date,
                reads=tuple(export_reads),
                accepted=_EVALUATOR[accepted],
                adjudicated=(sid, accepted) in adjudicated,
                death_date=subject.death_date,
                first_dose_date=subject.first_dose_date,
                last_contact_date=subject.last_contact_date,
                reference_start_date=subject.reference_start_date,
            )
        )
    engine_settings = settings_from_charter(job.charter)
    latest = max((tp.scan_date_latest for tp in timepoints.values()), default=None)
    as_of = dt.datetime.combine(latest or dt.date(1970, 1, 1), dt.time.min, tzinfo=dt.UTC) + dt.timedelta(
        days=1
    )
    study = ExportStudy(
        studyid=job.trial.code,
        subjects=tuple(sorted(subjects, key=lambda s: s.usubjid)),
        assessment_interval_days=int(conf.get("EXPORT_ASSESSMENT_INTERVAL_DAYS")),
        window_days=int(conf.get("EXPORT_WINDOW_DAYS")),
        data_cutoff=data_cutoff,
        date_imputation=job.charter.date_imputation,
        epoch_rule=job.charter.epoch_rule,
        settings=tuple(
            (f.name, str(getattr(engine_settings, f.name))) for f in dataclasses.fields(engine_settings)
        ),
    )
    return StudyBuild(study, tuple(sorted(excluded)), as_of)


def _lesion_method(lesion: LesionRow, timepoints: Mapping[int, TimepointRow]) -> str:
    """TUMETHOD: the modality of the visit the lesion was first recorded at."""
    first = timepoints.get(lesion.first_timepoint_id) if lesion.first_timepoint_id is not None else None
    return _METHOD.get(first.modality if first is not None else "", "OTHER")


#: subject id -> evaluator -> (criterion results, analyses) as of the cut-off.
AsOfResults = dict[int, dict[str, tuple[Mapping[str, CriterionResult], Mapping[str, ExtraValue]]]]


def _endpoints_as_of(job: EndpointJob, cutoff: dt.date, snapshot: TrialSnapshot) -> AsOfResults:
    """subject id -> evaluator -> (criterion -> the engine's result, the charter's analyses) on
    the reads as they stood at the cut-off (``snapshot.engine_subject(..., as_of=cutoff)``). Best responses,
    confirmation, PFS/iPFS/imPFS and duration of response look forward (a confirmation
    scan, an iCPD, the scan that negates an imPD): after the cut-off none of that is known
    yet, so they are evaluated again on the truncated reads. Timepoint responses look only
    backward (the engines are causal), so the job's stand.

    The job's inputs must still be the trial's (the hash of ``snapshot``, the same rows the
    export is built from): otherwise the export would mix two states.
    """
    inputs = load_trial_inputs(job.trial_id, charter=job.charter, snapshot=snapshot)
    if inputs.input_sha256 != job.input_sha256:
        raise Conflict(
            f"The signed reads changed after endpoint job {job.pk}: compute the endpoints again, then export."
        )
    settings = settings_from_charter(job.charter)
    scope = scope_from_charter(job.charter)
    out: AsOfResults = {}
    for subject, subject_inputs in zip(snapshot.subjects, inputs.subjects, strict=True):
        per_read: dict[str, tuple[Mapping[str, CriterionResult], Mapping[str, ExtraValue]]] = {}
        for slot in subject_inputs.reads:
            truncated = engine_subject(subject, subject.reads[slot], settings, as_of=cutoff, scope=scope)
            if has_engine_input(truncated):
                # criteria that cannot be evaluated failed in the job too: none to cut
                evaluation = evaluate_each(truncated, inputs.criteria, inputs.analyses)
                per_read[EVALUATOR_BY_SLOT[slot]] = (evaluation.results, evaluation.analyses)
        out[subject.id] = per_read
    return out


def _endpoints_from(full: CriterionResult, cut: CriterionResult) -> CriterionResult:
    """The job's timepoint responses with the subject-level endpoints as of the cut-off."""
    return dataclasses.replace(
        full,
        bor=cut.bor,
        bor_date=cut.bor_date,
        bor_confirmed=cut.bor_confirmed,
        bor_confirmed_date=cut.bor_confirmed_date,
        pfs=cut.pfs,
        progression=cut.progression,
        dor=cut.dor,
        why=cut.why,
        defaults=cut.defaults,
        extra=cut.extra,  # criterion-level fields look forward too (itRECIST's group BORs)
    )


def build_datasets(study: ExportStudy) -> tuple[Dataset, ...]:
    """TU, TR, RS, ADRS, ADTTE of the study (:func:`~trialreads.exports.datasets.build_transfer`:
    the same rows as ``build_all``, linear in the number of subjects)."""
    return build_transfer(study)


@gc_paused()
def export_render(
    job: EndpointJob,
    *,
    chain_head: str | None = None,
    data_cutoff: dt.date | None = None,
    on_step: Callable[[int], None] | None = None,
) -> tuple[dict[str, bytes], StudyBuild]:
    """The files of the transfer of ``job`` (as of ``data_cutoff``, if any), rendered and
    validated in memory (``render_study``), on two processes for large trials. ``on_step(n)``
    is called when step n of :data:`EXPORT_STEPS` is done (1: the study is loaded, 2: every
    dataset is built, checked and encoded); step 3 (written) is the caller's."""
    build = build_study(job, data_cutoff=data_cutoff)
    if on_step is not None:
        on_step(1)
    parallel = fork_processes(len(build.study.subjects)) > 1
    logger.info(
        "export of endpoint job %d: %d subjects, %s",
        job.pk,
        len(build.study.subjects),
        "in two forked halves" if parallel else "in one process",
    )
    with children_allowed():
        files = render_study(
            build.study,
            created=build.as_of,
            criteria_version=job.algorithm_version,
            charter_version=str(job.charter.version),
            audit_chain_head=chain_head,
            parallel=parallel,
        )
    if on_step is not None:
        on_step(2)
    return files, build


def export_write(
    job: EndpointJob,
    directory: Path,
    *,
    chain_head: str | None = None,
    data_cutoff: dt.date | None = None,
    on_step: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], StudyBuild]:
    """Write the transfer of ``job`` (:func:`export_render`) into the empty (or missing)
    ``directory``, all files or none (``write_files``: staged, checked, renamed into
    place); returns the manifest."""
    files, build = export_render(job, chain_head=chain_head, data_cutoff=data_cutoff, on_step=on_step)
    write_files(directory, files)
    manifest: dict[str, Any] = json.loads(files[MANIFEST_NAME])
    return manifest, build


# --- batches: request, build, download --------------------------------------------------------


def _batch_key(job: EndpointJob, include_chain_head: bool, data_cutoff: dt.date | None = None) -> str:
    text = f"{EXPORT_MAPPING_VERSION}|{job.pk}|{job.input_sha256}|head={include_chain_head}"
    if data_cutoff is not None:
        # Appended only when set, so batches requested without a cut-off keep their keys
        # (a repeated request after this change still finds the existing batch).
        text += f"|cutoff={data_cutoff.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _validate_cutoff(trial_id: int, data_cutoff: object) -> dt.date | None:
    """A data cut-off is a calendar date, not in the future (data "as of" a day that has not
    ended yet would change under the sponsor) and not before the first randomisation of the
    trial (every subject would be censored at randomisation: an empty transfer)."""
    if data_cutoff is None:
        return None
    field = "data_cutoff"
    if isinstance(data_cutoff, dt.datetime) or not isinstance(data_cutoff, dt.date):
        raise ValidationError("must be a calendar date (YYYY-MM-DD)", field=field)
    today = timezone.localdate()
    if data_cutoff > today:
        raise ValidationError(f"must not be in the future (today is {today.isoformat()})", field=field)
    first = Subject.objects.filter(trial_id=trial_id).aggregate(m=Min("randomisation_date"))["m"]
    if first is not None and data_cutoff < first:
        raise ValidationError(
            f"must not be before the first randomisation of the trial ({first.isoformat()})", field=field
        )
    return data_cutoff


def export_request(
    *, trial_id: int, actor: Any, include_chain_head: bool = True, data_cutoff: dt.date | None = None
) -> ExportBatch:
    """Ask for the transfer of the trial's latest computed endpoints, as of ``data_cutoff``
    when given (idempotent: the same results and cut-off give the same batch; another
    cut-off is another batch). The build runs in ``trialreads.build_export`` after commit;
    asking again for a batch stuck RUNNING past its lease sends the build again.
    An invalid cut-off raises :class:`ValidationError` on ``data_cutoff`` before anything
    is written."""
    trial = access.access_trial_for(actor, trial_id)
    access.require_capability(actor, trial.pk, access.EXPORT, "trial", trial.pk)
    data_cutoff = _validate_cutoff(trial.pk, data_cutoff)
    job = latest_done_job(trial.pk)
    if job is None:
        raise Conflict("No computed endpoints yet: compute them first.")
    with transaction.atomic():
        batch, created = ExportBatch.objects.get_or_create(
            trial=trial,
            input_sha256=_batch_key(job, include_chain_head, data_cutoff),
            defaults={
                "job": job,
                "requested_by": actor.get_username(),
                "total": EXPORT_STEPS,
                "include_chain_head": include_chain_head,
                "data_cutoff": data_cutoff,
            },
        )
        if created or batch.status == JobStatus.PENDING or _lease_ran_out(batch):
            enqueue_export(batch.pk)
    return batch


def export_batches_resume() -> list[int]:
    """Send the build again for every batch RUNNING past its lease (its worker died and its
    message is gone, or nobody asked again): the task takes it over through ``lease_claim``,
    or marks it FAILED with the reason once ``ENDPOINT_MAX_ATTEMPTS`` claims are used up.
    Run periodically by ``trialreads.resume_stale_exports``; returns the batch ids sent."""
    now = timezone.now()
    stale = list(
        ExportBatch.objects.filter(status=JobStatus.RUNNING)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for batch_id in stale:
        enqueue_export(batch_id)
    if stale:
        logger.warning("export batches stuck past their lease, sent again: %s", stale)
    return stale


def _lease_ran_out(batch: ExportBatch) -> bool:
    """RUNNING, but its holder stopped renewing (killed, or its task message was lost):
    nothing would ever finish it, so the request sends a task that takes it over
    (``lease_claim``) or, past ``ENDPOINT_MAX_ATTEMPTS``, marks it FAILED with the reason."""
    expires = batch.lease_expires_at
    return batch.status == JobStatus.RUNNING and (expires is None or expires <= timezone.now())


@dataclasses.dataclass(frozen=True)
class ExportOutcome:
    batch: ExportBatch
    built: bool
    retry_in: float | None = None


def _chain_head(trial_chain: str) -> str | None:
    head = ChainHead.objects.filter(chain_id=trial_chain).values_list("seq", "hash").first()
    return f"{head[0]}:{head[1]}" if head else None


#: A leftover in the exports folder: ``.<batch>.staging-*`` / ``.<batch>.old-*`` (``package``),
#: or ``.staging-<batch>-<pid>`` of earlier versions.
_LEFTOVER = re.compile(
    rf"^\.(?P<batch>\d+)(?:{re.escape(STAGING_INFIX)}|{re.escape(OLD_INFIX)})|^\.staging-(?P<legacy>\d+)-"
)


def export_leftovers_sweep(*, claimed: int) -> list[str]:
    """Remove what killed writers left in the exports folder: the staging and swapped-out
    folders of every batch that no one may be writing now, i.e. that is not RUNNING, plus
    those of ``claimed`` (whose lease the caller holds, so any other writer of it has lost
    its lease and cannot publish). Returns the names removed."""
    root = exports_root()
    if not root.is_dir():
        return []
    busy = set(
        ExportBatch.objects.filter(status=JobStatus.RUNNING).exclude(pk=claimed).values_list("pk", flat=True)
    )
    removed = []
    for path in sorted(root.iterdir()):
        match = _LEFTOVER.match(path.name)
        if match and int(match["batch"] or match["legacy"]) not in busy:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    if removed:
        logger.warning("removed export leftovers of killed writers: %s", ", ".join(removed))
    return removed


def export_build(*, batch_id: int, task_id: str = "") -> ExportOutcome:
    """Build the batch's files, claimed under a lease like an endpoint job.

    Every file is written to a hidden staging folder beside ``exports/<batch>`` (the same
    filesystem), flushed, and read back against the rendered bytes and the manifest; only
    then, in the transaction that finishes the batch (conditional on the lease, with its
    audit event), is the folder renamed into place (``package.publish``). A writer killed
    at any point leaves no partial ``exports/<batch>``: at most a complete, checked one for
    a batch still RUNNING (killed between the rename and the commit; the takeover replaces
    it), and hidden leftovers, which the next build removes (:func:`export_leftovers_sweep`).

    A build that fails for good (bad data, a conformance problem, a disk error) marks the
    batch FAILED with the reason instead of leaving it RUNNING; database errors propagate
    (the task retries them) and :class:`LeaseLost` means another worker owns the batch now.
    """
    owner = worker_identity(task_id)
    claim = lease_claim(EXPORT_LEASE, batch_id, owner)
    batch = ExportBatch.objects.select_related("job__charter", "job__trial", "trial").get(pk=batch_id)
    if not claim.claimed:
        return ExportOutcome(batch, False, claim.retry_in)
    try:
        _build_claimed(batch, owner)
    except (LeaseLost, OperationalError):
        raise
    except Exception as exc:
        logger.exception("export batch %d failed", batch.pk)
        _fail_claimed(batch, owner, f"build failed: {type(exc).__name__}: {exc}")
        batch.refresh_from_db()
        return ExportOutcome(batch, False)
    batch.refresh_from_db()
    return ExportOutcome(batch, True)


def _build_claimed(batch: ExportBatch, owner: str) -> None:
    head = _chain_head(batch.trial.chain_id) if batch.include_chain_head else None
    final = exports_root() / str(batch.pk)
    export_leftovers_sweep(claimed=batch.pk)
    rendered, build = export_render(
        batch.job,
        chain_head=head,
        data_cutoff=batch.data_cutoff,
        on_step=lambda done: lease_renew(EXPORT_LEASE, batch.pk, owner, done),
    )
    manifest: dict[str, Any] = json.loads(rendered[MANIFEST_NAME])
    manifest_bytes = rendered[MANIFEST_NAME]
    files = [
        *manifest["files"],
        {
            "path": MANIFEST_NAME,
            "sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "bytes": len(manifest_bytes),
        },
    ]
    staging = stage_files(final, rendered)
    try:
        with transaction.atomic():
            updated = ExportBatch.objects.filter(
                pk=batch.pk, lease_owner=owner, status=JobStatus.RUNNING
            ).update(
                status=JobStatus.DONE,
                done=F("total"),
                finished_at=timezone.now(),
                lease_owner="",
                lease_expires_at=None,
                directory=f"exports/{batch.pk}",
                files=files,
                manifest_sha256=files[-1]["sha256"],
                reason="; ".join(f"excluded {line}" for line in build.excluded),
            )
            if updated != 1:
                raise LeaseLost(f"export batch {batch.pk}: lease lost before finishing")
            # A previous attempt killed after its rename but before its commit left a
            # complete copy (possibly with an older chain head): swapped out atomically.
            publish(staging, final, replace=True)
            audit_record(
                chain_id=batch.trial.chain_id,
                event_type=AuditEventType.EXPORT_CREATED,
                actor=None,
                object_type="export_batch",
                object_id=batch.pk,
                after={
                    "endpoint_job": batch.job_id,
                    "files": files,
                    "subjects": len(build.study.subjects),
                    "excluded": list(build.excluded),
                    "audit_chain_head": head,
                    "data_cutoff": batch.data_cutoff.isoformat() if batch.data_cutoff else None,
                },
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once published


def _fail_claimed(batch: ExportBatch, owner: str, reason: str) -> None:
    """FAILED with ``reason`` and its audit event, while the lease is still ours."""
    with transaction.atomic():
        updated = ExportBatch.objects.filter(pk=batch.pk, lease_owner=owner, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            lease_owner="",
            lease_expires_at=None,
            reason=reason[:2000],
        )
        if updated == 1:
            audit_record(
                chain_id=batch.trial.chain_id,
                event_type=AuditEventType.EXPORT_CREATED,
                actor=None,
                object_type="export_batch",
                object_id=batch.pk,
                after={
                    "status": JobStatus.FAILED,
                    "attempts": batch.attempts,
                    "input_sha256": batch.input_sha256,
                },
                reason=reason[:2000],
            )


def export_file_path(*, batch_id: int, name: str, actor: Any) -> Path:
    """The path of one file of a finished batch, for a user allowed to export the trial
    (sponsor viewers, read managers). Every download is audited."""
    batch = access.access_export_batch_for(actor, batch_id)
    trial = batch.trial
    entry = next((f for f in batch.files if f["path"] == name), None)
    if batch.status != JobStatus.DONE or entry is None:
        raise NotFound()
    path = Path(django_settings.MEDIA_ROOT) / batch.directory / str(entry["path"])
    with transaction.atomic():
        audit_record(
            chain_id=trial.chain_id,
            # Not yet in AuditEventType (core vocabulary); the column accepts the string.
            event_type=AuditEventType.EXPORT_DOWNLOADED,
            actor=actor,
            object_type="export_batch",
            object_id=batch.pk,
            after={"file": entry["path"], "sha256": entry["sha256"]},
        )
    return path
