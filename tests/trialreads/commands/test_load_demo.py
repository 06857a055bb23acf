"""`make demo`'s command: signed blinded reads, adjudications, endpoints and exports, twice."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from trialreads.models import AdjudicationCase, AuditEvent, ExportBatch, Signature, Trial
from trialreads.services.audit import verify_chain


@pytest.mark.django_db
def test_load_demo_builds_everything_and_is_idempotent(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()

    trial = Trial.objects.get(code="DEMO-ADJ")
    assert trial.subjects.count() == 8
    # every read of every subject signed by its reader, and discordant subjects adjudicated
    assert Signature.objects.filter(voided_at__isnull=True).count() >= 8 * 2 * 3
    assert AdjudicationCase.objects.filter(subject__trial=trial, status="DECIDED").count() >= 4
    assert AdjudicationCase.objects.filter(subject__trial=trial, status="OPEN").count() >= 1

    batch = ExportBatch.objects.get(trial=trial)
    folder = tmp_path / batch.directory
    manifest = json.loads((folder / "manifest.json").read_text())
    names = {f["path"] for f in manifest["files"]}
    for stem in ("tu", "tr", "rs", "adrs", "adtte"):
        assert {f"{stem}.csv", f"{stem}.xpt"} <= names
    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]

    report = verify_chain(trial.chain_id)
    assert report.ok, report
    assert "Demo ready." in text and str(folder.resolve()) in text and "demo_reader1" in text

    # Running it again adds nothing: no new audit events, the same export batch.
    events = AuditEvent.objects.count()
    call_command("load_demo", stdout=io.StringIO())
    assert AuditEvent.objects.count() == events
    assert ExportBatch.objects.filter(trial=trial).count() == 1
