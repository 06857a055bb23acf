"""Reader metrics per criterion (issue 15 item 2): the selector, the API's ``criterion``
parameter (400 naming it for a criterion the trial does not have) and the dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.conftest import make_subject_with_reads
from tests.trialreads.api.conftest import API, client_for
from tests.trialreads.services.test_adjudication_service import PD, SD, both, make_trial
from trialreads.errors import ValidationError
from trialreads.models import AcceptedRead
from trialreads.selectors import adjudication as sel
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def compared(manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any) -> Any:
    """Charter recist1.1 (primary), irecist, irrc (named once the baselines were signed: the
    reads carry no perpendicular diameters); default rules; one subject read PD (A) vs SD (B)
    at week 6: compared, adjudicated (open case), irRC not evaluable on the reads."""
    readers = (reader_a, reader_b)
    trial = make_trial(
        manager,
        readers,
        [adjudicator],
        {"variables": ["bor", "pd_date"]},
        criteria=("recist1.1", "irecist"),
    )
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    both(tw, readers, 0)
    trial_services.charter_publish(
        trial_id=trial.pk,
        changes={"criteria": ["recist1.1", "irecist", "irrc"]},
        effective_from=dt.date(2025, 1, 1),
        actor=manager,
    )
    both(tw, readers, 1, PD, SD)
    return tw


def test_metrics_under_each_criterion(compared: Any, manager: Any) -> None:
    trial = compared.trial
    primary = sel.reader_metrics(user=manager, trial_id=trial.pk)
    assert primary["criterion"] == "recist1.1" == primary["primary_criterion"]
    assert primary["criteria"] == ["recist1.1", "irecist", "irrc"]
    assert primary["compared_subjects"] == 1 and primary["subjects_without_values"] == 0
    assert set(primary["kappa_bor"]["categories"]) <= {"PD", "NE", "SD", "none"}
    irecist = sel.reader_metrics(user=manager, trial_id=trial.pk, criterion="irecist")
    assert irecist["criterion"] == "irecist" and irecist["compared_subjects"] == 1
    # iRECIST's codes, from the values kept per criterion at the comparison.
    assert set(irecist["kappa_bor"]["categories"]) & {"iUPD", "iSD", "NE"}
    assert not set(irecist["kappa_bor"]["categories"]) & {"PD", "SD"}
    assert irecist["median_abs_pd_date_difference_days"] is None  # progression on one read only
    # irRC is a charter criterion the reads could not be evaluated under: no values, counted.
    irrc = sel.reader_metrics(user=manager, trial_id=trial.pk, criterion="irrc")
    assert irrc["compared_subjects"] == 0 and irrc["subjects_without_values"] == 1
    assert irrc["kappa_bor"]["n"] == 0


def test_a_comparison_stored_before_values_per_criterion_still_counts(compared: Any, manager: Any) -> None:
    state = AcceptedRead.objects.get(subject=compared.subject)
    state.summary = {k: v for k, v in state.summary.items() if k not in ("criteria", "not_evaluable")}
    state.save()
    trial = compared.trial
    assert sel.reader_metrics(user=manager, trial_id=trial.pk)["compared_subjects"] == 1
    later = sel.reader_metrics(user=manager, trial_id=trial.pk, criterion="irecist")
    assert later["compared_subjects"] == 0 and later["subjects_without_values"] == 1


def test_a_criterion_outside_the_charter_is_refused(compared: Any, manager: Any) -> None:
    with pytest.raises(ValidationError) as err:
        sel.reader_metrics(user=manager, trial_id=compared.trial.pk, criterion="percist")
    assert err.value.field == "criterion"


def test_api_criterion_parameter(compared: Any, manager: Any, reader_a: Any) -> None:
    url = f"{API}/trials/{compared.trial.pk}/reader-metrics/"
    client = client_for(manager)
    body = client.get(url, {"criterion": "irecist"}).json()
    assert body["criterion"] == "irecist" and body["compared_subjects"] == 1
    for bad in ("percist", "RECIST1.1", ""):
        response = client.get(url, {"criterion": bad})
        assert response.status_code == 400 and "criterion" in response.json()["errors"]
    # The gate first: a reader gets the same refusal whatever the parameter.
    assert client_for(reader_a).get(url, {"criterion": "nope"}).status_code == 403


def test_dashboard_metrics_per_criterion(compared: Any, manager: Any) -> None:
    web = Client()
    web.force_login(manager)
    url = f"/trials/{compared.trial.pk}/"
    page = web.get(url).content.decode()
    assert "Inter-reader κ (BOR, recist1.1)" in page and 'data-testid="metrics-criteria"' in page
    page = web.get(url, {"metrics_criterion": "irrc"}).content.decode()
    assert "Inter-reader κ (BOR, irrc)" in page and "1 compared subject without values" in page
    assert web.get(url, {"metrics_criterion": "percist"}).status_code == 404
