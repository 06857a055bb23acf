"""The charter through the API: the per-criterion fields (issue 15 item 2) are shown."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.trialreads.api.conftest import API, client_for
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db


def test_charter_shows_criteria_analyses_and_engine_settings(trial: Any, manager: Any) -> None:
    client = client_for(manager)
    v1 = client.get(f"{API}/trials/{trial.pk}/charter/").json()
    assert v1["analyses"] == [] and v1["engine_settings"] == {}
    trial_services.charter_publish(
        trial_id=trial.pk,
        changes={
            "criteria": ["recist1.1", "irecist", "irrecist", "percist"],
            "analyses": ["pseudoprogression", "dissociated_response"],
            "engine_settings": {"ir_pd_date": "confirming"},
        },
        effective_from=dt.date(2025, 6, 1),
        actor=manager,
    )
    v2 = client.get(f"{API}/trials/{trial.pk}/charter/").json()
    assert v2["version"] == 2
    assert v2["criteria"] == ["recist1.1", "irecist", "irrecist", "percist"]
    assert v2["analyses"] == ["pseudoprogression", "dissociated_response"]
    assert v2["engine_settings"] == {"ir_pd_date": "confirming"}
    versions = client.get(f"{API}/trials/{trial.pk}/charters/").json()
    rows = versions["results"] if isinstance(versions, dict) else versions
    assert [c["analyses"] for c in rows] == [[], ["pseudoprogression", "dissociated_response"]]
