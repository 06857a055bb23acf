"""The adjudicator resolves a disagreement; the read manager reviews the dashboard, computes
the endpoints, starts an export and downloads a file; the audit review is filtered and
printable."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import (
    TrialWithReads,
    followup_values,
    make_subject_with_reads,
    save_baseline,
    save_followup,
    sign,
)
from tests.e2e.conftest import login, shot, unlabelled
from tests.factories import PASSWORD
from trialreads.choices import AdjudicationStatus
from trialreads.models import AdjudicationCase, AuditEvent, ExportBatch, Read, Trial
from trialreads.services import adjudication as adjudication_services

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PR = ("30.0", "20.0", "10.0")  # -40 %
SD = ("45.0", "27.0", "18.0")  # -10 %
PD = ("70.0", "35.0", "20.0")  # +25 %


def read_through(tw: TrialWithReads, read: Read, actor: Any, *followups: tuple[str, str, str]) -> None:
    """Save and sign the baseline and the given follow-ups of ``read`` (the services' way)."""
    save_baseline(tw.tr(read, 0), actor)
    sign(tw.tr(read, 0), actor)
    for index, values in enumerate(followups, start=1):
        save_followup(tw.tr(read, index), actor, targets=followup_values(*values))
        sign(tw.tr(read, index), actor)


def test_adjudicator_resolves_disagreement(
    e2e_db: Any, tab: Any, trial_with_reads: TrialWithReads, reader_a: Any, reader_b: Any
) -> None:
    tw, base = trial_with_reads, e2e_db.url
    read_through(tw, tw.read_a, reader_a, PR)
    read_through(tw, tw.read_b, reader_b, PD)
    case = AdjudicationCase.objects.get(subject=tw.subject, status=AdjudicationStatus.OPEN)

    login(tab, base, "adjudicator", PASSWORD)
    expect(tab.get_by_role("heading", name="Open adjudications")).to_be_visible()
    shot(tab, "10-adjudicator-worklist")
    tab.get_by_role("link", name="S-001").click()
    expect(tab.get_by_role("heading", name="Read A", exact=True)).to_be_visible()
    expect(tab.get_by_role("heading", name="Read B", exact=True)).to_be_visible()
    # Disagreements are highlighted; the page names no reader.
    expect(tab.locator("tr.flag").first).to_be_visible()
    html = tab.content()
    for secret in ("reader_a", "reader_b", "Ada", "Ben", "EXPERIMENTAL"):
        assert secret not in html
    expect(tab.locator("svg.plot")).to_have_count(2)
    assert unlabelled(tab) == []
    shot(tab, "11-adjudication-side-by-side")

    # Choose with the keyboard: focus the first radio, arrow keys move within the group.
    tab.get_by_role("radio", name="Read A").focus()
    tab.keyboard.press("ArrowRight")
    expect(tab.get_by_role("radio", name="Read B")).to_be_checked()
    tab.get_by_role("radio", name="Read A").check()
    tab.get_by_label("Rationale").fill("Read A measured the liver lesion on the correct series.")
    tab.get_by_label("Password (re-enter to sign)").fill("wrong")
    tab.get_by_role("button", name="Sign decision").click()
    expect(tab.get_by_text("Re-authentication failed.")).to_be_visible()
    tab.get_by_label("Password (re-enter to sign)").fill(PASSWORD)
    tab.get_by_label("Password (re-enter to sign)").press("Enter")
    expect(tab.get_by_test_id("decision")).to_contain_text("Read A accepted")
    expect(tab.get_by_test_id("case-status")).to_contain_text("Decided")
    shot(tab, "11b-adjudication-decided")
    case.refresh_from_db()
    assert case.status == AdjudicationStatus.DECIDED
    assert case.label_for_slot(case.chosen_slot) == "A"

    # Readers cannot open the adjudication page (same 404 as a case that does not exist).
    tab.context.clear_cookies()
    login(tab, base, "reader_a", PASSWORD)
    assert tab.goto(f"{base}/adjudication/{case.pk}/").status == 404


def _seed_trial(trial: Trial, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any) -> None:
    """Five subjects: concordant responders, a progressor, a stable one and one adjudicated."""
    plans = {
        "S-001": ((PR, PR), (PR, PR)),
        "S-002": ((SD, PD), (SD, PD)),
        "S-003": ((SD, SD), (SD, SD)),
        "S-004": ((PR, SD), (PR, SD)),
        "S-005": ((PR, PR), (PD, PD)),
    }
    for code, (for_a, for_b) in plans.items():
        tw = make_subject_with_reads(trial, manager, (reader_a, reader_b), code=code)
        read_through(tw, tw.read_a, reader_a, *for_a)
        read_through(tw, tw.read_b, reader_b, *for_b)
    # Reader 1's read is accepted whatever label it drew, so every run exports the same data.
    for case in AdjudicationCase.objects.filter(status=AdjudicationStatus.OPEN):
        adjudication_services.adjudication_decide(
            case_id=case.pk,
            chosen=case.label_for_slot(1),
            rationale="Read A is consistent with the images.",
            password=PASSWORD,
            printed_name="Alex Judge",
            actor=adjudicator,
        )


def test_manager_dashboard_export_and_audit(
    e2e_db: Any, tab: Any, trial: Trial, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    base = e2e_db.url
    _seed_trial(trial, manager, reader_a, reader_b, adjudicator)

    login(tab, base, "manager", PASSWORD)
    expect(tab.get_by_role("heading", name="Trials I manage")).to_be_visible()
    shot(tab, "12-manager-worklist")
    # the trial's own row (the worklist also links the trial from its confirmation windows)
    tab.get_by_role("cell", name="ONC-001 Oncology trial").get_by_role("link").click()
    expect(tab.get_by_test_id("kpi-compared")).to_have_text("5/5")
    expect(tab.get_by_test_id("no-endpoints")).to_be_visible()

    # Endpoints: start, watch the progress fragment, then the plots are drawn.
    tab.get_by_role("button", name="Compute endpoints").click()
    expect(tab.get_by_test_id("job-progress")).to_contain_text("Done")
    tab.get_by_role("link", name="Reload the plots").click()
    waterfall = tab.locator("svg.plot").first
    expect(waterfall).to_be_visible()
    expect(tab.locator("#wf-recist1\\.1-title")).to_contain_text("best change of the target sum")
    assert tab.locator("svg.plot rect title").count() >= 5
    shot(tab, "13-dashboard")
    # the plots' criterion tabs (the reader-metrics panel has its own criterion links)
    plot_tabs = tab.get_by_role("navigation", name="Criterion", exact=True)
    plot_tabs.get_by_role("link", name="iRECIST").click()
    expect(tab.locator("#wf-irecist-title")).to_be_attached()
    expect(tab).to_have_url(re.compile(r"criterion=irecist"))
    expect(plot_tabs.get_by_role("link", name="iRECIST")).to_have_attribute("aria-current", "page")
    shot(tab, "14-dashboard-irecist-plots")

    # Export: start, live progress, download links.
    tab.get_by_role("button", name="Start export").click()
    expect(tab.get_by_test_id("export-status")).to_have_text("Done", timeout=20_000)
    shot(tab, "15-export-done")
    link = tab.locator("[data-testid=export-batch] a", has_text="manifest.json")
    with tab.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "manifest.json"
    content = open(download.path(), "rb").read()  # noqa: SIM115 - Playwright owns the file
    batch = ExportBatch.objects.get(trial=trial)
    listed = next(f for f in batch.files if f["path"] == "manifest.json")
    assert hashlib.sha256(content).hexdigest() == listed["sha256"]
    assert AuditEvent.objects.filter(event_type="EXPORT_DOWNLOADED", object_id=str(batch.pk)).exists()

    # The subject page: three criteria timepoint by timepoint.
    tab.goto(f"{base}/trials/{trial.pk}/")
    tab.get_by_role("link", name="S-005").click()
    expect(tab.get_by_role("heading", name="Criteria compared, timepoint by timepoint")).to_be_visible()
    for label in ("RECIST 1.1", "iRECIST", "imRECIST"):
        expect(tab.get_by_role("columnheader", name=label).first).to_be_visible()
    expect(tab.get_by_role("row", name=re.compile("WEEK12"))).to_contain_text("PD")
    shot(tab, "16-subject-criteria")

    # Audit review: filter by user and subject, then the print view.
    tab.goto(f"{base}/trials/{trial.pk}/audit/")
    assert unlabelled(tab) == []
    tab.get_by_label("User").select_option("adjudicator")
    tab.get_by_role("button", name="Filter").click()
    expect(tab.get_by_role("row", name=re.compile("ADJUDICATION_DECIDED")).first).to_be_visible()
    assert tab.get_by_role("row", name=re.compile("TIMEPOINT_READ_SIGNED")).count() == 0
    tab.get_by_label("User").select_option("")
    tab.get_by_label("Subject").select_option(label="S-003")
    tab.get_by_role("button", name="Filter").click()
    expect(tab.get_by_role("row", name=re.compile("TIMEPOINT_READ_SIGNED")).first).to_be_visible()
    shot(tab, "17-audit-review")
    tab.emulate_media(media="print")
    expect(tab.locator("form.filters")).to_be_hidden()
    shot(tab, "18-audit-print")
    tab.emulate_media(media="screen")
