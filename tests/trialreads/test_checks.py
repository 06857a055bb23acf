"""System checks of the app."""

from __future__ import annotations

from django.test import override_settings

from trialreads.checks import check_database, check_settings


def test_settings_check() -> None:
    assert check_settings() == []
    with override_settings(TRIALREADS={"NOPE": 1, "SIGN_MAX_FAILURES": 0}):
        ids = sorted(p.id for p in check_settings())
    assert ids == ["trialreads.E002", "trialreads.E003"]


def test_database_check_accepts_the_configured_database() -> None:
    assert check_database(databases=["default"]) == []


def test_every_documented_setting_is_accepted() -> None:
    """Each key of the one defaults table, set to its default (or a valid value), passes."""
    from trialreads.conf import DEFAULTS

    configured = dict(DEFAULTS)
    configured["ENDPOINT_PROCESSES"] = 2
    with override_settings(TRIALREADS=configured):
        assert check_settings() == []


def test_endpoint_and_export_tuning_keys_are_accepted() -> None:
    tuning = {
        "ENDPOINT_LEASE_SECONDS": 60,
        "ENDPOINT_MAX_ATTEMPTS": 3,
        "ENDPOINT_PROGRESS_STEPS": 4,
        "EXPORT_ASSESSMENT_INTERVAL_DAYS": 42,
        "EXPORT_WINDOW_DAYS": 0,
    }
    with override_settings(TRIALREADS=tuning):
        assert check_settings() == []


def test_misspelt_key_is_named() -> None:
    with override_settings(TRIALREADS={"ENDPOINT_LEASE_SECOND": 60}):
        problems = check_settings()
    assert [p.id for p in problems] == ["trialreads.E002"]
    assert "'ENDPOINT_LEASE_SECOND'" in problems[0].msg


def test_tuning_values_are_validated() -> None:
    bad = {"ENDPOINT_MAX_ATTEMPTS": 0, "EXPORT_WINDOW_DAYS": -1, "ENDPOINT_PROCESSES": "two"}
    with override_settings(TRIALREADS=bad):
        messages = [p.msg for p in check_settings()]
    assert any("ENDPOINT_MAX_ATTEMPTS" in m for m in messages)
    assert any("EXPORT_WINDOW_DAYS" in m for m in messages)
    assert any("ENDPOINT_PROCESSES" in m for m in messages)


def test_login_and_session_keys_are_validated() -> None:
    """A zero lifetime would issue dead tokens and log every session out at once."""
    with override_settings(TRIALREADS={"API_TOKEN_TTL_MINUTES": 0, "SESSION_IDLE_TIMEOUT_MINUTES": "30"}):
        messages = sorted(p.msg for p in check_settings())
    assert messages == [
        "TRIALREADS['API_TOKEN_TTL_MINUTES'] must be a positive integer.",
        "TRIALREADS['SESSION_IDLE_TIMEOUT_MINUTES'] must be a positive integer.",
    ]
    with override_settings(TRIALREADS={"API_TOKEN_TTL_MINUTES": 60, "SESSION_IDLE_TIMEOUT_MINUTES": 15}):
        assert check_settings() == []
