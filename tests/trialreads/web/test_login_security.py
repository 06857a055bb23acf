"""The login page's lockout (django-axes, audited) and the session's idle and absolute
timeouts (SessionTimeoutMiddleware), on pages and on the API's session authentication.
Time moves with a fake clock (time-machine), never by sleeping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.test import APIClient

from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent

pytestmark = pytest.mark.django_db

LIMIT = 5
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LOCKED_TEXT = "Too many failed login attempts for this username from this address; try again in 15 minutes."


def test_brute_force_on_the_login_page_then_the_right_password_is_refused(
    reader_a: Any, password: str
) -> None:
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        answers = [client.post("/login/", {"username": "reader_a", "password": f"g{i}"}) for i in range(50)]
        assert [a.status_code for a in answers] == [200] * (LIMIT - 1) + [429] * (50 - LIMIT + 1)
        assert "Please enter a correct username and password" in answers[0].content.decode()
        page = answers[-1].content.decode()
        assert LOCKED_TEXT in page and 'role="alert"' in page and 'name="username"' in page
        right = client.post("/login/", {"username": "reader_a", "password": password})
        assert right.status_code == 429 and LOCKED_TEXT in right.content.decode()
        assert client.get("/").status_code == 302  # not logged in

        clock.shift(dt.timedelta(minutes=15, seconds=1))
        ok = client.post("/login/", {"username": "reader_a", "password": password})
        assert ok.status_code == 302 and ok["Location"] == "/"
        assert client.get("/").status_code == 200
    failed = AuditEvent.objects.filter(event_type=AuditEventType.LOGIN_FAILED)
    assert failed.count() == LIMIT and {e.after["path"] for e in failed} == {"/login/"}
    assert AuditEvent.objects.filter(event_type=AuditEventType.LOGIN_LOCKED_OUT).count() == 50 - LIMIT + 2


def test_the_page_and_the_api_share_one_counter(reader_a: Any, password: str) -> None:
    client = Client()
    for i in range(LIMIT - 1):
        client.post("/login/", {"username": "reader_a", "password": f"g{i}"})
    api = APIClient().post("/api/auth/token/", {"username": "reader_a", "password": "g"}, format="json")
    assert api.status_code == 429
    assert client.post("/login/", {"username": "reader_a", "password": password}).status_code == 429


def _logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_idle_session_is_logged_out_and_sent_to_the_login_page(reader_a: Any) -> None:
    with time_machine.travel(START, tick=False) as clock:
        client = _logged_in(reader_a)
        assert client.get("/").status_code == 200
        # Activity keeps the session alive: 29 minutes idle, three times over.
        for _ in range(3):
            clock.shift(dt.timedelta(minutes=29))
            assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        gone = client.get("/")
        assert gone.status_code == 302 and gone["Location"] == "/login/?next=/"
        page = client.get(gone["Location"]).content.decode()
        assert "Your session ended after 30 minutes without activity. Log in again." in page
        assert client.get("/").status_code == 302  # logged out for good, not only this request


def test_the_idle_timeout_comes_from_the_settings(reader_a: Any, settings: Any) -> None:
    settings.TRIALREADS = {**settings.TRIALREADS, "SESSION_IDLE_TIMEOUT_MINUTES": 5}
    with time_machine.travel(START, tick=False) as clock:
        client = _logged_in(reader_a)
        assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=5, seconds=1))
        assert client.get("/").status_code == 302


def test_a_busy_session_still_ends_at_its_absolute_limit(reader_a: Any, settings: Any) -> None:
    settings.SESSION_COOKIE_AGE = 3600
    with time_machine.travel(START, tick=False) as clock:
        client = _logged_in(reader_a)
        assert client.get("/").status_code == 200
        for _ in range(3):  # active every 20 minutes up to the hour
            clock.shift(dt.timedelta(minutes=20))
            assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=1))
        gone = client.get("/")
        assert gone.status_code == 302
        assert (
            "Your session ended 1 hour after you logged in." in client.get(gone["Location"]).content.decode()
        )


def test_the_clock_starts_at_the_login_form(reader_a: Any, password: str) -> None:
    with time_machine.travel(START, tick=False) as clock:
        client = Client()
        assert client.post("/login/", {"username": "reader_a", "password": password}).status_code == 302
        clock.shift(dt.timedelta(minutes=31))
        assert client.get("/").status_code == 302


def test_an_idle_session_on_the_api_is_a_401(trial_with_reads: Any, reader_a: Any) -> None:
    with time_machine.travel(START, tick=False) as clock:
        client = APIClient()
        client.force_login(reader_a)
        assert client.get("/api/reads/").status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        response = client.get("/api/reads/")
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_a_token_request_creates_no_session(trial_with_reads: Any, reader_a: Any, password: str) -> None:
    """DRF puts the token's user on the Django request too; the timeout middleware must not
    take that for a session login and store a session row per API call."""
    key = APIClient().post(
        "/api/auth/token/", {"username": "reader_a", "password": password}, format="json"
    ).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    before = Session.objects.count()
    for _ in range(3):
        response = client.get("/api/reads/")
        assert response.status_code == 200
        assert "sessionid" not in response.cookies
    assert Session.objects.count() == before


@pytest.mark.parametrize("cookie", ["abc\x00def", "x" * 200, "../etc", "\u00e9t\u00e9"])
def test_a_forged_session_cookie_is_an_anonymous_request(cookie: str) -> None:
    """A session cookie that cannot be a session key (a NUL byte: PostgreSQL refuses to look it
    up) is no session: the login page and the API answer as to anyone not logged in, never 500."""
    for client, path, status in ((Client(), "/", 302), (APIClient(), "/api/trials/", 401)):
        client.cookies["sessionid"] = cookie
        response = client.get(path)
        assert response.status_code == status, (path, response.status_code)
    assert not Session.objects.exists()
