"""Shared setup of the confirmation-window tests: an iRECIST trial and the read steps.

Baseline sum 100 mm (T1 50, T2 30, node T3 20; ``tests.conftest``). Follow-ups 6 weeks apart
(assessment dates 2025-02-17, 2025-03-31, 2025-05-12): SD = 77 mm, PD = 125 mm (+25 %: iUPD),
PD2 = 135 mm (a further +10 mm after the iUPD: iCPD). An iUPD on 2025-02-17 asks for its
confirmation scan from 2025-03-17 to 2025-04-14 (charter default 28 to 56 days).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import (
    TrialWithReads,
    followup_values,
    make_subject_with_reads,
    save_baseline,
    save_followup,
    sign,
)
from trialreads.choices import TrialRole
from trialreads.models import Read, Trial
from trialreads.services import trials as trial_services

SD = ("40.0", "25.0", "12.0")
PD = ("70.0", "35.0", "20.0")
PD2 = ("75.0", "40.0", "20.0")
#: Every number a reader entered or the engine derived from it in these tests.
MEASUREMENT_TEXTS = (
    *("50.0", "30.0", "20.0", "40.0", "25.0", "12.0", "70.0", "35.0", "75.0"),
    *("125.0", "135.0", "77.0", "+25", " mm", "%"),
)

IUPD_SCAN = dt.date(2025, 2, 17)
WINDOW_START = dt.date(2025, 3, 17)
WINDOW_END = dt.date(2025, 4, 14)


def irecist_trial(
    manager: Any,
    readers: tuple[Any, Any],
    sponsor: Any | None = None,
    criteria: tuple[str, ...] = ("recist1.1", "irecist"),
) -> TrialWithReads:
    trial = trial_services.trial_create(
        code="IO-001",
        title="Immunotherapy trial",
        actor=manager,
        charter={"criteria": list(criteria)},
        effective_from=dt.date(2025, 1, 1),
    )
    members = [(u, TrialRole.READER) for u in readers] + (
        [(sponsor, TrialRole.SPONSOR_VIEWER)] if sponsor else []
    )
    for user, role in members:
        trial_services.membership_add(trial_id=trial.pk, user_id=user.pk, role=role, actor=manager)
    return make_subject_with_reads(trial, manager, readers, followups=3)


def step(tw: TrialWithReads, read: Read, actor: Any, index: int, values: tuple[str, str, str] = SD) -> None:
    """Save and sign timepoint ``index`` of ``read`` (0 = baseline)."""
    tr = tw.tr(read, index)
    if index == 0:
        save_baseline(tr, actor)
    else:
        save_followup(tr, actor, targets=followup_values(*values))
    sign(tw.tr(read, index), actor)


def trial_of(tw: TrialWithReads) -> Trial:
    return tw.trial
