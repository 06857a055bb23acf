"""Every page and fragment through Django's test client: what each role sees, forms that put
errors next to their fields, writes that go through the services."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import TrialWithReads, make_subject_with_reads, save_baseline, sign
from tests.factories import PASSWORD, UserFactory
from tests.trialreads.web.conftest import PR, duplicate_ids, read_to_week6, unlabelled_controls
from trialreads.choices import AdjudicationStatus, AuditEventType, TrialRole
from trialreads.models import AdjudicationCase, AuditEvent, ExportBatch, Lesion, Signature, TimepointRead
from trialreads.models.endpoint import EndpointJob, JobStatus
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

BASELINE_POST = {
    "targets-0-code": "T1",
    "targets-0-organ": "liver",
    "targets-0-value_mm": "50",
    "targets-1-code": "T2",
    "targets-1-organ": "left lung",
    "targets-1-value_mm": "30.0",
    "targets-2-code": "T3",
    "targets-2-organ": "mediastinal lymph node",
    "targets-2-is_node": "on",
    "targets-2-value_mm": "20",
    "non_targets-0-code": "NT1",
    "non_targets-0-organ": "bone",
}


def err(html: str, field_id: str) -> str:
    """The text of a field's error slot."""
    m = re.search(rf'id="err-{re.escape(field_id)}"[^>]*>(.*?)</', html, re.S)
    assert m, f"no error slot for {field_id}"
    return m.group(1).strip()


# --- login and worklists ---------------------------------------------------------------------


def test_anonymous_is_sent_to_login_and_can_log_in_and_out(reader_a: Any) -> None:
    client = Client()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    page = client.get("/login/").content.decode()
    assert unlabelled_controls(page) == []
    assert 'autocomplete="current-password"' in page
    response = client.post("/login/", {"username": "reader_a", "password": "wrong"})
    assert (
        response.status_code == 200
        and "Please enter a correct username and password" in response.content.decode()
    )
    response = client.post("/login/", {"username": "reader_a", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405  # logging out is a POST (CSRF-protected)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_csrf_is_enforced_on_pages(trial_with_reads: TrialWithReads, reader_a: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(reader_a)
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    assert client.post(f"/timepoint-reads/{tr.pk}/", BASELINE_POST).status_code == 403
    assert TimepointRead.objects.get(pk=tr.pk).saved_at is None


def test_worklist_per_role(
    web: dict[str, Client], trial_with_reads: TrialWithReads, disagreement: AdjudicationCase
) -> None:
    tw = trial_with_reads
    reader = web["reader_a"].get("/").content.decode()
    assert "My reads" in reader and f"/reads/{tw.read_a.pk}/" in reader
    assert f"/reads/{tw.read_b.pk}/" not in reader and "Open adjudications" not in reader
    assert "Read WEEK12" in reader  # the next unsigned timepoint
    judge = web["adjudicator"].get("/").content.decode()
    assert f"/adjudication/{disagreement.pk}/" in judge and "My reads" not in judge
    boss = web["manager"].get("/").content.decode()
    assert "Trials I manage" in boss and f"/trials/{tw.trial.pk}/" in boss and 'aria-valuenow="4"' in boss
    assert "My reads" not in boss
    sponsor = web["sponsor"].get("/").content.decode()
    assert "Trial results" in sponsor and f"/trials/{tw.trial.pk}/" in sponsor
    nobody = web["outsider"].get("/").content.decode()
    assert "no role in any trial" in nobody


# --- the read form ----------------------------------------------------------------------------


def test_baseline_form_labels_every_input(web: dict[str, Client], trial_with_reads: TrialWithReads) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    page = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/").content.decode()
    assert unlabelled_controls(page) == []
    assert duplicate_ids(page) == []
    assert f'hx-get="/timepoint-reads/{tr.pk}/check/"' in page
    assert "Sign…" not in page  # nothing saved yet


def test_baseline_save_goes_through_the_service(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    response = web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", {**BASELINE_POST, "version": tr.version})
    assert response.status_code == 302 and response["Location"] == f"/timepoint-reads/{tr.pk}/"
    tr.refresh_from_db()
    assert tr.saved_at is not None and tr.version == 2
    assert sorted(Lesion.objects.filter(read=tr.read).values_list("lesion_code", flat=True)) == [
        "NT1",
        "T1",
        "T2",
        "T3",
    ]
    assert str(tr.measurements.get(lesion__lesion_code="T1").value_mm) == "50.0"
    event = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SAVED).last()
    assert event is not None and event.actor_username == "reader_a"
    page = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/").content.decode()
    assert "BASELINE saved" in page and 'value="50.0"' in page and "Sign…" in page


def test_baseline_errors_are_placed_next_to_their_fields(
    web: dict[str, Client], trial_with_reads: TrialWithReads
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    data = {
        **BASELINE_POST,
        "targets-1-organ": "liver",
        "targets-2-organ": "liver",
        "targets-2-is_node": "",
        "targets-3-code": "T4",
        "targets-3-organ": "spleen",
        "targets-3-value_mm": "8",
        "targets-4-code": "T5",
        "targets-4-organ": "kidney",
        "targets-4-value_mm": "abc",
        "non_targets-0-code": "T1",
        "version": tr.version,
    }
    response = web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", data)
    assert response.status_code == 422
    page = response.content.decode()
    assert "e.g. 23.5" in err(page, "targets-4-value_mm")
    # The parse error stops before the service: fix it and the service's own rules answer.
    data["targets-4-value_mm"] = "25"
    page = web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", data).content.decode()
    assert "not measurable" in err(page, "targets-3-value_mm")
    assert "at most 2 per organ" in err(page, "targets")
    assert 'aria-invalid="true"' in page
    assert TimepointRead.objects.get(pk=tr.pk).saved_at is None


def test_duplicate_code_from_the_service_lands_on_the_code_field(
    web: dict[str, Client], trial_with_reads: TrialWithReads
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    data = {**BASELINE_POST, "non_targets-0-code": "T2", "version": tr.version}
    page = web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", data).content.decode()
    assert "duplicate lesion code T2" in err(page, "non_targets-0-code")


def test_stale_version_is_a_conflict_shown_on_the_form(
    web: dict[str, Client], trial_with_reads: TrialWithReads
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    response = web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", {**BASELINE_POST, "version": 99})
    assert response.status_code == 409
    assert "Stale version 99" in response.content.decode()


def test_live_check_returns_the_panel_and_out_of_band_errors(
    web: dict[str, Client], trial_with_reads: TrialWithReads
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    data = {**BASELINE_POST, "targets-1-organ": "liver", "targets-2-organ": "liver", "targets-2-is_node": ""}
    response = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/check/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="err-targets" hx-swap-oob="true">3 target lesions in organ' in page
    assert 'id="err-targets-0-code" hx-swap-oob="true"></span>' in page  # cleared slots too
    assert 'data-testid="target-count">3<' in page and "100.0 mm" in page
    assert TimepointRead.objects.get(pk=tr.pk).saved_at is None  # nothing saved


def test_followup_shows_previous_values_and_live_responses(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    tr = tw.tr(tw.read_a, 1)
    page = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/").content.decode()
    assert "Sign the earlier timepoints" in page
    sign(tw.tr(tw.read_a, 0), reader_a)
    page = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/").content.decode()
    assert unlabelled_controls(page) == [] and duplicate_ids(page) == []
    t1_row = re.search(r"<th scope=\"row\">T1.*?</tr>", page, re.S)
    assert t1_row and "50.0" in t1_row.group(0)  # baseline/previous value beside the input
    values = {"targets-0-value_mm": "30", "targets-1-value_mm": "20", "targets-2-value_mm": "10"}
    states = {f"targets-{i}-state": "MEASURED" for i in range(3)}
    live = (
        web["reader_a"]
        .get(f"/timepoint-reads/{tr.pk}/check/", {**values, **states, "non_targets-NT1": "present"})
        .content.decode()
    )
    assert 'data-testid="response-recist1.1"' in live and "resp-PR" in live and "resp-iPR" in live
    assert "60.0 mm" in live and "40.0% below baseline" in live
    # A missing value is reported next to that lesion's input.
    live = (
        web["reader_a"]
        .get(
            f"/timepoint-reads/{tr.pk}/check/",
            {**values, **states, "targets-2-value_mm": "", "non_targets-NT1": "present"},
        )
        .content.decode()
    )
    assert 'id="err-targets-2-value_mm" hx-swap-oob="true">required' in live


def test_followup_save_with_new_lesion_and_too_small_target(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    sign(tw.tr(tw.read_a, 0), reader_a)
    tr = tw.tr(tw.read_a, 1)
    data = {
        "version": tr.version,
        "targets-0-state": "MEASURED",
        "targets-0-value_mm": "45",
        "targets-1-state": "TOO_SMALL",
        "targets-2-state": "MEASURED",
        "targets-2-value_mm": "20",
        "non_targets-NT1": "present",
        "new_lesions-0-code": "N1",
        "new_lesions-0-organ": "liver",
        "new_lesions-0-measurable": "on",
        "new_lesions-0-value_mm": "12",
    }
    response = web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    tr.refresh_from_db()
    assert str(tr.measurements.get(lesion__lesion_code="T2").value_mm) == "5.0"
    assert tr.measurements.get(lesion__lesion_code="N1").lesion.kind == "NEW"
    page = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/").content.decode()
    assert 'value="N1"' in page and "resp-PD" in page  # new lesion: PD, live on reload


def test_signing_with_the_wrong_password_keeps_the_dialog_open(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    tr = tw.tr(tw.read_a, 0)
    save_baseline(tr, reader_a)
    response = web["reader_a"].post(
        f"/timepoint-reads/{tr.pk}/sign/", {"printed_name": "Ada Reader", "password": "nope"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "data-open-on-load" in page and "Re-authentication failed." in err(page, "sign-password")
    assert "I am the author of this assessment" in page  # the meaning is shown
    assert AuditEvent.objects.filter(
        event_type=AuditEventType.SIGN_FAILED, actor_username="reader_a"
    ).exists()
    response = web["reader_a"].post(
        f"/timepoint-reads/{tr.pk}/sign/", {"printed_name": "", "password": PASSWORD}
    )
    assert response.status_code == 422 and "This field is required." in err(
        response.content.decode(), "sign-printed_name"
    )
    assert not Signature.objects.filter(timepoint_read=tr).exists()


def test_signing_locks_and_moves_to_the_next_timepoint(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    tr = tw.tr(tw.read_a, 0)
    save_baseline(tr, reader_a)
    response = web["reader_a"].post(
        f"/timepoint-reads/{tr.pk}/sign/", {"printed_name": "Ada Reader", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/timepoint-reads/{tw.tr(tw.read_a, 1).pk}/"
    tr.refresh_from_db()
    assert tr.locked
    page = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/").content.decode()
    assert "Signed by Ada Reader" in page and "<fieldset disabled" in page and "Save draft" not in page
    # A signed timepoint cannot be saved again through the page.
    response = web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", {**BASELINE_POST, "version": tr.version})
    assert response.status_code == 409 and "signed and locked" in response.content.decode()


def test_read_overview_shows_responses_and_a_spider_plot(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any, reader_b: Any
) -> None:
    tw = trial_with_reads
    read_to_week6(tw, tw.read_a, reader_a, PR)
    page = web["reader_a"].get(f"/reads/{tw.read_a.pk}/").content.decode()
    assert "RECIST 1.1" in page and "resp-PR" in page and "-40.0%" in page
    assert page.count("<svg") == 1 and 'role="img"' in page
    # The read manager sees the same read (read-only).
    assert web["manager"].get(f"/reads/{tw.read_a.pk}/").status_code == 200
    form = web["manager"].get(f"/timepoint-reads/{tw.tr(tw.read_a, 2).pk}/").content.decode()
    assert "<fieldset disabled" in form and "hx-get" not in form


# --- adjudication -----------------------------------------------------------------------------


def test_adjudication_page_side_by_side_without_reader_identity(
    web: dict[str, Client], disagreement: AdjudicationCase
) -> None:
    response = web["adjudicator"].get(f"/adjudication/{disagreement.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Read A" in page and "Read B" in page and page.count('class="plot"') == 2
    assert 'class="flag"' in page and "bor" in page
    for secret in ("reader_a", "reader_b", "Ada", "Ben", "EXPERIMENTAL", "R1 ", "R2 "):
        assert secret not in page, secret
    assert unlabelled_controls(page) == []
    # The manager sees the case but cannot decide it.
    manager_page = web["manager"].get(f"/adjudication/{disagreement.pk}/").content.decode()
    assert "Sign decision" not in manager_page and "assigned to another adjudicator" in manager_page


def test_adjudication_decision_is_signed_through_the_service(
    web: dict[str, Client], disagreement: AdjudicationCase
) -> None:
    url = f"/adjudication/{disagreement.pk}/"
    response = web["adjudicator"].post(
        url, {"chosen": "B", "rationale": "", "printed_name": "Alex Judge", "password": PASSWORD}
    )
    assert response.status_code == 422 and "This field is required." in response.content.decode()
    response = web["adjudicator"].post(
        url,
        {"chosen": "B", "rationale": "New lesion confirmed.", "printed_name": "Alex Judge", "password": "x"},
    )
    assert response.status_code == 422 and "Re-authentication failed." in response.content.decode()
    response = web["adjudicator"].post(
        url,
        {
            "chosen": "B",
            "rationale": "New lesion confirmed.",
            "printed_name": "Alex Judge",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    disagreement.refresh_from_db()
    assert (
        disagreement.status == AdjudicationStatus.DECIDED
        and disagreement.label_for_slot(disagreement.chosen_slot) == "B"
    )
    page = web["adjudicator"].get(url).content.decode()
    assert "Read B accepted" in page and "Sign decision" not in page
    # A decided case is not decided twice.
    again = web["adjudicator"].post(
        url, {"chosen": "A", "rationale": "x", "printed_name": "Alex Judge", "password": PASSWORD}
    )
    assert again.status_code == 422 and "no longer open" in again.content.decode()


# --- dashboard, endpoints, exports --------------------------------------------------------------


def _concordant(tw: TrialWithReads, reader_a: Any, reader_b: Any) -> None:
    read_to_week6(tw, tw.read_a, reader_a, PR)
    read_to_week6(tw, tw.read_b, reader_b, PR)


def test_dashboard_progress_metrics_and_plots(
    web: dict[str, Client],
    trial_with_reads: TrialWithReads,
    reader_a: Any,
    reader_b: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    tw = trial_with_reads
    _concordant(tw, reader_a, reader_b)
    url = f"/trials/{tw.trial.pk}/"
    page = web["manager"].get(url).content.decode()
    assert "Read progress by reader" in page and 'aria-valuenow="2"' in page
    assert 'data-testid="kpi-compared">1/1<' in page and 'data-testid="kpi-adj-rate">0%<' in page
    assert 'data-testid="no-endpoints"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = web["manager"].post(f"/trials/{tw.trial.pk}/endpoints/", HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    # Rendered before the commit that queues the job: it says so and polls.
    assert response.status_code == 200 and 'data-testid="job-progress"' in fragment
    assert "Requested;" in fragment and "every 1s" in fragment
    job = EndpointJob.objects.get(trial=tw.trial)
    assert job.status == JobStatus.DONE and job.requested_by == "manager"
    progress = web["manager"].get(f"/trials/{tw.trial.pk}/endpoints/progress/").content.decode()
    assert "Done" in progress and "every 1s" not in progress
    page = web["manager"].get(url).content.decode()
    assert page.count('role="img"') == 3 and 'id="wf-recist1.1-title"' in page
    assert "S-001: -40.0% (" in page
    fragment = web["manager"].get(
        url, {"criterion": "imrecist"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plots"
    )
    body = fragment.content.decode()
    assert 'id="wf-imrecist-title"' in body and "<html" not in body
    assert 'hx-push-url="true" aria-current="page">imRECIST</a>' in body
    assert web["manager"].get(url, {"criterion": "nope"}).status_code == 404
    # The sponsor sees the plots and exports but not the read progress or reader metrics.
    sponsor = web["sponsor"].get(url).content.decode()
    assert (
        'id="wf-recist1.1-title"' in sponsor and "Reader metrics" not in sponsor and "Start export" in sponsor
    )


def test_export_start_progress_and_download(
    web: dict[str, Client],
    trial_with_reads: TrialWithReads,
    reader_a: Any,
    reader_b: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    tw = trial_with_reads
    _concordant(tw, reader_a, reader_b)
    start = f"/trials/{tw.trial.pk}/exports/"
    response = web["manager"].post(start, HTTP_HX_REQUEST="true")
    assert "No computed endpoints yet" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        web["manager"].post(f"/trials/{tw.trial.pk}/endpoints/")
    with django_capture_on_commit_callbacks(execute=True):
        response = web["manager"].post(start, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-testid="export-batch"' in response.content.decode()
    batch = ExportBatch.objects.get(trial=tw.trial)
    assert batch.status == JobStatus.DONE
    progress = web["manager"].get(f"/exports/{batch.pk}/").content.decode()
    assert "every 1s" not in progress and "manifest.json" in progress
    download = web["manager"].get(f"/exports/{batch.pk}/files/manifest.json")
    assert download.status_code == 200 and 'filename="manifest.json"' in download["Content-Disposition"]
    assert b"files" in b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert web["manager"].get(f"/exports/{batch.pk}/files/../../etc/passwd").status_code == 404
    # Readers and adjudicators cannot see or download exports: for them the batch does not exist.
    for who in ("reader_a", "adjudicator"):
        assert web[who].get(f"/exports/{batch.pk}/").status_code == 404
        assert web[who].get(f"/exports/{batch.pk}/files/manifest.json").status_code == 404
    assert web["outsider"].get(f"/exports/{batch.pk}/").status_code == 404
    assert web["manager"].get("/exports/999999/").status_code == 404


def test_subject_page_compares_the_criteria(
    web: dict[str, Client],
    trial_with_reads: TrialWithReads,
    reader_a: Any,
    reader_b: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    tw = trial_with_reads
    url = f"/subjects/{tw.subject.pk}/"
    assert 'data-testid="no-results"' in web["manager"].get(url).content.decode()
    _concordant(tw, reader_a, reader_b)
    with django_capture_on_commit_callbacks(execute=True):
        web["manager"].post(f"/trials/{tw.trial.pk}/endpoints/")
    page = web["manager"].get(url).content.decode()
    for label in ("RECIST 1.1", "iRECIST", "imRECIST"):
        assert f'<th scope="col">{label}</th>' in page
    week6 = re.search(r"<th scope=\"row\">WEEK6</th>.*?</tr>", page, re.S)
    assert week6 and "resp-PR" in week6.group(0) and "resp-iPR" in week6.group(0)
    assert "Concordant reads" in page and "EXPERIMENTAL" not in page


# --- audit review ----------------------------------------------------------------------------------


def test_audit_review_filters_and_prints(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any, manager: Any
) -> None:
    tw = trial_with_reads
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    url = f"/trials/{tw.trial.pk}/audit/"
    page = web["manager"].get(url).content.decode()
    assert unlabelled_controls(page) == []
    assert "TIMEPOINT_READ_SAVED" in page and "TRIAL_CREATED" in page and "data-print" in page
    by_user = web["manager"].get(url, {"user": "reader_a"}).content.decode()
    assert "TIMEPOINT_READ_SAVED" in by_user and "TRIAL_CREATED" not in by_user
    by_subject = web["manager"].get(url, {"subject": tw.subject.pk}).content.decode()
    assert 'data-testid="filter-summary">subject S-001<' in by_subject
    assert "TIMEPOINT_READ_SAVED" in by_subject and "MEMBERSHIP_ADDED" not in by_subject
    assert "SUBJECT_CREATED" in by_subject and "READS_ASSIGNED" in by_subject
    future = web["manager"].get(url, {"since": "2999-01-01"}).content.decode()
    assert "No events match." in future
    bad = web["manager"].get(url, {"since": "2026-02-01", "until": "2026-01-01"}).content.decode()
    assert "must not be before From" in bad
    assert "Printed" in page and "print-only" in page


# --- query budgets ------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_worklist_and_dashboard_queries_do_not_grow_with_subjects(
    web: dict[str, Client],
    trial_with_reads: TrialWithReads,
    manager: Any,
    reader_a: Any,
    reader_b: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    tw = trial_with_reads
    _concordant(tw, reader_a, reader_b)
    with django_capture_on_commit_callbacks(execute=True):
        web["manager"].post(f"/trials/{tw.trial.pk}/endpoints/")
    dashboard = f"/trials/{tw.trial.pk}/"
    # A session's first request stamps its start and activity (one session write, then at
    # most one a minute): measured after it, as every later request of a session is.
    web["reader_a"].get("/")
    before = {"reader": _queries(web["reader_a"], "/"), "dashboard": _queries(web["manager"], dashboard)}
    for code in ("S-002", "S-003"):
        more = make_subject_with_reads(tw.trial, manager, (reader_a, reader_b), code=code)
        _concordant(more, reader_a, reader_b)
    with django_capture_on_commit_callbacks(execute=True):
        web["manager"].post(f"/trials/{tw.trial.pk}/endpoints/")
    assert "S-003: -40.0% (" in web["manager"].get(dashboard).content.decode()
    after = {"reader": _queries(web["reader_a"], "/"), "dashboard": _queries(web["manager"], dashboard)}
    assert after == before


def test_sponsor_gets_no_compute_button(web: dict[str, Client], trial_with_reads: TrialWithReads) -> None:
    page = web["sponsor"].get(f"/trials/{trial_with_reads.trial.pk}/").content.decode()
    assert "Compute endpoints" not in page and "Start export" in page


def test_read_manager_unlocks_a_signed_timepoint_with_a_reason(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    read_to_week6(tw, tw.read_a, reader_a, PR)
    baseline, week6 = tw.tr(tw.read_a, 0), tw.tr(tw.read_a, 1)
    page = web["manager"].get(f"/timepoint-reads/{week6.pk}/").content.decode()
    assert "Unlock this timepoint read" in page and unlabelled_controls(page) == []
    assert (
        "Unlock this timepoint read"
        not in web["reader_a"].get(f"/timepoint-reads/{week6.pk}/").content.decode()
    )
    # A reason is required; an earlier timepoint cannot be reopened before the later one.
    response = web["manager"].post(f"/timepoint-reads/{week6.pk}/unlock/", {"reason": ""})
    assert response.status_code == 422 and "This field is required." in err(
        response.content.decode(), "unlock-reason"
    )
    response = web["manager"].post(f"/timepoint-reads/{baseline.pk}/unlock/", {"reason": "wrong series"})
    assert response.status_code == 422 and "unlock that one first" in response.content.decode()
    assert web["reader_a"].post(f"/timepoint-reads/{week6.pk}/unlock/", {"reason": "mine"}).status_code == 403
    assert web["reader_b"].post(f"/timepoint-reads/{week6.pk}/unlock/", {"reason": "x"}).status_code == 404
    response = web["manager"].post(
        f"/timepoint-reads/{week6.pk}/unlock/", {"reason": "Measured on the wrong series."}
    )
    assert response.status_code == 302
    week6.refresh_from_db()
    assert not week6.locked
    signature = Signature.objects.get(timepoint_read=week6)
    assert signature.voided_at is not None and signature.void_reason == "Measured on the wrong series."
    # The reader can edit and sign again.
    assert "Save draft" in web["reader_a"].get(f"/timepoint-reads/{week6.pk}/").content.decode()


def test_add_a_row_fragment_and_saving_beyond_the_default_rows(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    tr = tw.tr(tw.read_a, 0)
    url = f"/timepoint-reads/{tr.pk}/row/"
    response = web["reader_a"].get(
        url, {"group": "non_targets", "non_targets-TOTAL": "6"}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith("<tr>")
    assert 'id="non_targets-6-code"' in page and "autofocus" in page
    assert 'id="non_targets-TOTAL" name="non_targets-TOTAL" value="7" hx-swap-oob="true"' in page
    assert unlabelled_controls(page) == []
    for params in (
        {"group": "new_lesions", "new_lesions-TOTAL": "3"},  # baseline: no new lesions
        {"group": "non_targets", "non_targets-TOTAL": "40"},
        {"group": "non_targets", "non_targets-TOTAL": "x"},
    ):
        assert web["reader_a"].get(url, params).status_code == 404
    assert web["reader_b"].get(url, {"group": "non_targets", "non_targets-TOTAL": "6"}).status_code == 404
    data = {**BASELINE_POST, "version": tr.version, "non_targets-TOTAL": "8"}
    data |= {"non_targets-7-code": "NT8", "non_targets-7-organ": "peritoneum"}
    assert web["reader_a"].post(f"/timepoint-reads/{tr.pk}/", data).status_code == 302
    assert Lesion.objects.filter(read=tw.read_a, lesion_code="NT8", kind="NON_TARGET").exists()
    page = web["reader_a"].get(f"/timepoint-reads/{tr.pk}/").content.decode()
    assert 'name="non_targets-TOTAL" value="6"' in page  # 2 saved + 1 spare, at least 6
    # Follow-up: a new-lesion row comes with "measurable" ticked.
    sign(tr, reader_a)
    week6 = tw.tr(tw.read_a, 1)
    row = (
        web["reader_a"]
        .get(f"/timepoint-reads/{week6.pk}/row/", {"group": "new_lesions", "new_lesions-TOTAL": "3"})
        .content.decode()
    )
    assert 'id="new_lesions-3-measurable" checked' in row.replace('name="new_lesions-3-measurable" ', "")


def test_read_manager_reassigns_an_open_adjudication(
    web: dict[str, Client], trial_with_reads: TrialWithReads, disagreement: AdjudicationCase, manager: Any
) -> None:
    other = UserFactory(username="adjudicator_2", first_name="Ari", last_name="Second")
    trial_services.membership_add(
        trial_id=trial_with_reads.trial.pk, user_id=other.pk, role=TrialRole.ADJUDICATOR, actor=manager
    )
    dashboard = web["manager"].get(f"/trials/{trial_with_reads.trial.pk}/").content.decode()
    assert f'id="assign-{disagreement.pk}"' in dashboard and "Ari Second" in dashboard
    assert unlabelled_controls(dashboard) == []
    url = f"/adjudication/{disagreement.pk}/assign/"
    assert web["adjudicator"].post(url, {"adjudicator": other.pk}).status_code == 403
    assert web["reader_a"].post(url, {"adjudicator": other.pk}).status_code == 404
    response = web["manager"].post(url, {"adjudicator": "x"}, follow=True)
    assert "adjudicator: an integer between 1 and" in response.content.decode()
    response = web["manager"].post(url, {"adjudicator": 987654}, follow=True)
    assert "not an adjudicator of this trial" in response.content.decode()
    response = web["manager"].post(url, {"adjudicator": other.pk})
    assert response.status_code == 302
    disagreement.refresh_from_db()
    assert disagreement.adjudicator_id == other.pk
    assert web["adjudicator"].get(f"/adjudication/{disagreement.pk}/").status_code == 404
