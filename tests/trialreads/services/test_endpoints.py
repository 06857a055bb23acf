"""Endpoint computation service: inputs, idempotence, leases, results, enqueue on commit.

These run on either database with Celery eager (no broker); the real-worker behaviour
(killed children and workers, redelivery) is in ``tests/celery``.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from criteria.evaluate import evaluate
from tests.trialreads.endpoint_helpers import signed_subject
from trialreads import mappers
from trialreads.choices import AcceptanceBasis, AuditEventType
from trialreads.models import AcceptedRead, AuditEvent, Charter, EndpointJob, EndpointRun, TimepointRead
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as svc
from trialreads.tasks import enqueue_compute_endpoints

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(reader_a: Any, reader_b: Any) -> tuple[Any, Any]:
    return (reader_a, reader_b)


def _engine_result(read: Any, criterion: str) -> Any:
    """The engine's result on one read, through the core mapper (the reference path)."""
    trs = list(
        TimepointRead.objects.filter(read=read, status="SIGNED")
        .select_related("timepoint", "read__subject")
        .prefetch_related("measurements__lesion", "ratings__lesion")
    )
    charter = Charter.objects.get(trial=read.subject.trial, is_current=True)
    return evaluate(mappers.subject_for_read(read, trs, charter), [criterion]).results[criterion]


def test_compute_writes_one_run_per_subject_and_criterion(trial: Any, manager: Any, readers: Any) -> None:
    case = signed_subject(trial, manager, readers, "S-001", new_lesion_at=2)
    accepted = AcceptedRead.objects.get(subject=case.subject)

    outcome = svc.endpoints_compute(trial_id=trial.pk, requested_by="test")

    job = outcome.job
    assert outcome.computed and job.status == JobStatus.DONE and job.attempts == 1
    assert job.done == job.total == 3 and job.charter.version == 1
    runs = {r.criterion: r for r in EndpointRun.objects.filter(job=job)}
    assert sorted(runs) == ["imrecist", "irecist", "recist1.1"]
    expected_accepted = "RADIOLOGIST 1" if accepted.read_id == case.read_a.pk else "RADIOLOGIST 2"
    if accepted.basis == AcceptanceBasis.PENDING:
        expected_accepted = ""
    for criterion, run in runs.items():
        assert run.status == JobStatus.DONE and run.accepted_evaluator == expected_accepted
        # The bulk loader maps the rows exactly as the core mapper does: same engine result.
        for read, evaluator in ((case.read_a, "RADIOLOGIST 1"), (case.read_b, "RADIOLOGIST 2")):
            assert svc.result_from_json(run.result[evaluator]) == _engine_result(read, criterion)
    # Reader 1 saw a new lesion at week 12: progression on that read only.
    recist = runs["recist1.1"].result
    assert recist["RADIOLOGIST 1"]["timepoints"][-1]["overall"] == "PD"
    assert recist["RADIOLOGIST 2"]["timepoints"][-1]["overall"] == "PR"
    event = AuditEvent.objects.get(event_type=AuditEventType.ENDPOINT_COMPUTED, object_id=str(job.pk))
    assert event.after["status"] == "DONE" and event.after["input_sha256"] == job.input_sha256


def test_repeated_compute_is_a_no_op(trial: Any, manager: Any, readers: Any) -> None:
    signed_subject(trial, manager, readers, "S-001")
    first = svc.endpoints_compute(trial_id=trial.pk)
    again = svc.endpoints_compute(trial_id=trial.pk)

    assert again.job.pk == first.job.pk and not again.computed
    assert EndpointJob.objects.count() == 1 and EndpointRun.objects.count() == 3
    assert AuditEvent.objects.filter(event_type=AuditEventType.ENDPOINT_COMPUTED).count() == 1


def test_new_data_makes_a_new_job_and_reuses_unchanged_subjects(
    trial: Any, manager: Any, readers: Any
) -> None:
    signed_subject(trial, manager, readers, "S-001")
    first = svc.endpoints_compute(trial_id=trial.pk)
    signed_subject(trial, manager, readers, "S-002", followups=(("55.0", "30.0", "20.0"),))

    second = svc.endpoints_compute(trial_id=trial.pk)

    assert second.job.pk != first.job.pk and second.job.input_sha256 != first.job.input_sha256
    assert second.evaluated_subjects == 1  # S-001's inputs did not change: its runs are reused
    assert EndpointRun.objects.count() == 6
    assert len(svc.job_runs(second.job)) == 6 and len(svc.job_runs(first.job)) == 3


def test_full_recompute_writes_nothing_new(trial: Any, manager: Any, readers: Any) -> None:
    signed_subject(trial, manager, readers, "S-001")
    first = svc.endpoints_compute(trial_id=trial.pk)
    EndpointJob.objects.filter(pk=first.job.pk).update(status=JobStatus.PENDING)  # as if redelivered mid-way

    again = svc.endpoints_compute(trial_id=trial.pk, full=True)

    assert again.computed and again.evaluated_subjects == 1
    assert EndpointRun.objects.count() == 3  # same keys: the duplicate insert is skipped


def test_drafts_do_not_count(trial: Any, manager: Any, readers: Any, reader_a: Any) -> None:
    from tests.conftest import make_subject_with_reads, save_baseline

    case = make_subject_with_reads(trial, manager, readers, code="S-009")
    save_baseline(case.tr(case.read_a, 0), reader_a)  # saved, never signed

    outcome = svc.endpoints_compute(trial_id=trial.pk)

    (run,) = [r for r in EndpointRun.objects.filter(job=outcome.job) if r.criterion == "recist1.1"]
    assert run.result == {} and run.accepted_evaluator == ""


def test_result_json_round_trip_is_lossless(trial: Any, manager: Any, readers: Any) -> None:
    case = signed_subject(trial, manager, readers, "S-001", new_lesion_at=1)
    for criterion in ("recist1.1", "irecist", "imrecist"):
        result = _engine_result(case.read_a, criterion)
        assert svc.result_from_json(svc.result_to_json(result)) == result


def test_load_uses_a_constant_number_of_queries(trial: Any, manager: Any, readers: Any) -> None:
    signed_subject(trial, manager, readers, "S-001")
    with CaptureQueriesContext(connection) as one:
        svc.load_trial_inputs(trial.pk)
    for n in (2, 3):
        signed_subject(trial, manager, readers, f"S-00{n}")
    with CaptureQueriesContext(connection) as three:
        inputs = svc.load_trial_inputs(trial.pk)
    assert len(inputs.subjects) == 3
    assert len(three.captured_queries) == len(one.captured_queries)


# --- leases -------------------------------------------------------------------------------


def _pending_job(trial: Any, manager: Any, readers: Any) -> EndpointJob:
    signed_subject(trial, manager, readers, "S-001")
    return svc.job_get_or_create(svc.load_trial_inputs(trial.pk))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_live_lease_of_another_worker_is_respected(trial: Any, manager: Any, readers: Any) -> None:
    job = _pending_job(trial, manager, readers)
    assert svc.job_claim(job.pk, svc.worker_identity("first")).claimed

    other = svc.job_claim(job.pk, "elsewhere:1:second")

    assert not other.claimed and other.retry_in is not None and 0 < other.retry_in <= 120
    job.refresh_from_db()
    assert job.attempts == 1 and job.lease_owner == svc.worker_identity("first")


def test_lease_of_a_dead_process_is_taken_over(trial: Any, manager: Any, readers: Any) -> None:
    import socket

    job = _pending_job(trial, manager, readers)
    dead = f"{socket.gethostname()}:{_dead_pid()}:old-task"
    assert svc.job_claim(job.pk, dead).claimed

    claim = svc.job_claim(job.pk, svc.worker_identity("new-task"))

    assert claim.claimed
    job.refresh_from_db()
    assert job.attempts == 2 and job.lease_owner == svc.worker_identity("new-task")


def test_expired_lease_is_taken_over(trial: Any, manager: Any, readers: Any) -> None:
    job = _pending_job(trial, manager, readers)
    assert svc.job_claim(job.pk, "elsewhere:1:a").claimed
    EndpointJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert svc.job_claim(job.pk, "elsewhere:2:b").claimed


def test_attempts_are_capped(trial: Any, manager: Any, readers: Any, settings: Any) -> None:
    settings.TRIALREADS = {"ENDPOINT_MAX_ATTEMPTS": 2}
    job = _pending_job(trial, manager, readers)
    for n in range(2):
        assert svc.job_claim(job.pk, f"elsewhere:{n}:x").claimed
        EndpointJob.objects.filter(pk=job.pk).update(
            lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )

    final = svc.job_claim(job.pk, "elsewhere:9:x")

    job.refresh_from_db()
    assert not final.claimed and job.status == JobStatus.FAILED and "gave up after 2 attempts" in job.reason
    event = AuditEvent.objects.get(event_type=AuditEventType.ENDPOINT_COMPUTED, object_id=str(job.pk))
    assert event.after["status"] == "FAILED" and event.reason == job.reason
    # A FAILED job stays failed: redeliveries stop here.
    assert not svc.job_claim(job.pk, "elsewhere:10:x").claimed


def test_finish_without_the_lease_writes_nothing(trial: Any, manager: Any, readers: Any) -> None:
    job = _pending_job(trial, manager, readers)
    assert svc.job_claim(job.pk, "elsewhere:1:a").claimed
    inputs = svc.load_trial_inputs(trial.pk)
    runs = [r for s in inputs.subjects for r in svc.evaluate_subject(s, inputs.criteria)]
    EndpointJob.objects.filter(pk=job.pk).update(lease_owner="elsewhere:2:b")  # taken over

    with pytest.raises(svc.LeaseLost):
        svc.job_finish(job, "elsewhere:1:a", runs)
    with pytest.raises(svc.LeaseLost):
        svc.job_progress(job.pk, "elsewhere:1:a", 1)

    assert EndpointRun.objects.count() == 0
    assert not AuditEvent.objects.filter(event_type=AuditEventType.ENDPOINT_COMPUTED).exists()


# --- the task, eager and on commit -----------------------------------------------------------


@pytest.fixture
def celery_eager() -> Any:
    """Run tasks in-process even when REDIS_URL names a broker (the PostgreSQL pass): these
    tests are about on-commit enqueueing and the audit context, not about delivery."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_enqueue_runs_after_commit_as_the_system_actor(
    trial: Any, manager: Any, readers: Any, django_capture_on_commit_callbacks: Any, celery_eager: None
) -> None:
    signed_subject(trial, manager, readers, "S-001")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_compute_endpoints(trial.pk, "manager")
    assert len(callbacks) == 1
    job = EndpointJob.objects.get()
    assert job.status == JobStatus.DONE and job.requested_by == "manager" and job.task_id
    event = AuditEvent.objects.get(event_type=AuditEventType.ENDPOINT_COMPUTED)
    assert event.actor_username == "system:trialreads.compute_endpoints" and event.request_id == job.task_id


def test_enqueue_in_a_rolled_back_transaction_never_runs(
    trial: Any, manager: Any, readers: Any, django_capture_on_commit_callbacks: Any, celery_eager: None
) -> None:
    signed_subject(trial, manager, readers, "S-001")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue_compute_endpoints(trial.pk)
        raise RuntimeError("roll back")
    assert callbacks == [] and not EndpointJob.objects.exists()


def test_mm_values_stay_exact(trial: Any, manager: Any, readers: Any) -> None:
    signed_subject(trial, manager, readers, "S-001", followups=(("33.3", "22.2", "11.1"),))
    outcome = svc.endpoints_compute(trial_id=trial.pk)
    run = EndpointRun.objects.get(job=outcome.job, criterion="recist1.1")
    (week6,) = run.result["RADIOLOGIST 1"]["timepoints"]
    assert Decimal(week6["sum_mm"]) == Decimal("66.6")
