"""Issue 15, "what it must show": read entry per criterion family through the API, end to end
(token client, If-Match, save, the signature with the password re-entered, the engine's
evaluation), and the bad input of the issue refused with a 400 naming the field and nothing
written.

Families: irRC (second diameters), RECIST 1.1 + itRECIST (injected flags), PERCIST + iPERCIST
(PET scans of PET/CT timepoints), RECIST 1.1 + iRECIST with a pre-baseline scan (the tumour
growth rate analysis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import TrialWithReads
from tests.trialreads.api.conftest import API, counts, etag_of
from tests.trialreads.criteria_trials import criteria_subject, criteria_trial
from trialreads.choices import Modality
from trialreads.models import AuditEvent, ImagingTimepoint, Measurement, TimepointRead
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db


def put(client: APIClient, tr_id: int, form: str, body: Any) -> Any:
    tag = etag_of(client, tr_id)
    return client.put(f"{API}/timepoint-reads/{tr_id}/{form}/", body, format="json", HTTP_IF_MATCH=tag)


def sign(client: APIClient, tr_id: int, user: Any, password: str) -> Any:
    body = {"password": password, "printed_name": user.get_full_name()}
    return client.post(
        f"{API}/timepoint-reads/{tr_id}/sign/", body, format="json", HTTP_IF_MATCH=etag_of(client, tr_id)
    )


def saved_and_signed(client: APIClient, tr_id: int, form: str, body: Any, user: Any, password: str) -> Any:
    saved = put(client, tr_id, form, body)
    assert saved.status_code == 200, saved.content
    signed = sign(client, tr_id, user, password)
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "SIGNED" and signed.json()["locked"] is True
    return saved.json()


def evaluation(client: APIClient, read_id: int) -> dict[str, Any]:
    response = client.get(f"{API}/reads/{read_id}/evaluation/")
    assert response.status_code == 200, response.content
    result: dict[str, Any] = response.json()["result"]
    return result


def refused(response: Any, field: str) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    errors: dict[str, list[str]] = response.json()["errors"]
    assert field in errors, errors
    return errors


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


# --- irRC: bidimensional measurements ------------------------------------------------------------

IRRC_BASELINE = {
    "targets": [
        {"code": "T1", "organ": "liver", "value_mm": 40.0, "perp_mm": 30.0},
        {"code": "T2", "organ": "left lung", "value_mm": 20.0, "perp_mm": 10.0},
        {"code": "T3", "organ": "mediastinal lymph node", "value_mm": 20.0, "long_mm": 25.0, "is_node": True},
    ],
    "non_targets": [],
}
IRRC_FOLLOWUP = {
    "targets": [
        {"code": "T1", "value_mm": 20.0, "perp_mm": 15.0},
        {"code": "T2", "value_mm": 10.0, "perp_mm": 10.0},
        {"code": "T3", "value_mm": 10.0, "long_mm": 12.0},
    ],
    "non_targets": [],
    "new_lesions": [{"code": "N1", "organ": "skin", "value_mm": 10.0, "perp_mm": 8.0}],
}


@pytest.fixture
def irrc(manager: Any, reader_a: Any, reader_b: Any) -> TrialWithReads:
    return _case(manager, (reader_a, reader_b), ["irrc"], "IRRC-01")


def test_irrc_read_through_the_api(
    irrc: TrialWithReads, api: dict[str, Any], reader_a: Any, password: str
) -> None:
    a = api["reader_a"]
    tr0, tr1 = irrc.tr(irrc.read_a, 0), irrc.tr(irrc.read_a, 1)
    body = saved_and_signed(a, tr0.pk, "baseline", IRRC_BASELINE, reader_a, password)
    stored = {t["code"]: (t["value_mm"], t["perp_mm"], t["long_mm"]) for t in body["baseline"]["targets"]}
    assert stored == {"T1": (40.0, 30.0, None), "T2": (20.0, 10.0, None), "T3": (20.0, None, 25.0)}

    response = put(a, tr1.pk, "followup", IRRC_FOLLOWUP)
    assert response.status_code == 200, response.content
    content = response.json()["followup"]
    assert [(t["code"], t["perp_mm"], t["long_mm"]) for t in content["targets"]] == [
        ("T1", 15.0, None),
        ("T2", 10.0, None),
        ("T3", None, 12.0),
    ]
    assert content["new_lesions"][0]["perp_mm"] == 8.0
    # 1200 + 200 + 500 = 1900 mm2 at baseline; 300 + 100 + 120 + the new lesion's 80 = 600.
    irrc_at = response.json()["responses"]["irrc"]
    assert irrc_at["overall"] == "irPR"
    assert irrc_at["sum_mm"] == 600.0 and irrc_at["nadir_ref_mm"] == 1900.0

    assert sign(a, tr1.pk, reader_a, password).status_code == 200
    result = evaluation(a, irrc.read_a.pk)
    assert list(result["results"]) == ["irrc"]
    assert result["results"]["irrc"]["bor"] == "irPR"
    # GET -> PUT round-trips: the representation is the shape PUT takes.
    detail = a.get(f"{API}/timepoint-reads/{tr0.pk}/").json()
    assert detail["pet"] is None and detail["prebaseline"] is None  # a CT timepoint, no PET criterion
    assert detail["baseline"]["targets"][2] == {
        "code": "T3",
        "organ": "mediastinal lymph node",
        "value_mm": 20.0,
        "is_node": True,
        "injected": False,
        "perp_mm": None,
        "long_mm": 25.0,
    }


def test_a_perpendicular_larger_than_the_longest_diameter_is_refused(
    irrc: TrialWithReads, api: dict[str, Any]
) -> None:
    tr0 = irrc.tr(irrc.read_a, 0)
    body = {
        "targets": [{**IRRC_BASELINE["targets"][0], "perp_mm": 45.0}, *IRRC_BASELINE["targets"][1:]],  # type: ignore[dict-item]
        "non_targets": [],
    }
    before = counts()
    errors = refused(put(api["reader_a"], tr0.pk, "baseline", body), "targets[0].perp_mm")
    assert "larger than the longest diameter" in errors["targets[0].perp_mm"][0]
    assert counts() == before
    # PATCH (merged into the stored draft, then the PUT's checks) refuses it the same way.
    tag = etag_of(api["reader_a"], tr0.pk)
    patched = api["reader_a"].patch(
        f"{API}/timepoint-reads/{tr0.pk}/baseline/",
        {"targets": body["targets"]},
        format="json",
        HTTP_IF_MATCH=tag,
    )
    refused(patched, "targets[0].perp_mm")
    assert counts() == before


def test_irrc_needs_the_second_diameter_at_follow_up(
    irrc: TrialWithReads, api: dict[str, Any], reader_a: Any, password: str
) -> None:
    saved_and_signed(
        api["reader_a"], irrc.tr(irrc.read_a, 0).pk, "baseline", IRRC_BASELINE, reader_a, password
    )
    tr1 = irrc.tr(irrc.read_a, 1)
    body = {**IRRC_FOLLOWUP, "targets": [{"code": "T1", "value_mm": 20.0}, *IRRC_FOLLOWUP["targets"][1:]]}
    before = counts()
    refused(put(api["reader_a"], tr1.pk, "followup", body), "targets[0].perp_mm")
    assert counts() == before


# --- itRECIST: injected and non-injected lesions ---------------------------------------------------

ITR_BASELINE = {
    "targets": [
        {"code": "T1", "organ": "skin", "value_mm": 30.0, "injected": True},
        {"code": "T2", "organ": "liver", "value_mm": 40.0},
    ],
    "non_targets": [{"code": "NT1", "organ": "bone"}],
}
ITR_FOLLOWUP = {
    "targets": [{"code": "T1", "value_mm": 10.0}, {"code": "T2", "value_mm": 40.0}],
    "non_targets": [{"code": "NT1", "status": "present"}],
    "new_lesions": [],
    "injected": ["T2"],
}


def test_itrecist_read_through_the_api(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any], password: str
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "itrecist"], "ITR-01")
    a = api["reader_a"]
    body = saved_and_signed(a, case.tr(case.read_a, 0).pk, "baseline", ITR_BASELINE, reader_a, password)
    assert [(t["code"], t["injected"]) for t in body["baseline"]["targets"]] == [("T1", True), ("T2", False)]
    tr1 = case.tr(case.read_a, 1)
    response = put(a, tr1.pk, "followup", ITR_FOLLOWUP)
    assert response.status_code == 200, response.content
    assert response.json()["followup"]["injected"] == ["T2"]
    at = response.json()["responses"]["itrecist"]
    assert at["injected_lesions"] == ["T1", "T2"] and at["injected_after_baseline"] == ["T2"]
    assert response.json()["responses"]["recist1.1"]["overall"] == "SD"
    assert Measurement.objects.get(timepoint_read=tr1, lesion__lesion_code="T2").newly_injected
    assert sign(a, tr1.pk, reader_a, password).status_code == 200
    result = evaluation(a, case.read_a.pk)
    assert set(result["results"]) == {"recist1.1", "itrecist"}
    assert result["results"]["itrecist"]["timepoints"][0]["injected_response"] == "iSD"

    # A lesion is injected once: the next follow-up cannot inject T2 again.
    tr2 = case.tr(case.read_a, 2)
    before = counts()
    again = put(a, tr2.pk, "followup", ITR_FOLLOWUP)
    assert "already injected" in refused(again, "injected[0]")["injected[0]"][0]
    assert counts() == before


def test_an_injected_flag_without_itrecist_is_refused(
    irrc: TrialWithReads, api: dict[str, Any], reader_a: Any, password: str
) -> None:
    a = api["reader_a"]
    tr0 = irrc.tr(irrc.read_a, 0)
    flagged = {
        "targets": [{**IRRC_BASELINE["targets"][0], "injected": True}, *IRRC_BASELINE["targets"][1:]],  # type: ignore[dict-item]
        "non_targets": [{"code": "NT1", "organ": "bone", "injected": True}],
    }
    before = counts()
    errors = refused(put(a, tr0.pk, "baseline", flagged), "targets[0].injected")
    assert "itrecist" in errors["targets[0].injected"][0]
    assert "non_targets[0].injected" in errors
    assert counts() == before
    # At a follow-up: "first injected here" on a charter without itRECIST.
    saved_and_signed(a, tr0.pk, "baseline", IRRC_BASELINE, reader_a, password)
    before = counts()
    response = put(a, irrc.tr(irrc.read_a, 1).pk, "followup", {**IRRC_FOLLOWUP, "injected": ["T1"]})
    assert "itrecist" in refused(response, "injected")["injected"][0]
    assert counts() == before


# --- PERCIST and iPERCIST: PET scans --------------------------------------------------------------

PET_BASELINE = {
    "reference_site": "liver",
    "reference_mean": 2.0,
    "reference_sd": 0.3,
    "uptake_min": 60.0,
    "lesions": [{"code": "P1", "organ": "lung", "sul_peak": 8.0, "sul_max": 9.5, "tlg": 120.5}],
}
PET_FOLLOWUP = {
    "reference_site": "liver",
    "reference_mean": 2.1,
    "reference_sd": 0.3,
    "uptake_min": 62.0,
    "lesions": [{"code": "P1", "organ": "lung", "sul_peak": 3.0}],
}


@pytest.fixture
def percist(manager: Any, reader_a: Any, reader_b: Any) -> TrialWithReads:
    return _case(manager, (reader_a, reader_b), ["percist", "ipercist"], "PET-01", modality=Modality.PET_CT)


def test_percist_read_through_the_api(
    percist: TrialWithReads, api: dict[str, Any], reader_a: Any, password: str
) -> None:
    a = api["reader_a"]
    tr0, tr1 = percist.tr(percist.read_a, 0), percist.tr(percist.read_a, 1)
    body = saved_and_signed(a, tr0.pk, "pet", PET_BASELINE, reader_a, password)
    assert body["pet"] == {
        **PET_BASELINE,
        "lesions": [{**PET_BASELINE["lesions"][0], "value_mm": None}],  # type: ignore[index]
        "unequivocal_progression": False,
        "not_done": False,
    }
    response = put(a, tr1.pk, "pet", PET_FOLLOWUP)
    assert response.status_code == 200, response.content
    responses = response.json()["responses"]
    assert responses["percist"]["overall"] == "PMR"  # SULpeak 8.0 -> 3.0: -62.5 %
    assert responses["percist"]["pct_vs_baseline"] == -62.5
    assert responses["ipercist"]["overall"] == "PMR"
    assert sign(a, tr1.pk, reader_a, password).status_code == 200
    result = evaluation(a, percist.read_a.pk)
    assert {name: r["bor"] for name, r in result["results"].items()} == {"percist": "PMR", "ipercist": "PMR"}

    # The other reader never sees A's PET scan: not found, as for an id that does not exist.
    b = api["reader_b"]
    assert b.get(f"{API}/timepoint-reads/{tr1.pk}/").status_code == 404
    tag = f'"tr{tr1.pk}-v{TimepointRead.objects.get(pk=tr1.pk).version}"'
    assert (
        b.put(
            f"{API}/timepoint-reads/{tr1.pk}/pet/", PET_FOLLOWUP, format="json", HTTP_IF_MATCH=tag
        ).status_code
        == 404
    )
    # The reader's representation carries no arm.
    assert b"EXPERIMENTAL" not in a.get(f"{API}/timepoint-reads/{tr1.pk}/").content


def test_pet_writes_keep_the_if_match_conventions(percist: TrialWithReads, api: dict[str, Any]) -> None:
    a = api["reader_a"]
    url = f"{API}/timepoint-reads/{percist.tr(percist.read_a, 0).pk}/pet/"
    assert a.put(url, PET_BASELINE, format="json").status_code == 428
    stale = a.put(
        url, PET_BASELINE, format="json", HTTP_IF_MATCH=f'"tr{percist.tr(percist.read_a, 0).pk}-v99"'
    )
    assert stale.status_code == 412
    tag = etag_of(a, percist.tr(percist.read_a, 0).pk)
    first = a.put(url, PET_BASELINE, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200 and first["ETag"] != tag
    assert a.put(url, PET_BASELINE, format="json", HTTP_IF_MATCH=tag).status_code == 412
    # PATCH replaces only what it sends: the lesions stay.
    patched = a.patch(url, {"uptake_min": 75.5}, format="json", HTTP_IF_MATCH=first["ETag"])
    assert patched.status_code == 200, patched.content
    assert patched.json()["pet"]["uptake_min"] == 75.5
    assert [lesion["code"] for lesion in patched.json()["pet"]["lesions"]] == ["P1"]


def test_a_sulpeak_without_a_reference_region_is_refused(
    percist: TrialWithReads, api: dict[str, Any]
) -> None:
    tr0 = percist.tr(percist.read_a, 0)
    body = {"lesions": [{"code": "P1", "organ": "lung", "sul_peak": 8.0}]}
    before = counts()
    errors = refused(put(api["reader_a"], tr0.pk, "pet", body), "reference_site")
    assert "reference region" in errors["reference_site"][0]
    assert {"reference_mean", "reference_sd"} <= set(errors)
    assert counts() == before
    tr0.refresh_from_db()
    assert not tr0.has_pet and tr0.saved_at is None


def test_a_pet_scan_needs_a_pet_criterion_and_a_pet_ct_timepoint(
    irrc: TrialWithReads, manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any]
) -> None:
    before = counts()
    refused(put(api["reader_a"], irrc.tr(irrc.read_a, 0).pk, "pet", PET_BASELINE), "pet")
    mixed = _case(manager, (reader_a, reader_b), ["recist1.1", "percist"], "MIX-01")  # CT timepoints
    refused(put(api["reader_a"], mixed.tr(mixed.read_a, 0).pk, "pet", PET_BASELINE), "modality")
    assert counts()["measurements"] == before["measurements"]


def test_the_ct_and_pet_forms_of_a_pet_ct_timepoint_are_saved_apart(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any]
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "percist"], "MIX-02", modality=Modality.PET_CT)
    a = api["reader_a"]
    tr0 = case.tr(case.read_a, 0)
    ct = {"targets": [{"code": "T1", "organ": "liver", "value_mm": 50.0}], "non_targets": []}
    assert put(a, tr0.pk, "baseline", ct).status_code == 200
    both = put(a, tr0.pk, "pet", PET_BASELINE).json()
    assert [t["code"] for t in both["baseline"]["targets"]] == ["T1"]
    assert [lesion["code"] for lesion in both["pet"]["lesions"]] == ["P1"]
    again = put(a, tr0.pk, "baseline", ct).json()
    assert again["pet"]["reference_site"] == "liver" and len(again["pet"]["lesions"]) == 1


# --- iRECIST with a pre-baseline scan: the tumour growth rate ------------------------------------


def test_prebaseline_read_through_the_api(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any], password: str
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "irecist"], "TGR-01", analyses=("tgr",))
    a, m = api["reader_a"], api["manager"]
    baseline = {
        "targets": [
            {"code": "T1", "organ": "liver", "value_mm": 30.0},
            {"code": "T2", "organ": "left lung", "value_mm": 40.0},
        ],
        "non_targets": [],
    }
    saved_and_signed(a, case.tr(case.read_a, 0).pk, "baseline", baseline, reader_a, password)
    created = m.post(
        f"{API}/subjects/{case.subject.pk}/timepoints/",
        {"visit_label": "PRE", "visit_number": 0, "scan_date_earliest": "2024-11-24", "is_prebaseline": True},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["is_prebaseline"] is True
    pre = TimepointRead.objects.get(read=case.read_a, timepoint_id=created.json()["id"])
    listed = {
        row["id"]: row["form"]
        for row in a.get(f"{API}/reads/{case.read_a.pk}/timepoint-reads/").json()["results"]
    }
    assert listed[pre.pk] == "prebaseline"

    body = {"targets": [{"code": "T1", "value_mm": 20.0}, {"code": "T2", "value_mm": 30.0}]}
    stored = saved_and_signed(a, pre.pk, "prebaseline", body, reader_a, password)
    assert stored["prebaseline"] == {
        "targets": [
            {"code": "T1", "state": "MEASURED", "value_mm": 20.0},
            {"code": "T2", "state": "MEASURED", "value_mm": 30.0},
        ],
        "sum_mm": None,
    }
    assert stored["followup"] is None and stored["responses"] is None
    followup = {"targets": [{"code": "T1", "value_mm": 50.0}, {"code": "T2", "value_mm": 60.0}]}
    response = put(a, case.tr(case.read_a, 1).pk, "followup", followup)
    assert response.status_code == 200, response.content
    assert response.json()["responses"]["irecist"]["overall"] == "iUPD"
    tgr = evaluation(a, case.read_a.pk)["analyses"]["tgr"]
    assert tgr["reference_period"]["sum_start_mm"] == 50.0 and tgr["reference_period"]["days"] == 42
    assert tgr["experimental_period"]["sum_end_mm"] == 110.0


def test_a_sum_only_prebaseline_and_its_conflicts(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any], password: str
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "irecist"], "TGR-02", analyses=("tgr",))
    a, m = api["reader_a"], api["manager"]
    body = {
        "visit_label": "PRE",
        "visit_number": 0,
        "scan_date_earliest": "2024-12-01",
        "is_prebaseline": True,
    }
    created = m.post(f"{API}/subjects/{case.subject.pk}/timepoints/", body, format="json")
    assert created.status_code == 201
    pre = TimepointRead.objects.get(read=case.read_a, timepoint_id=created.json()["id"])
    # Before the baseline is saved a pre-baseline scan has nothing to be read for.
    assert put(a, pre.pk, "prebaseline", {"sum_mm": 45.0}).status_code == 409
    baseline = {"targets": [{"code": "T1", "organ": "liver", "value_mm": 30.0}], "non_targets": []}
    assert put(a, case.tr(case.read_a, 0).pk, "baseline", baseline).status_code == 200
    before = counts()
    both = {"targets": [{"code": "T1", "value_mm": 20.0}], "sum_mm": 20.0}
    assert "sum_mm" in refused(put(a, pre.pk, "prebaseline", both), "targets")["targets"][0]
    assert counts() == before
    saved = put(a, pre.pk, "prebaseline", {"sum_mm": 45.0})
    assert saved.status_code == 200 and saved.json()["prebaseline"] == {"targets": [], "sum_mm": 45.0}
    # The pre-baseline form is for pre-baseline timepoints only (and the follow-up form is not).
    assert put(a, case.tr(case.read_a, 1).pk, "prebaseline", {"sum_mm": 45.0}).status_code == 409
    assert put(a, pre.pk, "followup", {"targets": [{"code": "T1", "value_mm": 20.0}]}).status_code == 409


def test_a_prebaseline_scan_after_the_baseline_is_refused(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any]
) -> None:
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "irecist"], "TGR-03", analyses=("tgr",))
    rows = (ImagingTimepoint.objects.count(), TimepointRead.objects.count(), AuditEvent.objects.count())
    for day in ("2025-01-05", "2025-01-20"):  # the baseline's own day, and after it
        body = {"visit_label": "PRE", "visit_number": 0, "scan_date_earliest": day, "is_prebaseline": True}
        response = api["manager"].post(f"{API}/subjects/{case.subject.pk}/timepoints/", body, format="json")
        assert "before the baseline" in refused(response, "scan_date_latest")["scan_date_latest"][0]
    both = {
        "visit_label": "PRE",
        "visit_number": 0,
        "scan_date_earliest": "2024-12-01",
        "is_prebaseline": True,
        "is_baseline": True,
    }
    refused(
        api["manager"].post(f"{API}/subjects/{case.subject.pk}/timepoints/", both, format="json"),
        "is_prebaseline",
    )
    assert (
        ImagingTimepoint.objects.count(),
        TimepointRead.objects.count(),
        AuditEvent.objects.count(),
    ) == rows


def test_a_pet_lesion_code_cannot_become_a_baseline_lesion(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any]
) -> None:
    """A PET lesion code taken by a CT target or non-target: a 400 naming the item (the
    unique lesion code of the read was a 500)."""
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "percist"], "MIX-03", modality=Modality.PET_CT)
    a = api["reader_a"]
    tr0 = case.tr(case.read_a, 0)
    pet = {**PET_BASELINE, "lesions": [{"code": "T1", "organ": "lung", "sul_peak": 8.0}]}
    assert put(a, tr0.pk, "pet", pet).status_code == 200
    before = counts()
    target = {"targets": [{"code": "T1", "organ": "liver", "value_mm": 50.0}], "non_targets": []}
    assert (
        "already a PET lesion code"
        in refused(put(a, tr0.pk, "baseline", target), "targets[0].code")["targets[0].code"][0]
    )
    non_target = {
        "targets": [{"code": "T2", "organ": "liver", "value_mm": 50.0}],
        "non_targets": [{"code": "T1", "organ": "bone"}],
    }
    refused(put(a, tr0.pk, "baseline", non_target), "non_targets[0].code")
    assert counts() == before


def test_a_mixed_charter_read_evaluates_the_criteria_whose_input_is_saved(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any], password: str
) -> None:
    """RECIST 1.1 + PERCIST on PET/CT: with the CT baseline saved and no PET scan yet, the
    read's representation and evaluation answer for RECIST 1.1 (PERCIST's missing PET input
    was an InputError, a 500 on every GET of the read's timepoints); the signature waits for
    the PET scan (a PET/CT timepoint is signed with both its forms)."""
    case = _case(manager, (reader_a, reader_b), ["recist1.1", "percist"], "MIX-04", modality=Modality.PET_CT)
    a = api["reader_a"]
    ct = {"targets": [{"code": "T1", "organ": "liver", "value_mm": 50.0}], "non_targets": []}
    tr0 = case.tr(case.read_a, 0)
    assert put(a, tr0.pk, "baseline", ct).status_code == 200
    assert list(evaluation(a, case.read_a.pk)["results"]) == ["recist1.1"]
    early = sign(a, tr0.pk, reader_a, password)
    assert early.status_code == 409 and "PET scan" in early.json()["detail"]
    assert not TimepointRead.objects.get(pk=tr0.pk).locked
    # Once the PET scans are saved, PERCIST answers too, and the timepoint can be signed.
    assert put(a, tr0.pk, "pet", PET_BASELINE).status_code == 200
    assert list(evaluation(a, case.read_a.pk)["results"]) == ["recist1.1", "percist"]
    assert sign(a, tr0.pk, reader_a, password).status_code == 200
    other = TimepointRead.objects.get(pk=case.tr(case.read_b, 0).pk)
    assert put(api["reader_b"], other.pk, "pet", PET_BASELINE).status_code == 200
    assert list(evaluation(api["reader_b"], case.read_b.pk)["results"]) == ["percist"]


def test_a_read_the_charter_no_longer_fits_is_reported_not_a_server_error(
    manager: Any, reader_a: Any, reader_b: Any, api: dict[str, Any], password: str
) -> None:
    """A charter version adding irRC to a trial whose baselines have one diameter: the
    evaluation says why it cannot run (it was the engine's InputError, a 500)."""
    case = _case(manager, (reader_a, reader_b), ["recist1.1"], "CH-01")
    a = api["reader_a"]
    ct = {"targets": [{"code": "T1", "organ": "liver", "value_mm": 50.0}], "non_targets": []}
    saved_and_signed(a, case.tr(case.read_a, 0).pk, "baseline", ct, reader_a, password)
    trial_services.charter_publish(
        trial_id=case.trial.pk,
        changes={"criteria": ["recist1.1", "irrc"]},
        effective_from=dt.date(2025, 3, 1),
        reason="irRC added as a secondary criterion",
        actor=manager,
    )
    body = a.get(f"{API}/reads/{case.read_a.pk}/evaluation/").json()
    # RECIST 1.1 still evaluates; irRC is named with the engine's reason
    assert set(body["result"]["results"]) == {"recist1.1"} and body["error"] == ""
    assert "irRC needs the bidimensional measurement" in body["not_evaluable"]["irrc"]
    browser = Client()
    browser.force_login(reader_a)
    page = browser.get(f"/reads/{case.read_a.pk}/")
    assert page.status_code == 200 and "irRC needs the bidimensional measurement" in page.content.decode()
    # A charter of irRC only: nothing evaluates, and the evaluation says why
    trial_services.charter_publish(
        trial_id=case.trial.pk,
        changes={"criteria": ["irrc"], "primary_criterion": "irrc"},
        effective_from=dt.date(2025, 3, 2),
        reason="irRC only",
        actor=manager,
    )
    body = a.get(f"{API}/reads/{case.read_a.pk}/evaluation/").json()
    assert body["result"] is None and "irRC needs the bidimensional measurement" in body["error"]
    detail = a.get(f"{API}/timepoint-reads/{case.tr(case.read_a, 1).pk}/")
    assert detail.status_code == 200 and detail.json()["responses"] is None
