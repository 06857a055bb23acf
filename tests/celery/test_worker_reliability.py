"""reliability-tests §10.2: the endpoint task under real Redis and real worker processes.

Each test builds subjects with signed reads (through the services, committed), enqueues
``trialreads.compute_endpoints`` and kills things. The worker's test hook sleeps before
each subject, so the computation is still running when the kill arrives.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from tests.celery.harness import Worker, alive, redis_clean, requires_workers, start_worker, wait_for
from tests.trialreads.endpoint_helpers import signed_subject
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent, EndpointJob, EndpointRun
from trialreads.models.endpoint import JobStatus
from trialreads.services.endpoints import job_runs
from trialreads.services.exports import export_write
from trialreads.tasks import compute_endpoints, enqueue_compute_endpoints

pytestmark = [requires_workers, pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
__all__ = ["redis_clean", "start_worker"]  # fixtures used by the tests below

SUBJECTS = 2
PAUSE = 1.5  # seconds per subject: the computation runs ~3 s


@pytest.fixture
def trial_with_subjects(trial: Any, manager: Any, reader_a: Any, reader_b: Any) -> Any:
    for n in range(1, SUBJECTS + 1):
        signed_subject(trial, manager, (reader_a, reader_b), f"S-{n:03d}")
    return trial


def _job(trial: Any) -> EndpointJob | None:
    return EndpointJob.objects.filter(trial=trial).first()


def _running(trial: Any) -> EndpointJob | None:
    job = _job(trial)
    return job if job is not None and job.status == JobStatus.RUNNING else None


def _done(trial: Any) -> EndpointJob | None:
    job = _job(trial)
    return job if job is not None and job.status in (JobStatus.DONE, JobStatus.FAILED) else None


def _assert_exactly_one_result(trial: Any, tmp_path: Path) -> EndpointJob:
    jobs = list(EndpointJob.objects.filter(trial=trial))
    assert len(jobs) == 1
    (job,) = jobs
    assert job.status == JobStatus.DONE
    runs = EndpointRun.objects.filter(trial=trial)
    assert runs.count() == SUBJECTS * 3 == len(job_runs(job))
    assert all(run.status == JobStatus.DONE for run in runs)
    done_events = [
        e
        for e in AuditEvent.objects.filter(event_type=AuditEventType.ENDPOINT_COMPUTED, object_id=str(job.pk))
        if e.after["status"] == "DONE"
    ]
    assert len(done_events) == 1
    assert done_events[0].actor_username == "system:trialreads.compute_endpoints"
    # The export built from it has one ADTTE record per subject and parameter.
    manifest, _ = export_write(job, tmp_path / "export")
    adtte = (tmp_path / "export" / "adtte.csv").read_text().splitlines()
    header = adtte[0].split(",")
    subject_col, param_col = header.index("USUBJID"), header.index("PARAMCD")
    keys = [(row.split(",")[subject_col], row.split(",")[param_col]) for row in adtte[1:]]
    expected = {(f"S-{n:03d}", p) for n in range(1, SUBJECTS + 1) for p in ("PFS", "PFSI", "PFSIM")}
    assert sorted(keys) == sorted(expected)
    assert json.loads((tmp_path / "export" / "manifest.json").read_text()) == manifest
    return job


def test_child_killed_mid_task_is_redelivered_and_finishes_once(
    trial_with_subjects: Any, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    """T-CEL-CHILDKILL."""
    worker = start_worker(hook=f"sleep:{PAUSE}")
    started = time.monotonic()
    compute_endpoints.delay(trial_with_subjects.pk)
    wait_for(lambda: _running(trial_with_subjects))
    killed = worker.kill_child()

    wait_for(lambda: _done(trial_with_subjects))
    elapsed = time.monotonic() - started

    job = _assert_exactly_one_result(trial_with_subjects, tmp_path)
    assert job.attempts >= 2  # the killed start and the redelivered one
    assert not alive(killed) and alive(worker.pid)
    assert elapsed <= SUBJECTS * PAUSE * 2 + 10


def test_whole_worker_killed_mid_task_is_restored_to_a_new_worker(
    trial_with_subjects: Any, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    """T-CEL-WORKERKILL: the message stays unacked in Redis and is restored to the fresh
    worker after the visibility timeout (10 s) by the unacked sweep (every 2 s)."""
    first = start_worker(hook=f"sleep:{PAUSE}")
    compute_endpoints.delay(trial_with_subjects.pk)
    wait_for(lambda: _running(trial_with_subjects))
    first.kill_all()
    killed_at = time.monotonic()
    assert not alive(first.pid)

    start_worker(hook=f"sleep:{PAUSE}")
    wait_for(lambda: _done(trial_with_subjects), timeout=10 + 2 + SUBJECTS * PAUSE + 15)
    elapsed = time.monotonic() - killed_at

    job = _assert_exactly_one_result(trial_with_subjects, tmp_path)
    assert job.attempts == 2
    assert elapsed >= 8  # not before the visibility timeout: it was a restore, not a retry


def test_early_ack_loses_the_task_when_the_child_dies(
    trial_with_subjects: Any, start_worker: Callable[..., Worker]
) -> None:
    """T-CEL-CONTROL: with Celery's default early acknowledgement the same kill loses the
    task for good, which is why acks_late + reject_on_worker_lost are set."""
    worker = start_worker(hook=f"sleep:{PAUSE}", early_ack=True)
    compute_endpoints.delay(trial_with_subjects.pk)
    wait_for(lambda: _running(trial_with_subjects))
    worker.kill_child()

    time.sleep(10 + 2 + 2)  # past the visibility timeout and a restore sweep

    job = _job(trial_with_subjects)
    assert job is not None and job.status == JobStatus.RUNNING and job.attempts == 1
    assert not EndpointRun.objects.filter(trial=trial_with_subjects).exists()


def test_poison_message_stops_after_the_attempt_cap(
    trial_with_subjects: Any, start_worker: Callable[..., Worker]
) -> None:
    """T-CEL-POISON: a task that kills its pool process every time is redelivered until the
    attempt cap, then the job is FAILED with a reason and an audit event; no endless loop."""
    worker = start_worker(hook="exit")
    compute_endpoints.delay(trial_with_subjects.pk)

    job = wait_for(lambda: _done(trial_with_subjects))

    assert job.status == JobStatus.FAILED and job.attempts == 5
    assert "gave up after 5 attempts" in job.reason
    event = AuditEvent.objects.get(event_type=AuditEventType.ENDPOINT_COMPUTED, object_id=str(job.pk))
    assert event.after["status"] == "FAILED" and event.actor_username == "system:trialreads.compute_endpoints"
    assert not EndpointRun.objects.filter(trial=trial_with_subjects).exists()
    time.sleep(2)
    job.refresh_from_db()
    assert job.attempts == 5 and alive(worker.pid)


def test_task_enqueued_in_a_rolled_back_transaction_never_runs(
    trial: Any, manager: Any, reader_a: Any, reader_b: Any, start_worker: Callable[..., Worker]
) -> None:
    """T-CEL-ONCOMMIT: ``delay_on_commit`` sends nothing when the transaction rolls back. A
    second, committed enqueue is the witness that the worker was consuming."""
    from trialreads.choices import TrialRole
    from trialreads.services import trials as trial_services

    signed_subject(trial, manager, (reader_a, reader_b), "S-001")
    other = trial_services.trial_create(
        code="ONC-002", title="Second trial", actor=manager, charter={"criteria": ["recist1.1"]}
    )
    for user in (reader_a, reader_b):
        trial_services.membership_add(
            trial_id=other.pk, user_id=user.pk, role=TrialRole.READER, actor=manager
        )
    signed_subject(other, manager, (reader_a, reader_b), "S-101")
    start_worker()

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_compute_endpoints(trial.pk)
        raise RuntimeError("roll back")
    with transaction.atomic():
        enqueue_compute_endpoints(other.pk)

    wait_for(lambda: _done(other))
    time.sleep(1)
    assert not EndpointJob.objects.filter(trial=trial).exists()


def test_task_outliving_the_visibility_timeout_computes_once(
    trial_with_subjects: Any, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    """T-CEL-LONGTASK: the task runs longer than the visibility timeout (4 s), so Redis hands
    the same message to the second worker while the first still computes. The duplicate
    starts, finds the lease held by a live worker and backs off; one result, one claim."""
    first = start_worker(hook="sleep:4", visibility=4, restore=1)
    second = start_worker(hook="sleep:4", visibility=4, restore=1)
    compute_endpoints.delay(trial_with_subjects.pk)

    wait_for(lambda: _done(trial_with_subjects), timeout=SUBJECTS * 4 + 15)

    job = _assert_exactly_one_result(trial_with_subjects, tmp_path)
    assert job.attempts == 1  # the duplicate never claimed the job
    pattern = re.compile(r"compute_endpoints\[[^\]]+\] received")
    received = [w for w in (first, second) if pattern.search(w.log_text())]
    assert len(received) == 2, "the message should have been delivered to both workers"
