"""An export batch reports its progress in steps (``done``/``total``) while it builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.trialreads.endpoint_helpers import signed_subject
from trialreads.models import ExportBatch
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as svc

pytestmark = pytest.mark.django_db


def test_a_batch_moves_through_its_steps_and_renews_its_lease(
    trial: Any,
    manager: Any,
    reader_a: Any,
    reader_b: Any,
    sponsor: Any,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    signed_subject(trial, manager, (reader_a, reader_b), "S-001")
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    seen: list[tuple[int, int, str, int]] = []
    real = svc.lease_renew

    def spy(kind: Any, batch_id: int, owner: str, done: int) -> None:
        row = ExportBatch.objects.get(pk=batch_id)
        real(kind, batch_id, owner, done)
        after = ExportBatch.objects.get(pk=batch_id)
        assert after.lease_expires_at is not None and after.lease_expires_at >= row.lease_expires_at
        seen.append((done, after.done, after.status, after.total))

    monkeypatch.setattr(svc, "lease_renew", spy)
    with django_capture_on_commit_callbacks(execute=True):
        batch = svc.export_request(trial_id=trial.pk, actor=sponsor)
    assert batch.total == svc.EXPORT_STEPS == 3

    batch.refresh_from_db()
    assert seen == [(1, 1, JobStatus.RUNNING, 3), (2, 2, JobStatus.RUNNING, 3)]
    assert (batch.status, batch.done, batch.total) == (JobStatus.DONE, 3, 3)
