"""Trials whose charter names the other criteria (issue 15): irRC, itRECIST, the PERCIST
family, iRECIST with pre-baseline scans; built through the services, as the shared fixtures
are, for the API and web tests of read entry per criterion family."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import TrialWithReads
from trialreads.choices import Modality, TrialRole
from trialreads.models import Trial
from trialreads.services import trials as trial_services

BASELINE_DAY = dt.date(2025, 1, 5)


def criteria_trial(
    manager: Any, readers: tuple[Any, Any], criteria: list[str], code: str, **charter: Any
) -> Trial:
    """A trial whose charter names ``criteria`` (the first is primary), with the two readers."""
    trial = trial_services.trial_create(
        code=code,
        title=f"Trial of {', '.join(criteria)}",
        actor=manager,
        charter={"criteria": criteria, "primary_criterion": criteria[0], **charter},
        effective_from=dt.date(2025, 1, 1),
    )
    for user in readers:
        trial_services.membership_add(
            trial_id=trial.pk, user_id=user.pk, role=TrialRole.READER, actor=manager
        )
    return trial


def criteria_subject(
    trial: Trial,
    manager: Any,
    readers: tuple[Any, Any],
    *,
    code: str = "S-001",
    followups: int = 2,
    modality: str = Modality.CT,
) -> TrialWithReads:
    """A subject with a baseline and ``followups`` follow-ups six weeks apart, all of
    ``modality``, and a read per reader (A slot 1, B slot 2)."""
    site = trial_services.site_create(trial_id=trial.pk, code="SITE01", name="Site one", actor=manager)
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code=code,
        randomisation_date=dt.date(2025, 1, 10),
        arm="EXPERIMENTAL",
        actor=manager,
    )
    timepoints = [
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label="BASELINE",
            visit_number=0,
            scan_date_earliest=BASELINE_DAY,
            is_baseline=True,
            modality=modality,
            actor=manager,
        )
    ]
    for week in range(1, followups + 1):
        day = BASELINE_DAY + dt.timedelta(weeks=6 * week)
        timepoints.append(
            trial_services.timepoint_create(
                subject_id=subject.pk,
                visit_label=f"WEEK{6 * week}",
                visit_number=week,
                scan_date_earliest=day,
                modality=modality,
                actor=manager,
            )
        )
    read_a, read_b = trial_services.reads_assign(
        subject_id=subject.pk, reader_ids=[u.pk for u in readers], actor=manager
    )
    return TrialWithReads(trial, site, subject, timepoints, read_a, read_b)


def prebaseline_timepoint(case: TrialWithReads, manager: Any, days_before: int = 42) -> Any:
    """A pre-baseline scan ``days_before`` the baseline (added after it, as the service needs)."""
    day = BASELINE_DAY - dt.timedelta(days=days_before)
    timepoint = trial_services.timepoint_create(
        subject_id=case.subject.pk,
        visit_label=f"PRE{days_before}",
        visit_number=0,
        scan_date_earliest=day,
        is_prebaseline=True,
        actor=manager,
    )
    case.timepoints.append(timepoint)
    return timepoint
