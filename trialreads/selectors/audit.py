"""The audit trail as the read manager reviews it (Annex 11 §9)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from trialreads import access
from trialreads.models import AuditEvent


def audit_event_list(
    *, user: Any, trial_id: object, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> QuerySet[AuditEvent]:
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.VIEW_AUDIT, "trial", trial.pk)
    qs = AuditEvent.objects.filter(chain_id=trial.chain_id)
    if since is not None:
        qs = qs.filter(ts__gte=since)
    if until is not None:
        qs = qs.filter(ts__lt=until)
    return qs.order_by("seq")
