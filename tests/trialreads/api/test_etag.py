"""T-CONC-ETAG: optimistic concurrency over HTTP (ETag from the timepoint read's version)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TrialWithReads, save_baseline, sign
from tests.trialreads.api.conftest import API, BASELINE_BODY, FOLLOWUP_BODY, client_for, counts, etag_of
from trialreads.models import TimepointRead

pytestmark = pytest.mark.django_db


def _url(tr: TimepointRead, action: str = "baseline") -> str:
    return f"{API}/timepoint-reads/{tr.pk}/{action}/"


def test_get_gives_etag_of_version(trial_with_reads: TrialWithReads, api: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    response = api["reader_a"].get(f"{API}/timepoint-reads/{tr.pk}/")
    assert response["ETag"] == f'"tr{tr.pk}-v{tr.version}"'
    assert response.json()["version"] == tr.version


@pytest.mark.parametrize("method", ["put", "patch"])
def test_write_without_if_match_is_428(method: str, trial_with_reads: TrialWithReads, api: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    before = counts()
    response = getattr(api["reader_a"], method)(_url(tr), BASELINE_BODY, format="json")
    assert response.status_code == 428
    assert counts() == before


@pytest.mark.parametrize("header", ["*", 'W/"tr1-v1"', '"garbage"'])
def test_wildcard_weak_or_foreign_tags_do_not_pass(
    header: str, trial_with_reads: TrialWithReads, api: Any
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    response = api["reader_a"].put(_url(tr), BASELINE_BODY, format="json", HTTP_IF_MATCH=header)
    assert response.status_code in (412, 428)
    tr.refresh_from_db()
    assert tr.saved_at is None


def test_other_resources_etag_is_412(trial_with_reads: TrialWithReads, api: Any) -> None:
    """The ETag names its timepoint read: a tag from another one never matches."""
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    other = trial_with_reads.tr(trial_with_reads.read_a, 1)
    tag = f'"tr{other.pk}-v{tr.version}"'
    assert api["reader_a"].put(_url(tr), BASELINE_BODY, format="json", HTTP_IF_MATCH=tag).status_code == 412


@pytest.mark.parametrize("method", ["put", "patch"])
def test_stale_412_fresh_200_and_new_etag(method: str, trial_with_reads: TrialWithReads, api: Any) -> None:
    client = api["reader_a"]
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    first = etag_of(client, tr.pk)
    ok = getattr(client, method)(_url(tr), BASELINE_BODY, format="json", HTTP_IF_MATCH=first)
    assert ok.status_code == 200, ok.content
    second = ok["ETag"]
    assert second != first and second == etag_of(client, tr.pk)
    before = counts()
    stale = getattr(client, method)(_url(tr), BASELINE_BODY, format="json", HTTP_IF_MATCH=first)
    assert stale.status_code == 412
    assert counts() == before
    again = getattr(client, method)(_url(tr), BASELINE_BODY, format="json", HTTP_IF_MATCH=second)
    assert again.status_code == 200


def test_two_clients_race_one_wins(trial_with_reads: TrialWithReads, reader_a: Any) -> None:
    """Two sessions of the same reader GET, then both write with the same If-Match: one 200,
    one 412, and the stored content is the winner's (no silent overwrite)."""
    one, two = client_for(reader_a), client_for(reader_a)
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    tag_one, tag_two = etag_of(one, tr.pk), etag_of(two, tr.pk)
    assert tag_one == tag_two
    body_two = {**BASELINE_BODY, "targets": [{"code": "T1", "organ": "liver", "value_mm": 77.7}]}
    r1 = one.put(_url(tr), BASELINE_BODY, format="json", HTTP_IF_MATCH=tag_one)
    r2 = two.put(_url(tr), body_two, format="json", HTTP_IF_MATCH=tag_two)
    assert sorted([r1.status_code, r2.status_code]) == [200, 412]
    stored = one.get(f"{API}/timepoint-reads/{tr.pk}/").json()["baseline"]["targets"]
    assert [t["code"] for t in stored] == ["T1", "T2", "T3"]


def test_patch_replaces_only_the_keys_sent(trial_with_reads: TrialWithReads, api: Any, reader_a: Any) -> None:
    client = api["reader_a"]
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    patch = {"non_targets": [{"code": "NT9", "organ": "brain"}]}
    response = client.patch(_url(tr), patch, format="json", HTTP_IF_MATCH=etag_of(client, tr.pk))
    assert response.status_code == 200, response.content
    baseline = response.json()["baseline"]
    assert [t["code"] for t in baseline["targets"]] == ["T1", "T2", "T3"]
    assert [t["value_mm"] for t in baseline["targets"]] == [50.0, 30.0, 20.0]
    assert [n["code"] for n in baseline["non_targets"]] == ["NT9"]


def test_get_put_round_trip_of_followup(trial_with_reads: TrialWithReads, api: Any, reader_a: Any) -> None:
    """The GET shape is the PUT shape: sending back what was read changes nothing but the version."""
    client = api["reader_a"]
    base = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(base, reader_a)
    sign(base, reader_a)
    tr = trial_with_reads.tr(trial_with_reads.read_a, 1)
    body = {
        **FOLLOWUP_BODY,
        "targets": [
            {"code": "T1", "state": "SPLIT", "fragments_mm": [20.0, 15.5]},
            {"code": "T2", "state": "TOO_SMALL"},
            {"code": "T3", "value_mm": 9.0},
        ],
        "new_lesions": [{"code": "N1", "organ": "liver", "value_mm": 12.0}],
    }
    first = client.put(_url(tr, "followup"), body, format="json", HTTP_IF_MATCH=etag_of(client, tr.pk))
    assert first.status_code == 200, first.content
    sha = first.json()["content_sha256"]
    again = client.put(
        _url(tr, "followup"), first.json()["followup"], format="json", HTTP_IF_MATCH=first["ETag"]
    )
    assert again.status_code == 200, again.content
    assert again.json()["content_sha256"] == sha
    assert again.json()["followup"] == first.json()["followup"]
