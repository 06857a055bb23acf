"""Export batches are written atomically and never stay RUNNING for good (issue 13, item 5).

A build stages its files in a hidden sibling of ``exports/<batch>``, checks them, and
renames the folder into place in the transaction that finishes the batch. These tests
break it where a crash would: mid-write, after a kill (the state a killed worker leaves:
a lease that ran out and hidden leftovers), between the rename and the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.trialreads.endpoint_helpers import signed_subject
from trialreads import conf, tasks
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent, ExportBatch
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media" / "exports"


@pytest.fixture
def batch(trial: Any, manager: Any, reader_a: Any, reader_b: Any, sponsor: Any, root: Path) -> ExportBatch:
    """A requested, not yet built batch (its build task captured, not run)."""
    signed_subject(trial, manager, (reader_a, reader_b), "S-001")
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    return svc.export_request(trial_id=trial.pk, actor=sponsor)


def _as_if_killed(batch: ExportBatch, *, attempts: int = 1, owner: str = "elsewhere:4242:dead-task") -> None:
    """The row a worker killed mid-build leaves: RUNNING, its lease run out."""
    ExportBatch.objects.filter(pk=batch.pk).update(
        status=JobStatus.RUNNING,
        lease_owner=owner,
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1),
        attempts=attempts,
        started_at=timezone.now() - dt.timedelta(minutes=5),
    )


def _files_match_the_batch(batch: ExportBatch, root: Path) -> None:
    folder = root / str(batch.pk)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f["path"] for f in batch.files)
    for entry in batch.files:
        assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]


def test_a_failure_mid_write_fails_the_batch_and_leaves_nothing(
    batch: ExportBatch, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Path.write_bytes
    written: list[str] = []

    def disk_full_at_the_third(self: Path, data: bytes) -> int:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(self.name)
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full_at_the_third)
    outcome = svc.export_build(batch_id=batch.pk, task_id="t1")

    batch.refresh_from_db()
    assert not outcome.built and len(written) == 2
    assert batch.status == JobStatus.FAILED and "No space left on device" in batch.reason
    assert (batch.lease_owner, batch.lease_expires_at, batch.files) == ("", None, [])
    assert list(root.iterdir()) == []  # neither a transfer nor a staging folder
    event = AuditEvent.objects.get(event_type=AuditEventType.EXPORT_CREATED, object_id=str(batch.pk))
    assert event.after["status"] == JobStatus.FAILED and "No space left" in event.reason


def test_a_bug_in_the_build_fails_the_batch_instead_of_leaving_it_running(
    batch: ExportBatch, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: the build raised, the task ended, the batch stayed RUNNING."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ArithmeticError("quantize result has too many digits")

    monkeypatch.setattr(svc, "build_study", broken)
    svc.export_build(batch_id=batch.pk, task_id="t1")
    batch.refresh_from_db()
    assert batch.status == JobStatus.FAILED
    assert batch.reason == "build failed: ArithmeticError: quantize result has too many digits"


def test_a_killed_writer_is_taken_over_and_its_leftovers_removed(
    batch: ExportBatch, root: Path, trial: Any
) -> None:
    _as_if_killed(batch)
    root.mkdir(parents=True)
    partial = root / f".{batch.pk}.staging-k1ll3d"
    partial.mkdir()
    (partial / "adrs.xpt").write_bytes(b"HEADER RECORD" + b"\0" * 10)  # cut short
    (root / f".{batch.pk}.old-k1ll3d").mkdir()
    (root / f".staging-{batch.pk}-4242").mkdir()  # the name earlier versions staged under
    (root / ".99999.staging-gone").mkdir()  # a batch that is not being built
    busy = ExportBatch.objects.create(
        trial=trial,
        job=batch.job,
        input_sha256="f" * 64,
        status=JobStatus.RUNNING,
        lease_owner="elsewhere:1:live-task",
        lease_expires_at=timezone.now() + dt.timedelta(minutes=1),
    )
    (root / f".{busy.pk}.staging-live").mkdir()  # a live writer's: must survive

    outcome = svc.export_build(batch_id=batch.pk, task_id="t2")

    batch.refresh_from_db()
    assert outcome.built and batch.status == JobStatus.DONE and batch.attempts == 2
    _files_match_the_batch(batch, root)
    assert sorted(p.name for p in root.iterdir()) == sorted([str(batch.pk), f".{busy.pk}.staging-live"])


def test_a_copy_renamed_in_before_a_crash_is_replaced_whole(batch: ExportBatch, root: Path) -> None:
    """Killed between the rename and the commit: the folder is there, the batch RUNNING.
    The takeover swaps in its own copy; nothing of the old one remains."""
    _as_if_killed(batch)
    (root / str(batch.pk)).mkdir(parents=True)
    (root / str(batch.pk) / "manifest.json").write_bytes(b"{}")
    (root / str(batch.pk) / "stale.csv").write_bytes(b"from the killed attempt\n")

    svc.export_build(batch_id=batch.pk, task_id="t2")

    batch.refresh_from_db()
    assert batch.status == JobStatus.DONE
    _files_match_the_batch(batch, root)
    assert [p.name for p in root.iterdir()] == [str(batch.pk)]


def test_asking_again_for_a_batch_stuck_past_its_lease_builds_it(
    batch: ExportBatch, root: Path, trial: Any, sponsor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _as_if_killed(batch)
    with django_capture_on_commit_callbacks() as queued:
        again = svc.export_request(trial_id=trial.pk, actor=sponsor)
    assert again.pk == batch.pk and len(queued) == 1  # the build is sent again

    # While a live worker holds the lease, asking again sends nothing.
    ExportBatch.objects.filter(pk=batch.pk).update(lease_expires_at=timezone.now() + dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks() as queued:
        svc.export_request(trial_id=trial.pk, actor=sponsor)
    assert queued == []


def test_a_batch_that_keeps_killing_its_worker_ends_failed_with_the_reason(
    batch: ExportBatch, root: Path
) -> None:
    _as_if_killed(batch, attempts=int(conf.get("ENDPOINT_MAX_ATTEMPTS")))
    outcome = svc.export_build(batch_id=batch.pk, task_id="t9")
    batch.refresh_from_db()
    assert not outcome.built and batch.status == JobStatus.FAILED
    assert batch.reason.startswith("gave up after 5 attempts; the last holder (elsewhere:4242:dead-task)")
    assert not (root / str(batch.pk)).exists()


def test_the_periodic_task_resumes_only_batches_stuck_past_their_lease(
    batch: ExportBatch, root: Path, trial: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _as_if_killed(batch)
    live = ExportBatch.objects.create(
        trial=trial,
        job=batch.job,
        input_sha256="e" * 64,
        status=JobStatus.RUNNING,
        lease_owner="elsewhere:1:live-task",
        lease_expires_at=timezone.now() + dt.timedelta(minutes=1),
    )
    with django_capture_on_commit_callbacks(execute=True) as queued:
        result = tasks.resume_stale_exports.apply().get()
    assert result == {"resumed": [batch.pk]} and len(queued) == 1
    batch.refresh_from_db()
    live.refresh_from_db()
    assert batch.status == JobStatus.DONE and batch.attempts == 2  # taken over and built
    assert live.status == JobStatus.RUNNING and live.lease_owner == "elsewhere:1:live-task"
    _files_match_the_batch(batch, root)
