"""The admin is a read-only viewer (T-LOCK-ADMIN): no add/change/delete, arm hidden."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import save_baseline, sign
from tests.factories import UserFactory
from trialreads.models import Measurement, Signature
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db


def test_admin_refuses_changes_to_locked_data(client: Any, trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    m = Measurement.objects.filter(timepoint_read=tr).first()
    assert m is not None
    url = f"/admin/trialreads/measurement/{m.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content  # view-only
    assert client.post(url, {"value_mm": "1.0"}).status_code == 403
    assert client.post(f"/admin/trialreads/measurement/{m.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/trialreads/measurement/add/").status_code == 403
    sig = Signature.objects.get(timepoint_read=tr)
    assert client.post(f"/admin/trialreads/signature/{sig.pk}/delete/", {"post": "yes"}).status_code == 403
    m.refresh_from_db()
    assert m.value_mm != 1


def test_admin_lists_render_and_hide_the_arm(client: Any, trial_with_reads: Any) -> None:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for model in ("trial", "charter", "subject", "read", "timepointread", "auditevent", "chainhead"):
        assert client.get(f"/admin/trialreads/{model}/").status_code == 200, model
    page = client.get(f"/admin/trialreads/subject/{trial_with_reads.subject.pk}/change/")
    assert page.status_code == 200 and b"EXPERIMENTAL" not in page.content


def test_admin_shows_the_subjects_dates_read_only(client: Any, trial_with_reads: Any) -> None:
    """Issue 18 item 3: the trial's subject dates are visible in the (read-only) admin."""
    subject = trial_with_reads.subject
    manager = trial_with_reads.trial.charters.get().created_by
    trial_services.subject_update(
        subject_id=subject.pk,
        changes={"first_dose_date": dt.date(2025, 1, 12), "reference_start_date": dt.date(2025, 1, 11)},
        reason="sponsor DM transfer",
        actor=manager,
    )
    client.force_login(UserFactory(username="root2", is_staff=True, is_superuser=True))
    listing = client.get("/admin/trialreads/subject/").content.decode()
    assert "First dose date" in listing and "Reference start date" in listing
    assert "Jan. 12, 2025" in listing and "Jan. 11, 2025" in listing
    page = client.get(f"/admin/trialreads/subject/{subject.pk}/change/")
    assert page.status_code == 200 and b"Jan. 12, 2025" in page.content
    assert b'name="first_dose_date"' not in page.content  # shown, not editable
