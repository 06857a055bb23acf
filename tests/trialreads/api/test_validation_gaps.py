"""Issue 13, item 7 and the transaction rule of item 1: one printed-name rule for every
e-signature, a strict investigator import, JSON with a repeated key refused, and a response
that cannot be rendered rolling its write back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import TrialWithReads, make_subject_with_reads, save_baseline
from tests.factories import PASSWORD
from tests.trialreads.api.conftest import API, client_for, counts, etag_of
from tests.trialreads.services.test_adjudication_service import PD, PR, both, cases, make_trial
from trialreads.api import serializers as api_serializers
from trialreads.errors import ValidationError
from trialreads.models import AuditEvent, ImagingTimepoint, InvestigatorAssessment, TimepointRead
from trialreads.services import adjudication as adjudication_services
from trialreads.services import reads as read_services
from trialreads.validators import printed_name_error

pytestmark = pytest.mark.django_db

UNICODE_NAMES = ["José Müller", "李雷", "Ng\u0169y\u1ec5n Th\u1ecb", "Zoë O'Brien-Łukasz"]
BAD_NAMES = ["", "   ", "\t\n", "Ada\x00Reader", "Ada\nReader", "Ada\u202eredaeR", "x" * 201]
RULES = {"variables": ["bor", "pd_date"], "bor_confirmed": False, "criteria": ["recist1.1"]}


# --- one printed-name rule ---------------------------------------------------------------------


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_unicode_printed_name_is_accepted_on_a_read_signature(
    name: str, trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    # issue 13: a non-ASCII printed name was refused on signatures but accepted on decisions
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    client = client_for(reader_a)
    response = client.post(
        f"{API}/timepoint-reads/{tr.pk}/sign/",
        {"password": PASSWORD, "printed_name": name},
        format="json",
        HTTP_IF_MATCH=etag_of(client, tr.pk),
    )
    assert response.status_code == 200, response.content
    assert tr.signatures.get().printed_name == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_blank_or_control_printed_names_are_refused_on_both_signatures(
    name: str, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    readers = (reader_a, reader_b)
    trial = make_trial(manager, readers, [adjudicator], RULES)
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    case = cases(tw)[0]
    tr = tw.tr(tw.read_a, 1)
    tr.refresh_from_db()
    before = counts()
    with pytest.raises(ValidationError) as on_decision:
        adjudication_services.adjudication_decide(
            case_id=case.pk,
            chosen="A",
            rationale="r",
            password=PASSWORD,
            printed_name=name,
            actor=adjudicator,
        )
    assert on_decision.value.errors == {"printed_name": [printed_name_error(name)]}
    # The read signature: reopen week 6 of read A first so that there is something to sign.
    read_services.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="re-sign", actor=manager)
    before = counts()
    with pytest.raises(ValidationError) as on_signature:
        read_services.timepoint_read_sign(
            timepoint_read_id=tr.pk, password=PASSWORD, printed_name=name, actor=reader_a
        )
    assert on_signature.value.errors == {"printed_name": [printed_name_error(name)]}
    assert counts() == before


def test_unicode_printed_name_is_accepted_on_a_decision(
    manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    readers = (reader_a, reader_b)
    trial = make_trial(manager, readers, [adjudicator], RULES)
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    case = cases(tw)[0]
    response = client_for(adjudicator).post(
        f"{API}/adjudications/{case.pk}/decide/",
        {"chosen": "A", "rationale": "r", "password": PASSWORD, "printed_name": "李雷"},
        format="json",
    )
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.printed_name == "李雷"


# --- duplicate JSON keys ---------------------------------------------------------------------


def test_a_repeated_json_key_is_a_400_naming_it(trial_with_reads: TrialWithReads, reader_a: Any) -> None:
    # issue 13: {"value_mm": 5, "value_mm": 500} was accepted, the last value winning
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    client = client_for(reader_a)
    text = (
        '{"targets": [{"code": "T1", "organ": "liver", "value_mm": 15, "value_mm": 500}], "non_targets": []}'
    )
    before = counts()
    response = client.generic(
        "PUT",
        f"{API}/timepoint-reads/{tr.pk}/baseline/",
        text.encode(),
        content_type="application/json",
        HTTP_IF_MATCH=etag_of(client, tr.pk),
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"value_mm": ["duplicate key in a JSON object"]}
    assert counts() == before
    top = client.generic(
        "PUT",
        f"{API}/timepoint-reads/{tr.pk}/baseline/",
        b'{"targets": [], "targets": []}',
        content_type="application/json",
        HTTP_IF_MATCH=etag_of(client, tr.pk),
    )
    assert top.status_code == 400 and "targets" in top.json()["errors"]


def test_the_strict_parser_is_the_api_default() -> None:
    from django.conf import settings

    assert settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] == ["trialreads.api.parsers.StrictJSONParser"]


# --- the investigator import -------------------------------------------------------------------

RS_HEADER = "USUBJID,VISITNUM,VISIT,RSTESTCD,RSSTRESC,RSEVAL,RSDTC\n"


def _rs(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "rs.csv"
    path.write_text(RS_HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (["S-001,2,WEEK 6,OVRLRESP,MAYBE,INVESTIGATOR,2025-03-20"], "rows[0].RSSTRESC"),
        (["S-001,2,WEEK 6,OVRLRESP,pd,INVESTIGATOR,2025-03-20"], "rows[0].RSSTRESC"),
        (
            [
                "S-001,2,WEEK 6,OVRLRESP,SD,INVESTIGATOR,2025-03-20",
                "S-001,2,WEEK 6,OVRLRESP,PD,INVESTIGATOR,2025-04-01",
            ],
            "rows[1].VISITNUM",
        ),
        (
            [
                "S-001,2,WEEK 6,OVRLRESP,SD,INVESTIGATOR,2025-03-20",
                "S-001,3,WEEK 12,OVRLRESP,PD,INVESTIGATOR,2025-03-20",
            ],
            "rows[1].RSDTC",
        ),
        (["S-001,2,WEEK 6,OVRLRESP,PD,INVESTIGATOR,٢٠٢٥-03-20"], "RSDTC"),
        (["S-001,2,WEEK 6,OVRLRESP,PD,INVESTIGATOR,1800-03-20"], "RSDTC"),
    ],
)
def test_investigator_import_refuses_unknown_responses_and_duplicates(
    lines: list[str], field: str, trial_with_reads: TrialWithReads, tmp_path: Path
) -> None:
    path = _rs(tmp_path, *lines)
    audit = AuditEvent.objects.count()
    with pytest.raises(CommandError) as exc:
        call_command("import_investigator_rs", trial=trial_with_reads.trial.code, file=str(path))
    assert exc.value.returncode == 2
    assert field in str(exc.value)
    assert not InvestigatorAssessment.objects.exists()
    assert AuditEvent.objects.count() == audit


def test_investigator_import_control_accepts_a_clean_file(
    trial_with_reads: TrialWithReads, tmp_path: Path
) -> None:
    path = _rs(
        tmp_path,
        "S-001,2,WEEK 6,OVRLRESP,SD,INVESTIGATOR,2025-03-20",
        "S-001,3,WEEK 12,OVRLRESP,PD,INVESTIGATOR,2025-05",
        "S-001,3,WEEK 12,OVRLRESP,PR,INDEPENDENT ASSESSOR,2025-05-02",
    )
    call_command("import_investigator_rs", trial=trial_with_reads.trial.code, file=str(path))
    assessment = InvestigatorAssessment.objects.get()
    assert (assessment.bor, str(assessment.pd_date)) == ("SD", "2025-05-01")


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"subject_code": "S-001", "pd_date": None, "bor": "MAYBE"}], "rows[0].bor"),
        (
            [
                {"subject_code": "S-001", "pd_date": None, "bor": "SD"},
                {"subject_code": "S-001", "pd_date": "2025-05-10", "bor": "PD"},
            ],
            "rows[1].subject_code",
        ),
        ([{"subject_code": "S-001", "pd_date": "0001-01-01"}], "rows[0].pd_date"),
        ([{"subject_code": "S-001", "pd_date": "2025-5-1"}], "rows[0].pd_date"),
    ],
)
def test_investigator_api_refuses_unknown_responses_and_duplicates(
    rows: list[dict[str, Any]], field: str, trial_with_reads: TrialWithReads, manager: Any
) -> None:
    before = AuditEvent.objects.count()
    response = client_for(manager).post(
        f"{API}/trials/{trial_with_reads.trial.pk}/investigator-assessments/",
        {"data_source": "edc.csv", "rows": rows},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not InvestigatorAssessment.objects.exists()
    assert AuditEvent.objects.count() == before


# --- a response that cannot be rendered rolls its write back --------------------------------------


def test_an_output_failure_after_the_service_rolls_the_write_back(
    trial_with_reads: TrialWithReads, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 13: the output serializer failed after the commit, leaving the timepoint, its
    # timepoint reads and the audit event behind a 500.
    def broken(self: Any, instance: Any) -> Any:
        raise ArithmeticError("cannot represent")

    monkeypatch.setattr(api_serializers.TimepointOut, "to_representation", broken)
    subject = trial_with_reads.subject
    before = (ImagingTimepoint.objects.count(), TimepointRead.objects.count(), AuditEvent.objects.count())
    client = client_for(manager)
    client.raise_request_exception = False
    response = client.post(
        f"{API}/subjects/{subject.pk}/timepoints/",
        json.loads('{"visit_label": "WEEK18", "visit_number": 4, "scan_date_earliest": "2025-05-10"}'),
        format="json",
    )
    assert response.status_code == 500
    after = (ImagingTimepoint.objects.count(), TimepointRead.objects.count(), AuditEvent.objects.count())
    assert after == before
