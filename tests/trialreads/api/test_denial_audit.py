"""T-AUTHZ-AUDIT at the request boundary (issue 11.3): the access gate only raises; the API
exception handler and the web views' error decorator note the refusal and
``AccessDenialAuditMiddleware`` records it once, after the request's transaction, so that the
record survives ``ATOMIC_REQUESTS`` and any ``atomic()`` the refusal was raised in."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.request import Request

from tests.conftest import PASSWORD, TrialWithReads, save_baseline
from tests.trialreads.api.conftest import client_for
from tests.trialreads.web.conftest import client_for as web_client_for
from trialreads import access
from trialreads.checks import ACCESS_DENIAL_MIDDLEWARE
from trialreads.choices import AuditEventType
from trialreads.errors import NotFound
from trialreads.middleware import DENIALS_ATTR, AccessDenialAuditMiddleware, note_denial
from trialreads.models import AuditEvent
from trialreads.services.audit import access_denials_recorded

pytestmark = pytest.mark.django_db


def _denials(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED, **filters).order_by("id"))


@pytest.fixture(params=[False, True], ids=["autocommit", "atomic_requests"])
def atomic_requests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both request modes. With ATOMIC_REQUESTS a web view that raises runs in a transaction
    that is rolled back, so a record written in the view (or its decorator) would be lost:
    the web test fails that way. The API's handler answers a domain error without rolling
    back (as before this change), so there the mode shows only that nothing is lost or doubled."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", request.param)
    return bool(request.param)


def test_api_404_and_403_are_each_recorded_once(
    trial_with_reads: TrialWithReads, reader_a: Any, atomic_requests: bool
) -> None:
    tw = trial_with_reads
    client = client_for(reader_a)
    assert client.get(f"/api/reads/{tw.read_b.pk}/").status_code == 404
    [hidden] = _denials()
    assert (hidden.actor_id, hidden.object_type, hidden.object_id, hidden.chain_id) == (
        reader_a.pk,
        "read",
        str(tw.read_b.pk),
        "global",
    )
    assert hidden.after is None
    assert client.get(f"/api/trials/{tw.trial.pk}/audit/").status_code == 403
    [_, refused] = _denials()
    assert (refused.object_type, refused.object_id) == ("trial", str(tw.trial.pk))
    assert refused.after == {"missing_capability": "view_audit"}


def test_web_404_and_a_refusal_answered_on_the_form_are_each_recorded_once(
    trial_with_reads: TrialWithReads, reader_a: Any, reader_b: Any, manager: Any, atomic_requests: bool
) -> None:
    tw = trial_with_reads
    tr = tw.tr(tw.read_a, 0)
    save_baseline(tr, reader_a)
    assert web_client_for(reader_b).get(f"/timepoint-reads/{tr.pk}/").status_code == 404
    [hidden] = _denials()
    assert (hidden.actor_id, hidden.object_type) == (reader_b.pk, "timepoint_read")
    assert hidden.object_id == str(tr.pk)
    # The manager sees the page but may not sign: the sign view answers on its form (422) and
    # the refusal is still recorded, once.
    response = web_client_for(manager).post(
        f"/timepoint-reads/{tr.pk}/sign/", {"printed_name": "M", "password": PASSWORD}
    )
    assert response.status_code == 422
    [_, refused] = _denials()
    assert (refused.actor_id, refused.after) == (manager.pk, {"missing_capability": "sign"})


def test_a_denial_is_noted_once_however_many_layers_see_it(outsider: Any) -> None:
    request = RequestFactory().get("/")
    with pytest.raises(NotFound) as first:
        access.access_trial_for(outsider, 987_654)
    with pytest.raises(NotFound) as second:
        access.access_trial_for(outsider, 987_654)
    for exc in (first.value, first.value, second.value, NotFound()):  # NotFound(): not the gate's
        note_denial(request, exc)
        note_denial(Request(request), exc)  # DRF's request notes on the Django one
    assert request.__dict__[DENIALS_ATTR] == [first.value.denial, second.value.denial]
    AccessDenialAuditMiddleware(lambda r: HttpResponse())(request)
    assert len(_denials(object_id="987654")) == 2 and DENIALS_ATTR not in request.__dict__


def test_outside_a_request_the_context_manager_records_after_the_rollback(outsider: Any) -> None:
    with pytest.raises(NotFound), access_denials_recorded(), transaction.atomic():
        access.access_trial_for(outsider, 987_654)
    [denial] = _denials()
    assert (denial.actor_id, denial.object_type, denial.object_id) == (outsider.pk, "trial", "987654")
    with pytest.raises(NotFound):
        access.access_trial_for(outsider, 987_655)  # without it the gate writes nothing
    assert len(_denials()) == 1


def test_a_project_without_the_middleware_fails_the_checks(settings: Any) -> None:
    assert not [e for e in run_checks() if e.id == "trialreads.E004"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != ACCESS_DENIAL_MIDDLEWARE]
    assert [e.id for e in run_checks() if e.id == "trialreads.E004"] == ["trialreads.E004"]
