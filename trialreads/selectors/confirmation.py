"""Confirmation windows and sponsor contacts as the pages and the API show them.

Windows: the read managers and sponsor viewers of the trial (``access.VIEW_CONFIRMATION``);
to a reader or an adjudicator they do not exist (the gate's 404: a window may rest on the other
reader's read). The status is derived from ``today`` (``confirmation_rules.window_status``;
``today`` defaults to the server's date and can be given so that tests can move time). Which
timepoint reads showed or decided the progression is a read manager's field only
(``access.FIELD_CAPABILITY``). Contacts: the read managers only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from trialreads import access, confirmation_rules
from trialreads.models import ConfirmationWindow, SponsorContact


@dataclass(frozen=True)
class WindowView:
    """One window with its status as of ``today``, and whether the viewer may see which
    timepoint reads it rests on (``sources`` / ``closing``: empty / None otherwise)."""

    window: ConfirmationWindow
    status: str
    sources: tuple[int, ...]
    closing: int | None


def _views(windows: QuerySet[ConfirmationWindow], viewer: access.Viewer, today: dt.date) -> list[WindowView]:
    rows = list(
        windows.select_related("subject__trial", "timepoint")
        .prefetch_related("source_timepoint_reads")
        .order_by("window_end", "subject__subject_code", "criterion", "pk")
    )
    out = []
    for w in rows:
        trial_id = w.subject.trial_id
        sees = viewer.sees_field(trial_id, "confirmation_window", "source_timepoint_reads")
        shows_closing = viewer.sees_field(trial_id, "confirmation_window", "closing_timepoint_read")
        out.append(
            WindowView(
                window=w,
                status=confirmation_rules.window_status(w.outcome, w.window_end, today),
                sources=tuple(sorted(tr.pk for tr in w.source_timepoint_reads.all())) if sees else (),
                closing=w.closing_timepoint_read_id if shows_closing else None,
            )
        )
    return out


def _today(today: dt.date | None) -> dt.date:
    return today or timezone.now().date()


def confirmation_window_list(
    *, user: Any, trial_id: object, today: dt.date | None = None, status: str | None = None
) -> list[WindowView]:
    """The trial's windows (open ones first by their last day), optionally of one status."""
    trial = access.access_trial_with_for(user, trial_id, access.VIEW_CONFIRMATION)
    windows = access.visible_confirmation_windows(user).filter(subject__trial=trial)
    views = _views(windows, access.Viewer.load(user), _today(today))
    return [v for v in views if status is None or v.status == status]


def confirmation_windows_open(*, user: Any, today: dt.date | None = None) -> list[WindowView]:
    """Open windows of every trial where the user sees them (the worklist), most urgent first."""
    windows = access.visible_confirmation_windows(user).filter(closed_at__isnull=True)
    return _views(windows, access.Viewer.load(user), _today(today))


def sponsor_contact_list(*, user: Any, trial_id: object) -> QuerySet[SponsorContact]:
    trial = access.access_trial_with_for(user, trial_id, access.MANAGE)
    return access.visible_sponsor_contacts(user).filter(trial=trial).order_by("name", "pk")


def sponsor_contact_get(*, user: Any, contact_id: object) -> SponsorContact:
    return access.access_sponsor_contact_for(user, contact_id)
