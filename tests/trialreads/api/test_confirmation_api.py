"""``/api/trials/<id>/confirmation-windows/`` and the sponsor contacts over HTTP: managers see
the windows with the timepoint reads they rest on, sponsor viewers without them, readers get
the gate's 404; bad contact input is a 400 naming the field, with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.conftest import leaks, read_identifiers
from tests.trialreads.api.conftest import client_for
from tests.trialreads.confirmation_helpers import PD, irecist_trial, step
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent, SponsorContact

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(reader_a: Any, reader_b: Any) -> tuple[Any, Any]:
    return reader_a, reader_b


@pytest.fixture
def tw(distinct_ids: None, manager: Any, readers: tuple[Any, Any], sponsor: Any) -> Any:
    tw = irecist_trial(manager, readers, sponsor)
    step(tw, tw.read_a, readers[0], 0)
    step(tw, tw.read_a, readers[0], 1, PD)
    return tw


def _windows(user: Any, tw: Any, query: str = "") -> Any:
    return client_for(user).get(
        reverse("trialreads-api:trial-confirmation-windows", args=[tw.trial.pk]) + query
    )


def test_the_manager_sees_the_window_and_its_source_read(tw: Any, manager: Any) -> None:
    response = _windows(manager, tw)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["subject_code"], row["criterion"], row["visit_label"]) == ("S-001", "irecist", "WEEK6")
    assert (row["scan_date"], row["window_start"], row["window_end"]) == (
        "2025-02-17",
        "2025-03-17",
        "2025-04-14",
    )
    # The server's today is long after April 2025: the scan is overdue.
    assert (row["status"], row["outcome"], row["closed_at"]) == ("OVERDUE", "", None)
    assert row["source_timepoint_read_ids"] == [tw.tr(tw.read_a, 1).pk]
    assert _windows(manager, tw, "?status=OVERDUE").json()["count"] == 1
    assert _windows(manager, tw, "?status=DUE").json()["count"] == 0
    bad = _windows(manager, tw, "?status=LATE")
    assert bad.status_code == 400 and "status" in bad.json()["errors"]


def test_the_sponsor_sees_the_window_but_no_reader_work(tw: Any, sponsor: Any) -> None:
    response = _windows(sponsor, tw)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["status"] == "OVERDUE"
    assert row["source_timepoint_read_ids"] == [] and row["closing_timepoint_read_id"] is None
    needles = read_identifiers(tw.subject)
    assert leaks(response.content, needles) == []


@pytest.mark.parametrize("who", ["reader_a", "reader_b", "outsider"])
def test_readers_and_outsiders_get_404(tw: Any, who: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(who)
    response = _windows(user, tw)
    assert response.status_code == 404
    missing = client_for(user).get(reverse("trialreads-api:trial-confirmation-windows", args=[987654]))
    assert response.content == missing.content


def _contacts_url(tw: Any) -> str:
    return reverse("trialreads-api:trial-sponsor-contacts", args=[tw.trial.pk])


def test_a_manager_adds_a_contact_and_never_sees_the_secret_again(tw: Any, manager: Any) -> None:
    body = {
        "name": "Safety desk",
        "email": "safety@sponsor.example",
        "webhook_url": "https://hooks.sponsor.example/x",
        "webhook_secret": "s3cret-value",
    }
    response = client_for(manager).post(_contacts_url(tw), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["webhook_secret_set"] is True and b"s3cret-value" not in response.content
    event = AuditEvent.objects.get(event_type=AuditEventType.SPONSOR_CONTACT_CREATED)
    assert "s3cret-value" not in str(event.after) and event.after["webhook_secret_set"] is True
    patch = client_for(manager).patch(
        reverse("trialreads-api:sponsor-contact-detail", args=[data["id"]]), {"active": False}, format="json"
    )
    assert patch.status_code == 200 and patch.json()["active"] is False
    listed = client_for(manager).get(_contacts_url(tw)).json()
    assert listed["count"] == 1 and b"s3cret" not in str(listed).encode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Desk", "email": "not-an-address"}, "email"),
        (
            {
                "name": "Desk",
                "email": "d@sponsor.example",
                "webhook_url": "http://hooks.sponsor.example/x",
                "webhook_secret": "s",
            },
            "webhook_url",
        ),
        (
            {
                "name": "Desk",
                "email": "d@sponsor.example",
                "webhook_url": "ftp://hooks.sponsor.example/x",
                "webhook_secret": "s",
            },
            "webhook_url",
        ),
        (
            {"name": "Desk", "email": "d@sponsor.example", "webhook_url": "https://hooks.sponsor.example/x"},
            "webhook_secret",
        ),
        ({"name": "   ", "email": "d@sponsor.example"}, "name"),
        ({"email": "d@sponsor.example"}, "name"),
        ({"name": "Desk", "email": "d@sponsor.example", "reader_id": 3}, "reader_id"),
    ],
)
def test_bad_contact_input_is_a_400_naming_the_field_and_writes_nothing(
    tw: Any, manager: Any, body: dict[str, Any], field: str
) -> None:
    events = AuditEvent.objects.count()
    response = client_for(manager).post(_contacts_url(tw), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not SponsorContact.objects.exists() and AuditEvent.objects.count() == events


def test_a_bad_patch_names_the_field_and_changes_nothing(tw: Any, manager: Any) -> None:
    url = _contacts_url(tw)
    created = (
        client_for(manager).post(url, {"name": "Desk", "email": "d@sponsor.example"}, format="json").json()
    )
    detail = reverse("trialreads-api:sponsor-contact-detail", args=[created["id"]])
    response = client_for(manager).patch(detail, {"webhook_url": "http://insecure.example/"}, format="json")
    assert response.status_code == 400 and "webhook_url" in response.json()["errors"]
    assert SponsorContact.objects.get().webhook_url == ""


@pytest.mark.parametrize("who", ["reader_a", "sponsor", "outsider"])
def test_only_managers_reach_the_contacts(tw: Any, who: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(who)
    client = client_for(user)
    assert client.get(_contacts_url(tw)).status_code == 404
    assert (
        client.post(_contacts_url(tw), {"name": "X", "email": "x@y.example"}, format="json").status_code
        == 404
    )
    assert not SponsorContact.objects.exists()
