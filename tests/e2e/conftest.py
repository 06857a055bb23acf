"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

One headless Chromium with a fresh user-data-dir serves the whole session (a launch costs
seconds); every test gets a new page and starts with no cookies, so each persona logs in
through the login page like a person would. Tests skip with a reason when
``/usr/bin/chromium`` (CI installs Debian's package) or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.conftest import drop_triggers, install_triggers

CHROMIUM = Path(os.environ.get("TRIALREADS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

@pytest.fixture(scope="module")
def chromium_context() -> Iterator[Any]:
    """One headless Debian Chromium per test module.

    Playwright's sync API runs an event loop in this thread; the test's own ORM calls (set-up
    through the services) are still synchronous and safe, so Django's async guard is relaxed
    while the browser runs, and only then: the variable must not leak into the rest of the
    session (it would hide async-safety bugs and it fails ``check --deploy``).
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _chromium()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev requirements install it
        pytest.skip("playwright is not installed")
    profile = tempfile.mkdtemp(prefix="trialreads-e2e-profile-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def tab(chromium_context: Any) -> Iterator[Any]:
    """A new tab with no session cookies."""
    chromium_context.clear_cookies()
    tab = chromium_context.new_page()
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def _triggers_back_after_module(django_db_blocker: Any) -> Iterator[None]:
    """Re-create the lock and append-only triggers once the module's last flush is done, so
    the suites that run after the browser tests find them (see ``e2e_db``)."""
    yield
    if connection.vendor == "sqlite":
        with django_db_blocker.unblock():
            install_triggers()


@pytest.fixture
def e2e_db(
    _triggers_back_after_module: None, live_server: Any, settings: Any, tmp_path: Path
) -> Iterator[Any]:
    """Committed data the live server can see; exports go to the test's temporary directory.

    ``live_server`` makes pytest-django flush the tables after the test. On SQLite the
    flush DELETEs every row, which the append-only and lock triggers refuse, so they are
    dropped after the test and re-created before the next one (``tx_db`` cannot be used:
    the live server's helper sets the database up before it, so its re-install would run
    before the flush). PostgreSQL flushes with TRUNCATE, which row triggers ignore.
    """
    settings.MEDIA_ROOT = tmp_path / "media"
    if connection.vendor == "sqlite":
        install_triggers()
    yield live_server
    if connection.vendor == "sqlite":
        drop_triggers()


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def login(page: Any, base_url: str, username: str, password: str) -> None:
    """Log in through the form with the keyboard only (Enter submits)."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{base_url}/")


def unlabelled(page: Any) -> list[str]:
    """Names of visible form controls without an associated <label> (accessibility basics)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length))
                .map(el => el.name || el.id)"""
        )
    )
