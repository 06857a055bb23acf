"""Issue 13, item 5, under a real worker: the pool process building an export is killed with
SIGKILL while it writes the files. No partial ``exports/<batch>`` may appear; the message
is redelivered, the new pool process takes the batch over (the dead holder's lease), builds
it once, and removes the dead writer's staging folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from tests.celery.harness import Worker, alive, redis_clean, requires_workers, start_worker, wait_for
from tests.trialreads.endpoint_helpers import signed_subject
from trialreads.exports.package import leftovers
from trialreads.models import ExportBatch
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as endpoint_services
from trialreads.services.exports import export_request

pytestmark = [requires_workers, pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
__all__ = ["redis_clean", "start_worker"]  # fixtures used by the test below


def test_export_writer_killed_mid_write_leaves_no_partial_transfer(
    trial: Any,
    manager: Any,
    reader_a: Any,
    reader_b: Any,
    sponsor: Any,
    start_worker: Callable[..., Worker],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker's media folder (and so its exports) in this test's own folder.
    monkeypatch.setenv("TRIALREADS_VAR_DIR", str(tmp_path / "var"))
    media = tmp_path / "var" / "media"
    signed_subject(trial, manager, (reader_a, reader_b), "S-001")
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    marker = tmp_path / "hung"
    worker = start_worker(export_hang=marker)
    with transaction.atomic():
        batch = export_request(trial_id=trial.pk, actor=sponsor)
    final = media / "exports" / str(batch.pk)

    wait_for(marker.exists)  # the pool process has written a file and hangs
    (staging,) = leftovers(final)
    assert list(staging.iterdir())  # half-written
    killed = worker.kill_child()
    assert not final.exists()

    def finished() -> ExportBatch | None:
        row = ExportBatch.objects.get(pk=batch.pk)
        return row if row.status in (JobStatus.DONE, JobStatus.FAILED) else None

    done = wait_for(finished)
    assert done.status == JobStatus.DONE, done.reason
    assert done.attempts == 2 and not alive(killed)
    assert sorted(p.name for p in final.iterdir()) == sorted(f["path"] for f in done.files)
    for entry in done.files:
        assert hashlib.sha256((final / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert leftovers(final) == []  # the dead writer's staging folder was removed
