"""Endpoints are recomputed on commit after a signature or an adjudication decision (issue 5:
"Enqueued on commit after reads are signed or adjudicated"), never for a rolled-back write."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tests.conftest import TrialWithReads, save_baseline, save_followup, sign
from trialreads.models import EndpointJob, EndpointRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def auto_compute(settings: Any) -> None:
    settings.TRIALREADS = {"AUTO_COMPUTE_ENDPOINTS": True}


def _sign_both_baselines(w: TrialWithReads, reader_a: Any, reader_b: Any) -> None:
    for read, who in ((w.read_a, reader_a), (w.read_b, reader_b)):
        tr = w.tr(read, 0)
        save_baseline(tr, who)
        sign(tr, who)


def test_signing_enqueues_the_trial_computation_on_commit(
    auto_compute: None, trial_with_reads: TrialWithReads, reader_a: Any, reader_b: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    w = trial_with_reads
    _sign_both_baselines(w, reader_a, reader_b)
    tr = w.tr(w.read_a, 1)
    save_followup(tr, reader_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sign(tr, reader_a)
    assert len(callbacks) == 1
    # The callback ran the task (eager without a broker): one finished job with runs.
    job = EndpointJob.objects.get(trial=w.trial)
    assert job.status == "DONE"
    assert EndpointRun.objects.filter(job=job).count() >= 1


def test_a_rolled_back_signature_enqueues_nothing(
    auto_compute: None, trial_with_reads: TrialWithReads, reader_a: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    w = trial_with_reads
    tr = w.tr(w.read_a, 0)
    save_baseline(tr, reader_a)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        sign(tr, reader_a)
        raise RuntimeError("roll the signature back")
    assert callbacks == []
    assert not EndpointJob.objects.exists()


def test_switched_off_enqueues_nothing(
    settings: Any, trial_with_reads: TrialWithReads, reader_a: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TRIALREADS = {"AUTO_COMPUTE_ENDPOINTS": False}
    w = trial_with_reads
    tr = w.tr(w.read_a, 0)
    save_baseline(tr, reader_a)
    with django_capture_on_commit_callbacks() as callbacks:
        sign(tr, reader_a)
    assert callbacks == []
