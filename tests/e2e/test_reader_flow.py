"""A reader logs in, reads the baseline and a follow-up with the keyboard, and signs both;
the other reader cannot reach that read by URL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import TrialWithReads, save_baseline
from tests.e2e.conftest import login, shot, unlabelled
from tests.factories import PASSWORD
from trialreads.models import Signature, TimepointRead

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _focused(tab: Any) -> str:
    return str(tab.evaluate("() => document.activeElement && document.activeElement.id"))


def test_reader_reads_baseline_and_followup_and_signs(
    e2e_db: Any, tab: Any, trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw, base = trial_with_reads, e2e_db.url
    tab.goto(f"{base}/")
    expect(tab).to_have_url(re.compile(r"/login/"))
    assert unlabelled(tab) == []
    shot(tab, "01-login")
    login(tab, base, "reader_a", PASSWORD)
    expect(tab.get_by_role("heading", name="My reads")).to_be_visible()
    shot(tab, "02-reader-worklist")

    # --- baseline ---------------------------------------------------------------------------
    tab.get_by_role("link", name="Read BASELINE").click()
    expect(tab.get_by_role("heading", name=re.compile("S-001 · BASELINE"))).to_be_visible()
    assert unlabelled(tab) == []
    # Tab order follows the table: code -> organ -> node -> diameter -> next row's code.
    tab.locator("#targets-0-code").focus()
    order = []
    for _ in range(4):
        tab.keyboard.press("Tab")
        order.append(_focused(tab))
    assert order == ["targets-0-organ", "targets-0-is_node", "targets-0-value_mm", "targets-1-code"]

    rows = [("T1", "liver", "50"), ("T2", "liver", "30"), ("T3", "liver", "20")]
    for i, (code, organ, mm) in enumerate(rows):
        tab.locator(f"#targets-{i}-code").fill(code)
        tab.locator(f"#targets-{i}-organ").fill(organ)
        tab.locator(f"#targets-{i}-value_mm").fill(mm)
    # The target limits are checked as the reader types: a third liver target is refused
    # next to the target table, before anything is saved.
    expect(tab.locator("#err-targets")).to_contain_text("at most 2 per organ")
    expect(tab.get_by_test_id("target-count")).to_have_text("3")
    shot(tab, "03-baseline-limit-live")
    tab.locator("#targets-2-organ").fill("mediastinal lymph node")
    tab.locator("#targets-2-is_node").check()
    tab.locator("#targets-2-value_mm").fill("12")
    expect(tab.locator("#err-targets-2-value_mm")).to_contain_text("not measurable")
    expect(tab.locator("#targets-2-value_mm")).to_have_attribute("aria-invalid", "true")
    expect(tab.locator("#err-targets")).to_be_empty()
    tab.locator("#targets-2-value_mm").fill("20")
    expect(tab.locator("#err-targets-2-value_mm")).to_be_empty()
    expect(tab.locator("#targets-2-value_mm")).not_to_have_attribute("aria-invalid", "true")
    expect(tab.get_by_test_id("sum")).to_have_text("100.0 mm")
    tab.locator("#non_targets-0-code").fill("NT1")
    tab.locator("#non_targets-0-organ").fill("bone")
    # Six non-target rows are shown; "Add a non-target row" appends one and focuses it.
    tab.get_by_role("button", name="Add a non-target row").click()
    expect(tab.locator("#non_targets-6-code")).to_be_focused()
    tab.keyboard.type("NT2")
    tab.keyboard.press("Tab")
    tab.keyboard.type("peritoneum")
    # Enter in a field submits the form (the first submit button is "Save draft").
    tab.locator("#non_targets-0-organ").press("Enter")
    expect(tab.get_by_role("status")).to_contain_text("BASELINE saved")
    expect(tab.locator("#non_targets-1-code")).to_have_value("NT2")  # saved, shown sorted
    shot(tab, "04-baseline-saved")

    # The signing dialog: opened from the keyboard, focus on the password, meaning shown,
    # Escape closes it and gives focus back.
    tab.locator("#open-sign").focus()
    tab.keyboard.press("Enter")
    dialog = tab.locator("#sign-dialog")
    expect(dialog).to_be_visible()
    assert _focused(tab) == "id_password"
    expect(dialog.locator(".meaning")).to_contain_text("I am the author of this assessment")
    assert unlabelled(tab) == []
    shot(tab, "05-sign-dialog", full_page=False)
    tab.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert _focused(tab) == "open-sign"
    tab.locator("#open-sign").click()
    tab.locator("#id_password").fill("not-my-password")
    tab.locator("#id_password").press("Enter")
    expect(tab.locator("#sign-dialog")).to_be_visible()
    expect(tab.locator("#err-sign-password")).to_contain_text("Re-authentication failed")
    shot(tab, "06-sign-wrong-password", full_page=False)
    tab.locator("#id_password").fill(PASSWORD)
    tab.locator("#id_password").press("Enter")

    # --- follow-up (the app moves on to the next unsigned timepoint) --------------------------
    expect(tab.get_by_role("heading", name=re.compile("S-001 · WEEK6"))).to_be_visible()
    expect(tab.get_by_role("status")).to_contain_text("BASELINE signed and locked")
    assert unlabelled(tab) == []
    t1 = tab.get_by_role("row", name=re.compile(r"^T1"))
    expect(t1).to_contain_text("50.0")  # the previous (baseline) value beside the input
    for code, mm in (("0", "30"), ("1", "20"), ("2", "10")):
        tab.locator(f"#targets-{code}-value_mm").fill(mm)
    recist = tab.get_by_test_id("response-recist1.1")
    expect(recist).to_contain_text("PR")
    expect(recist).to_contain_text("-40.0% vs baseline")
    expect(tab.get_by_test_id("sum")).to_have_text("60.0 mm")
    tab.locator("#non_targets-NT1").select_option("present")
    shot(tab, "07-followup-live-response")
    tab.locator("#targets-2-value_mm").press("Enter")
    expect(tab.get_by_role("status")).to_contain_text("WEEK6 saved")
    tab.locator("#open-sign").click()
    tab.locator("#id_password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign and lock").click()
    expect(tab.get_by_role("heading", name=re.compile("S-001 · WEEK12"))).to_be_visible()

    signed = TimepointRead.objects.filter(read=tw.read_a, locked=True).count()
    assert signed == 2
    assert Signature.objects.filter(timepoint_read__read=tw.read_a, signer=reader_a).count() == 2

    tab.goto(f"{base}/reads/{tw.read_a.pk}/")
    expect(tab.locator("svg.plot")).to_have_count(1)
    expect(tab.locator("svg.plot title").first).to_contain_text("change of the target sum")
    shot(tab, "08-read-overview")


def test_second_reader_cannot_reach_first_readers_read(
    e2e_db: Any, tab: Any, trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw, base = trial_with_reads, e2e_db.url
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    login(tab, base, "reader_b", PASSWORD)
    # Reader B's worklist lists only B's read.
    links = tab.locator("main a[href^='/reads/']")
    expect(links).to_have_count(1)
    assert links.first.get_attribute("href") == f"/reads/{tw.read_b.pk}/"
    for path in (
        f"/reads/{tw.read_a.pk}/",
        f"/timepoint-reads/{tw.tr(tw.read_a, 0).pk}/",
        f"/timepoint-reads/{tw.tr(tw.read_a, 0).pk}/check/",
    ):
        response = tab.goto(f"{base}{path}")
        assert response.status == 404, path
        expect(tab.get_by_role("heading", name="Not found")).to_be_visible()
        shown = tab.locator("main").inner_text()
        assert "T1" not in shown and "liver" not in shown
    shot(tab, "09-reader-b-blinded-404")
