"""Sponsor exports from computed endpoints: request, build (task), files, download, audit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.trialreads.endpoint_helpers import signed_subject
from trialreads.choices import AuditEventType
from trialreads.errors import Conflict, NotFound, PermissionDenied
from trialreads.models import AuditEvent, ExportBatch
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def celery_eager() -> Any:
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def computed(trial: Any, manager: Any, reader_a: Any, reader_b: Any) -> Any:
    signed_subject(trial, manager, (reader_a, reader_b), "S-001")
    signed_subject(trial, manager, (reader_a, reader_b), "S-002", followups=(("60.0", "35.0", "22.0"),))
    return endpoint_services.endpoints_compute(trial_id=trial.pk).job


def _request(trial: Any, actor: Any, capture: Any, **kwargs: Any) -> ExportBatch:
    with capture(execute=True):
        batch = svc.export_request(trial_id=trial.pk, actor=actor, **kwargs)
    batch.refresh_from_db()
    return batch


def test_sponsor_export_is_built_with_files_hashes_and_audit(
    trial: Any,
    sponsor: Any,
    computed: Any,
    media: Path,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    batch = _request(trial, sponsor, django_capture_on_commit_callbacks)

    assert batch.status == JobStatus.DONE and batch.job_id == computed.pk and batch.requested_by == "sponsor"
    names = sorted(f["path"] for f in batch.files)
    datasets = ("tu", "tr", "rs", "adsl", "adrs", "adtte")
    # with the reviewer's guide (issue 18 item 5)
    expected = [f"{d}.{ext}" for d in datasets for ext in ("xpt", "csv")]
    expected += ["manifest.json", "reviewers-guide.txt", "define.xml"]
    assert names == sorted(expected)
    for entry in batch.files:
        content = (media / batch.directory / entry["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"] and len(content) == entry["bytes"]
    manifest = json.loads((media / batch.directory / "manifest.json").read_text())
    assert manifest["studyid"] == "ONC-001" and manifest["charter_version"] == "1"
    assert manifest["audit_chain_head"]
    assert manifest["criteria_algorithm_version"] == computed.algorithm_version
    event = AuditEvent.objects.get(event_type=AuditEventType.EXPORT_CREATED, object_id=str(batch.pk))
    assert event.actor_username == "system:trialreads.build_export" and event.after["subjects"] == 2


def test_repeated_request_returns_the_same_batch(
    trial: Any,
    sponsor: Any,
    computed: Any,
    media: Path,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = _request(trial, sponsor, django_capture_on_commit_callbacks)
    again = _request(trial, sponsor, django_capture_on_commit_callbacks)
    assert again.pk == first.pk and ExportBatch.objects.count() == 1
    assert AuditEvent.objects.filter(event_type=AuditEventType.EXPORT_CREATED).count() == 1


def test_readers_cannot_export_and_nothing_is_exported_before_computing(
    trial: Any, reader_a: Any, sponsor: Any, manager: Any, reader_b: Any
) -> None:
    signed_subject(trial, manager, (reader_a, reader_b), "S-001")
    with pytest.raises(Conflict):
        svc.export_request(trial_id=trial.pk, actor=sponsor)
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    with pytest.raises(PermissionDenied) as refused:
        svc.export_request(trial_id=trial.pk, actor=reader_a)
    assert not ExportBatch.objects.exists()
    # The denial travels with the error; the request's boundary records it.
    assert refused.value.denial is not None and refused.value.denial.after == {"missing_capability": "export"}


def test_download_is_audited_and_refused_to_readers(
    trial: Any,
    sponsor: Any,
    reader_a: Any,
    computed: Any,
    media: Path,
    celery_eager: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    batch = _request(trial, sponsor, django_capture_on_commit_callbacks)

    path = svc.export_file_path(batch_id=batch.pk, name="adtte.xpt", actor=sponsor)

    assert path.read_bytes()[:80].startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD")
    event = AuditEvent.objects.get(event_type="EXPORT_DOWNLOADED")
    assert event.actor_username == "sponsor" and event.after["file"] == "adtte.xpt"
    # A reader may not know the batch exists: the same NotFound as for a missing id.
    with pytest.raises(NotFound):
        svc.export_file_path(batch_id=batch.pk, name="adtte.xpt", actor=reader_a)
    with pytest.raises(NotFound):
        svc.export_file_path(batch_id=987654, name="adtte.xpt", actor=reader_a)


def test_same_results_give_byte_identical_files(computed: Any, tmp_path: Path) -> None:
    """T-CEL-DETERMINISM (within one database; from scratch: test_import_sdtm)."""
    svc.export_write(computed, tmp_path / "one")
    svc.export_write(computed, tmp_path / "two")
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()}
    assert one == two and len(one) == 15  # 6 x (xpt, csv), the manifest, the reviewer's guide, define.xml


def test_subjects_without_an_accepted_read_are_left_out_and_named(
    trial: Any, manager: Any, reader_a: Any, reader_b: Any, tmp_path: Path
) -> None:
    from tests.conftest import make_subject_with_reads, save_baseline, sign

    signed_subject(trial, manager, (reader_a, reader_b), "S-001")
    pending = make_subject_with_reads(trial, manager, (reader_a, reader_b), code="S-002")
    save_baseline(pending.tr(pending.read_a, 0), reader_a)
    sign(pending.tr(pending.read_a, 0), reader_a)  # reader B has not read it yet
    job = endpoint_services.endpoints_compute(trial_id=trial.pk).job

    manifest, build = svc.export_write(job, tmp_path / "out")

    assert [s.usubjid for s in build.study.subjects] == ["S-001"]
    assert build.excluded == ("S-002: no accepted read yet",)
    assert {d["name"]: d["rows"] for d in manifest["datasets"]}["ADTTE"] == 3


def test_per_subject_build_equals_whole_study_build(computed: Any) -> None:
    from trialreads.exports.datasets import build_all

    study = svc.build_study(computed).study
    whole = build_all(study)
    assert [(d.name, d.rows) for d in svc.build_datasets(study)] == [(d.name, d.rows) for d in whole]


def test_package_when_the_accepted_reader_progresses_first(
    trial: Any, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, password: str, tmp_path: Path
) -> None:
    from trialreads.models import AdjudicationCase
    from trialreads.services import adjudication as adjudication_services

    """RECIST 1.1 assessments of the accepted read end at its PD while the other reader reads
    on: the later visits have no accepted RS record, and the package is still valid."""
    # Reader 1 sees a new lesion at week 6 (PD); reader 2 reads on to week 12 (PR).
    case = signed_subject(trial, manager, (reader_a, reader_b), "S-001", new_lesion_at=1)
    adjudication = AdjudicationCase.objects.get(subject=case.subject, status="OPEN")
    if adjudication.adjudicator_id is None:
        adjudication_services.adjudication_assign(
            case_id=adjudication.pk, adjudicator_id=adjudicator.pk, actor=manager
        )
    adjudication_services.adjudication_decide(
        case_id=adjudication.pk,
        chosen=adjudication.label_for_slot(1),
        rationale="The new liver lesion is unequivocal.",
        password=password,
        printed_name="Alex Judge",
        actor=adjudicator,
    )
    job = endpoint_services.endpoints_compute(trial_id=trial.pk).job

    manifest, build = svc.export_write(job, tmp_path / "out")

    assert {d["name"]: d["rows"] for d in manifest["datasets"]}["ADTTE"] == 3
    assert build.study.subjects[0].accepted.value == "RADIOLOGIST 1"
    rs = (tmp_path / "out" / "rs.csv").read_text().splitlines()
    week12 = [line for line in rs if "RECIST 1.1" in line and ",OVRLRESP," in line and "WEEK12" in line]
    assert len(week12) == 1 and ",RADIOLOGIST 2,," in week12[0]  # reader 2 only, not accepted
