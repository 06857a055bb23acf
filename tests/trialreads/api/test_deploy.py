"""T-DEPLOY and T-MIGRATIONS: ``check --deploy`` is clean on the production settings and the
models need no migration. Subprocesses, so the production settings load in a fresh
interpreter exactly as a server would load them."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A deployment environment: none of the test session's settings or test-only switches.
    dropped = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {k: v for k, v in os.environ.items() if k not in dropped}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_on_prod_settings() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        "--settings=config.settings.prod",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_catches_a_weak_setting() -> None:
    """The guard is real: turning HSTS off makes the same command fail."""
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        "--settings=config.settings.prod",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_HSTS_SECONDS="0",
    )
    assert result.returncode != 0 and "security.W004" in result.stdout + result.stderr


def test_prod_settings_refuse_to_start_without_a_secret() -> None:
    result = _manage("check", "--settings=config.settings.prod", DJANGO_SECRET_KEY="")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_no_missing_migrations() -> None:
    result = _manage("makemigrations", "--check", "--dry-run", DJANGO_SETTINGS_MODULE="config.settings.test")
    assert result.returncode == 0, result.stdout + result.stderr
