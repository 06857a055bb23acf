"""POST /api/trials/{id}/exports/ with an optional ``data_cutoff``: a valid date makes (or
finds) the batch of that cut-off; anything else is a 400 naming ``data_cutoff`` and writes
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tests.trialreads.api.conftest import API, client_for
from trialreads.models import AuditEvent, ExportBatch

pytestmark = pytest.mark.django_db


def _url(world: dict[str, Any]) -> str:
    return f"{API}/trials/{world['trial'].pk}/exports/"


def test_a_cutoff_makes_its_own_batch_and_is_shown(
    world: dict[str, Any], sponsor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(sponsor)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = client.post(_url(world), {"data_cutoff": "2025-03-01"}, format="json")
    assert first.status_code == 202, first.content
    assert len(callbacks) == 1  # the build is enqueued after commit
    body = first.json()
    assert body["data_cutoff"] == "2025-03-01" and body["id"] != world["batch"].pk
    batch = ExportBatch.objects.get(pk=body["id"])
    assert batch.data_cutoff == dt.date(2025, 3, 1)

    again = client.post(_url(world), {"data_cutoff": "2025-03-01"}, format="json")
    other = client.post(_url(world), {"data_cutoff": "2025-02-20"}, format="json")
    assert again.status_code == other.status_code == 202
    assert again.json()["id"] == body["id"] and other.json()["id"] not in (body["id"], world["batch"].pk)
    assert ExportBatch.objects.count() == 3

    # Without a body, and with an explicit null, it is the fixture's batch of all data.
    for response in (
        client.post(_url(world)),
        client.post(_url(world), {"data_cutoff": None}, format="json"),
    ):
        assert response.status_code == 202 and response.json()["id"] == world["batch"].pk
        assert response.json()["data_cutoff"] is None

    detail = client.get(f"{API}/exports/{body['id']}/").json()
    listed = {b["id"]: b["data_cutoff"] for b in client.get(_url(world)).json()["results"]}
    assert detail["data_cutoff"] == "2025-03-01" and detail["status"] == "DONE"
    assert listed[body["id"]] == "2025-03-01" and listed[world["batch"].pk] is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda: (timezone.localdate() + dt.timedelta(days=1)).isoformat(), id="tomorrow"),
        pytest.param(lambda: "2999-12-31", id="far-future"),
        pytest.param(lambda: "not-a-date", id="garbage"),
        pytest.param(lambda: "2025-02-30", id="no-such-day"),
        pytest.param(lambda: "2025-03-01T00:00:00Z", id="datetime"),
        pytest.param(lambda: "20250301", id="basic-format"),
        pytest.param(lambda: "", id="empty"),
        pytest.param(lambda: 20250301, id="number"),
        pytest.param(lambda: "2024-12-31", id="before-randomisation"),
    ],
)
def test_a_bad_cutoff_is_a_400_naming_the_field_and_writes_nothing(
    world: dict[str, Any], sponsor: Any, value: Any, django_capture_on_commit_callbacks: Any
) -> None:
    batches, events = ExportBatch.objects.count(), AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(sponsor).post(_url(world), {"data_cutoff": value()}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == "Invalid input." and list(body["errors"]) == ["data_cutoff"]
    assert body["errors"]["data_cutoff"][0]
    assert ExportBatch.objects.count() == batches and AuditEvent.objects.count() == events
    assert callbacks == []


def test_unknown_fields_are_refused(world: dict[str, Any], sponsor: Any) -> None:
    response = client_for(sponsor).post(_url(world), {"cutoff": "2025-03-01"}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["cutoff"]
    assert ExportBatch.objects.count() == 1


def test_who_may_not_export_is_refused_whatever_the_body(
    world: dict[str, Any], reader_a: Any, outsider: Any
) -> None:
    """The gate answers before the body is looked at: no 400 that would tell an outsider the
    trial exists, and readers get the audited 403 they get without a cut-off."""
    for body in ({"data_cutoff": "garbage"}, {"data_cutoff": "2025-03-01"}):
        assert client_for(outsider).post(_url(world), body, format="json").status_code == 404
        assert client_for(reader_a).post(_url(world), body, format="json").status_code == 403
        assert client_for(None).post(_url(world), body, format="json").status_code in (401, 403)
    assert (
        client_for(outsider)
        .post(f"{API}/trials/999999/exports/", {"data_cutoff": "x"}, format="json")
        .status_code
        == 404
    )
    assert ExportBatch.objects.count() == 1
