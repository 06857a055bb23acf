"""List endpoints cost a constant number of queries: the same with 5 rows as with 50
(convention 13), and no more than a fixed budget."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    MembershipFactory,
    ReadFactory,
    SiteFactory,
    SubjectFactory,
    TimepointFactory,
    TimepointReadFactory,
    TrialFactory,
    UserFactory,
)
from tests.trialreads.api.conftest import client_for
from trialreads.choices import AuditEventType, TrialRole
from trialreads.services.audit import audit_record

pytestmark = pytest.mark.django_db

#: Queries per list request, whatever the page holds (auth, roles, gate, count, page, prefetches).
BUDGET = 12


class Rows:
    """Adds ``n`` more rows of one kind and returns the URL that lists them."""

    def __init__(self, trial: Any, manager: Any) -> None:
        self.trial, self.manager = trial, manager
        self.site = SiteFactory(trial=trial)
        self.subject = SubjectFactory(trial=trial, site=self.site)
        self.read = ReadFactory(subject=self.subject, reader=UserFactory(), slot=1)

    def trials(self, n: int) -> str:
        for _ in range(n):
            MembershipFactory(trial=TrialFactory(), user=self.manager, role=TrialRole.MANAGER)
        return "/api/trials/"

    def subjects(self, n: int) -> str:
        for _ in range(n):
            SubjectFactory(trial=self.trial, site=self.site)
        return f"/api/trials/{self.trial.pk}/subjects/"

    def reads(self, n: int) -> str:
        for _ in range(n):
            ReadFactory(
                subject=SubjectFactory(trial=self.trial, site=self.site), reader=UserFactory(), slot=1
            )
        return "/api/reads/"

    def memberships(self, n: int) -> str:
        for _ in range(n):
            MembershipFactory(trial=self.trial, user=UserFactory(), role=TrialRole.ADJUDICATOR)
        return f"/api/trials/{self.trial.pk}/memberships/"

    def timepoints(self, n: int) -> str:
        start = self.subject.timepoints.count()
        for k in range(n):
            TimepointFactory(subject=self.subject, sequence=start + k + 1)
        return f"/api/subjects/{self.subject.pk}/timepoints/"

    def timepoint_reads(self, n: int) -> str:
        start = self.subject.timepoints.count()
        for k in range(n):
            TimepointReadFactory(
                read=self.read, timepoint=TimepointFactory(subject=self.subject, sequence=start + k + 1)
            )
        return f"/api/reads/{self.read.pk}/timepoint-reads/"

    def audit(self, n: int) -> str:
        for _ in range(n):
            audit_record(
                chain_id=self.trial.chain_id, event_type=AuditEventType.AUDIT_VERIFIED, actor=self.manager
            )
        return f"/api/trials/{self.trial.pk}/audit/"

    def charters(self, n: int) -> str:
        from trialreads.services import trials as trial_services

        for _ in range(n):
            trial_services.charter_publish(
                trial_id=self.trial.pk,
                changes={"sd_min_days": 49},
                effective_from=dt.date(2025, 6, 1),
                actor=self.manager,
            )
        return f"/api/trials/{self.trial.pk}/charters/"


KINDS = ["trials", "subjects", "reads", "memberships", "timepoints", "timepoint_reads", "audit", "charters"]


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url + ("&" if "?" in url else "?") + "limit=100")
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize("kind", KINDS)
def test_list_query_count_does_not_grow(
    kind: str, trial: Any, manager: Any, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    rows = Rows(trial, manager)
    client = client_for(manager)
    add = getattr(rows, kind)
    url = add(5)
    client.get(url)  # warm caches (content types, token) so both counts measure the same work
    small = _queries(client, url)
    add(45)
    body = client.get(url + ("&" if "?" in url else "?") + "limit=100").json()
    assert body["count"] >= 50
    large = _queries(client, url)
    assert small == large, f"{kind}: {small} queries with 5 rows, {large} with 50"
    with django_assert_max_num_queries(BUDGET):
        client.get(url + "?limit=100")
