"""The API end to end as a client uses it: token login, baseline, sign, follow-up with the
engine's responses; session authentication with CSRF for browser clients."""

from __future__ import annotations

from typing import Any

from tests.trialreads.api.conftest import API, BASELINE_BODY, FOLLOWUP_BODY, etag_of


def test_reader_round_trip(api: dict[str, Any], trial_with_reads: Any, password: str) -> None:
    a = api["reader_a"]
    tr0 = trial_with_reads.tr(trial_with_reads.read_a, 0)
    tag = etag_of(a, tr0.pk)
    r = a.put(f"{API}/timepoint-reads/{tr0.pk}/baseline/", BASELINE_BODY, format="json", HTTP_IF_MATCH=tag)
    assert r.status_code == 200, r.content
    r = a.post(
        f"{API}/timepoint-reads/{tr0.pk}/sign/",
        {"password": password, "printed_name": "Ada Reader"},
        format="json",
        HTTP_IF_MATCH=r["ETag"],
    )
    assert r.status_code == 200, r.content
    tr1 = trial_with_reads.tr(trial_with_reads.read_a, 1)
    r = a.put(
        f"{API}/timepoint-reads/{tr1.pk}/followup/",
        FOLLOWUP_BODY,
        format="json",
        HTTP_IF_MATCH=etag_of(a, tr1.pk),
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["responses"]["recist1.1"]["overall"] == "SD"


def test_token_login_then_token_requests(trial_with_reads: Any, reader_a: Any, password: str) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    bad = client.post(f"{API}/auth/token/", {"username": "reader_a", "password": "wrong"}, format="json")
    assert bad.status_code == 400 and "non_field_errors" in bad.json()["errors"]
    ok = client.post(f"{API}/auth/token/", {"username": "reader_a", "password": password}, format="json")
    assert ok.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {ok.json()['token']}")
    assert [r["id"] for r in client.get(f"{API}/reads/").json()["results"]] == [trial_with_reads.read_a.pk]
    anonymous = APIClient().get(f"{API}/reads/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"


def test_session_auth_needs_csrf_for_writes(trial_with_reads: Any, reader_a: Any) -> None:
    """Browser sessions work on the API, and a write without the CSRF token is refused
    before anything is parsed (the web UI sends the token; a cross-site form cannot)."""
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reader_a)
    assert client.get(f"{API}/reads/").status_code == 200
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    tag = client.get(f"{API}/timepoint-reads/{tr.pk}/")["ETag"]
    response = client.put(
        f"{API}/timepoint-reads/{tr.pk}/baseline/", BASELINE_BODY, format="json", HTTP_IF_MATCH=tag
    )
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    tr.refresh_from_db()
    assert tr.saved_at is None
