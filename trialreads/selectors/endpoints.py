"""Endpoint computations and sponsor exports as the API shows them: read managers and
sponsor viewers (``VIEW_ENDPOINTS`` / ``EXPORT``) only; other members get an audited 403,
non-members the gate's 404. Results are the *accepted* (BICR) read's, never one reader's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from trialreads import access
from trialreads.errors import NotFound
from trialreads.models.endpoint import EndpointJob, EndpointRun, ExportBatch, JobStatus


def _endpoints_trial(user: Any, trial_id: object) -> int:
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.VIEW_ENDPOINTS, "trial", trial.pk)
    return trial.pk


def endpoint_job_list(*, user: Any, trial_id: object) -> QuerySet[EndpointJob]:
    pk = _endpoints_trial(user, trial_id)
    return EndpointJob.objects.filter(trial_id=pk).order_by("-created_at", "-pk")


def endpoint_job_get(*, user: Any, job_id: object) -> EndpointJob:
    """One computation (progress). Its trial decides: same 404 for a missing job and for a
    job of a trial the user is not in."""
    try:
        pk = int(str(job_id))
    except ValueError:
        raise NotFound() from None
    trial_id = EndpointJob.objects.filter(pk=pk).values_list("trial_id", flat=True).first()
    _endpoints_trial(user, trial_id if trial_id is not None else -1)
    return EndpointJob.objects.get(pk=pk)


def endpoint_result_list(*, user: Any, trial_id: object) -> QuerySet[EndpointRun]:
    """Subject x criterion results of the latest finished computation (one query)."""
    pk = _endpoints_trial(user, trial_id)
    job = (
        EndpointJob.objects.filter(trial_id=pk, status=JobStatus.DONE).order_by("-finished_at", "-pk").first()
    )
    if job is None:
        return EndpointRun.objects.none()
    keys = [(int(subject), digest) for subject, digest in job.subject_hashes.items()]
    return (
        EndpointRun.objects.filter(
            trial_id=pk,
            charter_id=job.charter_id,
            algorithm_version=job.algorithm_version,
            input_sha256__in={digest for _, digest in keys},
            subject_id__in={subject for subject, _ in keys},
        )
        .select_related("subject")
        .order_by("subject__subject_code", "criterion")
    )


def _export_trial(user: Any, trial_id: object, object_type: str = "trial", object_id: object = None) -> int:
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.EXPORT, object_type, object_id or trial.pk)
    return trial.pk


def export_batch_list(*, user: Any, trial_id: object) -> QuerySet[ExportBatch]:
    pk = _export_trial(user, trial_id)
    return ExportBatch.objects.filter(trial_id=pk).order_by("-created_at", "-pk")


def export_batch_get(*, user: Any, batch_id: object) -> ExportBatch:
    try:
        pk = int(str(batch_id))
    except ValueError:
        raise NotFound() from None
    trial_id = ExportBatch.objects.filter(pk=pk).values_list("trial_id", flat=True).first()
    _export_trial(user, trial_id if trial_id is not None else -1, "export_batch", pk)
    return ExportBatch.objects.get(pk=pk)
