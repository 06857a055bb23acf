"""The forked paths inside a real Celery worker: a prefork pool process that evaluates on
two forked processes and builds the export in two forked halves.

Large trials (``ENDPOINT_PARALLEL_MIN_SUBJECTS``, default 200) take these paths in
production, inside the worker's pool process. Here the worker's threshold is lowered to 1
(``TRIALREADS_TEST_FORK_THRESHOLD``) so three subjects take them; the worker's log proves
the fork happened, and the results and files must be those of one process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction

from tests.celery.harness import Worker, redis_clean, requires_workers, start_worker, wait_for
from tests.trialreads.endpoint_helpers import signed_subject
from trialreads.models import EndpointJob, EndpointRun, ExportBatch
from trialreads.models.endpoint import JobStatus
from trialreads.services.endpoints import evaluate_subject, load_trial_inputs
from trialreads.services.exports import MANIFEST_NAME, export_request, export_write
from trialreads.tasks import compute_endpoints

pytestmark = [requires_workers, pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
__all__ = ["redis_clean", "start_worker"]  # fixtures used by the test below

SUBJECTS = 3


def _finished(model: Any, **filters: Any) -> Any:
    row = model.objects.filter(**filters).first()
    return row if row is not None and row.status in (JobStatus.DONE, JobStatus.FAILED) else None


def test_forked_recompute_and_export_in_a_real_worker(
    trial: Any,
    manager: Any,
    reader_a: Any,
    reader_b: Any,
    sponsor: Any,
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    for n in range(1, SUBJECTS + 1):
        new_lesion_at = n if n > 1 else None  # S-002 and S-003 progress
        signed_subject(trial, manager, (reader_a, reader_b), f"S-{n:03d}", new_lesion_at=new_lesion_at)
    worker = start_worker(fork_threshold=1)

    compute_endpoints.delay(trial.pk)
    job = wait_for(lambda: _finished(EndpointJob, trial=trial))
    assert job.status == JobStatus.DONE
    # Same runs as one process evaluating here.
    inputs = load_trial_inputs(trial.pk)
    expected = {
        (run.subject_id, run.criterion): run.result_json
        for subject in inputs.subjects
        for run in evaluate_subject(subject, inputs.criteria)
    }
    stored = EndpointRun.objects.filter(trial=trial)
    assert stored.count() == SUBJECTS * 3 == len(expected)
    for run in stored:
        assert run.result == json.loads(expected[(run.subject_id, run.criterion)])

    with transaction.atomic():
        batch = export_request(trial_id=trial.pk, actor=sponsor)
    batch = wait_for(lambda: _finished(ExportBatch, pk=batch.pk))
    assert batch.status == JobStatus.DONE, batch.reason
    assert (batch.done, batch.total) == (3, 3)

    log = worker.log_text()
    assert f"evaluating {SUBJECTS} subjects in 2 forked processes" in log
    assert "in two forked halves" in log

    # The worker's files are the bytes this process writes in one process.
    local, _ = export_write(job, tmp_path / "local")
    remote = Path(settings.MEDIA_ROOT) / batch.directory
    for entry in local["files"]:
        content = (remote / entry["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], entry["path"]
    assert (remote / MANIFEST_NAME).exists()
