"""Issue 18 item 3: subject-level dates from the trial, set through the API (subject create
and update) and the services: randomisation, first dose, the sponsor's reference start date,
death, last contact; audited, refused naming the field with nothing written, shown to the
read manager and the sponsor only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.trialreads.api.conftest import API, client_for
from trialreads.choices import AuditEventType
from trialreads.errors import ValidationError
from trialreads.models import AuditEvent, Subject
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

BODY = {
    "site_code": "SITE01",
    "subject_code": "S-900",
    "randomisation_date": "2025-01-10",
    "first_dose_date": "2025-01-12",
    "reference_start_date": "2025-01-12",
    "last_contact_date": "2025-03-01",
}


@pytest.fixture
def site_trial(trial: Any, manager: Any) -> Any:
    trial_services.site_create(trial_id=trial.pk, code="SITE01", actor=manager)
    return trial


def test_the_manager_creates_a_subject_with_its_dates(site_trial: Any, manager: Any) -> None:
    response = client_for(manager).post(f"{API}/trials/{site_trial.pk}/subjects/", BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["first_dose_date"], body["reference_start_date"], body["death_date"]) == (
        "2025-01-12", "2025-01-12", None
    )  # fmt: skip
    subject = Subject.objects.get(trial=site_trial, subject_code="S-900")
    assert (subject.first_dose_date, subject.reference_start_date) == (dt.date(2025, 1, 12),) * 2
    event = AuditEvent.objects.get(event_type=AuditEventType.SUBJECT_CREATED, object_id=str(subject.pk))
    assert (event.after["first_dose_date"], event.after["reference_start_date"]) == ("2025-01-12",) * 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_dose_date": "2025-01-09"}, "first_dose_date"),  # before randomisation
        ({"reference_start_date": "2025-1-12"}, "reference_start_date"),
        ({"site_code": "NOPE"}, "site_code"),
        ({"death_date": "2024-12-31"}, "death_date"),
        ({"unit": "mm"}, "unit"),
    ],
)
def test_bad_subject_dates_are_refused_naming_the_field(
    site_trial: Any, manager: Any, change: dict[str, str], field: str
) -> None:
    before = (Subject.objects.count(), AuditEvent.objects.count())
    response = client_for(manager).post(
        f"{API}/trials/{site_trial.pk}/subjects/", {**BODY, **change}, format="json"
    )
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert (Subject.objects.count(), AuditEvent.objects.count()) == before


def test_only_the_manager_creates_and_updates(
    site_trial: Any, reader_a: Any, sponsor: Any, manager: Any
) -> None:
    for user in (reader_a, sponsor):
        response = client_for(user).post(f"{API}/trials/{site_trial.pk}/subjects/", BODY, format="json")
        assert response.status_code == 403
    subject = client_for(manager).post(f"{API}/trials/{site_trial.pk}/subjects/", BODY, format="json").json()
    patch = {"reason": "EDC transfer", "death_date": "2025-04-02"}
    response = client_for(sponsor).patch(f"{API}/subjects/{subject['id']}/", patch, format="json")
    assert response.status_code == 403


def test_dates_recorded_later_are_audited_and_seen_by_manager_and_sponsor_only(
    site_trial: Any, manager: Any, sponsor: Any, reader_a: Any, reader_b: Any
) -> None:
    client = client_for(manager)
    created = client.post(f"{API}/trials/{site_trial.pk}/subjects/", {**BODY, "first_dose_date": None},
                          format="json").json()  # fmt: skip
    url = f"{API}/subjects/{created['id']}/"
    response = client.patch(url, {"reason": "sponsor DM transfer", "first_dose_date": "2025-01-13",
                                  "death_date": "2025-04-02"}, format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    assert (response.json()["first_dose_date"], response.json()["death_date"]) == ("2025-01-13", "2025-04-02")
    event = AuditEvent.objects.filter(event_type=AuditEventType.SUBJECT_UPDATED).latest("seq")
    assert event.before == {"first_dose_date": None, "death_date": None}
    assert event.reason == "sponsor DM transfer"
    assert event.after == {"first_dose_date": "2025-01-13", "death_date": "2025-04-02"}
    assert client.patch(url, {"first_dose_date": "2025-01-14"}, format="json").status_code == 400  # no reason
    assert client_for(sponsor).get(url).json()["first_dose_date"] == "2025-01-13"
    # A reader of the trial sees the subject, not its dates.
    readers = [reader_a.pk, reader_b.pk]
    trial_services.reads_assign(subject_id=created["id"], reader_ids=readers, actor=manager)
    seen = client_for(reader_a).get(url).json()
    assert seen["subject_code"] == "S-900" and seen["first_dose_date"] is None and seen["death_date"] is None


def test_services_refuse_a_first_dose_before_randomisation(site_trial: Any, manager: Any) -> None:
    subject = trial_services.subject_create(
        trial_id=site_trial.pk, site_code="SITE01", subject_code="S-901",
        randomisation_date=dt.date(2025, 1, 10),
        reference_start_date=dt.date(2025, 1, 3), actor=manager,  # the sponsor's day 1 may precede it
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        trial_services.subject_update(
            subject_id=subject.pk, changes={"first_dose_date": dt.date(2025, 1, 9)}, reason="x", actor=manager
        )
    assert caught.value.field == "first_dose_date"
    subject.refresh_from_db()
    assert subject.first_dose_date is None and subject.reference_start_date == dt.date(2025, 1, 3)
