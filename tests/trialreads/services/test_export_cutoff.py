"""Sponsor exports "as of data cut-off date D": the service validates the cut-off, keys the
batch on it and passes it to the export package (ADTTE censoring, ADRS ANL01FL, manifest)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.trialreads.endpoint_helpers import signed_subject
from trialreads.choices import AuditEventType
from trialreads.errors import PermissionDenied, ValidationError
from trialreads.models import AuditEvent, ExportBatch
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as svc

pytestmark = pytest.mark.django_db

# Subjects are randomised 2025-01-10; week 6 is scanned 2025-02-16/17, week 12 2025-03-30/31.
SD_THEN_PD = (("40.0", "25.0", "12.0"), ("70.0", "35.0", "20.0"))  # sums 77 (SD), 125 (PD)
CUTOFF = dt.date(2025, 3, 1)  # after week 6, before the progression at week 12


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def computed(trial: Any, manager: Any, reader_a: Any, reader_b: Any) -> Any:
    """S-PD: SD at week 6, PD at week 12 (both readers agree); endpoints computed."""
    signed_subject(trial, manager, (reader_a, reader_b), "S-PD", followups=SD_THEN_PD)
    return endpoint_services.endpoints_compute(trial_id=trial.pk).job


def _request(trial: Any, actor: Any, capture: Any, **kwargs: Any) -> ExportBatch:
    """Request and build (the build task runs eagerly on commit)."""
    with capture(execute=True):
        batch = svc.export_request(trial_id=trial.pk, actor=actor, **kwargs)
    batch.refresh_from_db()
    assert batch.status == JobStatus.DONE, batch.reason
    return batch


def _rows(media: Path, batch: ExportBatch, name: str) -> list[dict[str, str]]:
    text = (media / batch.directory / name).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def _manifest(media: Path, batch: ExportBatch) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((media / batch.directory / "manifest.json").read_text())
    return data


def test_progression_after_the_cutoff_is_censored_and_flagged_out_of_analysis(
    trial: Any, sponsor: Any, computed: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    full = _request(trial, sponsor, django_capture_on_commit_callbacks)
    cut = _request(trial, sponsor, django_capture_on_commit_callbacks, data_cutoff=CUTOFF)

    assert full.data_cutoff is None and cut.data_cutoff == CUTOFF
    assert _manifest(media, full)["data_cutoff"] is None
    assert _manifest(media, cut)["data_cutoff"] == "2025-03-01"

    # ADTTE: without a cut-off the week-12 progression is the event; with it, the subject is
    # censored at the last adequate assessment on or before the cut-off (week 6). The SAP
    # table (exports/censoring.py RULES) codes "event ignored because of the cut-off" CNSR 3.
    pfs_full = {r["PARAMCD"]: r for r in _rows(media, full, "adtte.csv")}
    pfs_cut = {r["PARAMCD"]: r for r in _rows(media, cut, "adtte.csv")}
    assert set(pfs_full) == set(pfs_cut) == {"PFS", "PFSI", "PFSIM"}
    for paramcd in ("PFS", "PFSI", "PFSIM"):
        event, censored = pfs_full[paramcd], pfs_cut[paramcd]
        assert (event["CNSR"], event["EVNTDESC"], event["ADT"]) == ("0", "DISEASE PROGRESSION", "2025-03-30")
        assert censored["CNSR"] == "3" and censored["EVNTDESC"] == "DATA CUT-OFF"
        # Week 6 (SD) is dated at its earliest scan, 2025-02-16 (cdisc-export §3.3: SD/PD at
        # the earliest scan date, CR/PR at the latest).
        assert censored["ADT"] == "2025-02-16" and censored["ADT"] <= CUTOFF.isoformat()
        assert censored["CNSDTDSC"] == "LAST ADEQUATE ASSESSMENT ON OR BEFORE DATA CUT-OFF"
        assert censored["AVAL"] == str((dt.date(2025, 2, 16) - dt.date(2025, 1, 10)).days + 1)

    # ADRS: timepoint responses after the cut-off stay in the dataset with ANL01FL blank.
    ovr_full = [r for r in _rows(media, full, "adrs.csv") if r["PARAMCD"].startswith("OVR")]
    ovr_cut = [r for r in _rows(media, cut, "adrs.csv") if r["PARAMCD"].startswith("OVR")]
    assert len(ovr_full) == len(ovr_cut) == 6  # 3 criteria x 2 follow-ups
    assert {r["ANL01FL"] for r in ovr_full} == {"Y"}
    for row in ovr_cut:
        assert row["ANL01FL"] == ("Y" if row["ADT"] <= CUTOFF.isoformat() else ""), row
    assert sorted(r["AVISIT"] for r in ovr_cut if r["ANL01FL"] == "") == ["WEEK12"] * 3

    # SDTM keeps every record: the cut-off is an analysis convention, not a deletion.
    assert len(_rows(media, full, "rs.csv")) == len(_rows(media, cut, "rs.csv"))


def test_the_cutoff_is_part_of_the_batch_identity(
    trial: Any, sponsor: Any, computed: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    first = _request(trial, sponsor, django_capture_on_commit_callbacks, data_cutoff=CUTOFF)
    again = _request(trial, sponsor, django_capture_on_commit_callbacks, data_cutoff=CUTOFF)
    other = _request(trial, sponsor, django_capture_on_commit_callbacks, data_cutoff=dt.date(2025, 4, 1))
    uncut = _request(trial, sponsor, django_capture_on_commit_callbacks)

    assert again.pk == first.pk
    assert len({first.pk, other.pk, uncut.pk}) == 3 and ExportBatch.objects.count() == 3
    assert (other.data_cutoff, uncut.data_cutoff) == (dt.date(2025, 4, 1), None)
    assert AuditEvent.objects.filter(event_type=AuditEventType.EXPORT_CREATED).count() == 3


def test_a_request_without_cutoff_keeps_the_key_of_earlier_batches(computed: Any) -> None:
    """Batches requested before cut-offs existed must still be found by a repeated request."""
    legacy = f"{svc.EXPORT_MAPPING_VERSION}|{computed.pk}|{computed.input_sha256}|head=True"
    assert svc._batch_key(computed, True) == hashlib.sha256(legacy.encode()).hexdigest()
    assert svc._batch_key(computed, True, None) == svc._batch_key(computed, True)
    assert svc._batch_key(computed, True, CUTOFF) != svc._batch_key(computed, True)


def test_the_audit_event_carries_the_cutoff(
    trial: Any, sponsor: Any, computed: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    cut = _request(trial, sponsor, django_capture_on_commit_callbacks, data_cutoff=CUTOFF)
    full = _request(trial, sponsor, django_capture_on_commit_callbacks)

    events = {
        e.object_id: e.after for e in AuditEvent.objects.filter(event_type=AuditEventType.EXPORT_CREATED)
    }
    assert events[str(cut.pk)]["data_cutoff"] == "2025-03-01"
    assert events[str(full.pk)]["data_cutoff"] is None


def test_today_is_an_acceptable_cutoff(
    trial: Any, sponsor: Any, computed: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    today = timezone.localdate()
    batch = _request(trial, sponsor, django_capture_on_commit_callbacks, data_cutoff=today)
    assert batch.data_cutoff == today and _manifest(media, batch)["data_cutoff"] == today.isoformat()


@pytest.mark.parametrize(
    ("cutoff", "message"),
    [
        pytest.param(lambda: timezone.localdate() + dt.timedelta(days=1), "future", id="tomorrow"),
        pytest.param(lambda: dt.date(2025, 1, 9), "first randomisation", id="before-randomisation"),
        pytest.param(lambda: dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC), "calendar date", id="datetime"),
        pytest.param(lambda: "2025-03-01", "calendar date", id="string"),
        pytest.param(lambda: "garbage", "calendar date", id="garbage"),
    ],
)
def test_an_invalid_cutoff_is_refused_and_writes_nothing(
    trial: Any,
    sponsor: Any,
    computed: Any,
    cutoff: Any,
    message: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    audit_before = AuditEvent.objects.count()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError) as caught,
    ):
        svc.export_request(trial_id=trial.pk, actor=sponsor, data_cutoff=cutoff())
    assert caught.value.field == "data_cutoff" and message in caught.value.errors["data_cutoff"][0]
    assert not ExportBatch.objects.exists() and callbacks == []
    assert AuditEvent.objects.count() == audit_before


def test_the_gate_comes_before_the_cutoff_check(trial: Any, reader_a: Any, computed: Any) -> None:
    """A reader learns nothing from a bad cut-off: refused for the role, as without one."""
    with pytest.raises(PermissionDenied):
        svc.export_request(trial_id=trial.pk, actor=reader_a, data_cutoff=dt.date(2999, 1, 1))
    assert not ExportBatch.objects.exists()
