"""Adjudication over HTTP (T-BLIND-ADJ): a reader, the sponsor and an outsider get the API's
one 404 body for the case, its decision and the metrics are closed to them, and the
adjudicator decides through the API with re-authentication."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_subject_with_reads
from tests.trialreads.api.conftest import client_for
from tests.trialreads.services.test_adjudication_service import PD, PR, both, cases, make_trial
from trialreads.choices import AcceptanceBasis, AdjudicationStatus, AuditEventType, TrialRole
from trialreads.models import AcceptedRead, AuditEvent
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

RULES = {"variables": ["bor", "pd_date"], "bor_confirmed": False, "criteria": ["recist1.1"]}
NONEXISTENT = 987654


@pytest.fixture
def world(manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, sponsor: Any, outsider: Any) -> Any:
    readers = (reader_a, reader_b)
    trial = make_trial(manager, readers, [adjudicator], RULES)
    trial_services.membership_add(
        trial_id=trial.pk, user_id=sponsor.pk, role=TrialRole.SPONSOR_VIEWER, actor=manager
    )
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    return tw, cases(tw)[0]


def test_case_is_invisible_to_readers_sponsor_outsider_with_one_404_body(
    world: Any, reader_a: Any, reader_b: Any, sponsor: Any, outsider: Any
) -> None:
    _, case = world
    for user in (reader_a, reader_b, sponsor, outsider):
        client = client_for(user)
        assert client.get("/api/adjudications/").json()["results"] == []
        for suffix in ("", "decide/", "assign/"):
            method = client.get if not suffix else client.post
            body: dict[str, Any] = {} if not suffix else {"chosen": "A"}
            mine = method(f"/api/adjudications/{case.pk}/{suffix}", body, format="json")
            missing = method(f"/api/adjudications/{NONEXISTENT}/{suffix}", body, format="json")
            assert mine.status_code == missing.status_code == 404
            assert mine.content == missing.content
            # Nothing in the refusal names the other read or the reader.
            assert b"Read" not in mine.content and b"reader" not in mine.content
    assert (
        AuditEvent.objects.filter(
            event_type=AuditEventType.ACCESS_DENIED, object_type="adjudication_case"
        ).count()
        >= 12
    )


def test_metrics_and_accepted_reads_are_closed_to_readers(
    world: Any, reader_a: Any, adjudicator: Any, manager: Any
) -> None:
    tw, _ = world
    for user, expected in ((reader_a, 403), (adjudicator, 403), (manager, 200)):
        client = client_for(user)
        assert client.get(f"/api/trials/{tw.trial.pk}/reader-metrics/").status_code == expected
    assert client_for(reader_a).get(f"/api/trials/{tw.trial.pk}/accepted-reads/").status_code == 403
    # issue 13: "²" (and other Unicode digits that str.isdigit() accepts) answered 500
    metrics = f"/api/trials/{tw.trial.pk}/reader-metrics/"
    for raw in ("-3", "²", "١٢", "366", "7.5", "", "0007"):
        bad = client_for(manager).get(metrics, {"pd_tolerance_days": raw})
        assert bad.status_code == 400, raw
        assert "pd_tolerance_days" in bad.json()["errors"], raw
    ok = client_for(manager).get(metrics, {"pd_tolerance_days": "14"})
    assert ok.status_code == 200


def test_adjudicator_flow_over_http(
    world: Any, adjudicator: Any, manager: Any, reader_a: Any, password: str
) -> None:
    tw, case = world
    client = client_for(adjudicator)
    [listed] = client.get("/api/adjudications/?status=OPEN").json()["results"]
    assert listed["id"] == case.pk and listed["status"] == "OPEN"
    view = client.get(f"/api/adjudications/{case.pk}/").json()
    assert [r["label"] for r in view["reads"]] == ["Read A", "Read B"]
    assert reader_a.username not in str(view)
    # Tampering: unknown keys are refused; wrong password is 403 and audited.
    escalate = client.post(
        f"/api/adjudications/{case.pk}/decide/",
        {"chosen": "A", "rationale": "r", "password": password, "printed_name": "Alex", "chosen_slot": 1},
        format="json",
    )
    assert escalate.status_code == 400
    wrong = client.post(
        f"/api/adjudications/{case.pk}/decide/",
        {"chosen": "A", "rationale": "r", "password": "nope", "printed_name": "Alex"},
        format="json",
    )
    assert wrong.status_code == 403
    ok = client.post(
        f"/api/adjudications/{case.pk}/decide/",
        {
            "chosen": "B",
            "rationale": "New liver lesion is real.",
            "password": password,
            "printed_name": "Alex Judge",
        },
        format="json",
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["decision"]["chosen"] == "B"
    assert ok.json()["status"] == AdjudicationStatus.DECIDED
    again = client.post(
        f"/api/adjudications/{case.pk}/decide/",
        {"chosen": "A", "rationale": "r", "password": password, "printed_name": "Alex"},
        format="json",
    )
    assert again.status_code == 409
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.ADJUDICATION and accepted.read.slot == case.b_slot
    rows = client_for(manager).get(f"/api/trials/{tw.trial.pk}/accepted-reads/").json()["results"]
    assert rows == [
        {
            "subject": "S-001",
            "subject_id": tw.subject.pk,
            "read_id": accepted.read_id,
            "slot": case.b_slot,
            "basis": "ADJUDICATION",
            "case_id": case.pk,
            "evaluated_at": rows[0]["evaluated_at"],
        }
    ]
    metrics = client_for(manager).get(f"/api/trials/{tw.trial.pk}/reader-metrics/").json()
    assert metrics["adjudication_rate"]["value"] == 1.0
    assert metrics["kappa_bor"]["n"] == 1


def test_manager_assigns_and_reevaluates(world: Any, manager: Any, adjudicator: Any) -> None:
    tw, case = world
    client = client_for(manager)
    assert (
        client.post(
            f"/api/adjudications/{case.pk}/assign/", {"adjudicator_id": adjudicator.pk}, format="json"
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/adjudications/{case.pk}/assign/", {"adjudicator_id": tw.read_a.reader_id}, format="json"
        ).status_code
        == 400
    )
    again = client.post(f"/api/subjects/{tw.subject.pk}/adjudication/evaluate/", format="json")
    assert again.status_code == 200 and again.json()["basis"] == AcceptanceBasis.PENDING
    assert (
        client_for(adjudicator)
        .post(f"/api/subjects/{tw.subject.pk}/adjudication/evaluate/", format="json")
        .status_code
        == 403
    )


def test_investigator_import_over_http(world: Any, manager: Any, reader_a: Any) -> None:
    tw, _ = world
    body = {"data_source": "EDC", "rows": [{"subject_code": "S-001", "pd_date": "2025-02-16", "bor": "PD"}]}
    assert (
        client_for(reader_a)
        .post(f"/api/trials/{tw.trial.pk}/investigator-assessments/", body, format="json")
        .status_code
        == 403
    )
    ok = client_for(manager).post(f"/api/trials/{tw.trial.pk}/investigator-assessments/", body, format="json")
    assert ok.status_code == 200 and ok.json() == {"imported": 1}
