"""The dashboard's export form: an optional, labelled "Data cut-off" next to the export
button; a refused cut-off is shown next to the field and requests nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import TrialWithReads
from tests.trialreads.web.conftest import PR, read_to_week6, unlabelled_controls
from trialreads.models import AuditEvent, ExportBatch
from trialreads.models.endpoint import JobStatus

pytestmark = pytest.mark.django_db


def err(html: str) -> str:
    m = re.search(r'id="err-data_cutoff"[^>]*>(.*?)</', html, re.S)
    assert m, "no error slot for data_cutoff"
    return m.group(1).strip()


@pytest.fixture
def computed(
    web: dict[str, Client],
    trial_with_reads: TrialWithReads,
    reader_a: Any,
    reader_b: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Any,
) -> TrialWithReads:
    """S-001 read concordantly by both readers, endpoints computed; exports under tmp_path."""
    settings.MEDIA_ROOT = tmp_path
    tw = trial_with_reads
    read_to_week6(tw, tw.read_a, reader_a, PR)
    read_to_week6(tw, tw.read_b, reader_b, PR)
    with django_capture_on_commit_callbacks(execute=True):
        web["manager"].post(f"/trials/{tw.trial.pk}/endpoints/")
    return tw


def test_the_export_form_has_a_labelled_date_input(web: dict[str, Client], computed: TrialWithReads) -> None:
    page = web["sponsor"].get(f"/trials/{computed.trial.pk}/").content.decode()
    form = page[page.index('data-testid="export-form"') :]
    form = form[: form.index("</form>")]
    assert '<label for="id_data_cutoff">Data cut-off</label>' in form
    assert 'type="date"' in form and 'name="data_cutoff"' in form and "required" not in form
    assert f'max="{timezone.localdate().isoformat()}"' in form
    assert form.index('name="data_cutoff"') < form.index('id="start-export"')
    assert unlabelled_controls(page) == []


def test_an_export_with_a_cutoff_is_requested_and_shown(
    web: dict[str, Client], computed: TrialWithReads, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"/trials/{computed.trial.pk}/exports/"
    with django_capture_on_commit_callbacks(execute=True):
        response = web["manager"].post(url, {"data_cutoff": "2025-02-20"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="export-batch"' in body
    batch = ExportBatch.objects.get(trial=computed.trial)
    assert batch.data_cutoff == dt.date(2025, 2, 20) and batch.status == JobStatus.DONE
    assert 'data-testid="export-cutoff">data cut-off 2025-02-20<' in body
    assert 'value="2025-02-20"' in body and err(body) == ""
    # Without htmx: the request is made and the dashboard shows the batch with its cut-off.
    with django_capture_on_commit_callbacks(execute=True):
        response = web["manager"].post(url, {"data_cutoff": ""})
    assert response.status_code == 302
    uncut = ExportBatch.objects.exclude(pk=batch.pk).get()
    assert uncut.data_cutoff is None
    page = web["manager"].get(f"/trials/{computed.trial.pk}/").content.decode()
    assert 'data-testid="export-cutoff">no data cut-off<' in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("garbage", "enter a date as YYYY-MM-DD", id="garbage"),
        pytest.param("2025-02-30", "enter a date as YYYY-MM-DD", id="no-such-day"),
        pytest.param(None, "must not be in the future", id="tomorrow"),
        pytest.param("2024-12-31", "must not be before the first randomisation", id="before-randomisation"),
    ],
)
def test_a_refused_cutoff_is_shown_next_to_the_field_and_requests_nothing(
    web: dict[str, Client], computed: TrialWithReads, value: str | None, message: str
) -> None:
    value = value or (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    url = f"/trials/{computed.trial.pk}/exports/"
    events = AuditEvent.objects.count()

    fragment = web["manager"].post(url, {"data_cutoff": value}, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and message in err(body)
    assert 'aria-invalid="true"' in body and f'value="{value}"' in body
    assert "<html" not in body and 'data-testid="export-batch"' not in body

    page = web["manager"].post(url, {"data_cutoff": value})
    html = page.content.decode()
    assert page.status_code == 422 and message in err(html) and "<html" in html

    assert not ExportBatch.objects.exists() and AuditEvent.objects.count() == events


def test_who_may_not_export_is_refused_before_the_cutoff_is_read(
    web: dict[str, Client], computed: TrialWithReads
) -> None:
    url = f"/trials/{computed.trial.pk}/exports/"
    for who in ("reader_a", "adjudicator", "outsider"):
        for value in ("garbage", "2025-02-20"):
            assert web[who].post(url, {"data_cutoff": value}).status_code in (403, 404)
    assert not ExportBatch.objects.exists()
