"""itRECIST (GOL20): group sums and responses, thresholds per group and overall, recategorisation
after baseline, group best responses, and the property that the overall response is the basis
criterion's on the same measurements."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria import itrecist
from criteria.bench import _decimal_as_number, itrecist_subject
from criteria.cli import main
from criteria.evaluate import evaluate
from criteria.parse import load_json, parse_payload, parse_subject
from criteria.types import Injection, Subject

D = Decimal


def subject(tp_values: list[dict[str, Any]], *, t1: str = "100", t2: str = "100",
            settings_: dict[str, Any] | None = None, nts: bool = False) -> dict[str, Any]:
    """T1 injected, T2 non-injected (and NT1 injected / NT2 non-injected when ``nts``);
    follow-ups 6 weeks apart with the given target values."""
    base: dict[str, Any] = {
        "subject": "S", "reference_date": "2024-01-01",
        "baseline": {"date": "2024-01-01",
                     "targets": [{"id": "T1", "organ": "skin", "mm": D(t1), "injected": True},
                                 {"id": "T2", "organ": "liver", "mm": D(t2), "injected": False}],
                     "non_targets": ([{"id": "NT1", "organ": "skin", "injected": True},
                                      {"id": "NT2", "organ": "bone", "injected": False}] if nts else [])},
        "timepoints": [],
    }
    if settings_:
        base["settings"] = settings_
    for k, values in enumerate(tp_values):
        point = {"date": f"2024-{2 + k:02d}-15", **values}
        if nts and "non_targets" not in point:
            point["non_targets"] = {"NT1": "present", "NT2": "present"}
        base["timepoints"].append(point)
    return base


def itr(data: dict[str, Any]) -> Any:
    parsed = parse_subject(load_json(json.dumps(data, default=_decimal_as_number)))
    return evaluate(parsed, ["itrecist"]).results["itrecist"]


def triple(tp: Any) -> tuple[Any, Any, str]:
    return tp.extra["injected_response"], tp.extra["non_injected_response"], tp.overall


def tgt(t1: str, t2: str) -> dict[str, Any]:
    return {"targets": {"T1": D(t1), "T2": D(t2)}}


# --- thresholds per group and overall (exactly -30%, +20% with +5 mm, one step either side) ---

RESPONSE_ROWS = [
    # T1 (injected) value, T2 (non-injected) value, injected, non-injected, overall (iRECIST basis)
    ("70", "100", "iPR", "iSD", "iSD"),      # injected exactly -30%; overall 170/200 = -15%
    ("70.1", "100", "iSD", "iSD", "iSD"),    # -29.9%
    ("100", "70", "iSD", "iPR", "iSD"),      # non-injected exactly -30%
    ("100", "70.1", "iSD", "iSD", "iSD"),
    ("70", "70", "iPR", "iPR", "iPR"),        # overall exactly -30% (140/200)
    ("70", "70.1", "iPR", "iSD", "iSD"),      # overall 140.1/200 = -29.95%
    ("0", "0", "iCR", "iCR", "iCR"),
]


@pytest.mark.parametrize(("t1", "t2", "inj", "non", "overall"), RESPONSE_ROWS)
def test_response_thresholds_per_group_and_overall(
        t1: str, t2: str, inj: str, non: str, overall: str) -> None:
    tp = itr(subject([tgt(t1, t2)])).timepoints[0]
    assert triple(tp) == (inj, non, overall)
    assert tp.extra["injected_sum_mm"] == D(t1) and tp.extra["non_injected_sum_mm"] == D(t2)
    assert tp.sum_mm == D(t1) + D(t2)


def test_group_cr_with_other_group_shrinking_half() -> None:
    tp = itr(subject([tgt("0", "50")])).timepoints[0]
    # injected 0 -> iCR; non-injected 50/100 = -50% -> iPR; overall 50/200 = -75% -> iPR
    assert triple(tp) == ("iCR", "iPR", "iPR")


PD_ROWS = [
    # baselines, follow-up, injected, non-injected, overall
    (("25", "100"), ("30", "100"), "iUPD", "iSD", "iSD"),     # injected +20% and +5 mm exactly
    (("25", "100"), ("29.9", "100"), "iSD", "iSD", "iSD"),    # +19.6%, +4.9 mm
    (("20", "100"), ("24", "100"), "iSD", "iSD", "iSD"),      # +20% but only +4 mm
    (("20", "100"), ("25", "100"), "iUPD", "iSD", "iSD"),     # +25%, +5 mm
    (("100", "25"), ("100", "30"), "iSD", "iUPD", "iSD"),     # non-injected exactly +20%, +5 mm
    (("100", "25"), ("100", "29.9"), "iSD", "iSD", "iSD"),
    (("100", "100"), ("120", "120"), "iUPD", "iUPD", "iUPD"),  # overall exactly +20% (+40 mm)
    (("100", "100"), ("120", "119.9"), "iUPD", "iSD", "iSD"),  # overall +19.95%
    # injected 12 -> 15: +25% but +3 mm; non-injected 13 -> 15: +15%; overall 25 -> 30: exactly
    # +20% and +5 mm
    (("12", "13"), ("15", "15"), "iSD", "iSD", "iUPD"),
    (("12", "13"), ("14.9", "15"), "iSD", "iSD", "iSD"),       # overall 29.9: +19.6%, +4.9 mm
]


@pytest.mark.parametrize(("base", "follow", "inj", "non", "overall"), PD_ROWS)
def test_progression_thresholds_per_group_and_overall(
        base: tuple[str, str], follow: tuple[str, str], inj: str, non: str, overall: str) -> None:
    tp = itr(subject([tgt(*follow)], t1=base[0], t2=base[1])).timepoints[0]
    assert triple(tp) == (inj, non, overall)


def test_recist_basis_uses_recist_codes_and_stops_at_pd() -> None:
    res = itr(subject([tgt("120", "120"), tgt("130", "130")],
                      settings_={"itrecist_overall_basis": "recist1.1"}))
    assert [tp.overall for tp in res.timepoints] == ["PD"]
    assert res.timepoints[0].extra["injected_response"] == "PD"
    assert res.pfs.event and res.pfs.date.isoformat() == "2024-02-15"


def test_irecist_basis_confirms_progression_per_group() -> None:
    res = itr(subject([tgt("120", "100"), tgt("125", "100")]))
    inj = [tp.extra["injected_response"] for tp in res.timepoints]
    assert inj == ["iUPD", "iCPD"]  # +5 mm further in the injected sum confirms (IR-CONF)
    assert [tp.overall for tp in res.timepoints] == ["iSD", "iSD"]  # 220/200 +10%, 225 +12.5%


def test_new_lesions_enter_non_injected_and_overall_not_injected() -> None:
    res = itr(subject([{**tgt("50", "100"), "new_lesions": [{"id": "N1", "organ": "lung", "mm": D(12)}]}]))
    tp = res.timepoints[0]
    assert tp.overall == "iUPD"
    assert (tp.extra["injected_response"], tp.extra["non_injected_response"]) == ("iPR", "iUPD")
    assert tp.extra["non_injected_new_lesions"] == "YES"


def test_non_targets_split_by_injection() -> None:
    statuses = {"NT1": "unequivocal_progression", "NT2": "present"}
    data = subject([{**tgt("50", "100"), "non_targets": statuses}], nts=True)
    tp = itr(data).timepoints[0]
    assert (tp.extra["injected_non_target"], tp.extra["non_injected_non_target"]) == (
        "iUPD", "NON-iCR/NON-iUPD")
    assert triple(tp) == ("iUPD", "iSD", "iUPD")


# --- recategorisation after baseline (ITR-RECAT, T2) -----------------------------------

def _three_lesions(setting: str | None) -> dict[str, Any]:
    data = subject([tgt("20", "30"), {**tgt("10", "40"), "injected": ["T3"]}, tgt("10", "50")],
                   t1="40", t2="30")
    data["baseline"]["targets"].append({"id": "T3", "organ": "lung", "mm": D(30), "injected": False})
    data["baseline"]["non_targets"] = [{"id": "NT1", "organ": "bone", "injected": False}]
    for tp, t3 in zip(data["timepoints"], ("30", "32", "32"), strict=True):
        tp["targets"]["T3"] = D(t3)
        tp["non_targets"] = {"NT1": "present"}
    if setting:
        data["settings"] = {"itrecist_post_baseline_injection": setting}
    return data


def test_lesion_injected_after_baseline_moves_group() -> None:
    # the hand computation of docs/contract/examples/itrecist-recategorised.json
    res = itr(_three_lesions(None))
    got = [(tp.extra["injected_sum_mm"], tp.extra["injected_response"], tp.extra["non_injected_sum_mm"],
            tp.extra["non_injected_response"]) for tp in res.timepoints]
    assert got == [(D(20), "iPR", D(60), "iSD"),      # 20/40 -50%; 60/60
                   (D(42), "iPR", D(40), "iUPD"),     # {T1,T3} 42/70 -40%; {T2} 40 vs nadir 30 +33%
                   (D(42), "iPR", D(50), "iCPD")]     # T2 +10 mm further
    assert res.timepoints[1].extra["injected_after_baseline"] == ("T3",)
    assert "injected_after_baseline" not in res.timepoints[0].extra
    assert (res.extra["injected_bor"], res.extra["non_injected_bor"]) == ("iPR", "iSD")
    assert [tp.overall for tp in res.timepoints] == ["iSD", "iSD", "iSD"]  # 80, 82, 92 vs 100 / nadir 80


def test_lesion_injected_after_baseline_kept_in_baseline_group() -> None:
    res = itr(_three_lesions("keep"))
    got = [(tp.extra["injected_sum_mm"], tp.extra["non_injected_sum_mm"], tp.extra["non_injected_response"])
           for tp in res.timepoints]
    # T2+T3: 60, 72 (vs nadir 60: +20%, +12 mm: iUPD), 82 (+10 mm: iCPD)
    assert got == [(D(20), D(60), "iSD"), (D(10), D(72), "iUPD"), (D(10), D(82), "iCPD")]
    assert res.timepoints[2].extra["injected_after_baseline"] == ("T3",)


# --- the overall response is the basis criterion's (property) ---------------------------

def _generated(seed: int) -> dict[str, Any]:
    return itrecist_subject(random.Random(seed), seed)


def _parsed(data: dict[str, Any]) -> Subject:
    parsed = parse_payload(load_json(json.dumps(data, default=_decimal_as_number)))
    assert isinstance(parsed, Subject)
    return parsed


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["irecist", "recist1.1"]))
def test_overall_equals_basis_criterion(seed: int, basis: str) -> None:
    data = _generated(seed)
    data["settings"] = {"itrecist_overall_basis": basis}
    parsed = _parsed(data)
    results = evaluate(parsed, ["itrecist", basis]).results
    ours, theirs = results["itrecist"], results[basis]
    assert [(tp.date, tp.overall, tp.sum_mm) for tp in ours.timepoints] == [
        (tp.date, tp.overall, tp.sum_mm) for tp in theirs.timepoints]
    assert (ours.bor, ours.bor_confirmed, ours.pfs) == (theirs.bor, theirs.bor_confirmed, theirs.pfs)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["irecist", "recist1.1"]))
def test_no_injected_lesion_gives_the_basis_responses(seed: int, basis: str) -> None:
    """A history with no injected lesion (the classification limits aside): the overall
    response and the non-injected response are both the basis criterion's, the injected
    response is absent."""
    data = _generated(seed)
    for point in data["timepoints"]:
        point.pop("injected", None)
    data["settings"] = {"itrecist_overall_basis": basis}
    parsed = _parsed(data)
    none_injected = Injection(dict.fromkeys(parsed.injection.baseline, False),  # type: ignore[union-attr]
                              tuple(() for _ in parsed.timepoints))
    subject_ = dataclasses.replace(parsed, injection=none_injected)
    ours = itrecist.timepoint_responses(subject_)
    theirs = evaluate(parsed, [basis]).results[basis].timepoints
    assert [tp.overall for tp in ours] == [tp.overall for tp in theirs]
    assert [tp.extra["non_injected_response"] for tp in ours] == [tp.overall for tp in theirs]
    assert [tp.extra["non_injected_sum_mm"] for tp in ours] == [tp.sum_mm for tp in theirs]
    assert all(tp.extra["injected_response"] is None for tp in ours)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6))
def test_group_sums_add_up_to_the_overall_sum(seed: int) -> None:
    res = evaluate(_parsed(_generated(seed)), ["itrecist"]).results["itrecist"]
    for tp in res.timepoints:
        if tp.sum_mm is not None:
            parts = [tp.extra.get("injected_sum_mm"), tp.extra.get("non_injected_sum_mm")]
            assert sum((p for p in parts if isinstance(p, Decimal)), D(0)) == tp.sum_mm


# --- bad input: exit 2, the field named, nothing on stdout ------------------------------

def _cli(payload: Any, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    text = json.dumps(payload, default=_decimal_as_number)
    code = main(["evaluate", "-", *args], stdin=io.StringIO(text), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _bad(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(subject([tgt("50", "100")], nts=True))
    change(data)
    return data


BAD = [
    (lambda d: d["baseline"]["targets"][1].pop("injected"), "baseline.targets[1].injected", "missing"),
    (lambda d: d["baseline"]["non_targets"][0].pop("injected"), "baseline.non_targets[0].injected",
     "missing"),
    (lambda d: d["baseline"]["targets"][0].update(injected="yes"), "baseline.targets[0].injected",
     "expected true or false"),
    (lambda d: d["baseline"]["targets"][1].update(injected=True), "baseline.targets",
     "0 non-injected target lesions"),
    (lambda d: d["baseline"]["targets"].extend(
        {"id": f"X{k}", "organ": organ, "mm": D(20), "injected": True}
        for k, organ in enumerate(["lung", "lung", "kidney", "kidney", "spleen"])), "baseline.targets",
     "6 injected target lesions"),
    (lambda d: d["baseline"]["targets"].extend(
        {"id": f"X{k}", "organ": organ, "mm": D(20), "injected": k % 2 == 0}
        for k, organ in enumerate(["lung", "lung", "kidney", "kidney", "spleen", "spleen", "bone", "bone",
                                   "brain"])), "baseline.targets", "11 target lesions: at most 10"),
    (lambda d: d["timepoints"][0].update(injected=["T9"]), "timepoints[0].injected[0]",
     "not a baseline lesion"),
    (lambda d: d["timepoints"][0].update(injected=["T1"]), "timepoints[0].injected[0]", "already injected"),
    (lambda d: d["timepoints"][0].update(injected="T2"), "timepoints[0].injected", "expected a list"),
    (lambda d: d["timepoints"][0].update(injected=[3]), "timepoints[0].injected[0]", "non-empty string"),
    (lambda d: d["settings"].update(itrecist_overall_basis="irrc") if "settings" in d
     else d.update(settings={"itrecist_overall_basis": "irrc"}), "settings.itrecist_overall_basis",
     "expected one of"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD)
def test_bad_itrecist_input_exits_2_naming_the_field(change: Any, field: str, message: str) -> None:
    code, out, err = _cli(_bad(change), "--criteria", "itrecist")
    assert (code, out) == (2, "")
    assert err.startswith(f"S: {field}: ") and message in err, err


def test_injected_without_baseline_exits_2() -> None:
    payload = {"subject": "S", "reference_date": "2024-01-01",
               "timepoints": [{"date": "2024-02-01", "overall": "PR", "injected": ["T1"]}]}
    code, out, err = _cli(payload)
    assert (code, out) == (2, "") and err.startswith("S: timepoints[0].injected: ")


def test_itrecist_without_flags_exits_2() -> None:
    data = subject([tgt("50", "100")])
    for target in data["baseline"]["targets"]:
        target.pop("injected")
    code, out, err = _cli(data, "--criteria", "itrecist")
    assert (code, out) == (2, "") and "ITR-CLASS" in err and err.startswith("S: baseline.targets: ")


def test_default_criteria() -> None:
    code, out, _ = _cli(subject([tgt("50", "100")]))
    assert code == 0 and list(json.loads(out)["results"]) == ["recist1.1", "irecist", "imrecist", "itrecist"]
    data = _bad(lambda d: d["baseline"]["targets"].extend(
        {"id": f"X{k}", "organ": organ, "mm": D(20), "injected": k % 2 == 0}
        for k, organ in enumerate(["lung", "lung", "kidney", "kidney"])))
    code, out, _ = _cli(data)
    assert code == 0 and list(json.loads(out)["results"]) == ["itrecist"]  # 6 targets: itRECIST only (T5)


def test_itrecist_at_response_level_exits_2() -> None:
    payload = {"subject": "S", "reference_date": "2024-01-01",
               "timepoints": [{"date": "2024-02-01", "overall": "PR"}]}
    code, out, err = _cli(payload, "--criteria", "itrecist")
    assert (code, out) == (2, "") and err.startswith("S: timepoints: ")


def test_results_do_not_depend_on_sentences() -> None:
    from criteria.lesions import without_sentences
    from criteria.serialize import subject_json
    for seed in range(40):
        parsed = _parsed(_generated(seed))
        explained = subject_json(evaluate(parsed, ["itrecist"]), explain=True)
        with without_sentences():
            quiet = subject_json(evaluate(parsed, ["itrecist"]))
        for result in explained["results"].values():
            result.pop("why", None)
            result.pop("defaults", None)
            for tp in result["timepoints"]:
                tp.pop("why", None)
        assert explained == quiet
