"""Endpoint computations and sponsor exports as the API shows them: read managers and
sponsor viewers (``VIEW_ENDPOINTS`` / ``EXPORT``) only. A job or a batch by id is the gate's
404 to everyone else; a trial-level list answers other members of the trial with an audited
403 (the trial is theirs to see) and non-members with the gate's 404. Results are the
*accepted* (BICR) read's, never one reader's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from trialreads import access
from trialreads.models.endpoint import EndpointAnalysis, EndpointJob, EndpointRun, ExportBatch, JobStatus


def _endpoints_trial(user: Any, trial_id: object) -> int:
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.VIEW_ENDPOINTS, "trial", trial.pk)
    return trial.pk


def endpoint_job_list(*, user: Any, trial_id: object) -> QuerySet[EndpointJob]:
    pk = _endpoints_trial(user, trial_id)
    return EndpointJob.objects.filter(trial_id=pk).order_by("-created_at", "-pk")


def endpoint_job_get(*, user: Any, job_id: object) -> EndpointJob:
    """One computation (progress): the same 404 for a missing job, a job of a trial the user
    is not in, and a job of their trial that their role may not see (``access.py``)."""
    return access.access_endpoint_job_for(user, job_id)


def _latest_done(trial_pk: int) -> EndpointJob | None:
    return (
        EndpointJob.objects.filter(trial_id=trial_pk, status=JobStatus.DONE)
        .order_by("-finished_at", "-pk")
        .first()
    )


def _job_keys(job: EndpointJob) -> dict[str, Any]:
    """The filter that picks a job's rows (runs or analyses): its subjects' input hashes."""
    keys = [(int(subject), digest) for subject, digest in job.subject_hashes.items()]
    return {
        "trial_id": job.trial_id,
        "charter_id": job.charter_id,
        "algorithm_version": job.algorithm_version,
        "input_sha256__in": {digest for _, digest in keys},
        "subject_id__in": {subject for subject, _ in keys},
    }


def endpoint_result_list(*, user: Any, trial_id: object) -> QuerySet[EndpointRun]:
    """Subject x criterion results of the latest finished computation (one query)."""
    pk = _endpoints_trial(user, trial_id)
    job = _latest_done(pk)
    if job is None:
        return EndpointRun.objects.none()
    return (
        EndpointRun.objects.filter(**_job_keys(job))
        .select_related("subject")
        .order_by("subject__subject_code", "criterion")
    )


def endpoint_analysis_list(*, user: Any, trial_id: object) -> QuerySet[EndpointAnalysis]:
    """Each subject's analyses (the charter's ``analyses``) of the latest finished
    computation (one query); none when the charter asks for no analysis."""
    pk = _endpoints_trial(user, trial_id)
    job = _latest_done(pk)
    if job is None:
        return EndpointAnalysis.objects.none()
    return (
        EndpointAnalysis.objects.filter(**_job_keys(job))
        .select_related("subject")
        .order_by("subject__subject_code")
    )


def _export_trial(user: Any, trial_id: object, object_type: str = "trial", object_id: object = None) -> int:
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.EXPORT, object_type, object_id or trial.pk)
    return trial.pk


def export_batch_list(*, user: Any, trial_id: object) -> QuerySet[ExportBatch]:
    pk = _export_trial(user, trial_id)
    return ExportBatch.objects.filter(trial_id=pk).order_by("-created_at", "-pk")


def export_batch_get(*, user: Any, batch_id: object) -> ExportBatch:
    """One export batch, to those who may export its trial; 404 to anyone else."""
    return access.access_export_batch_for(user, batch_id)
