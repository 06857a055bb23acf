"""Issue 15, "what it must show", through the web form: read entry per criterion family
(the inputs each charter asks for, labelled and in fieldsets), the live check (the engine's
problems next to the fields and every criterion's response), the save, the signature with
the password re-entered and the read's evaluated result; and the issue's bad input refused
next to its field with nothing written."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.conftest import TrialWithReads, sign
from tests.factories import PASSWORD
from tests.trialreads.api.conftest import counts
from tests.trialreads.criteria_trials import criteria_subject, criteria_trial, prebaseline_timepoint
from tests.trialreads.web.conftest import duplicate_ids, unlabelled_controls
from trialreads.choices import Modality
from trialreads.models import Measurement, NonTargetRating, TimepointRead
from trialreads.selectors import reads as read_selectors
from trialreads.services import reads as read_services

pytestmark = pytest.mark.django_db


def _case(
    manager: Any,
    readers: tuple[Any, Any],
    criteria: list[str],
    code: str,
    analyses: tuple[str, ...] = (),
    **kw: Any,
) -> TrialWithReads:
    trial = criteria_trial(manager, readers, criteria, code, analyses=list(analyses))
    return criteria_subject(trial, manager, readers, **kw)


def err(html: str, field_id: str) -> str:
    """The text of a field's error slot (in the page, or out of band in the live check)."""
    m = re.search(rf'id="err-{re.escape(field_id)}"[^>]*>(.*?)</span', html, re.S)
    assert m, f"no error slot for {field_id}"
    return m.group(1).strip()


def page_of(client: Client, tr: TimepointRead) -> str:
    response = client.get(f"/timepoint-reads/{tr.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert unlabelled_controls(html) == [] and duplicate_ids(html) == []
    return html


def live(client: Client, tr: TimepointRead, data: dict[str, str]) -> str:
    response = client.get(f"/timepoint-reads/{tr.pk}/check/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def post(client: Client, tr: TimepointRead, data: dict[str, str]) -> Any:
    tr.refresh_from_db()
    return client.post(f"/timepoint-reads/{tr.pk}/", {"version": str(tr.version), **data})


def sign_on_page(client: Client, tr: TimepointRead) -> None:
    response = client.post(
        f"/timepoint-reads/{tr.pk}/sign/", {"printed_name": "Ada Reader", "password": PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    tr.refresh_from_db()
    assert tr.locked and tr.signatures.filter(voided_at__isnull=True).count() == 1


def result_of(user: Any, case: TrialWithReads) -> dict[str, Any]:
    evaluation = read_selectors.read_evaluate(user=user, read_id=case.read_a.pk)
    assert evaluation.result is not None
    return dict(evaluation.result.results)


# --- irRC ----------------------------------------------------------------------------------------

IRRC_BASELINE = {
    "targets-0-code": "T1", "targets-0-organ": "liver", "targets-0-value_mm": "40", "targets-0-perp_mm": "30",
    "targets-1-code": "T2", "targets-1-organ": "left lung", "targets-1-value_mm": "20",
    "targets-1-perp_mm": "10",
    "targets-2-code": "T3", "targets-2-organ": "mediastinal lymph node", "targets-2-is_node": "on",
    "targets-2-value_mm": "20", "targets-2-long_mm": "25",
}  # fmt: skip
IRRC_FOLLOWUP = {
    "targets-0-state": "MEASURED", "targets-0-value_mm": "20", "targets-0-perp_mm": "15",
    "targets-1-state": "MEASURED", "targets-1-value_mm": "10", "targets-1-perp_mm": "10",
    "targets-2-state": "MEASURED", "targets-2-value_mm": "10", "targets-2-long_mm": "12",
}  # fmt: skip


@pytest.fixture
def irrc(manager: Any, reader_a: Any, reader_b: Any) -> TrialWithReads:
    return _case(manager, (reader_a, reader_b), ["irrc"], "IRRC-W1")


def test_irrc_read_through_the_web_form(irrc: TrialWithReads, web: dict[str, Client], reader_a: Any) -> None:
    a = web["reader_a"]
    tr0, tr1 = irrc.tr(irrc.read_a, 0), irrc.tr(irrc.read_a, 1)
    html = page_of(a, tr0)
    assert 'id="targets-0-perp_mm"' in html and 'id="targets-0-long_mm"' in html
    assert 'id="targets-14-code"' in html and 'id="targets-15-code"' not in html  # irRC: 15 index lesions
    assert "targets-0-injected" not in html  # no itRECIST
    panel = live(a, tr0, IRRC_BASELINE)
    assert 'data-testid="burden">1900 mm²' in panel  # 40x30 + 20x10 + 20x25
    assert post(a, tr0, IRRC_BASELINE).status_code == 302
    t3 = Measurement.objects.get(timepoint_read=tr0, lesion__lesion_code="T3")
    assert (str(t3.value_mm), str(t3.long_mm), t3.perp_mm) == ("20.0", "25.0", None)
    sign_on_page(a, tr0)

    html = page_of(a, tr1)
    # The follow-up asks each lesion for its own second diameter: perpendicular, a node's long axis.
    assert 'id="targets-0-perp_mm"' in html and 'id="targets-0-long_mm"' not in html
    assert 'id="targets-2-long_mm"' in html and 'id="targets-2-perp_mm"' not in html
    assert 'id="new_lesions-0-perp_mm"' in html
    panel = live(a, tr1, {**IRRC_FOLLOWUP, "targets-0-perp_mm": ""})
    assert "irRC needs" in err(panel, "targets-0-perp_mm")  # the engine's check, next to the input
    panel = live(a, tr1, IRRC_FOLLOWUP)
    assert 'data-testid="response-irrc"' in panel and "resp-irPR" in panel
    assert 'data-testid="burden">520 mm²' in panel
    assert post(a, tr1, IRRC_FOLLOWUP).status_code == 302
    sign_on_page(a, tr1)
    assert result_of(reader_a, irrc)["irrc"].bor == "irPR"
    assert "irRC" in a.get(f"/reads/{irrc.read_a.pk}/").content.decode()


def test_a_perpendicular_larger_than_the_longest_diameter_is_refused_on_the_form(
    irrc: TrialWithReads, web: dict[str, Client]
) -> None:
    tr0 = irrc.tr(irrc.read_a, 0)
    before = counts()
    response = post(web["reader_a"], tr0, {**IRRC_BASELINE, "targets-0-perp_mm": "45"})
    assert response.status_code == 422
    assert "larger than the longest diameter" in err(response.content.decode(), "targets-0-perp_mm")
    assert counts() == before
    panel = live(web["reader_a"], tr0, {**IRRC_BASELINE, "targets-0-perp_mm": "45"})
    assert "larger than the longest diameter" in err(panel, "targets-0-perp_mm")


def test_an_injected_flag_without_itrecist_is_refused_on_the_form(
    irrc: TrialWithReads, web: dict[str, Client], reader_a: Any
) -> None:
    a = web["reader_a"]
    tr0 = irrc.tr(irrc.read_a, 0)
    before = counts()
    response = post(a, tr0, {**IRRC_BASELINE, "targets-0-injected": "on"})  # no such checkbox: crafted
    assert response.status_code == 422
    assert "only itrecist" in err(response.content.decode(), "targets-0-injected")
    assert counts() == before
    assert post(a, tr0, IRRC_BASELINE).status_code == 302
    sign(tr0, reader_a)
    before = counts()
    response = post(a, irrc.tr(irrc.read_a, 1), {**IRRC_FOLLOWUP, "injected-T1": "on"})
    assert response.status_code == 422
    assert "only itrecist" in err(response.content.decode(), "injected")  # below the checkboxes
    assert counts() == before


# --- itRECIST ------------------------------------------------------------------------------------

ITR_BASELINE = {
    "targets-0-code": "T1", "targets-0-organ": "skin", "targets-0-value_mm": "30", "targets-0-injected": "on",
    "targets-1-code": "T2", "targets-1-organ": "liver", "targets-1-value_mm": "40",
    "non_targets-0-code": "NT1", "non_targets-0-organ": "bone",
}  # fmt: skip
ITR_FOLLOWUP = {
    "targets-0-state": "MEASURED", "targets-0-value_mm": "10",
    "targets-1-state": "MEASURED", "targets-1-value_mm": "40",
    "non_targets-NT1": "present", "injected-NT1": "on",
}  # fmt: skip


def test_itrecist_read_through_the_web_form(
    manager: Any, reader_a: Any, reader_b: Any, web: dict[str, Client]
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "itrecist"], "ITR-W1")
    a = web["reader_a"]
    tr0, tr1 = case.tr(case.read_a, 0), case.tr(case.read_a, 1)
    html = page_of(a, tr0)
    assert 'id="targets-0-injected"' in html and 'id="non_targets-0-injected"' in html
    assert 'id="targets-5-code"' not in html  # RECIST 1.1's five targets bound the selection
    no_injected = {k: v for k, v in ITR_BASELINE.items() if k != "targets-0-injected"}
    assert "itRECIST needs 1 to 5 (ITR-CLASS)" in err(live(a, tr0, no_injected), "targets")
    assert post(a, tr0, ITR_BASELINE).status_code == 302
    sign_on_page(a, tr0)

    html = page_of(a, tr1)
    assert 'id="injected-T2"' in html and 'id="injected-NT1"' in html
    assert 'id="injected-T1"' not in html  # injected at baseline: a lesion is injected once
    panel = live(a, tr1, ITR_FOLLOWUP)
    assert 'data-testid="response-itrecist"' in panel and 'data-testid="response-recist1.1"' in panel
    assert "injected iPR, non-injected iSD" in panel  # T1 30 -> 10 mm, NT1 injected here
    assert post(a, tr1, ITR_FOLLOWUP).status_code == 302
    assert NonTargetRating.objects.get(timepoint_read=tr1, lesion__lesion_code="NT1").newly_injected
    assert 'id="injected-NT1" name="injected-NT1" checked' in page_of(a, tr1)
    sign_on_page(a, tr1)
    injected = result_of(reader_a, case)["itrecist"].timepoints[0].extra["injected_lesions"]
    assert list(injected) == ["NT1", "T1"]
    assert 'id="injected-NT1"' not in page_of(a, case.tr(case.read_a, 2))


# --- PERCIST and iPERCIST ----------------------------------------------------------------------

PET_BASELINE = {
    "pet-reference_site": "liver", "pet-reference_mean": "2.0", "pet-reference_sd": "0.3",
    "pet-uptake_min": "60",
    "pet-lesions-0-code": "P1", "pet-lesions-0-organ": "lung", "pet-lesions-0-sul_peak": "8",
    "pet-lesions-0-sul_max": "9.5",
}  # fmt: skip
PET_FOLLOWUP = {**PET_BASELINE, "pet-lesions-0-sul_peak": "3", "pet-lesions-0-sul_max": ""}


@pytest.fixture
def percist(manager: Any, reader_a: Any, reader_b: Any) -> TrialWithReads:
    return _case(manager, (reader_a, reader_b), ["percist", "ipercist"], "PET-W1", modality=Modality.PET_CT)


def test_percist_read_through_the_web_form(
    percist: TrialWithReads, web: dict[str, Client], reader_a: Any
) -> None:
    a = web["reader_a"]
    tr0, tr1 = percist.tr(percist.read_a, 0), percist.tr(percist.read_a, 1)
    html = page_of(a, tr0)
    assert "<legend><h2>PET scan</h2></legend>" in html and 'id="pet-reference_site"' in html
    assert 'id="targets-0-code"' not in html and 'value="pet">Save PET scan' in html  # a PET-only charter
    assert post(a, tr0, PET_BASELINE).status_code == 302
    tr0.refresh_from_db()
    assert tr0.pet_reference_site == "liver" and tr0.measurements.get().sul_peak == 8
    assert 'id="pet-lesions-0-sul_peak" name="pet-lesions-0-sul_peak" value="8"' in page_of(a, tr0)
    sign_on_page(a, tr0)

    panel = live(a, tr1, PET_FOLLOWUP)
    assert 'data-testid="response-percist"' in panel and "resp-PMR" in panel
    assert 'data-testid="response-ipercist"' in panel and "SULpeak 3" in panel
    assert post(a, tr1, PET_FOLLOWUP).status_code == 302
    sign_on_page(a, tr1)
    results = result_of(reader_a, percist)
    assert {name: r.bor for name, r in results.items()} == {"percist": "PMR", "ipercist": "PMR"}
    read_page = a.get(f"/reads/{percist.read_a.pk}/").content.decode()
    assert "PERCIST 1.0" in read_page and "iPERCIST" in read_page


def test_a_sulpeak_without_a_reference_region_is_refused_on_the_form(
    percist: TrialWithReads, web: dict[str, Client]
) -> None:
    tr0 = percist.tr(percist.read_a, 0)
    no_reference = {k: v for k, v in PET_BASELINE.items() if not k.startswith("pet-reference")}
    before = counts()
    response = post(web["reader_a"], tr0, no_reference)
    assert response.status_code == 422
    html = response.content.decode()
    assert "reference region" in err(html, "pet-reference_site")
    assert err(html, "pet-reference_mean") == "required"
    assert counts() == before
    assert "reference region" in err(live(web["reader_a"], tr0, no_reference), "pet-reference_site")
    # A lesion row without its SULpeak is named as well.
    response = post(web["reader_a"], tr0, {**PET_BASELINE, "pet-lesions-0-sul_peak": ""})
    assert (
        response.status_code == 422 and err(response.content.decode(), "pet-lesions-0-sul_peak") == "required"
    )
    assert counts() == before


def test_a_pet_ct_timepoint_of_a_mixed_charter_saves_its_two_forms_apart(
    manager: Any, reader_a: Any, reader_b: Any, web: dict[str, Client]
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "percist"], "MIX-W1", modality=Modality.PET_CT)
    a = web["reader_a"]
    tr0 = case.tr(case.read_a, 0)
    html = page_of(a, tr0)
    assert 'id="targets-0-code"' in html and 'id="pet-reference_site"' in html
    ct = {"targets-0-code": "T1", "targets-0-organ": "liver", "targets-0-value_mm": "50"}
    # "Save PET scan" saves the PET form only; a half-typed CT form beside it is left alone.
    assert post(a, tr0, {**PET_BASELINE, "targets-0-code": "T1", "save": "pet"}).status_code == 302
    assert not tr0.measurements.exclude(lesion__kind="PET").exists()
    assert (
        post(a, tr0, {**ct, **PET_BASELINE, "pet-lesions-0-sul_peak": "x", "save": "ct"}).status_code == 302
    )
    tr0.refresh_from_db()
    assert tr0.measurements.get(lesion__kind="TARGET").value_mm == 50
    assert tr0.measurements.get(lesion__kind="PET").sul_peak == 8  # untouched by the CT save


# --- a pre-baseline scan (tumour growth rate) -----------------------------------------------------


def test_prebaseline_read_through_the_web_form(
    manager: Any, reader_a: Any, reader_b: Any, web: dict[str, Client]
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "irecist"], "TGR-W1", analyses=("tgr",))
    a = web["reader_a"]
    baseline = {
        "targets-0-code": "T1", "targets-0-organ": "liver", "targets-0-value_mm": "30",
        "targets-1-code": "T2", "targets-1-organ": "left lung", "targets-1-value_mm": "40",
    }  # fmt: skip
    assert post(a, case.tr(case.read_a, 0), baseline).status_code == 302
    sign_on_page(a, case.tr(case.read_a, 0))
    week6 = {
        "targets-0-state": "MEASURED", "targets-0-value_mm": "50",
        "targets-1-state": "MEASURED", "targets-1-value_mm": "60",
    }  # fmt: skip
    assert post(a, case.tr(case.read_a, 1), week6).status_code == 302
    timepoint = prebaseline_timepoint(case, manager)
    pre = TimepointRead.objects.get(read=case.read_a, timepoint=timepoint)
    html = page_of(a, pre)
    assert "pre-baseline scan" in html and "<legend><h2>Pre-baseline scan</h2></legend>" in html
    assert (
        'id="targets-0-value_mm"' in html and 'id="sum_mm"' in html and 'id="new_lesions-0-code"' not in html
    )
    assert "Sign the earlier timepoints" not in html  # read outside the follow-ups' order
    values = {"targets-0-state": "MEASURED", "targets-0-value_mm": "20", "targets-1-state": "MEASURED",
              "targets-1-value_mm": "30"}  # fmt: skip
    panel = live(a, pre, values)
    assert 'data-testid="analysis-tgr"' in panel and "50.0 mm" in panel
    assert "TGR ratio 1.6" in panel
    # Targets and the sum together are refused, named; nothing written.
    before = counts()
    response = post(a, pre, {**values, "sum_mm": "50"})
    assert response.status_code == 422 and "sum_mm" in err(response.content.decode(), "targets")
    assert counts() == before
    assert post(a, pre, values).status_code == 302
    sign_on_page(a, pre)
    pre.refresh_from_db()
    assert sorted(str(m.value_mm) for m in pre.measurements.all()) == ["20.0", "30.0"]


def test_a_sum_only_prebaseline_on_the_form(
    manager: Any, reader_a: Any, reader_b: Any, web: dict[str, Client]
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1"], "TGR-W2", analyses=("tgr",))
    read_services.timepoint_read_save_baseline(
        timepoint_read_id=case.tr(case.read_a, 0).pk,
        targets=[read_services.TargetInput(code="T1", organ="liver", value_mm=Decimal("30.0"))],
        non_targets=[],
        expected_version=None,
        actor=reader_a,
    )
    pre = TimepointRead.objects.get(read=case.read_a, timepoint=prebaseline_timepoint(case, manager))
    assert post(web["reader_a"], pre, {"targets-0-state": "MEASURED", "sum_mm": "21.5"}).status_code == 302
    pre.refresh_from_db()
    assert pre.prebaseline_sum_mm == Decimal("21.5") and not pre.measurements.exists()
    assert 'id="sum_mm" name="sum_mm" value="21.5"' in page_of(web["reader_a"], pre)
