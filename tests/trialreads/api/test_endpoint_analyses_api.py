"""Endpoints per criterion through the API and on the dashboard (issue 15 items 3, 4): the
failed runs' reasons, the subjects' analyses (accepted read only) and the counts and rates
per criterion."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.trialreads.api.conftest import API, client_for
from tests.trialreads.endpoint_helpers import signed_subject
from trialreads.choices import TrialRole
from trialreads.services import endpoints as endpoint_services
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

PD, PR, SD = ("70.0", "35.0", "20.0"), ("30.0", "20.0", "10.0"), ("40.0", "25.0", "12.0")


@pytest.fixture
def computed(manager: Any, reader_a: Any, reader_b: Any, sponsor: Any) -> Any:
    """Charter recist1.1, irecist, irrecist with every analysis, amended to name irRC once the
    reads are signed (they carry no perpendicular diameters); S-001 PD then PR (a
    pseudoprogression under iRECIST and irRECIST), S-002 SD then SD; endpoints computed."""
    trial = trial_services.trial_create(
        code="AN-1",
        title="Analyses",
        actor=manager,
        charter={
            "criteria": ["recist1.1", "irecist", "irrecist"],
            "analyses": ["tgr", "pseudoprogression", "dissociated_response"],
        },
        effective_from=dt.date(2025, 1, 1),
    )
    for user, role in (
        (reader_a, TrialRole.READER),
        (reader_b, TrialRole.READER),
        (sponsor, TrialRole.SPONSOR_VIEWER),
    ):
        trial_services.membership_add(trial_id=trial.pk, user_id=user.pk, role=role, actor=manager)
    signed_subject(trial, manager, (reader_a, reader_b), "S-001", followups=(PD, PR))
    signed_subject(trial, manager, (reader_a, reader_b), "S-002", followups=(SD, SD))
    trial_services.charter_publish(
        trial_id=trial.pk,
        changes={"criteria": ["recist1.1", "irecist", "irrecist", "irrc"]},
        effective_from=dt.date(2025, 1, 1),
        actor=manager,
    )
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    return trial


def test_analyses_and_failed_runs_through_the_api(computed: Any, sponsor: Any, reader_a: Any) -> None:
    client = client_for(sponsor)
    body = client.get(f"{API}/trials/{computed.pk}/endpoint-analyses/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [r["subject_code"] for r in rows] == ["S-001", "S-002"]
    first, second = rows
    assert first["status"] == "DONE" and first["evaluator"] == "RADIOLOGIST 1"
    assert first["flags"]["pseudoprogression"] == {"irecist": True, "irrecist": True}
    assert second["flags"]["pseudoprogression"] == {"irecist": False, "irrecist": False}
    assert first["analyses"]["pseudoprogression"]["irecist"]["timepoints"][0]["date"] == "2025-02-17"
    assert set(first["analyses"]["tgr"]["hyperprogression"]) == {
        "champiat2017",
        "saada_bouzid2017",
        "ferrara2018",
        "kas2020",
        "kato2017",
        "lo_russo2019",
    }
    results = client.get(f"{API}/trials/{computed.pk}/endpoint-results/?limit=50").json()
    runs = results["results"] if isinstance(results, dict) else results
    irrc = [r for r in runs if r["criterion"] == "irrc"]
    assert [r["status"] for r in irrc] == ["FAILED", "FAILED"]
    assert "irRC needs the bidimensional measurement" in irrc[0]["reason"] and irrc[0]["result"] is None
    done = [r for r in runs if r["criterion"] == "irrecist"]
    assert [r["status"] for r in done] == ["DONE", "DONE"] and done[0]["reason"] == ""
    assert done[0]["result"]["timepoints"][0]["overall"] == "irPD"
    # Readers see no endpoints (blinding): the same refusal as for the results.
    assert client_for(reader_a).get(f"{API}/trials/{computed.pk}/endpoint-analyses/").status_code == 403


def test_dashboard_counts_and_rates_per_criterion(computed: Any, manager: Any) -> None:
    web = Client()
    web.force_login(manager)
    page = web.get(f"/trials/{computed.pk}/").content.decode()
    assert 'data-testid="patterns"' in page
    assert "2 subjects with computed analyses" in page
    rows = [row.split("</tr>")[0] for row in page.split('data-testid="pattern-row"')[1:]]
    pseudo = [r for r in rows if "Pseudoprogression" in r]
    assert len(pseudo) == 2
    assert "iRECIST" in pseudo[0] and "1/2 (50.0%)" in pseudo[0]
    assert "irRECIST" in pseudo[1] and "1/2 (50.0%)" in pseudo[1]
    dissociated = next(r for r in rows if "Dissociated response" in r)
    assert "0/2 (0.0%)" in dissociated
    hpd = [r for r in rows if "Hyperprogression" in r]
    assert len(hpd) == 6 and "Champiat 2017" in hpd[0]
    assert 'data-testid="not-evaluable"' in page and "irRC: 2 subjects" in page


def test_subject_page_shows_the_subjects_response_patterns(computed: Any, manager: Any, sponsor: Any) -> None:
    """Issue 15 item 4: the patterns appear on the subject page too, the accepted read's."""
    subjects = {s.subject_code: s for s in computed.subjects.all()}
    for user in (manager, sponsor):
        web = Client()
        web.force_login(user)
        pseudo = web.get(f"/subjects/{subjects['S-001'].pk}/").content.decode()
        assert 'data-testid="response-patterns"' in pseudo and "(RADIOLOGIST 1)" in pseudo
        assert 'data-testid="pattern-pseudoprogression-irecist">yes<' in pseudo
        assert 'data-testid="pattern-pseudoprogression-irrecist">yes<' in pseudo
        assert 'data-testid="pattern-dissociated-response-">no<' in pseudo
        # no pre-baseline scan: the growth-rate ratio definitions cannot be decided
        assert 'data-testid="pattern-hyperprogression-champiat-2017">undetermined<' in pseudo
        stable = web.get(f"/subjects/{subjects['S-002'].pk}/").content.decode()
        assert 'data-testid="pattern-pseudoprogression-irecist">no<' in stable
