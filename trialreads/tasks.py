"""Celery entry points: thin adapters (ids in, one service call, idempotent).

Both tasks are ``acks_late`` with ``reject_on_worker_lost`` (celery-concurrency-ci §6.3):
a worker killed mid-task gets the message redelivered instead of losing it. That is safe
only because the services are idempotent: the endpoint job and the export batch are keyed
by their inputs, claimed under a lease and finished conditionally on still holding it.

Enqueue with :func:`enqueue_compute_endpoints` / :func:`enqueue_export` (``services.queue``,
``delay_on_commit``) so a task never runs for a transaction that rolled back, and never before its data is
visible to the worker.

Test seam: the tasks call the services through their modules (``endpoint_services.
endpoints_compute``), looked up at call time, so a test worker can bind a service's own
hook parameter there (``tests/celery/worker_app.py`` binds ``on_subject`` to pause or crash
mid-computation); production code holds no test hook.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import Task, shared_task
from celery.contrib.django.task import DjangoTask
from django.db import OperationalError

from trialreads.services import confirmation as confirmation_services
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as export_services
from trialreads.services import queue
from trialreads.services.audit import audit_context
from trialreads.services.queue import enqueue_compute_endpoints, enqueue_export

__all__ = [
    "build_export",
    "compute_endpoints",
    "confirmation_notification_send",
    "confirmation_windows_check_overdue",
    "enqueue_compute_endpoints",
    "enqueue_export",
    "resume_stale_exports",
]

#: Longest wait before a task whose job is leased by a live worker looks again.
MAX_RETRY_WAIT_SECONDS = 30


class AuditedTask(DjangoTask):  # type: ignore[misc]
    """Runs the task inside an audit context: actor ``system:<task name>``, request id =
    the Celery task id, so every audit event a task writes is attributed to it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with audit_context(actor_label=f"system:{self.name}", request_id=str(self.request.id or "")):
            return super().__call__(*args, **kwargs)


_COMMON: dict[str, Any] = {
    "bind": True,
    "base": AuditedTask,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name=queue.COMPUTE_ENDPOINTS, **_COMMON)  # type: ignore[untyped-decorator]
def compute_endpoints(self: Task, trial_id: int, requested_by: str = "") -> dict[str, Any]:
    """Endpoints of every subject x criterion of the trial's current inputs."""
    try:
        outcome = endpoint_services.endpoints_compute(
            trial_id=trial_id,
            task_id=str(self.request.id or ""),
            requested_by=requested_by,
        )
    except endpoint_services.LeaseLost:
        # Another worker took the job over after our lease ran out; it writes the result.
        return {"trial": trial_id, "status": "lease lost"}
    if outcome.retry_in is not None:
        # Leased by a live worker. Do not ack-and-forget: if this is Redis redelivering the
        # holder's own message (visibility timeout), acking it would lose the work should
        # the holder die later. Look again once the lease could have run out.
        raise self.retry(countdown=min(max(outcome.retry_in, 1.0), MAX_RETRY_WAIT_SECONDS))
    return {"job": outcome.job.pk, "status": outcome.job.status, "computed": outcome.computed}


@shared_task(name=queue.BUILD_EXPORT, **_COMMON)  # type: ignore[untyped-decorator]
def build_export(self: Task, batch_id: int) -> dict[str, Any]:
    """Write the sponsor transfer of an :class:`~trialreads.models.ExportBatch`."""
    try:
        outcome = export_services.export_build(batch_id=batch_id, task_id=str(self.request.id or ""))
    except endpoint_services.LeaseLost:
        return {"batch": batch_id, "status": "lease lost"}
    if outcome.retry_in is not None:
        raise self.retry(countdown=min(max(outcome.retry_in, 1.0), MAX_RETRY_WAIT_SECONDS))
    return {"batch": outcome.batch.pk, "status": outcome.batch.status, "built": outcome.built}


@shared_task(name="trialreads.resume_stale_exports", bind=True, base=AuditedTask)  # type: ignore[untyped-decorator]
def resume_stale_exports(self: Task) -> dict[str, Any]:
    """Periodic (``CELERY_BEAT_SCHEDULE``): build again the export batches stuck RUNNING past
    their lease. Idempotent: each build claims its batch under the lease."""
    return {"resumed": export_services.export_batches_resume()}




@shared_task(  # type: ignore[untyped-decorator]
    name=queue.SEND_CONFIRMATION_NOTIFICATION,
    **{**_COMMON, "autoretry_for": (OperationalError, confirmation_services.NotificationFailed)},
)
def confirmation_notification_send(self: Task, notification_id: int) -> dict[str, Any]:
    """Send one sponsor notification of a confirmation window (email or signed webhook).
    Idempotent: a notification already SENT is not sent again; a failure is recorded and
    retried with backoff."""
    status = confirmation_services.confirmation_notification_send(notification_id=notification_id)
    return {"notification": notification_id, "status": status}


@shared_task(name=queue.CHECK_CONFIRMATION_OVERDUE, bind=True, base=AuditedTask)  # type: ignore[untyped-decorator]
def confirmation_windows_check_overdue(self: Task, today: str = "") -> dict[str, Any]:
    """Periodic (``CELERY_BEAT_SCHEDULE``): queue the overdue notice of every open confirmation
    window past its last day, once per window. ``today`` (ISO date) for a manual run."""
    as_of = dt.date.fromisoformat(today) if today else None
    return {"overdue": confirmation_services.confirmation_windows_overdue_notify(today=as_of)}
