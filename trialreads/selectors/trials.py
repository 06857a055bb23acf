"""Trial-level reads: trials, charters, memberships, subjects, timepoints (visibility-filtered)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from trialreads import access
from trialreads.models import Charter, ImagingTimepoint, Subject, Trial, TrialMembership


def trial_list(*, user: Any) -> QuerySet[Trial]:
    return access.visible_trials(user).order_by("code")


def trial_get(*, user: Any, trial_id: object) -> Trial:
    return access.access_trial_for(user, trial_id)


def charter_current(*, user: Any, trial_id: object) -> Charter:
    trial = access.access_trial_for(user, trial_id)
    return Charter.objects.get(trial=trial, is_current=True)


def charter_list(*, user: Any, trial_id: object) -> QuerySet[Charter]:
    trial = access.access_trial_for(user, trial_id)
    return Charter.objects.filter(trial=trial).order_by("version")


def membership_list(*, user: Any, trial_id: object) -> QuerySet[TrialMembership]:
    """Managers see the whole team; everyone else sees only their own membership (who the
    other reader is stays unknown to a reader)."""
    trial = access.access_trial_for(user, trial_id)
    qs = TrialMembership.objects.filter(trial=trial).select_related("user")
    if not access.has_capability(user, trial.pk, access.MANAGE):
        qs = qs.filter(user_id=user.pk)
    return qs.order_by("role", "reader_label", "user__username")


def subject_list(*, user: Any, trial_id: object) -> QuerySet[Subject]:
    """Subjects the user may see. The arm is deferred unless the role may see it; serialisers
    must still ask :func:`access.can_view_arm` before rendering it."""
    trial = access.access_trial_for(user, trial_id)
    qs = access.visible_subjects(user).filter(trial=trial).select_related("site")
    if not access.can_view_arm(user, trial.pk):
        qs = qs.defer("arm")
    return qs.order_by("subject_code")


def subject_get(*, user: Any, subject_id: object) -> Subject:
    return access.access_subject_for(user, subject_id)


def timepoint_list(*, user: Any, subject_id: object) -> QuerySet[ImagingTimepoint]:
    subject = access.access_subject_for(user, subject_id)
    return ImagingTimepoint.objects.filter(subject=subject).order_by("sequence")
