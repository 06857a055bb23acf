"""Subject-level endpoints as of a data cut-off, and the visit's scan dates in RS.

Best response, confirmed best response and PFS look forward: a PR is confirmed by a later
scan, an iUPD by a later iCPD. Data after the cut-off does not exist for the analysis, so
an export "as of" a cut-off takes them from the engine run again on the reads truncated at
the cut-off, while the timepoint responses (which look only backward) come from the job.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from criteria.evaluate import evaluate
from tests.trialreads.endpoint_helpers import signed_subject
from trialreads import mappers
from trialreads.errors import Conflict
from trialreads.exports.datasets import RSCAT
from trialreads.models import Charter, EndpointJob, ExportBatch, Read, TimepointRead
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as svc

pytestmark = pytest.mark.django_db

# Baseline sum 100 mm; week 6 (scans 2025-02-16/17): 60 mm, PR; week 12 (2025-03-30/31):
# 55 mm, PR again, 6 weeks later: confirmed (RECIST 1.1 needs >= 28 days).
PR_CONFIRMED = (("30.0", "20.0", "10.0"), ("28.0", "18.0", "9.0"))
CUTOFF = dt.date(2025, 3, 1)  # after week 6, before the confirming week 12


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def _export(
    trial: Any, actor: Any, capture: Any, media: Path, **kwargs: Any
) -> dict[str, list[dict[str, str]]]:
    with capture(execute=True):
        batch = svc.export_request(trial_id=trial.pk, actor=actor, **kwargs)
    batch.refresh_from_db()
    assert batch.status == JobStatus.DONE, batch.reason
    out = {}
    for name in ("rs", "adrs", "adtte"):
        text = (media / batch.directory / f"{name}.csv").read_text()
        out[name] = list(csv.DictReader(io.StringIO(text)))
    return out


def _reference(read: Read, cutoff: dt.date) -> dict[str, Any]:
    """The engine on the accepted read with only the visits begun by the cut-off, through
    the per-read mapper (the reference path), by criterion."""
    trs = [
        tr
        for tr in TimepointRead.objects.filter(read=read, status="SIGNED")
        .select_related("timepoint", "read__subject")
        .prefetch_related("measurements__lesion", "ratings__lesion")
        if tr.timepoint.scan_date_earliest <= cutoff
    ]
    charter = Charter.objects.get(trial=read.subject.trial, is_current=True)
    subject = mappers.subject_for_read(read, trs, charter)
    return dict(evaluate(subject, ["recist1.1", "irecist", "imrecist"]).results)


def _by_category(rows: list[dict[str, str]], stem: str) -> dict[str, dict[str, str]]:
    """ADRS rows of one parameter (BOR, CBOR) by PARCAT1 (criterion category)."""
    return {r["PARCAT1"]: r for r in rows if r["PARAMCD"].rstrip("IM") == stem}


def test_a_confirmation_after_the_cutoff_does_not_confirm(
    trial: Any,
    manager: Any,
    reader_a: Any,
    reader_b: Any,
    sponsor: Any,
    media: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    case = signed_subject(trial, manager, (reader_a, reader_b), "S-PR", followups=PR_CONFIRMED)
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    full = _export(trial, sponsor, django_capture_on_commit_callbacks, media)
    cut = _export(trial, sponsor, django_capture_on_commit_callbacks, media, data_cutoff=CUTOFF)

    full_cbor, cut_cbor = _by_category(full["adrs"], "CBOR"), _by_category(cut["adrs"], "CBOR")
    assert full_cbor["RECIST 1.1"]["AVALC"] == "PR"  # confirmed at week 12
    assert cut_cbor["RECIST 1.1"]["AVALC"] != "PR"  # week 12 is after the cut-off

    reference = _reference(case.read_a, CUTOFF)  # both readers read the same values
    cut_bor = _by_category(cut["adrs"], "BOR")
    for category, row in cut_cbor.items():
        result = next(r for r in reference.values() if RSCAT[r.criterion] == category)
        assert row["AVALC"] == (result.bor_confirmed or ""), category
        assert cut_bor[category]["AVALC"] == (result.bor or ""), category
    # The timepoint responses are the job's: week 12 stays in RS and ADRS, out of analysis.
    assert len(cut["rs"]) == len(full["rs"])
    week12 = [r for r in cut["adrs"] if r["PARAMCD"].startswith("OVR") and r["AVISIT"] == "WEEK12"]
    assert week12 and {r["ANL01FL"] for r in week12} == {""}


def test_rs_dates_pr_at_the_latest_scan_and_sd_pd_at_the_earliest(
    trial: Any,
    manager: Any,
    reader_a: Any,
    reader_b: Any,
    sponsor: Any,
    media: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    signed_subject(trial, manager, (reader_a, reader_b), "S-PR", followups=PR_CONFIRMED)
    sd_then_pd = (("40.0", "25.0", "12.0"), ("70.0", "35.0", "20.0"))
    signed_subject(trial, manager, (reader_a, reader_b), "S-PD", followups=sd_then_pd)
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    rows = _export(trial, sponsor, django_capture_on_commit_callbacks, media)["rs"]
    overall = {
        (r["USUBJID"], r["VISIT"]): (r["RSSTRESC"], r["RSDTC"])
        for r in rows
        if r["RSTESTCD"] == "OVRLRESP" and r["RSCAT"] == "RECIST 1.1" and r["RSACPTFL"] == "Y"
    }
    pr = next(v for k, v in overall.items() if k[0].endswith("S-PR") and k[1] == "WEEK6")
    sd = next(v for k, v in overall.items() if k[0].endswith("S-PD") and k[1] == "WEEK6")
    pd = next(v for k, v in overall.items() if k[0].endswith("S-PD") and k[1] == "WEEK12")
    assert pr == ("PR", "2025-02-17")  # scans 2025-02-16 and 2025-02-17: the latest
    assert sd == ("SD", "2025-02-16")  # the earliest
    assert pd == ("PD", "2025-03-30")  # the earliest, the date PFS counts from


def test_a_cutoff_export_refuses_a_job_whose_inputs_changed(
    trial: Any, manager: Any, reader_a: Any, reader_b: Any
) -> None:
    signed_subject(trial, manager, (reader_a, reader_b), "S-PR", followups=PR_CONFIRMED)
    job = endpoint_services.endpoints_compute(trial_id=trial.pk).job
    EndpointJob.objects.filter(pk=job.pk).update(input_sha256="0" * 64)  # the reads moved on
    job.refresh_from_db()
    with pytest.raises(Conflict, match="compute the endpoints again"):
        svc.build_study(job, data_cutoff=CUTOFF)
    assert not ExportBatch.objects.exists()
