"""Confirmation windows on the pages: the manager's dashboard and worklist show each window with
its status (due / overdue), the sponsor's too (no reader's work), a reader's worklist nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.conftest import leaks, read_identifiers
from tests.trialreads.confirmation_helpers import PD, irecist_trial, step
from tests.trialreads.web.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def tw(distinct_ids: None, manager: Any, reader_a: Any, reader_b: Any, sponsor: Any) -> Any:
    tw = irecist_trial(manager, (reader_a, reader_b), sponsor)
    step(tw, tw.read_a, reader_a, 0)
    step(tw, tw.read_a, reader_a, 1, PD)
    return tw


def _section(html: str) -> str:
    start = html.index('data-testid="confirmation-windows"')
    return html[start : html.index("</table>", start)]


def test_the_managers_dashboard_and_worklist_show_the_overdue_window(tw: Any, manager: Any) -> None:
    client = client_for(manager)
    for url in (reverse("trialreads-web:dashboard", args=[tw.trial.pk]), reverse("trialreads-web:worklist")):
        html = client.get(url).content.decode()
        row = _section(html)
        assert "S-001" in row and "irecist" in row and "WEEK6" in row
        assert "2025-03-17 to 2025-04-14" in row and "OVERDUE" in row  # today is past 2025-04-14


def test_the_sponsor_sees_the_window_without_reader_work(tw: Any, sponsor: Any) -> None:
    client = client_for(sponsor)
    html = client.get(reverse("trialreads-web:dashboard", args=[tw.trial.pk])).content.decode()
    row = _section(html)
    assert "S-001" in row and "OVERDUE" in row
    assert leaks(row, read_identifiers(tw.subject)) == []
    assert "S-001" in _section(client.get(reverse("trialreads-web:worklist")).content.decode())


@pytest.mark.parametrize("who", ["reader_a", "reader_b"])
def test_a_readers_worklist_shows_no_confirmation_window(
    tw: Any, who: str, request: pytest.FixtureRequest
) -> None:
    html = client_for(request.getfixturevalue(who)).get(reverse("trialreads-web:worklist")).content.decode()
    assert "confirmation-windows" not in html and "Confirmation scans" not in html
