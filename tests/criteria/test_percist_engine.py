"""PERCIST family (criteria.percist): boundary tables with exact Decimals, iPERCIST confirmation,
imPERCIST5 sums, PERCIMT counts, metabolic PFS, and the pet input's validation through the CLI.

Expected codes are worked out from the rules (criteria-rules.md §8, AMBIGUITIES.md P1-P8) in the
comments, not read back from the engine.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria.cli import main
from criteria.evaluate import evaluate, supported_criteria
from criteria.parse import parse_subject
from criteria.percist import measurability_threshold
from criteria.types import PetReference

D = Decimal
LIVER = {"site": "liver", "mean": D("2.0"), "sd": D("0.3")}  # threshold 1.5 x 2.0 + 2 x 0.3 = 3.6


def lesion(lid: str, sul: str, organ: str = "lung", **kw: Any) -> dict[str, Any]:
    return {"id": lid, "organ": organ, "sul_peak": D(sul), **kw}


def scan(date: str, lesions: list[dict[str, Any]], ref: dict[str, Any] | None = None,
         uptake: int = 60, **kw: Any) -> dict[str, Any]:
    return {"date": date, "uptake_min": D(uptake), "reference": ref or LIVER, "lesions": lesions, **kw}


def pet_subject(baseline: list[dict[str, Any]], follow: list[dict[str, Any]],
                ref: dict[str, Any] | None = None, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"subject": "S", "reference_date": "2024-01-01",
                             "pet": {"baseline": scan("2023-12-28", baseline, ref), "timepoints": follow}}
    if settings:
        value["settings"] = settings
    return value


def codes(value: dict[str, Any], criterion: str) -> list[str]:
    result = evaluate(parse_subject(value), [criterion]).results[criterion]
    return [tp.overall for tp in result.timepoints]


def one(base_sul: str, fu_sul: str, criterion: str = "percist", ref: dict[str, Any] | None = None) -> str:
    value = pet_subject([lesion("L1", base_sul)], [scan("2024-03-01", [lesion("L1", fu_sul)], ref)], ref)
    return codes(value, criterion)[0]


# --- PERC-PMR / PERC-PMD boundaries ------------------------------------------------------------
# A -30% change and a -0.8 SUL change cannot fall on the same exact decimal (0.3 x b = 0.8 gives
# b = 8/3), so each condition is tested where it binds: b = 10 (30% = 3.0 SUL, the % binds) and
# b = 4 with a low liver (30% = 1.2 SUL... no: 0.8 SUL = 20%, the % binds) -- see the rows.

@pytest.mark.parametrize(("base", "fu", "expected"), [
    # b = 10.0: 30% = 3.0 SUL > 0.8, the percentage binds
    ("10.0", "7.00", "PMR"),   # exactly -30% and -3.0 SUL: PMR (>= 30% and >= 0.8)
    ("10.0", "7.01", "SMD"),   # -29.9%
    ("10.0", "6.99", "PMR"),
    ("10.0", "13.00", "SMD"),  # exactly +30%: PMD needs > 30%
    ("10.0", "13.01", "PMD"),
    ("10.0", "12.99", "SMD"),
    # b = 2.0 (measurable under the low liver below): 0.8 SUL = 40% > 30%, the SUL units bind
    ("2.0", "1.20", "PMR"),    # -0.8 SUL exactly (-40%): PMR
    ("2.0", "1.21", "SMD"),    # -0.79 SUL (-39.5%)
    ("2.0", "1.19", "PMR"),
    ("2.0", "2.80", "SMD"),    # +0.8 exactly (+40%): PMD needs > 0.8
    ("2.0", "2.81", "PMD"),
    ("2.0", "2.79", "SMD"),
])
def test_pmr_pmd_boundaries(base: str, fu: str, expected: str) -> None:
    # liver mean 1.0, SD 0.25: threshold 1.5 + 0.5 = 2.0 (b = 2.0 exactly measurable); CMR needs
    # every lesion <= 1.0, which no row reaches
    low = {"site": "liver", "mean": D("1.0"), "sd": D("0.25")}
    assert one(base, fu, ref=low) == expected


@pytest.mark.parametrize(("base", "expected"), [
    ("3.60", "PMR"),  # exactly 1.5 x 2.0 + 2 x 0.3: measurable; 3.60 -> 2.52 is -30%, -1.08 SUL
    ("3.59", "NE"),   # below the threshold: not measurable, no quantitative response (PERC-MEAS)
    ("3.61", "PMR"),
])
def test_liver_measurability_edge(base: str, expected: str) -> None:
    fu = str(D(base) * D("0.7"))
    assert one(base, fu) == expected


def test_blood_pool_threshold_is_two_times_mean_plus_two_sd() -> None:
    ref = PetReference("blood_pool", D("1.5"), D("0.2"))
    assert measurability_threshold(ref) == D("3.4")
    pool = {"site": "blood_pool", "mean": D("1.5"), "sd": D("0.2")}
    assert one("3.4", "2.0", ref=pool) == "PMR"   # -41%, -1.4 SUL
    assert one("3.39", "2.0", ref=pool) == "NE"


def test_cmr_at_or_below_the_reference_mean() -> None:
    assert one("10.0", "2.0") == "CMR"   # 2.0 <= liver mean 2.0
    assert one("10.0", "2.01") == "PMR"  # above the liver: -79.9%, PMR only


def test_hottest_lesion_may_change() -> None:
    # baseline hottest L1 10.0; at follow-up L1 falls to 3 but L2 (5.0 at baseline) rises to 13.5:
    # the hottest lesion is now L2, +35% and +3.5 SUL over the baseline hottest: PMD
    value = pet_subject([lesion("L1", "10.0"), lesion("L2", "5.0", "liver")],
                        [scan("2024-03-01", [lesion("L1", "3.0"), lesion("L2", "13.5", "liver")])])
    assert codes(value, "percist") == ["PMD"]


def test_new_lesion_is_pmd_and_tlg_rule() -> None:
    value = pet_subject([lesion("L1", "10.0")],
                        [scan("2024-03-01", [lesion("L1", "5.0"), lesion("N1", "4.0", new=True)])])
    assert codes(value, "percist") == ["PMD"]
    # TLG 100 -> 175 (+75%) with SULpeak 10 -> 10.5 (no decline): PMD; 174 -> SMD
    for tlg, expected in (("175", "PMD"), ("174", "SMD")):
        value = pet_subject([lesion("L1", "10.0", tlg=D(100))],
                            [scan("2024-03-01", [lesion("L1", "10.5", tlg=D(tlg))])])
        assert codes(value, "percist") == [expected]


@pytest.mark.parametrize(("uptake", "fu_mean", "flagged"), [
    (75, "2.0", False), (76, "2.0", True),     # uptake 60 at baseline: within 15 min
    (60, "2.3", False), (60, "2.31", True),    # 0.3 SUL and 15% (20% would be 2.4)
    (60, "1.7", False), (60, "1.69", True),
])
def test_quality_checks(uptake: int, fu_mean: str, flagged: bool) -> None:
    ref = {"site": "liver", "mean": D(fu_mean), "sd": D("0.3")}
    value = pet_subject([lesion("L1", "10.0")], [scan("2024-03-01", [lesion("L1", "9.0")], ref, uptake)])
    tp = evaluate(parse_subject(value), ["percist"]).results["percist"].timepoints[0]
    assert ("quality" in tp.extra) is flagged
    assert tp.overall == "SMD"
    value["settings"] = {"percist_quality_failure_ne": True}
    assert codes(value, "percist") == (["NE"] if flagged else ["SMD"])


# --- iPERCIST -----------------------------------------------------------------------------------

_DATES = ("2024-03-01", "2024-03-29", "2024-04-26")


def _history(*suls: str, dates: tuple[str, ...] = _DATES) -> dict[str, Any]:
    return pet_subject([lesion("L1", "10.0")],
                       [scan(d, [lesion("L1", s)]) for d, s in zip(dates, suls, strict=False)])


def test_ipercist_confirmation_and_reset() -> None:
    # PMD (14) then PMD 28 days later: UPMD, CPMD; PFS at the UPMD date
    value = _history("14", "14.5")
    assert codes(value, "ipercist") == ["UPMD", "CPMD"]
    result = evaluate(parse_subject(value), ["ipercist"]).results["ipercist"]
    assert (result.pfs.event, str(result.pfs.date)) == (True, "2024-03-01")
    # PMD, SMD (reset), PMD: UPMD, SMD, UPMD (a new block); unconfirmed at the end: event (P5)
    value = _history("14", "10", "14")
    assert codes(value, "ipercist") == ["UPMD", "SMD", "UPMD"]
    result = evaluate(parse_subject(value), ["ipercist"]).results["ipercist"]
    assert (result.pfs.event, str(result.pfs.date)) == (True, "2024-04-26")
    value["settings"] = {"ipercist_unconfirmed_upmd": "censor"}
    result = evaluate(parse_subject(value), ["ipercist"]).results["ipercist"]
    assert (result.pfs.event, str(result.pfs.date)) == (False, "2024-03-29")


@pytest.mark.parametrize(("second", "expected"), [
    ("2024-03-28", "UPMD"),  # 27 days: before the 28-day window, not confirmatory
    ("2024-03-29", "CPMD"),  # 28 days
    ("2024-06-01", "CPMD"),  # 92 days: later than 56 still confirms (P4)
])
def test_ipercist_window(second: str, expected: str) -> None:
    value = _history("14", "14", dates=("2024-03-01", second))
    assert codes(value, "ipercist")[1] == expected


def test_percist_pfs_is_first_pmd() -> None:
    value = _history("9", "14", "10")
    result = evaluate(parse_subject(value), ["percist"]).results["percist"]
    assert [tp.overall for tp in result.timepoints] == ["SMD", "PMD", "SMD"]
    assert (result.pfs.event, str(result.pfs.date), result.bor) == (True, "2024-03-29", "SMD")


# --- imPERCIST5 ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("fu", "threshold", "expected"), [
    ("13.0", "30", "PMD"),   # sum 10 -> 13: exactly +30%, ">= 30%" (Ito 2019)
    ("12.99", "30", "SMD"),
    ("12.0", "20", "SMD"),   # exactly +20%: "> 20%" (JNCCN360, A10)
    ("12.01", "20", "PMD"),
    ("7.0", "30", "PMR"),    # exactly -30%
    ("7.01", "30", "SMD"),
])
def test_impercist5_sum_thresholds(fu: str, threshold: str, expected: str) -> None:
    # baseline L1 6 + L2 4 = 10; follow-up L1 = fu - 4, L2 = 4
    value = pet_subject([lesion("L1", "6.0"), lesion("L2", "4.0", "bone")],
                        [scan("2024-03-01", [lesion("L1", str(D(fu) - 4)), lesion("L2", "4.0", "bone")])],
                        settings={"impercist5_pmd_threshold": threshold})
    assert codes(value, "impercist5") == [expected]


def test_impercist5_new_lesions_join_the_sum_but_do_not_define_pmd() -> None:
    # baseline 10 (one lesion); follow-up L1 9 + new N1 4 = 13: +30% PMD with new lesions in the
    # sum (P3 default); without them 9 -> SMD. PERCIST itself says PMD (a new lesion).
    value = pet_subject([lesion("L1", "10.0")],
                        [scan("2024-03-01", [lesion("L1", "9.0"), lesion("N1", "4.0", "bone", new=True)])])
    assert codes(value, "impercist5") == ["PMD"]
    assert codes(value, "percist") == ["PMD"]
    value["settings"] = {"impercist5_new_lesions_in_sum": False}
    assert codes(value, "impercist5") == ["SMD"]
    # a small new lesion (3.0, sum 9 + 3 = 12, +20%) alone: SMD, not PMD
    value = pet_subject([lesion("L1", "10.0")],
                        [scan("2024-03-01", [lesion("L1", "9.0"), lesion("N1", "3.0", "bone", new=True)])])
    assert codes(value, "impercist5") == ["SMD"]


def test_impercist5_two_per_organ_five_total() -> None:
    # baseline: lung 9, 8, 7 (only two count) + bone 2 x 4 + liver 3 = 9 + 8 + 4 + 4 + 3 = 28
    base = [lesion("A", "9", "lung"), lesion("B", "8", "lung"), lesion("C", "7", "lung"),
            lesion("D", "4", "bone"), lesion("E", "4", "bone"), lesion("F", "3.7", "liver")]
    # follow-up: lung C rises to 30 -> lungs 30 + 9 = 39, bone 4 + 4, liver 3.7: 50.7 vs 28.7 (+76%)
    fu = [lesion("A", "9", "lung"), lesion("B", "8", "lung"), lesion("C", "30", "lung"),
          lesion("D", "4", "bone"), lesion("E", "4", "bone"), lesion("F", "3.7", "liver")]
    value = pet_subject(base, [scan("2024-03-01", fu)])
    tp = evaluate(parse_subject(value), ["impercist5"]).results["impercist5"].timepoints[0]
    assert tp.extra["sul_peak_sum_baseline"] == "28.7"
    assert tp.extra["sul_peak_sum"] == "50.7"
    assert tp.overall == "PMD"


# --- PERCIMT ------------------------------------------------------------------------------------

def _percimt(sizes: list[str], keep_baseline: bool = True, four: str = "any") -> str:
    news = [lesion(f"N{k}", "5", "skin", new=True, mm=D(mm)) for k, mm in enumerate(sizes)]
    old = [lesion("L1", "8")] if keep_baseline else []
    value = pet_subject([lesion("L1", "10"), lesion("L2", "6", "bone")], [scan("2024-03-01", old + news)],
                        settings={"percimt_four_count": four})
    return codes(value, "percimt")[0]


@pytest.mark.parametrize(("sizes", "four", "expected"), [
    (["5", "5", "5", "5"], "any", "PMD"),     # >= 4 new lesions
    (["5", "5", "5"], "any", "SMD"),          # 3 small: below every count, rules out PMR
    (["11", "11", "11"], "any", "PMD"),       # >= 3 > 1.0 cm
    (["10", "10", "10"], "any", "SMD"),       # exactly 1.0 cm is not > 1.0 cm
    (["16", "16"], "any", "PMD"),             # >= 2 > 1.5 cm
    (["15", "15"], "any", "SMD"),             # exactly 1.5 cm is not > 1.5 cm
    (["5", "5", "5", "12"], "any", "PMD"),    # four of any size (P6 default)
    (["5", "5", "5", "12"], "small", "SMD"),  # only three < 1.0 cm, one > 1.0 cm
    (["9.9", "9.9", "9.9", "9.9"], "small", "PMD"),
])
def test_percimt_counts(sizes: list[str], four: str, expected: str) -> None:
    assert _percimt(sizes, four=four) == expected


def test_percimt_cmr_pmr() -> None:
    assert _percimt([]) == "PMR"  # L2 resolved (absent), L1 still avid
    assert _percimt([], keep_baseline=False) == "CMR"


def test_percimt_new_lesion_without_size_is_ne_when_it_could_decide() -> None:
    value = pet_subject([lesion("L1", "10")],
                        [scan("2024-03-01", [lesion("N1", "5", new=True, mm=D(16)),
                                             lesion("N2", "5", new=True)])])
    assert codes(value, "percimt") == ["NE"]


# --- default criteria, PET-only input, validation -----------------------------------------------

def test_pet_only_input_defaults_to_the_percist_family() -> None:
    subject = parse_subject(_history("9"))
    assert supported_criteria(subject) == ("percist", "ipercist", "impercist5", "percimt")
    assert list(evaluate(subject).results) == ["percist", "ipercist", "impercist5", "percimt"]


def _cli(payload: Any, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["evaluate", "-", *args], stdin=io.StringIO(json.dumps(payload, default=float)),
                stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _bad(path: list[Any], value: Any) -> dict[str, Any]:
    payload: Any = json.loads(json.dumps(_history("9"), default=float))
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return payload


@pytest.mark.parametrize(("path", "value", "field"), [
    (["pet", "timepoints", 0, "lesions", 0, "sul_peak"], -1, "pet.timepoints[0].lesions[0].sul_peak"),
    (["pet", "timepoints", 0, "lesions", 0, "sul_peak"], 101, "pet.timepoints[0].lesions[0].sul_peak"),
    (["pet", "timepoints", 0, "lesions", 0, "sul_peak"], "hot", "pet.timepoints[0].lesions[0].sul_peak"),
    (["pet", "timepoints", 0, "lesions", 0, "suv"], 3, "pet.timepoints[0].lesions[0].suv"),
    (["pet", "baseline", "reference", "site"], "spleen", "pet.baseline.reference.site"),
    (["pet", "baseline", "reference", "mean"], 0, "pet.baseline.reference.mean"),
    (["pet", "baseline", "reference", "sd"], -0.1, "pet.baseline.reference.sd"),
    (["pet", "baseline", "uptake_min"], 0, "pet.baseline.uptake_min"),
    (["pet", "baseline", "lesions", 0, "new"], True, "pet.baseline.lesions[0].new"),
    (["pet", "timepoints", 0, "date"], "2023-12-01", "pet.timepoints[0].date"),
    (["pet", "tracer"], "PSMA", "pet.tracer"),
    (["pet", "extra"], 1, "pet.extra"),
    (["pet", "timepoints", 0, "lesions", 0, "mm"], -3, "pet.timepoints[0].lesions[0].mm"),
])
def test_bad_pet_input_exits_2_naming_the_field(path: list[Any], value: Any, field: str) -> None:
    code, out, err = _cli(_bad(path, value))
    assert (code, out) == (2, "")
    assert f"S: {field}: " in err


def test_ct_criterion_on_pet_only_input_exits_2() -> None:
    code, out, err = _cli(json.loads(json.dumps(_history("9"), default=float)), "--criteria", "recist1.1")
    assert (code, out) == (2, "")
    assert "S: baseline: " in err


# --- properties -----------------------------------------------------------------------------------

_SUL = st.decimals(min_value=D("0"), max_value=D("30"), places=2)


@settings(max_examples=150, deadline=None)
@given(st.lists(_SUL, min_size=1, max_size=6))
def test_ipercist_is_percist_until_the_first_pmd(suls: list[Decimal]) -> None:
    # without new lesions, iPERCIST equals PERCIST up to the first PMD, which it calls UPMD
    dates = [f"2024-{m:02d}-01" for m in range(2, 2 + len(suls))]
    value = pet_subject([lesion("L1", "10.0")], [scan(d, [lesion("L1", str(s))]) for d, s in zip(dates, suls,
                                                                                                 strict=True)])
    p, i = codes(value, "percist"), codes(value, "ipercist")
    first = next((k for k, c in enumerate(p) if c == "PMD"), len(p))
    assert i[:first] == p[:first]
    if first < len(p):
        assert i[first] == "UPMD"
    # the quantitative PERCIST reading, independently: PMR <=> -30% and -0.8; PMD <=> +30% and +0.8
    for s, c in zip(suls, p, strict=True):
        d = s - D(10)
        if s <= D("2.0"):
            assert c == "CMR"
        elif d * 100 > 30 * 10 and d > D("0.8"):
            assert c == "PMD"
        elif -d * 100 >= 30 * 10 and -d >= D("0.8"):
            assert c == "PMR"
        else:
            assert c == "SMD"


def test_pet_beside_ct_input_leaves_the_ct_results_unchanged() -> None:
    from pathlib import Path

    from criteria.parse import load_json
    from criteria.serialize import subject_json

    root = Path(__file__).resolve().parents[2]
    ct = load_json((root / "docs/contract/examples/measurement-level.json").read_text(encoding="utf-8"))
    both = dict(ct)
    both["pet"] = _history("9")["pet"]
    plain, mixed = parse_subject(ct), parse_subject(both)
    pet = ("percist", "ipercist", "impercist5", "percimt")
    assert supported_criteria(mixed) == (*supported_criteria(plain), *pet)
    ct_only = subject_json(evaluate(plain))
    with_pet = subject_json(evaluate(mixed, list(supported_criteria(plain))))
    assert ct_only == with_pet


def test_missed_scan_is_ne_and_keeps_the_upmd_open() -> None:
    value = _history("14")
    value["pet"]["timepoints"] += [{"date": "2024-03-29", "not_done": True},
                                   scan("2024-04-26", [lesion("L1", "14")])]
    assert codes(value, "percist") == ["PMD", "NE", "PMD"]
    assert codes(value, "ipercist") == ["UPMD", "NE", "CPMD"]  # 56 days after the UPMD
    result = evaluate(parse_subject(value), ["ipercist"]).results["ipercist"]
    assert (result.pfs.event, str(result.pfs.date)) == (True, "2024-03-01")


def test_no_follow_up_scan_has_no_bor_and_is_censored_at_the_reference_date() -> None:
    value = pet_subject([lesion("L1", "10.0")], [])
    result = evaluate(parse_subject(value), ["percist"]).results["percist"]
    assert (result.bor, result.pfs.event, str(result.pfs.date)) == (None, False, "2024-01-01")


def test_explain_output_is_json_with_rule_ids() -> None:
    code, out, err = _cli(json.loads(json.dumps(_history("14", "14.5"), default=float)), "--explain")
    assert (code, err) == (0, "")
    result = json.loads(out)["results"]["ipercist"]
    assert any("IPERC-CPMD" in why for why in result["timepoints"][1]["why"])
