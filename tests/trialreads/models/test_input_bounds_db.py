"""The database's own bounds (migration 0010, issue 13): a write that goes around the services
(raw SQL, a future code path) still cannot store a date outside the window or a charter day
count over a year; the window's ends are accepted. And the services name the field first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from tests.conftest import TrialWithReads
from trialreads.errors import ValidationError
from trialreads.models import Charter, ImagingTimepoint, InvestigatorAssessment, Subject
from trialreads.services import adjudication as adjudication_services
from trialreads.services import trials as trial_services
from trialreads.validators import DATE_MAX, DATE_MIN, DAYS_MAX

pytestmark = pytest.mark.django_db

BEFORE, AFTER = DATE_MIN - dt.timedelta(days=1), DATE_MAX + dt.timedelta(days=1)


def _set(model: Any, pk: int, column: str, value: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {column} = %s WHERE id = %s", [value, pk])


@pytest.fixture
def rows(trial_with_reads: TrialWithReads, manager: Any) -> dict[str, Any]:
    adjudication_services.investigator_assessments_import(
        trial_id=trial_with_reads.trial.pk,
        rows=[adjudication_services.InvestigatorRow("S-001", dt.date(2025, 4, 1), "PD")],
        source="edc",
        actor=manager,
    )
    return {
        "subject": trial_with_reads.subject,
        "timepoint": trial_with_reads.timepoints[-1],
        "charter": Charter.objects.get(trial=trial_with_reads.trial),
        "assessment": InvestigatorAssessment.objects.get(),
    }


CASES = [
    ("subject", Subject, "randomisation_date", BEFORE),
    ("subject", Subject, "randomisation_date", AFTER),
    ("subject", Subject, "death_date", AFTER),
    ("subject", Subject, "last_contact_date", dt.date(1, 1, 1)),
    ("timepoint", ImagingTimepoint, "scan_date_earliest", BEFORE),
    ("timepoint", ImagingTimepoint, "scan_date_latest", AFTER),
    ("charter", Charter, "effective_from", BEFORE),
    ("charter", Charter, "sd_min_days", DAYS_MAX + 1),
    ("charter", Charter, "irecist_window_max_days", 10**6),
    ("assessment", InvestigatorAssessment, "pd_date", BEFORE),
]


@pytest.mark.parametrize(("row", "model", "column", "value"), CASES)
def test_the_database_refuses_values_outside_the_bounds(
    rows: dict[str, Any], row: str, model: Any, column: str, value: object
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        _set(model, rows[row].pk, column, value)


@pytest.mark.parametrize("value", [DATE_MIN, DATE_MAX])
def test_the_window_ends_are_stored(rows: dict[str, Any], value: dt.date) -> None:
    with transaction.atomic():
        _set(Subject, rows["subject"].pk, "death_date", value)
    assert Subject.objects.get(pk=rows["subject"].pk).death_date == value


@pytest.mark.parametrize("day", [BEFORE, AFTER, dt.date(1, 1, 1), dt.date(9999, 12, 31)])
def test_services_name_the_out_of_window_date(
    trial_with_reads: TrialWithReads, manager: Any, day: dt.date
) -> None:
    site = trial_with_reads.subject.site
    with pytest.raises(ValidationError) as exc:
        trial_services.subject_create(
            trial_id=trial_with_reads.trial.pk, site_id=site.pk, subject_code="S-OUT",
            randomisation_date=day, actor=manager,
        )  # fmt: skip
    assert exc.value.field == "randomisation_date"
    with pytest.raises(ValidationError) as on_charter:
        trial_services.charter_publish(
            trial_id=trial_with_reads.trial.pk, changes={}, effective_from=day, actor=manager
        )
    assert on_charter.value.field == "effective_from"
    assert not Subject.objects.filter(subject_code="S-OUT").exists()
