"""Audit review over the API (T-AUDIT-REVIEW): read managers only, filtered by time range,
actor and subject, in chain order."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TrialWithReads, make_subject_with_reads, save_baseline
from tests.trialreads.api.conftest import API, client_for

pytestmark = pytest.mark.django_db


def test_audit_review_filters(
    trial_with_reads: TrialWithReads, manager: Any, reader_a: Any, reader_b: Any
) -> None:
    trial = trial_with_reads.trial
    other = make_subject_with_reads(trial, manager, (reader_a, reader_b), code="S-002", followups=0)
    save_baseline(trial_with_reads.tr(trial_with_reads.read_a, 0), reader_a)
    client = client_for(manager)
    url = f"{API}/trials/{trial.pk}/audit/"
    everything = client.get(url + "?limit=200").json()
    seqs = [e["seq"] for e in everything["results"]]
    assert seqs == sorted(seqs) and everything["count"] == len(seqs)
    by_reader = client.get(url + "?user=reader_a").json()["results"]
    assert by_reader and {e["actor_username"] for e in by_reader} == {"reader_a"}
    subject_events = client.get(url + f"?subject={other.subject.pk}&limit=200").json()["results"]
    types = {e["event_type"] for e in subject_events}
    assert {"SUBJECT_CREATED", "TIMEPOINT_CREATED", "READS_ASSIGNED"} <= types
    assert "TIMEPOINT_READ_SAVED" not in types  # that save was on S-001
    middle = everything["results"][len(seqs) // 2]["ts"]
    later = client.get(url + f"?from={middle}&limit=200").json()["results"]
    assert later and all(e["ts"] >= middle for e in later) and len(later) < len(seqs)
    earlier = client.get(url + f"?to={middle}&limit=200").json()["results"]
    assert len(earlier) + len(later) == len(seqs)


@pytest.mark.parametrize(
    "query",
    [
        "?from=yesterday",
        "?to=2025-13-01",
        "?subject=abc",
        "?subject=0",
        "?event_type=NOPE",
        f"?subject={2**70}",
    ],
)
def test_audit_review_bad_filters_are_400(query: str, trial_with_reads: TrialWithReads, manager: Any) -> None:
    response = client_for(manager).get(f"{API}/trials/{trial_with_reads.trial.pk}/audit/{query}")
    assert response.status_code == 400
    assert set(response.json()["errors"]) <= {"from", "to", "subject", "event_type"}
