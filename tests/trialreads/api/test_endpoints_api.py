"""Endpoint computations and exports over HTTP: who may trigger, read and download, and
that a download is the file the manifest names (and is audited)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.trialreads.api.conftest import API, client_for
from trialreads.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_manager_triggers_and_follows_a_computation(
    world: dict[str, Any], manager: Any, sponsor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    trial = world["trial"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(manager).post(f"{API}/trials/{trial.pk}/endpoint-jobs/")
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1  # enqueued after commit, not before
    job = response.json()["job"]
    assert job["status"] == "DONE" and job["progress"] == 1.0
    progress = client_for(sponsor).get(f"{API}/endpoint-jobs/{job['id']}/").json()
    assert progress["id"] == job["id"] and progress["done"] == progress["total"]
    assert client_for(sponsor).post(f"{API}/trials/{trial.pk}/endpoint-jobs/").status_code == 403


def test_results_are_the_accepted_reads(world: dict[str, Any], sponsor: Any) -> None:
    body = client_for(sponsor).get(f"{API}/trials/{world['trial'].pk}/endpoint-results/?limit=200").json()
    rows = body["results"]
    assert rows and {r["criterion"] for r in rows} == {"recist1.1", "irecist", "imrecist"}
    # Subject S-ADJ is under adjudication: no accepted read, no evaluator, no result.
    for row in rows:
        assert (row["result"] is None) == (row["evaluator"] == "")
    assert any(r["subject_code"] == "S-001" and r["result"] for r in rows)


def test_download_matches_manifest_and_is_audited(world: dict[str, Any], sponsor: Any, reader_a: Any) -> None:
    batch = world["batch"]
    detail = client_for(sponsor).get(f"{API}/exports/{batch.pk}/").json()
    assert detail["status"] == "DONE" and detail["files"]
    entry = next(f for f in detail["files"] if f["path"].endswith(".xpt"))
    response = client_for(sponsor).get(f"{API}/exports/{batch.pk}/files/{entry['path']}")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == entry["sha256"] and len(content) == entry["bytes"]
    assert AuditEvent.objects.filter(event_type="EXPORT_DOWNLOADED", actor_id=sponsor.pk).count() == 1
    # Unknown names and path tricks are the same 404; to a reader the batch does not exist.
    for name in ("nope.xpt", "..%2Fmanifest.json", "%2Fetc%2Fpasswd"):
        assert client_for(sponsor).get(f"{API}/exports/{batch.pk}/files/{name}").status_code == 404
    assert client_for(reader_a).get(f"{API}/exports/{batch.pk}/files/{entry['path']}").status_code == 404


def test_export_request_is_idempotent(world: dict[str, Any], sponsor: Any) -> None:
    url = f"{API}/trials/{world['trial'].pk}/exports/"
    first = client_for(sponsor).post(url)
    second = client_for(sponsor).post(url)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] == world["batch"].pk
