"""T-SCHEMA: the OpenAPI schema generates without warnings, validates, and matches the
committed ``trialreads/api/openapi.yaml`` (regenerate with
``manage.py spectacular --validate --fail-on-warn --file trialreads/api/openapi.yaml``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

COMMITTED = Path(__file__).resolve().parents[3] / "trialreads" / "api" / "openapi.yaml"


def test_committed_schema_matches_generated(tmp_path: Path) -> None:
    out = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    generated = out.read_text()
    assert generated == COMMITTED.read_text(), (
        "trialreads/api/openapi.yaml is stale: regenerate it with manage.py spectacular "
        "--validate --fail-on-warn --file trialreads/api/openapi.yaml"
    )


def test_schema_generation_fails_on_a_warning(tmp_path: Path) -> None:
    """The guard above is real: a warning makes the command fail."""
    from drf_spectacular.drainage import warn

    from trialreads.api import views

    original = views.TrialList.get_queryset

    def noisy(self):  # type: ignore[no-untyped-def]
        warn("synthetic warning")
        return original(self)

    views.TrialList.get_queryset = noisy  # type: ignore[method-assign]
    try:
        with pytest.raises(Exception, match="warnings"):
            call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "x.yaml"))
    finally:
        views.TrialList.get_queryset = original  # type: ignore[method-assign]
