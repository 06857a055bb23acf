"""Enqueueing the Celery tasks from the services, once the current transaction commits
(``delay_on_commit``: nothing if it rolls back, never before the data is visible to the
worker).

The tasks (``trialreads.tasks``, the presentation layer) call the services, so the services
name a task by its registered name instead of importing it: the import graph stays one-way.
``TrialreadsConfig.ready`` imports ``trialreads.tasks``, so the names are registered before
any request or command runs.
"""

from __future__ import annotations

from typing import Any

from celery import current_app

from trialreads import conf

COMPUTE_ENDPOINTS = "trialreads.compute_endpoints"
BUILD_EXPORT = "trialreads.build_export"
SEND_CONFIRMATION_NOTIFICATION = "trialreads.confirmation_notification_send"
CHECK_CONFIRMATION_OVERDUE = "trialreads.confirmation_windows_check_overdue"


def _delay_on_commit(task_name: str, *args: Any) -> None:
    current_app.tasks[task_name].delay_on_commit(*args)


def enqueue_compute_endpoints(trial_id: int, requested_by: str = "") -> None:
    """Compute the trial's endpoints once the current transaction commits (nothing if it
    rolls back). Call after reads are signed or adjudicated, or on demand."""
    _delay_on_commit(COMPUTE_ENDPOINTS, trial_id, requested_by)


def enqueue_export(batch_id: int) -> None:
    _delay_on_commit(BUILD_EXPORT, batch_id)


def enqueue_confirmation_notification(notification_id: int) -> None:
    """Send one sponsor notification once the current transaction commits (the window that
    caused it must be committed before anyone hears of it)."""
    _delay_on_commit(SEND_CONFIRMATION_NOTIFICATION, notification_id)


def endpoints_recompute_on_commit(*, trial_id: int, actor: Any) -> None:
    """Enqueue the trial's endpoint computation once the current transaction commits (never
    when it rolls back), unless ``TRIALREADS["AUTO_COMPUTE_ENDPOINTS"]`` is off."""
    if not conf.get("AUTO_COMPUTE_ENDPOINTS"):
        return
    enqueue_compute_endpoints(trial_id, getattr(actor, "username", "") or "system")
