"""A charter criterion the read form does not collect the input of yet (irRC: perpendicular
diameters) is named as not evaluable on the reader's live check, the read evaluation API and
the adjudicator's side-by-side view; the other criteria still respond (issue 15 item 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.conftest import TrialWithReads, save_baseline, sign
from tests.trialreads.api.conftest import API, client_for
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

IRRC_MESSAGE = "irRC needs the bidimensional measurement of index lesion T1"


def _with_irrc(tw: TrialWithReads, manager: Any) -> None:
    trial_services.charter_publish(
        trial_id=tw.trial.pk,
        changes={"criteria": ["recist1.1", "irecist", "irrc"]},
        effective_from=dt.date(2025, 1, 2),
        actor=manager,
    )


def test_live_check_names_the_criterion_it_cannot_evaluate(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any, manager: Any
) -> None:
    tw = trial_with_reads
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    sign(tw.tr(tw.read_a, 0), reader_a)
    _with_irrc(tw, manager)  # named after the baseline: its reads have no perpendicular diameters
    tr = tw.tr(tw.read_a, 1)
    values = {"targets-0-value_mm": "30", "targets-1-value_mm": "20", "targets-2-value_mm": "10"}
    states = {f"targets-{i}-state": "MEASURED" for i in range(3)}
    live = (
        web["reader_a"]
        .get(f"/timepoint-reads/{tr.pk}/check/", {**values, **states, "non_targets-NT1": "present"})
        .content.decode()
    )
    assert 'data-testid="response-recist1.1"' in live and "resp-PR" in live and "resp-iPR" in live
    assert 'data-testid="response-irrc"' not in live
    assert 'data-testid="not-evaluable"' in live and IRRC_MESSAGE in live


def test_read_evaluation_api_lists_the_criteria_it_cannot_evaluate(
    trial_with_reads: TrialWithReads, reader_a: Any, manager: Any
) -> None:
    tw = trial_with_reads
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    _with_irrc(tw, manager)
    body = client_for(reader_a).get(f"{API}/reads/{tw.read_a.pk}/evaluation/").json()
    assert set(body["result"]["results"]) == {"recist1.1", "irecist"}
    assert list(body["not_evaluable"]) == ["irrc"] and IRRC_MESSAGE in body["not_evaluable"]["irrc"]
