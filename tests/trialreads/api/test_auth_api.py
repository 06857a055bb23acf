"""Token login hardening: brute force is locked out per username and address (django-axes),
every failure and lockout is audited, tokens are new at every login, stored hashed, expire
and are revoked by logout. Time moves with a fake clock (time-machine), never by sleeping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.trialreads.api.conftest import API
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent
from trialreads.models.audit import GLOBAL_CHAIN
from trialreads.services.audit import verify_chain

pytestmark = pytest.mark.django_db

TOKEN = f"{API}/auth/token/"
LIMIT = 5  # AXES_FAILURE_LIMIT of the settings
COOL_OFF = dt.timedelta(minutes=15)  # AXES_COOLOFF_TIME of the settings
OTHER_ADDRESS = "127.0.0.2"


def login(username: str, password: str, address: str = "127.0.0.1") -> Any:
    return APIClient().post(
        TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def events(event_type: AuditEventType) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("seq"))


def test_the_settings_are_the_documented_ones(settings: Any) -> None:
    assert settings.AXES_FAILURE_LIMIT == LIMIT and settings.AXES_COOLOFF_TIME == COOL_OFF
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_brute_force_then_the_right_password_is_refused_until_the_cool_off(
    reader_a: Any, password: str
) -> None:
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        statuses = [login("reader_a", f"guess-{i}").status_code for i in range(100)]
        assert statuses[: LIMIT - 1] == [400] * (LIMIT - 1)
        assert statuses[LIMIT - 1 :] == [429] * (100 - LIMIT + 1)
        locked = login("reader_a", password)
        assert locked.status_code == 429
        body = locked.json()
        assert body == {
            "detail": "Too many failed login attempts for this username from this address; "
            "try again in 15 minutes."
        }
        assert locked["Retry-After"] == str(int(COOL_OFF.total_seconds()))
        assert AuthToken.objects.count() == 0

        # Attempts while locked do not prolong the lockout: it ends 15 minutes after it began.
        clock.shift(COOL_OFF - dt.timedelta(seconds=1))
        assert login("reader_a", password).status_code == 429
        clock.shift(dt.timedelta(seconds=2))
        ok = login("reader_a", password)
        assert ok.status_code == 200, ok.content

    # Audited: every counted failure, the start of the lockout, and every refused attempt.
    failed = events(AuditEventType.LOGIN_FAILED)
    assert len(failed) == LIMIT
    assert [e.after["failures"] for e in failed] == list(range(1, LIMIT + 1))
    assert {(e.object_type, e.object_id, e.actor_id, e.actor_username) for e in failed} == {
        ("login", "reader_a", None, "anonymous")
    }
    assert failed[0].after["ip_address"] == "127.0.0.1" and failed[0].after["path"] == TOKEN
    locked_out = events(AuditEventType.LOGIN_LOCKED_OUT)
    assert locked_out[0].reason == f"locked out after {LIMIT} failed attempts"
    # 100 - 5 refused guesses, the right password at once and one second before the end.
    assert [e.reason for e in locked_out[1:]] == [
        "attempt refused while locked out (password not checked)"
    ] * (100 - LIMIT + 2)
    assert {e.chain_id for e in failed + locked_out} == {GLOBAL_CHAIN}
    assert verify_chain(GLOBAL_CHAIN).ok


def test_the_lockout_is_per_username_and_address(reader_a: Any, reader_b: Any, password: str) -> None:
    for i in range(LIMIT):
        login("reader_a", f"guess-{i}")
    assert login("reader_a", password).status_code == 429
    # The same user from elsewhere, and another user from the same address, are not locked.
    assert login("reader_a", password, address=OTHER_ADDRESS).status_code == 200
    assert login("reader_b", password).status_code == 200


def test_unknown_usernames_are_counted_and_answered_like_wrong_passwords(db: None) -> None:
    answers = [login("nobody", "x") for _ in range(LIMIT)]
    assert [a.status_code for a in answers] == [400] * (LIMIT - 1) + [429]
    assert answers[0].json() == {
        "detail": "Invalid input.",
        "errors": {"non_field_errors": ["unable to log in with these credentials"]},
    }


def test_a_successful_login_clears_the_failures(reader_a: Any, password: str) -> None:
    for i in range(LIMIT - 1):
        assert login("reader_a", f"guess-{i}").status_code == 400
    assert login("reader_a", password).status_code == 200
    for i in range(LIMIT - 1):
        assert login("reader_a", f"again-{i}").status_code == 400
    assert login("reader_a", password).status_code == 200


def test_bad_input_is_a_400_naming_the_field_and_counts_nothing(reader_a: Any) -> None:
    response = APIClient().post(TOKEN, {"username": "reader_a"}, format="json")
    assert response.status_code == 400 and "password" in response.json()["errors"]
    assert AuditEvent.objects.filter(event_type=AuditEventType.LOGIN_FAILED).count() == 0


def test_every_login_issues_a_new_hashed_expiring_token(
    trial_with_reads: Any, reader_a: Any, password: str
) -> None:
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        first, second = login("reader_a", password), login("reader_a", password)
        assert first.status_code == second.status_code == 200
        keys = [first.json()["token"], second.json()["token"]]
        assert keys[0] != keys[1] and all(len(k) == 64 for k in keys)
        # The compatible shape: {"token": ...} plus the additive expiry (10 h by default).
        assert set(first.json()) == {"token", "expiry"}
        assert first.json()["expiry"] == "2026-03-02T19:00:00Z"
        # Stored hashed: the key itself is in no column.
        stored = list(AuthToken.objects.values_list("digest", "token_key"))
        assert len(stored) == 2 and not any(key in row for key in keys for row in stored)
        clients = []
        for key in keys:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            assert client.get(f"{API}/reads/").status_code == 200
            clients.append(client)
        issued = events(AuditEventType.API_TOKEN_ISSUED)
        assert [e.actor_id for e in issued] == [reader_a.pk] * 2
        assert {e.object_id for e in issued} == {k[:15] for k in keys}

        clock.shift(dt.timedelta(hours=10, seconds=1))
        for client in clients:
            expired = client.get(f"{API}/reads/")
            assert expired.status_code == 401 and expired.json() == {"detail": "Invalid token."}
    assert AuthToken.objects.count() == 0  # expired tokens are deleted when presented


def test_the_token_lifetime_comes_from_the_settings(reader_a: Any, password: str, settings: Any) -> None:
    settings.TRIALREADS = {**settings.TRIALREADS, "API_TOKEN_TTL_MINUTES": 5}
    before = timezone.now()
    response = login("reader_a", password)
    (token,) = AuthToken.objects.all()
    assert token.expiry is not None
    assert dt.timedelta(minutes=5) <= token.expiry - before < dt.timedelta(minutes=5, seconds=5)
    assert response.json()["token"]


def test_logout_revokes_the_token_it_was_sent_with(
    trial_with_reads: Any, reader_a: Any, password: str
) -> None:
    keys = [login("reader_a", password).json()["token"] for _ in range(2)]
    a, b = APIClient(), APIClient()
    a.credentials(HTTP_AUTHORIZATION=f"Token {keys[0]}")
    b.credentials(HTTP_AUTHORIZATION=f"Token {keys[1]}")
    assert a.post(f"{API}/auth/logout/").status_code == 204
    assert a.get(f"{API}/reads/").status_code == 401
    assert b.get(f"{API}/reads/").status_code == 200  # the other login is untouched
    revoked = events(AuditEventType.API_TOKEN_REVOKED)
    assert [(e.actor_id, e.object_id, e.reason) for e in revoked] == [(reader_a.pk, keys[0][:15], "logout")]


def test_logoutall_revokes_every_token_of_the_user_only(
    trial_with_reads: Any, reader_a: Any, reader_b: Any, password: str
) -> None:
    mine = [login("reader_a", password).json()["token"] for _ in range(3)]
    theirs = login("reader_b", password).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {mine[0]}")
    assert client.post(f"{API}/auth/logoutall/").status_code == 204
    for key in mine:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get(f"{API}/reads/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {theirs}")
    assert client.get(f"{API}/reads/").status_code == 200
    assert len(events(AuditEventType.API_TOKEN_REVOKED)) == 3


def test_logout_needs_a_token(reader_a: Any) -> None:
    """A browser session cannot call the token logout (it has no token to revoke)."""
    client = APIClient()
    assert client.post(f"{API}/auth/logout/").status_code == 401
    client.force_login(reader_a)
    assert client.post(f"{API}/auth/logout/").status_code == 401


def test_other_logins_get_the_lockout_too(manager: Any, password: str) -> None:
    """The admin's login page is also behind django-axes; it gets a plain 429."""
    client = APIClient()
    for i in range(LIMIT - 1):
        assert (
            client.post("/admin/login/", {"username": manager.username, "password": f"g{i}"}).status_code
            == 200
        )
    locked = client.post("/admin/login/", {"username": manager.username, "password": "g"})
    assert locked.status_code == 429 and b"Too many failed login attempts" in locked.content
    assert (
        client.post("/admin/login/", {"username": manager.username, "password": password}).status_code == 429
    )
