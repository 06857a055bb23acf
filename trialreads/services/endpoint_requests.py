"""Asking for an endpoint computation (read managers). The computation itself is the
``trialreads.compute_endpoints`` task (``services.endpoints.endpoints_compute``); this only
checks the capability and enqueues it after commit, as ``services.exports.export_request``
does for exports."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from trialreads import access
from trialreads.services.queue import enqueue_compute_endpoints


def endpoints_request(*, trial_id: object, actor: Any) -> int:
    """Queue the computation of the trial's endpoints; returns the trial id."""
    trial = access.access_trial_for(actor, trial_id)
    access.require_capability(actor, trial.pk, access.MANAGE, "trial", trial.pk)
    with transaction.atomic():
        enqueue_compute_endpoints(trial.pk, actor.get_username())
    return trial.pk
