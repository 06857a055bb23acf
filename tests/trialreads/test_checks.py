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
