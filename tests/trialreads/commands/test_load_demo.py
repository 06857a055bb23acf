"""`make demo`'s command: signed blinded reads, adjudications, endpoints and exports, twice."""

from __future__ import annotations

import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyreadstat
import pytest
from django.core.management import call_command

from criteria.evaluate import AVAILABLE
from trialreads.choices import Modality
from trialreads.demo_criteria import IR_TRIAL, PET_TRIAL
from trialreads.endpoint_results import job_runs, latest_done_job, result_from_json
from trialreads.models import (
    AdjudicationCase,
    AuditEvent,
    ExportBatch,
    ImagingTimepoint,
    Measurement,
    Signature,
    TimepointRead,
    Trial,
)
from trialreads.services.audit import verify_chain


@pytest.mark.django_db
def test_load_demo_builds_everything_and_is_idempotent(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()

    trial = Trial.objects.get(code="DEMO-ADJ")
    assert trial.subjects.count() == 9
    # every read of every subject signed by its reader, and discordant subjects adjudicated
    assert Signature.objects.filter(voided_at__isnull=True).count() >= 9 * 2 * 3
    assert AdjudicationCase.objects.filter(subject__trial=trial, status="DECIDED").count() >= 4
    assert AdjudicationCase.objects.filter(subject__trial=trial, status="OPEN").count() >= 1

    batch = ExportBatch.objects.get(trial=trial)
    folder = tmp_path / batch.directory
    manifest = json.loads((folder / "manifest.json").read_text())
    names = {f["path"] for f in manifest["files"]}
    for stem in ("tu", "tr", "rs", "adsl", "adrs", "adtte"):
        assert {f"{stem}.csv", f"{stem}.xpt"} <= names
    assert {"define.xml", "reviewers-guide.txt"} <= names
    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    _assert_new_lesions_read_back(folder)

    report = verify_chain(trial.chain_id)
    assert report.ok, report
    assert "Demo ready." in text and str(folder.resolve()) in text and "demo_reader1" in text

    _assert_every_criterion_is_shown(text)

    # Running it again adds nothing: no new audit events, the same export batch.
    events = AuditEvent.objects.count()
    call_command("load_demo", stdout=io.StringIO())
    assert AuditEvent.objects.count() == events
    assert ExportBatch.objects.filter(trial=trial).count() == 1


def _xpt(folder: Path, name: str, usubjid: str) -> list[dict[str, Any]]:
    data, _ = pyreadstat.read_xport(str(folder / f"{name}.xpt"), output_format="dict")
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    return [r for r in rows if r["USUBJID"] == usubjid]


def _assert_new_lesions_read_back(folder: Path) -> None:
    """Issue 18 item 7: the demo's new lesions (D-109: N1 equivocal at week 6, confirmed and
    measurable at week 12; N2 non-measurable at week 12), read back from the XPT files."""
    tu = {(r["TUEVALID"], r["TULNKID"]): (r["TUORRES"], r["VISIT"]) for r in _xpt(folder, "tu", "D-109")
          if r["TUORRES"] == "NEW"}  # fmt: skip
    assert tu == {(reader, f"{prefix}-{code}"): ("NEW", visit)
                  for reader, prefix in (("RADIOLOGIST 1", "R1"), ("RADIOLOGIST 2", "R2"))
                  for code, visit in (("N1", "WEEK6"), ("N2", "WEEK12"))}  # fmt: skip
    tr = {(r["VISIT"], r["TRLNKID"], r["TRTESTCD"]): (r["TRORRES"], r["TRSTRESN"])
          for r in _xpt(folder, "tr", "D-109")
          if r["TREVALID"] == "RADIOLOGIST 1" and r["TRGRPID"] == "NEW"}  # fmt: skip
    assert tr == {
        ("WEEK6", "R1-N1", "TUMSTATE"): ("EQUIVOCAL", None),
        ("WEEK12", "R1-N1", "LDIAM"): ("12.0", 12.0),  # entered in the form: TRORRES as entered
        ("WEEK12", "R1-N1", "TUMSTATE"): ("PRESENT", None),
        ("WEEK12", "R1-N2", "TUMSTATE"): ("PRESENT", None),
    }
    rs = {(r["RSCAT"], r["VISIT"], r["RSTESTCD"]): r["RSSTRESC"] for r in _xpt(folder, "rs", "D-109")
          if r["RSEVALID"] == "RADIOLOGIST 1"}  # fmt: skip
    assert rs[("RECIST 1.1", "WEEK6", "NEWLPROG")] == "EQUIVOCAL"
    assert (rs[("RECIST 1.1", "WEEK12", "NEWLPROG")], rs[("RECIST 1.1", "WEEK12", "OVRLRESP")]) == ("Y", "PD")
    assert rs[("iRECIST", "WEEK12", "OVRLRESP")] == "iUPD"


def _accepted(code: str, criterion: str) -> Any:
    """The accepted result of one demo subject under one criterion (latest endpoint job)."""
    run = next(
        r
        for t in Trial.objects.all()
        for r in job_runs(latest_done_job(t.pk))  # type: ignore[arg-type]
        if r.subject.subject_code == code and r.criterion == criterion
    )
    return result_from_json(run.result[run.accepted_evaluator])


def _evaluated_criteria() -> dict[str, set[str]]:
    """Criterion -> the demo subjects whose accepted read has a follow-up response under it."""
    out: dict[str, set[str]] = {}
    for trial in Trial.objects.all():
        job = latest_done_job(trial.pk)
        assert job is not None, trial.code
        for run in job_runs(job):
            assert run.status == "DONE", (trial.code, run.subject.subject_code, run.criterion, run.reason)
            if run.accepted_evaluator:
                result = result_from_json(run.result[run.accepted_evaluator])
                if any(tp.overall not in ("NE", "NA") for tp in result.timepoints):
                    out.setdefault(run.criterion, set()).add(run.subject.subject_code)
    return out


def _assert_every_criterion_is_shown(text: str) -> None:
    """The criteria demo trials (``trialreads.demo_criteria``) and itRECIST in DEMO-ADJ: every
    criterion the engine evaluates has accepted, evaluated results for its subjects."""
    evaluated = _evaluated_criteria()
    assert set(evaluated) == set(AVAILABLE), set(AVAILABLE) - set(evaluated)
    for code in (PET_TRIAL, IR_TRIAL):
        other = Trial.objects.get(code=code)
        assert verify_chain(other.chain_id).ok and f"Trial {code}: 3 subjects" in text
        assert not TimepointRead.objects.filter(read__subject__trial=other, locked=False).exists()
    # The PET arm: PET/CT timepoints read on the PET form, every subject under all four.
    pet = Trial.objects.get(code=PET_TRIAL)
    modalities = set(ImagingTimepoint.objects.filter(subject__trial=pet).values_list("modality", flat=True))
    assert modalities == {Modality.PET_CT}
    pet_values = Measurement.objects.filter(timepoint_read__read__subject__trial=pet)
    assert pet_values.exists() and not pet_values.filter(sul_peak__isnull=True).exists()
    for criterion in ("percist", "ipercist", "impercist5", "percimt"):
        assert evaluated[criterion] == {"P-201", "P-202", "P-203"}, criterion
    assert [tp.overall for tp in _accepted("P-202", "ipercist").timepoints] == ["UPMD", "CPMD"]
    p203 = _accepted("P-203", "ipercist").timepoints
    assert [tp.overall for tp in p203] == ["UPMD", "PMR"] and p203[1].extra["upmd_status"] == "reset"
    assert _accepted("P-203", "percimt").timepoints[0].extra["new_lesions_over_10mm"] == 3
    # irRC / irRECIST: bidimensional reads, one pre-baseline scan.
    ir = Trial.objects.get(code=IR_TRIAL)
    values = Measurement.objects.filter(timepoint_read__read__subject__trial=ir, lesion__kind="TARGET")
    assert values.filter(perp_mm__isnull=False).exists() and values.filter(long_mm__isnull=False).exists()
    assert ImagingTimepoint.objects.filter(subject__trial=ir, is_prebaseline=True).count() == 1
    assert evaluated["irrc"] == evaluated["irrecist"] == {"I-301", "I-302", "I-303"}
    # burden: sums of products, baseline 40x30 + 30x20 + 20x25 (node) = 2300 mm²
    i302 = _accepted("I-302", "irrc").timepoints
    assert [(tp.overall, tp.sum_mm) for tp in i302] == [("irPD", Decimal("3134")), ("irPR", Decimal("635"))]
    assert _accepted("I-303", "irrc").bor == "irPD"
    # itRECIST in the adjudication trial: T1 injected at baseline, T2 first injected at week 6.
    assert evaluated["itrecist"] >= {"D-101", "D-102"}
    injected = Measurement.objects.filter(
        timepoint_read__read__subject__subject_code="D-102", lesion__lesion_code="T2", newly_injected=True
    )
    assert injected.count() == 2  # both reads, at week 6
