"""Endpoints per criterion (issue 15 item 3): every criterion of the charter gets its run, a
criterion the reads do not carry the input of (irRC: perpendicular diameters; itRECIST:
injected flags; PERCIST: PET) is a FAILED run with the engine's message and never stops the
job or the other criteria, and the charter's analyses are stored per subject.

The reads (baseline sum 100 mm: T1 50, T2 30, node T3 20): week 6 125 mm (+25%: PD, iUPD,
irPD), week 12 60 mm (-40%: PR, iPR, irPR), so iRECIST, imRECIST and irRECIST label the
week-6 progression a pseudoprogression.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from criteria.evaluate import evaluate
from criteria.parse import parse_subject
from criteria.types import CriterionResult, Pfs, TimepointResult
from tests.trialreads.endpoint_helpers import signed_subject
from trialreads import mappers
from trialreads.choices import AuditEventType, TrialRole
from trialreads.endpoint_results import (
    analyses_from_json,
    analyses_to_json,
    analysis_counts,
    analysis_flags,
    extra_from_json,
    extra_to_json,
    result_from_json,
    result_to_json,
)
from trialreads.models import AuditEvent, Charter, EndpointAnalysis, EndpointRun, TimepointRead
from trialreads.models.endpoint import JobStatus
from trialreads.services import endpoints as svc
from trialreads.services import exports as export_services
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

PD, PR = ("70.0", "35.0", "20.0"), ("30.0", "20.0", "10.0")
ANALYSES = ["tgr", "pseudoprogression", "dissociated_response"]


def _trial(manager: Any, readers: tuple[Any, Any], criteria: list[str], code: str, **charter: Any) -> Any:
    trial = trial_services.trial_create(
        code=code,
        title="Per criterion",
        actor=manager,
        charter={"criteria": criteria, **charter},
        effective_from=dt.date(2025, 1, 1),
    )
    for reader in readers:
        trial_services.membership_add(
            trial_id=trial.pk, user_id=reader.pk, role=TrialRole.READER, actor=manager
        )
    return trial


def _amend(trial: Any, manager: Any, **changes: Any) -> None:
    """A charter amendment after the reads were signed: the signed reads do not carry the
    inputs of the criteria it adds (the read services refuse reads without them while the
    charter names them, so this is how a trial comes to hold such reads)."""
    trial_services.charter_publish(
        trial_id=trial.pk, changes=changes, effective_from=dt.date(2025, 1, 1), actor=manager
    )


@pytest.fixture
def readers(reader_a: Any, reader_b: Any) -> tuple[Any, Any]:
    return (reader_a, reader_b)


def _engine(read: Any, criterion: str) -> Any:
    trs = list(
        TimepointRead.objects.filter(read=read, status="SIGNED")
        .select_related("timepoint", "read__subject")
        .prefetch_related("measurements__lesion", "ratings__lesion")
    )
    charter = Charter.objects.get(trial=read.subject.trial, is_current=True)
    return evaluate(mappers.subject_for_read(read, trs, charter), [criterion]).results[criterion]


def test_every_criterion_gets_its_run_and_unevaluable_ones_fail_alone(manager: Any, readers: Any) -> None:
    criteria = ["recist1.1", "irecist", "imrecist", "irrecist", "irrc", "itrecist", "percist"]
    trial = _trial(
        manager, readers, [c for c in criteria if c not in ("irrc", "itrecist")], "PC-1", analyses=ANALYSES
    )
    case = signed_subject(trial, manager, readers, "S-001", followups=(PD, PR))
    _amend(trial, manager, criteria=criteria)

    outcome = svc.endpoints_compute(trial_id=trial.pk)

    job = outcome.job
    assert outcome.computed and job.status == JobStatus.DONE
    assert job.total == len(criteria) and job.failed_runs == 3
    runs = {r.criterion: r for r in EndpointRun.objects.filter(job=job)}
    assert sorted(runs) == sorted(criteria)
    for criterion in ("recist1.1", "irecist", "imrecist", "irrecist"):
        run = runs[criterion]
        assert run.status == JobStatus.DONE and run.reason == ""
        for read, evaluator in ((case.read_a, "RADIOLOGIST 1"), (case.read_b, "RADIOLOGIST 2")):
            assert result_from_json(run.result[evaluator]) == _engine(read, criterion)
    irrecist = result_from_json(runs["irrecist"].result["RADIOLOGIST 1"])
    assert [tp.overall for tp in irrecist.timepoints] == ["irPD", "irPR"]
    assert irrecist.timepoints[0].extra["pd_status"] == "not_confirmed"
    assert irrecist.pfs.event is False  # irPFS: the irPD was not confirmed
    # The criteria whose input the product does not collect: a clear per-subject error.
    for criterion, words in (
        ("irrc", "baseline.targets[0].perp_mm: irRC needs the bidimensional measurement"),
        ("itrecist", "itRECIST needs the injected flag"),
        ("percist", "percist needs PET input"),
    ):
        run = runs[criterion]
        assert run.status == JobStatus.FAILED and run.result == {}
        assert run.reason.startswith("RADIOLOGIST 1: S-001: ") and words in run.reason
        assert "RADIOLOGIST 2: S-001: " in run.reason
    event = AuditEvent.objects.get(event_type=AuditEventType.ENDPOINT_COMPUTED, object_id=str(job.pk))
    assert event.after["failed_runs"] == 3 and event.after["analyses"] == 1

    [analysis] = EndpointAnalysis.objects.filter(job=job)
    assert analysis.status == JobStatus.DONE and analysis.subject == case.subject
    assert analysis.input_sha256 == runs["recist1.1"].input_sha256
    flags = analysis_flags(analysis.result["RADIOLOGIST 1"])
    assert flags["pseudoprogression"] == {"irecist": True, "imrecist": True, "irrecist": True}
    assert flags["dissociated_response"] == {"dissociated": False}
    # No pre-baseline scan is collected yet: the ratio definitions are undetermined.
    assert flags["hyperprogression"]["champiat2017"] is None
    decoded = analyses_from_json(analysis.result["RADIOLOGIST 2"])
    assert decoded["pseudoprogression"]["irecist"]["timepoints"][0]["date"] == dt.date(2025, 2, 17)

    again = svc.endpoints_compute(trial_id=trial.pk)
    assert not again.computed and EndpointAnalysis.objects.count() == 1


def test_an_irrc_charter_on_unidimensional_reads_records_the_error(manager: Any, readers: Any) -> None:
    trial = _trial(manager, readers, ["recist1.1"], "PC-2")
    signed_subject(trial, manager, readers, "S-001", followups=(PD,))
    signed_subject(trial, manager, readers, "S-002", followups=(PR,))
    _amend(trial, manager, criteria=["irrc"], primary_criterion="irrc")

    outcome = svc.endpoints_compute(trial_id=trial.pk)

    assert outcome.job.status == JobStatus.DONE and outcome.job.failed_runs == 2
    runs = list(EndpointRun.objects.filter(job=outcome.job).order_by("subject__subject_code"))
    assert [(r.criterion, r.status) for r in runs] == [("irrc", "FAILED"), ("irrc", "FAILED")]
    assert "S-002: baseline.targets[0].perp_mm" in runs[1].reason
    assert not EndpointAnalysis.objects.exists()  # the charter asks for no analysis
    # The export leaves the subjects out, naming why, instead of failing.
    build = export_services.build_study(outcome.job)
    assert build.study.subjects == ()
    assert build.excluded[0].startswith("S-001: endpoint run failed (RADIOLOGIST 1: S-001: baseline")


def test_a_failed_secondary_criterion_leaves_the_subject_in_the_export(manager: Any, readers: Any) -> None:
    trial = _trial(manager, readers, ["recist1.1"], "PC-3")
    signed_subject(trial, manager, readers, "S-001", followups=(PR,))
    _amend(trial, manager, criteria=["recist1.1", "irrc"])
    job = svc.endpoints_compute(trial_id=trial.pk).job
    build = export_services.build_study(job)
    [subject] = build.study.subjects
    assert all(set(read.criteria) == {"recist1.1"} for read in subject.reads)
    assert build.excluded == (
        "S-001: irrc endpoint run failed (RADIOLOGIST 1: S-001: baseline.targets[0]."
        "perp_mm: irRC needs the bidimensional measurement of index lesion T1; "
        "RADIOLOGIST 2: S-001: baseline.targets[0].perp_mm: irRC needs the "
        "bidimensional measurement of index lesion T1)",
    )


def test_analyses_change_the_inputs_only_when_asked_for(manager: Any, readers: Any) -> None:
    trial = _trial(manager, readers, ["recist1.1", "irecist"], "PC-4")
    signed_subject(trial, manager, readers, "S-001", followups=(PD, PR))
    plain = svc.load_trial_inputs(trial.pk)
    assert plain.analyses == ()
    trial_services.charter_publish(
        trial_id=trial.pk,
        changes={"analyses": ["pseudoprogression"]},
        effective_from=dt.date(2025, 2, 1),
        actor=manager,
    )
    asked = svc.load_trial_inputs(trial.pk)
    assert asked.analyses == ("pseudoprogression",)
    assert asked.subjects[0].input_sha256 != plain.subjects[0].input_sha256


# --- the result codec: extra fields (itRECIST) and analyses, lossless --------------------------

ITRECIST_SUBJECT = {
    "subject": "IT-1",
    "reference_date": "2025-01-01",
    "baseline": {
        "date": "2025-01-01",
        "targets": [
            {"id": "T1", "organ": "skin", "mm": 40, "injected": True},
            {"id": "T2", "organ": "liver", "mm": 30, "injected": False},
        ],
        "non_targets": [],
    },
    "timepoints": [
        {"date": "2025-02-15", "targets": {"T1": 20, "T2": 30}},
        {"date": "2025-03-30", "targets": {"T1": 10, "T2": 36}},
    ],
}


def test_itrecist_injected_and_non_injected_bor_survive_the_codec() -> None:
    result = evaluate(parse_subject(ITRECIST_SUBJECT), ["itrecist"]).results["itrecist"]
    assert result.extra["injected_bor"] == "iPR" and isinstance(result.extra["injected_bor_date"], dt.date)
    assert isinstance(result.timepoints[0].extra["injected_lesions"], tuple)
    stored = result_to_json(result)
    assert stored["extra"]["injected_bor_date"] == {"$date": "2025-02-15"}
    back = result_from_json(stored)
    assert back == result and back.extra == result.extra
    # the cut-off replacement carries the criterion's own fields too
    cut = dataclasses.replace(result, extra={"injected_bor": "iSD", "injected_bor_date": None})
    assert export_services._endpoints_from(result, cut).extra == cut.extra


def test_results_without_extra_are_stored_as_before() -> None:
    tp = TimepointResult(
        dt.date(2025, 2, 1), "SD", "NON-CR/NON-PD", "NO", "SD", extra={"nlt_sum_mm": Decimal("5")}
    )
    result = CriterionResult("irecist", (tp,), "iSD", dt.date(2025, 2, 1), None, Pfs(False, tp.date, "x"))
    stored = result_to_json(result)
    assert "extra" not in stored  # no criterion-level extra: the stored JSON is unchanged
    assert stored["timepoints"][0]["extra"] == {"nlt_sum_mm": {"$d": "5"}}
    assert result_from_json(stored) == result
    # A timepoint extra stored as before this codec (strings, null, {"$d"}) reads back as then.
    old = {**stored, "timepoints": [{**stored["timepoints"][0], "extra": {"icpd_reason": "x", "n": None}}]}
    assert result_from_json(old).timepoints[0].extra == {"icpd_reason": "x", "n": None}


@pytest.mark.parametrize(
    "value",
    [
        None,
        "x",
        3,
        True,
        Decimal("1.25"),
        dt.date(2025, 1, 2),
        ("a", Decimal("2")),
        [1, None],
        {"a": {"b": (dt.date(2025, 1, 1),)}},
        {"$d": "not a decimal"},
        {},
    ],
)
def test_extra_codec_round_trips(value: Any) -> None:
    assert extra_from_json(extra_to_json(value)) == value
    assert analyses_from_json(analyses_to_json({"k": value})) == {"k": value}


def test_analysis_counts() -> None:
    flags = [
        {"pseudoprogression": {"irecist": True}, "dissociated_response": {"dissociated": None}},
        {"pseudoprogression": {"irecist": False}, "dissociated_response": {"dissociated": True}},
        {"pseudoprogression": {"irecist": True}, "dissociated_response": {"dissociated": False}},
    ]
    counts = analysis_counts(flags)  # type: ignore[arg-type]
    pseudo = counts["pseudoprogression"]["irecist"]
    assert (pseudo.yes, pseudo.no, pseudo.unknown, pseudo.subjects) == (2, 1, 0, 3)
    assert pseudo.rate == pytest.approx(2 / 3)
    diss = counts["dissociated_response"]["dissociated"]
    assert (diss.yes, diss.no, diss.unknown) == (1, 1, 1) and diss.as_json()["rate"] == pytest.approx(1 / 3)
    assert analysis_counts([]) == {}
