"""Published and reference cases, table-driven, through the CLI path.

Every case is contract JSON (``docs/criteria-cli.md``) serialised to text and
run through ``criteria.parse.parse`` -> ``criteria.evaluate.evaluate`` ->
``criteria.serialize.subject_json``: the very path of ``python -m criteria evaluate`` (a few
cases also go through the subprocess). Each case cites its rule id in
``reference/criteria-rules.md`` and carries the hand-computed expectation in a comment.
Settings are the documented defaults (``criteria.types.Settings``) unless a case is about a
setting.

Cases that are right to the letter of the source but fail today are marked
``xfail(strict=True, reason="ENGINE BUG: ...")``: flip them once the engine is fixed.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria.errors import InputError
from criteria.evaluate import evaluate
from criteria.parse import parse
from criteria.serialize import subject_json

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "contract" / "examples"
START = dt.date(2024, 1, 1)


# --- builders ------------------------------------------------------------------------------

def day(n: int) -> str:
    """ISO date ``n`` days after the baseline / reference date 2024-01-01."""
    return (START + dt.timedelta(days=n)).isoformat()


def subject(targets: list[tuple[Any, ...]], visits: list[tuple[int, dict[str, Any]]],
            non_targets: list[tuple[str, str, bool]] = (), settings: dict[str, Any] | None = None,
            death: int | None = None) -> dict[str, Any]:
    """Contract JSON. ``targets``: (id, mm, organ, node); ``visits``: (day, timepoint fields)."""
    data: dict[str, Any] = {
        "subject": "PUB",
        "reference_date": day(0),
        "baseline": {
            "date": day(0),
            "targets": [{"id": i, "mm": mm, "organ": organ, "node": node} for i, mm, organ, node in targets],
            "non_targets": [{"id": i, "organ": organ, "node": node} for i, organ, node in non_targets],
        },
        "timepoints": [{"date": day(n), **fields} for n, fields in visits],
    }
    if settings:
        data["settings"] = settings
    if death is not None:
        data["death_date"] = day(death)
    return data


def response_subject(codes: list[str], every: int = 56, first: int | None = None,
                     settings: dict[str, Any] | None = None, death: int | None = None) -> dict[str, Any]:
    """Response-level JSON: overall codes at ``first`` (default ``every``) then every ``every`` days."""
    start = every if first is None else first
    data: dict[str, Any] = {
        "subject": "PUB-R",
        "reference_date": day(0),
        "timepoints": [{"date": day(start + k * every), "overall": c} for k, c in enumerate(codes)],
    }
    if settings:
        data["settings"] = settings
    if death is not None:
        data["death_date"] = day(death)
    return data


def nl(lesion_id: str, mm: Any, organ: str = "lung", node: bool = False, **extra: Any) -> dict[str, Any]:
    return {"id": lesion_id, "organ": organ, "node": node, "mm": mm, **extra}


def run(data: dict[str, Any], criteria: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The CLI path on JSON *text* (numbers parsed as exact Decimals, as the CLI does)."""
    subj = parse(json.dumps(data))
    assert not isinstance(subj, list)
    return subject_json(evaluate(subj, criteria))["results"]


def overall(data: dict[str, Any], criterion: str) -> list[str]:
    return [tp["overall"] for tp in run(data, (criterion,))[criterion]["timepoints"]]


def one(data: dict[str, Any], criterion: str) -> dict[str, Any]:
    return run(data, (criterion,))[criterion]


def engine_bug(reason: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=f"ENGINE BUG: {reason}")


# Two targets in different organs, sum 80; one bone non-target.
T80 = [("T1", 50, "liver", False), ("T2", 30, "lung", False)]
NT1 = [("NT1", "bone", False)]


# --- RECIST 1.1 Table 1 (R11-TPR-T1): one follow-up, baseline sum 80 -----------------------

TABLE1 = [
    # (id, targets, non-target status, new lesions, expected target, non-target, new, overall)
    # CR / CR / no -> CR
    ("cr-cr", {"T1": 0, "T2": 0}, "absent", [], "CR", "CR", "NO", "CR"),
    # CR / non-CR/non-PD / no -> PR
    ("cr-noncr", {"T1": 0, "T2": 0}, "present", [], "CR", "NON-CR/NON-PD", "NO", "PR"),
    # CR / not evaluated / no -> PR
    ("cr-ne", {"T1": 0, "T2": 0}, "not_evaluated", [], "CR", "NE", "NO", "PR"),
    # PR (30+20=50, -37.5%) / non-PD -> PR ; PR / not all evaluated -> PR
    ("pr-noncr", {"T1": 30, "T2": 20}, "present", [], "PR", "NON-CR/NON-PD", "NO", "PR"),
    ("pr-ne", {"T1": 30, "T2": 20}, "not_evaluated", [], "PR", "NE", "NO", "PR"),
    # SD (45+30=75, -6.25%) / non-PD -> SD ; SD / not all evaluated -> SD
    ("sd-noncr", {"T1": 45, "T2": 30}, "present", [], "SD", "NON-CR/NON-PD", "NO", "SD"),
    ("sd-ne", {"T1": 45, "T2": 30}, "not_evaluated", [], "SD", "NE", "NO", "SD"),
    # not all evaluated (T1 missing, 30 mm assessed proves nothing) / non-PD -> NE
    ("ne-noncr", {"T1": None, "T2": 30}, "present", [], "NE", "NON-CR/NON-PD", "NO", "NE"),
    # PD (70+30=100, +25%, +20 mm) / any -> PD
    ("pd-cr", {"T1": 70, "T2": 30}, "absent", [], "PD", "CR", "NO", "PD"),
    # any / PD -> PD
    ("sd-ntpd", {"T1": 45, "T2": 30}, "unequivocal_progression", [], "SD", "PD", "NO", "PD"),
    ("ne-ntpd", {"T1": None, "T2": 30}, "unequivocal_progression", [], "NE", "PD", "NO", "PD"),
    # any / any / yes -> PD
    ("pr-new", {"T1": 30, "T2": 20}, "present", [nl("N1", 12)], "PR", "NON-CR/NON-PD", "YES", "PD"),
    ("cr-cr-new", {"T1": 0, "T2": 0}, "absent", [nl("N1", 4, "liver")], "CR", "CR", "YES", "PD"),
    # contract: further_increase is not RECIST progression by itself -> SD
    ("sd-further", {"T1": 45, "T2": 30}, "further_increase", [], "SD", "NON-CR/NON-PD", "NO", "SD"),
    # R11-EQUIVOCAL: an equivocal new lesion is not PD -> SD, new-lesion category EQUIVOCAL
    ("sd-equivocal", {"T1": 45, "T2": 30}, "present", [nl("N1", 8, equivocal=True)],
     "SD", "NON-CR/NON-PD", "EQUIVOCAL", "SD"),
]


@pytest.mark.parametrize("case", TABLE1, ids=[c[0] for c in TABLE1])
def test_recist_table1(case: tuple[Any, ...]) -> None:
    _, targets, status, new, e_target, e_nt, e_new, e_overall = case
    data = subject(T80, [(56, {"targets": targets, "non_targets": {"NT1": status}, "new_lesions": new})], NT1)
    tp = one(data, "recist1.1")["timepoints"][0]
    got = (tp["target"], tp["non_target"], tp["new_lesions"], tp["overall"])
    assert got == (e_target, e_nt, e_new, e_overall)


# --- RECIST 1.1 Table 2 (R11-TPR-T2): non-target disease only ------------------------------

NT_ONLY = [("NT1", "bone", False), ("NT2", "pleura", False)]
TABLE2 = [
    ("cr", {"NT1": "absent", "NT2": "absent"}, [], "CR"),
    ("noncr", {"NT1": "absent", "NT2": "present"}, [], "NON-CR/NON-PD"),
    ("ne", {"NT1": "absent", "NT2": "not_evaluated"}, [], "NE"),
    ("pd", {"NT1": "present", "NT2": "unequivocal_progression"}, [], "PD"),
    ("new", {"NT1": "absent", "NT2": "absent"}, [nl("N1", 11)], "PD"),
    ("ne-new", {"NT1": "not_evaluated", "NT2": "present"}, [nl("N1", 11)], "PD"),
]


@pytest.mark.parametrize("case", TABLE2, ids=[c[0] for c in TABLE2])
def test_recist_table2_non_target_only(case: tuple[Any, ...]) -> None:
    _, statuses, new, expected = case
    data = subject([], [(56, {"non_targets": statuses, "new_lesions": new})], NT_ONLY)
    tp = one(data, "recist1.1")["timepoints"][0]
    assert tp["target"] == "NA"
    assert tp["overall"] == expected


def test_recist_table2_bor_non_cr_non_pd() -> None:
    # R11-TPR-T2 + AO-BOR bor_non_crpd: NON-CR/NON-PD at day 56 (>= 42) is the BOR.
    data = subject([], [(56, {"non_targets": {"NT1": "present", "NT2": "present"}})], NT_ONLY)
    assert one(data, "recist1.1")["bor"] == "NON-CR/NON-PD"
    # iRECIST T3-NOTE-NT-ONLY: only iCR or NON-iCR/NON-iUPD.
    ir = one(data, "irecist")
    assert ir["timepoints"][0]["overall"] == "NON-iCR/NON-iUPD"
    assert ir["bor"] == "NON-iCR/NON-iUPD"


# --- R11-MISSING -----------------------------------------------------------------------------

THREE = [("T1", 20, "liver", False), ("T2", 15, "lung", False), ("T3", 15, "spleen", False)]  # 50 mm


def test_r11_missing_published_example_pd() -> None:
    # R11-MISSING: baseline 50 mm over 3 lesions; 2 lesions give 80 mm -> PD whatever the third.
    data = subject(THREE, [(56, {"targets": {"T1": 50, "T2": 30, "T3": None}})])
    tp = one(data, "recist1.1")["timepoints"][0]
    assert tp["target"] == "PD" and tp["overall"] == "PD"
    # iRECIST (IR-BASE): the same measurements are iUPD; imRECIST: PD from the SLD.
    assert overall(data, "irecist") == ["iUPD"]
    assert overall(data, "imrecist") == ["PD"]


def test_r11_missing_not_proven_is_ne() -> None:
    # R11-MISSING: 2 lesions give 55 mm (+10% over 50): the third could change the answer -> NE.
    data = subject(THREE, [(56, {"targets": {"T1": 35, "T2": 20, "T3": None}})])
    assert overall(data, "recist1.1") == ["NE"]


def test_r11_missing_scan_not_done_is_ne() -> None:
    # R11-MISSING: no imaging at a timepoint -> NE in every category.
    data = subject(T80, [(56, {"scan": "not_done"})], NT1)
    tp = one(data, "recist1.1")["timepoints"][0]
    assert (tp["target"], tp["non_target"], tp["new_lesions"], tp["overall"]) == ("NE", "NE", "NE", "NE")


# --- R11-NADIR, FAQ-SD-DEF, FAQ-MANAGING-PR (A1) ----------------------------------------------

def test_nadir_includes_baseline() -> None:
    # R11-NADIR: baseline 50 is the smallest sum; 60 is +20% and +10 mm -> PD.
    data = subject([("T1", 50, "liver", False)], [(56, {"targets": {"T1": 60}})])
    assert overall(data, "recist1.1") == ["PD"]


def test_nadir_on_study() -> None:
    # R11-NADIR: 100 -> 60 (PR, nadir 60) -> 72 (+20%, +12 mm over nadir) -> PD, although
    # 72 is still 28% below baseline.
    data = subject([("T1", 60, "liver", False), ("T2", 40, "lung", False)],
                   [(56, {"targets": {"T1": 35, "T2": 25}}), (112, {"targets": {"T1": 47, "T2": 25}})])
    assert overall(data, "recist1.1") == ["PR", "PD"]


def test_faq_sd_def_165_63_65_continued_pr() -> None:
    # FAQ-SD-DEF: 165 -> 63 -> 65 mm is continued PR (+2 mm over the nadir 63 is not PD).
    data = subject([("T1", 100, "liver", False), ("T2", 65, "lung", False)],
                   [(56, {"targets": {"T1": 38, "T2": 25}}), (112, {"targets": {"T1": 40, "T2": 25}})])
    out = one(data, "recist1.1")
    assert [tp["overall"] for tp in out["timepoints"]] == ["PR", "PR"]
    assert [tp["sum_mm"] for tp in out["timepoints"]] == [63.0, 65.0]
    assert out["timepoints"][1]["nadir_ref_mm"] == 63.0


MANAGING_PR = [(56 * (k + 1), {"targets": {"T1": s - 40, "T2": 40}})
               for k, s in enumerate((70, 70, 80, 80, 80))]
T100 = [("T1", 60, "liver", False), ("T2", 40, "lung", False)]


def test_faq_managing_pr_default_a1_recist_and_irecist() -> None:
    # FAQ-MANAGING-PR / FAQ-IR-MANAGING-PR: sums 100 (baseline), 70, 70, 80, 80, 80 -> PR at
    # every time point (80 is +14.3% over the nadir 70: not PD). Default A1.
    data = subject(T100, MANAGING_PR)
    assert overall(data, "recist1.1") == ["PR"] * 5
    assert overall(data, "irecist") == ["iPR"] * 5
    assert overall(data, "imrecist") == ["PR"] * 5
    out = one(data, "recist1.1")
    assert out["bor"] == "PR" and out["bor_confirmed"] == "PR"


def test_managing_pr_literal_a1_setting() -> None:
    # A1 other reading (RECIST 1.1 §4.3.1 literal): 80/100 = -20% is SD.
    data = subject(T100, MANAGING_PR, settings={"pr_continues_until_pd": False})
    assert overall(data, "recist1.1") == ["PR", "PR", "SD", "SD", "SD"]
    # BOR is the same either way (A1 note).
    assert one(data, "recist1.1")["bor"] == "PR"


# --- node rule, TSTM, split (R11-CR, R11-NODE-RECORD, R11-TSTM, CDISC-TSTM, R11-SPLIT) ---------

NODE_BASE = [("T1", 30, "liver", False), ("T2", 20, "mediastinal lymph node", True)]


@pytest.mark.parametrize("node_mm, target, total", [
    (9, "CR", 9.0),     # R11-CR + R11-NODE-RECORD: node SA 9 < 10 and liver 0 -> CR with sum 9
    (10, "PR", 10.0),   # node 10 mm is not normal: not CR; 10/50 = -80% -> PR
    ("TSTM", "CR", 5.0),  # R11-TSTM: a node too small to measure counts 5 mm (< 10 -> normal)
])
def test_node_cr_rule(node_mm: Any, target: str, total: float) -> None:
    data = subject(NODE_BASE, [(56, {"targets": {"T1": 0, "T2": node_mm}})])
    tp = one(data, "recist1.1")["timepoints"][0]
    assert (tp["target"], tp["sum_mm"]) == (target, total)


def test_non_target_node_absent_allows_cr() -> None:
    # R11-NT-CR: a non-target node "absent" (SA < 10 mm) with all else gone -> CR.
    data = subject([("T1", 30, "liver", False)],
                   [(56, {"targets": {"T1": 0}, "non_targets": {"NTN": "absent"}})],
                   [("NTN", "hilar lymph node", True)])
    assert overall(data, "recist1.1") == ["CR"]


@pytest.mark.parametrize("value, total, target", [
    ("TSTM", 5.0, "PR"),  # R11-TSTM / CDISC-TSTM: present, too small -> 5 mm; still present -> not CR
    (3, 3.0, "PR"),       # FAQ-LT5MM: a real measurement below 5 mm is kept (3, not 5)
    (0, 0.0, "CR"),       # disappeared -> 0 mm
])
def test_tstm(value: Any, total: float, target: str) -> None:
    data = subject([("T1", 20, "liver", False), ("T2", 20, "lung", False)],
                   [(56, {"targets": {"T1": value, "T2": 0}})])
    tp = one(data, "recist1.1")["timepoints"][0]
    assert (tp["sum_mm"], tp["target"]) == (total, target)


def test_split_and_coalesced() -> None:
    # R11-SPLIT: fragments 15 + 12 = 27; coalesced 45 on T2 and 0 on T3 (A15). Sum 27 + 45 = 72
    # against baseline 30 + 25 + 25 = 80 -> -10% SD.
    data = subject([("T1", 30, "liver", False), ("T2", 25, "lung", False), ("T3", 25, "lung", False)],
                   [(56, {"targets": {"T1": {"fragments_mm": [15, 12]},
                                      "T2": {"coalesced_with": ["T3"], "mm": 45},
                                      "T3": {"coalesced_into": "T2", "mm": 0}}})])
    tp = one(data, "recist1.1")["timepoints"][0]
    assert (tp["sum_mm"], tp["overall"]) == (72.0, "SD")


# --- CONV-ARITH: exact thresholds --------------------------------------------------------------

@pytest.mark.parametrize("baseline, follow, target", [
    (90, 63, "PR"),        # 0.7 x 90 = 63 exactly -> -30% -> PR
    (90, 63.1, "SD"),
    (170, 119, "PR"),      # 0.7 x 170 = 119 (float gives 118.99999999999999)
    (180, 126, "PR"),      # 0.7 x 180 = 126 (float gives 125.99999999999999)
    (25, 30, "PD"),        # exactly +20% with +5 mm -> PD
    (24.5, 29.4, "SD"),    # exactly +20% but only +4.9 mm -> not PD
    (35, 42, "PD"),        # 1.2 x 35 = 42 exactly, +7 mm
    (35, 41.9, "SD"),
])
def test_conv_arith(baseline: Any, follow: Any, target: str) -> None:
    data = subject([("T1", baseline, "liver", False)], [(56, {"targets": {"T1": follow}})])
    assert one(data, "recist1.1")["timepoints"][0]["target"] == target


def test_conv_arith_split_over_lesions() -> None:
    # CONV-ARITH: 0.7 x (30.1 + 29.9 + 30) = 63 with decimals spread over lesions -> PR.
    data = subject([("T1", 30.1, "liver", False), ("T2", 29.9, "lung", False), ("T3", 30, "spleen", False)],
                   [(56, {"targets": {"T1": 21.07, "T2": 20.93, "T3": 21}})])
    assert one(data, "recist1.1")["timepoints"][0]["target"] == "PR"


# --- A2: node regrowth after CR -----------------------------------------------------------------

def test_node_regrowth_after_cr_default_pd() -> None:
    # A2 default (FAQ-ABN-NODE): CR (node 8), then the target node at 10 mm has "reappeared" -> PD,
    # although the sum rule (+2 mm) alone is not PD.
    visits = [(56, {"targets": {"T1": 0, "T2": 8}}), (112, {"targets": {"T1": 0, "T2": 10}})]
    assert overall(subject(NODE_BASE, visits), "recist1.1") == ["CR", "PD"]
    # other reading: only the sum rule -> not PD (10/50 = -80%: PR)
    assert overall(subject(NODE_BASE, visits, settings={"reappearance_after_cr_is_pd": False}),
                   "recist1.1") == ["CR", "PR"]


# --- R11-EQUIVOCAL and R11-PFS --------------------------------------------------------------

def test_equivocal_new_lesion_backdates_pd() -> None:
    # R11-EQUIVOCAL: equivocal at day 56 (SD stays, A11 default), confirmed at day 112 -> PD
    # dated day 56 for PFS.
    data = subject(T80, [(56, {"targets": {"T1": 40, "T2": 30},
                               "new_lesions": [nl("N1", 8, equivocal=True)]}),
                         (112, {"targets": {"T1": 40, "T2": 30}, "new_lesions": [nl("N1", 12)]})])
    out = one(data, "recist1.1")
    assert [tp["overall"] for tp in out["timepoints"]] == ["SD", "PD"]
    assert out["pfs"] == {"event": True, "date": day(56), "reason": "PD"}


def test_pfs_death_without_pd() -> None:
    # R11-PFS: no PD, death at day 150 -> event at death.
    data = subject(T80, [(56, {"targets": {"T1": 40, "T2": 30}})], death=150)
    assert one(data, "recist1.1")["pfs"] == {"event": True, "date": day(150), "reason": "death"}


def test_pfs_censored_at_last_adequate() -> None:
    # R11-PFS: SD at 56, NE at 112 -> censored at day 56.
    data = subject(T80, [(56, {"targets": {"T1": 40, "T2": 30}}), (112, {"scan": "not_done"})])
    pfs = one(data, "recist1.1")["pfs"]
    assert (pfs["event"], pfs["date"]) == (False, day(56))


def test_recist_timepoints_stop_at_first_pd() -> None:
    # contract: RECIST 1.1 timepoints stop at the first PD; BOR ignores later assessments.
    data = subject(T80, [(56, {"targets": {"T1": 70, "T2": 30}}), (112, {"targets": {"T1": 0, "T2": 0}})])
    out = one(data, "recist1.1")
    assert [tp["overall"] for tp in out["timepoints"]] == ["PD"]
    assert out["bor"] == "PD"


# --- R11-BOR, R11-SD-MIN ----------------------------------------------------------------------

@pytest.mark.parametrize("codes, first, every, bor", [
    (["SD", "PR", "PD"], 56, 56, "PR"),   # R11-BOR: SD, PR, PD -> PR (no confirmation)
    (["SD", "PD"], 28, 28, "PD"),         # R11-SD-MIN: SD at day 28 (< 42) then PD -> PD
    (["SD"], 28, 28, "NE"),               # R11-SD-MIN: SD at day 28 then lost -> NE
    (["SD", "NE"], 28, 28, "NE"),
    (["SD"], 42, 42, "SD"),               # AO-BOR: ADT >= RANDDT + 42 qualifies
    (["SD"], 41, 41, "NE"),
    (["PD", "CR"], 56, 56, "PD"),         # assessments after PD do not count
    (["NON-CR/NON-PD", "PD"], 28, 28, "PD"),
])
def test_recist_bor_unconfirmed(codes: list[str], first: int, every: int, bor: str) -> None:
    assert one(response_subject(codes, every, first), "recist1.1")["bor"] == bor


def test_sd_min_at_measurement_level() -> None:
    # R11-SD-MIN at measurement level: SD (75) at day 28 then PD (100) at day 56 -> BOR PD;
    # SD at day 28 then nothing -> NE.
    sd, pd = {"targets": {"T1": 45, "T2": 30}}, {"targets": {"T1": 70, "T2": 30}}
    assert one(subject(T80, [(28, sd), (56, pd)]), "recist1.1")["bor"] == "PD"
    assert one(subject(T80, [(28, sd)]), "recist1.1")["bor"] == "NE"


# --- R11-BOR-CONF: Table 3 -------------------------------------------------------------------

TABLE3 = [
    # (id, codes, first day, interval, confirmed BOR, settings); SD minimum 42 days
    ("cr-cr", ["CR", "CR"], 56, 56, "CR", None),
    ("cr-pr-sd-default-a12", ["CR", "PR"], 56, 56, "SD", None),
    ("cr-pr-a12-pr", ["CR", "PR"], 56, 56, "PR", {"cr_then_pr_confirmed_as": "pr"}),
    ("cr-sd-min-met", ["CR", "SD"], 56, 56, "SD", None),
    ("cr-pd-min-met", ["CR", "PD"], 56, 56, "SD", None),
    ("cr-pd-min-not-met", ["CR", "PD"], 28, 28, "PD", None),
    ("cr-ne-min-met", ["CR", "NE"], 56, 56, "SD", None),
    ("cr-ne-min-not-met", ["CR", "NE"], 28, 28, "NE", None),
    ("pr-cr", ["PR", "CR"], 56, 56, "PR", None),
    ("pr-pr", ["PR", "PR"], 56, 56, "PR", None),
    ("pr-sd", ["PR", "SD"], 56, 56, "SD", None),
    ("pr-pd-min-met", ["PR", "PD"], 56, 56, "SD", None),
    ("pr-pd-min-not-met", ["PR", "PD"], 28, 28, "PD", None),
    ("pr-ne-min-met", ["PR", "NE"], 56, 56, "SD", None),
    ("pr-ne-min-not-met", ["PR", "NE"], 28, 28, "NE", None),
    ("ne-ne", ["NE", "NE"], 56, 56, "NE", None),
    # R11-CONF "generally 4 weeks": 27 days is too early, 28 confirms (AO-CBOR)
    ("pr-pr-27d", ["PR", "PR"], 56, 27, "SD", None),
    ("pr-pr-28d", ["PR", "PR"], 56, 28, "PR", None),
    # AO-CBOR: at most one NE between
    ("pr-ne-pr", ["PR", "NE", "PR"], 56, 28, "PR", None),
    ("pr-ne-ne-pr", ["PR", "NE", "NE", "PR"], 56, 28, "SD", None),
    # AO-CBOR: SD between PR and its confirmation only with accept_sd
    ("pr-sd-pr", ["PR", "SD", "PR"], 56, 28, "SD", None),
    ("pr-sd-pr-accept", ["PR", "SD", "PR"], 56, 28, "PR", {"accept_sd_between_pr_confirmation": True}),
]


@pytest.mark.parametrize("case", TABLE3, ids=[c[0] for c in TABLE3])
def test_recist_table3_confirmed_bor(case: tuple[Any, ...]) -> None:
    _, codes, first, every, expected, settings = case
    out = one(response_subject(codes, every, first, settings), "recist1.1")
    assert out["bor_confirmed"] == expected


def test_table3_cr_then_sd_min_not_met_is_pd() -> None:
    # R11-BOR-CONF Table 3 row "CR | SD | SD if minimum SD duration met, otherwise PD":
    # CR at day 14, SD at day 28 (both before the 42-day SD minimum), nothing later -> PD.
    # (A true CR followed by SD is disease reappearing: footnote a.)
    assert one(response_subject(["CR", "SD"], 14, 14), "recist1.1")["bor_confirmed"] == "PD"


def test_response_level_imrecist_negation() -> None:
    # IM-PFS at response level (RECIST codes, --criteria imrecist): PD day 28, SD day 56 (28 d)
    # -> negated, no event, censored at day 56; BOR SD (A8: assessments after PD count).
    out = one(response_subject(["PD", "SD"], 28, 28), "imrecist")
    assert out["timepoints"][0]["pd_status"] == "negated"
    assert (out["pfs"]["event"], out["pfs"]["date"]) == (False, day(56))
    assert out["bor"] == "SD"


def test_table3_unconfirmed_bor_is_best_code() -> None:
    # R11-BOR without confirmation: CR, PR -> CR.
    assert one(response_subject(["CR", "PR"]), "recist1.1")["bor"] == "CR"


# --- iRECIST Table 2 (IR-TPR-T2), no previous iUPD -------------------------------------------

IR_TABLE2 = [
    ("icr", {"T1": 0, "T2": 0}, "absent", [], "iCR"),
    ("icr-noncr", {"T1": 0, "T2": 0}, "present", [], "iPR"),
    ("ipr", {"T1": 30, "T2": 20}, "present", [], "iPR"),
    ("isd", {"T1": 45, "T2": 30}, "present", [], "iSD"),
    ("target-iupd", {"T1": 70, "T2": 30}, "present", [], "iUPD"),
    ("nt-iupd", {"T1": 45, "T2": 30}, "unequivocal_progression", [], "iUPD"),
    ("new-iupd", {"T1": 30, "T2": 20}, "present", [nl("N1", 12)], "iUPD"),
]


@pytest.mark.parametrize("case", IR_TABLE2, ids=[c[0] for c in IR_TABLE2])
def test_irecist_table2_first_rows(case: tuple[Any, ...]) -> None:
    _, targets, status, new, expected = case
    data = subject(T80, [(56, {"targets": targets, "non_targets": {"NT1": status}, "new_lesions": new})], NT1)
    assert overall(data, "irecist") == [expected]


# Target-driven iUPD at day 56: 70 + 30 = 100 (+25%, +20 mm over 80).
IUPD_T = (56, {"targets": {"T1": 70, "T2": 30}, "non_targets": {"NT1": "present"}})


def tp_(n: int, t1: Any = 70, t2: Any = 30, nt: str = "present", new: list[Any] = (),
        scan: str = "scheduled") -> tuple[int, dict[str, Any]]:
    return (n, {"targets": {"T1": t1, "T2": t2}, "non_targets": {"NT1": nt}, "new_lesions": list(new),
                "scan": scan})


IR_CONF = [
    # (id, visits after baseline, expected iRECIST overall codes)
    # IR-CONF a / A9: target SOM +5 mm exactly over the iUPD sum -> iCPD
    ("target+5", [IUPD_T, tp_(98, 75)], ["iUPD", "iCPD"]),
    # +4 mm: iCPD not met; PD criteria still hold -> iUPD (Table 3 ex. 7 pattern)
    ("target+4", [IUPD_T, tp_(98, 74)], ["iUPD", "iUPD"]),
    # FAQ-IR-NL-PROG: sequential increases are additive: +4 then +2 -> iCPD
    ("target+4+2", [IUPD_T, tp_(98, 74), tp_(140, 76)], ["iUPD", "iUPD", "iCPD"]),
    # IR-CONF b: RECIST PD newly met in the non-target category -> iCPD
    ("target-then-nt-pd", [IUPD_T, tp_(98, 70, nt="unequivocal_progression")], ["iUPD", "iCPD"]),
    # a non-target "further increase" is not RECIST PD in a category that was not progressing -> iUPD
    ("target-then-nt-increase", [IUPD_T, tp_(98, 70, nt="further_increase")], ["iUPD", "iUPD"]),
    # IR-CONF: additional new lesion -> iCPD
    ("target-then-new", [IUPD_T, tp_(98, 70, new=[nl("N1", 6, "liver")])], ["iUPD", "iCPD"]),
    # IR-RESET: 40 + 30 = 70 (SD against nadir 80) -> iSD
    ("target-reset-isd", [IUPD_T, tp_(98, 40)], ["iUPD", "iSD"]),
    # reset to iPR: 25 + 20 = 45 (-43.75%)
    ("target-reset-ipr", [IUPD_T, tp_(98, 25, 20)], ["iUPD", "iPR"]),
    # FAQ-IR-NT-DRIVEN CRF codes: "NC, UNE, NCLA" -> iUPD / iUPD (NCLA: unequivocal
    # progression rated again, no change since the iUPD)
    ("nt-NC-UNE-NCLA", [tp_(56, 45, nt="present"), tp_(112, 45, nt="unequivocal_progression"),
                        tp_(154, 45, nt="unequivocal_progression")], ["iSD", "iUPD", "iUPD"]),
    # "present" after the non-target iUPD is non-iCR/non-iUPD: iSD criteria met -> reset
    ("nt-UNE-then-present", [tp_(56, 45, nt="present"), tp_(112, 45, nt="unequivocal_progression"),
                             tp_(154, 45, nt="present")], ["iSD", "iUPD", "iSD"]),
    # "NC, UNE, INCLA" -> iUPD / iCPD
    ("nt-NC-UNE-INCLA", [tp_(56, 45, nt="present"), tp_(112, 45, nt="unequivocal_progression"),
                         tp_(154, 45, nt="further_increase")], ["iSD", "iUPD", "iCPD"]),
    # NT-driven iUPD confirmed by target PD newly met (IR-CONF b): 45+30=75 nadir, 70+30 = 100 -> iCPD
    ("nt-then-target-pd", [tp_(56, 45), tp_(112, 45, nt="unequivocal_progression"), tp_(154, 70)],
     ["iSD", "iUPD", "iCPD"]),
    # NT-driven iUPD; non-targets absent and targets SD -> reset iSD
    ("nt-reset", [tp_(56, 45), tp_(112, 45, nt="unequivocal_progression"), tp_(154, 45, nt="absent")],
     ["iSD", "iUPD", "iSD"]),
    # NL-driven iUPD (NLT N1 12 mm); NLT SOM +5 -> iCPD
    ("nlt+5", [tp_(56, 45, new=[nl("N1", 12)]), tp_(98, 45, new=[nl("N1", 17)])], ["iUPD", "iCPD"]),
    ("nlt+4", [tp_(56, 45, new=[nl("N1", 12)]), tp_(98, 45, new=[nl("N1", 16)])], ["iUPD", "iUPD"]),
    # FAQ-IR-NL-PROG verbatim: "a 4mm increase at one assessment, followed at the next
    # assessment by a further 2mm increase meets the criteria for iCPD"
    ("nlt+4+2", [tp_(56, 45, new=[nl("N1", 12)]), tp_(98, 45, new=[nl("N1", 16)]),
                 tp_(140, 45, new=[nl("N1", 18)])], ["iUPD", "iUPD", "iCPD"]),
    # NLNT (6 mm, non-measurable): any increase confirms; no change stays iUPD
    ("nlnt-increase", [tp_(56, 45, new=[nl("N2", 6, "liver")]), tp_(98, 45, new=[nl("N2", 7, "liver")])],
     ["iUPD", "iCPD"]),
    ("nlnt-same", [tp_(56, 45, new=[nl("N2", 6, "liver")]), tp_(98, 45, new=[nl("N2", 6, "liver")])],
     ["iUPD", "iUPD"]),
    # additional new lesion -> iCPD
    ("nl-additional", [tp_(56, 45, new=[nl("N1", 12)]),
                       tp_(98, 45, new=[nl("N1", 12), nl("N3", 5, "bone")])], ["iUPD", "iCPD"]),
    # IR-CONF b: target PD newly met after NL-driven iUPD: nadir 75, 70+30 = 100 -> iCPD
    ("nl-then-target-pd", [tp_(56, 45, new=[nl("N1", 12)]), tp_(98, 70, new=[nl("N1", 12)])],
     ["iUPD", "iCPD"]),
    # IR-CONF b: non-target PD newly met after NL-driven iUPD -> iCPD
    ("nl-then-nt-pd", [tp_(56, 45, new=[nl("N1", 12)]),
                       tp_(98, 45, nt="unequivocal_progression", new=[nl("N1", 12)])], ["iUPD", "iCPD"]),
    # FAQ-IR-SCEN-BDF scenario F: nothing changes -> iUPD
    ("scenario-F", [tp_(56, 30, 20, new=[nl("N1", 12)]), tp_(98, 30, 20, new=[nl("N1", 12)])],
     ["iUPD", "iUPD"]),
    # scenario B (A5 default): targets shrink further to iPR, new lesion unchanged -> iPR;
    # then persisting unchanged new lesion does not re-trigger iUPD (IR-RESET)
    ("scenario-B", [tp_(56, 30, 20, new=[nl("N1", 12)]), tp_(98, 25, 15, new=[nl("N1", 12)]),
                    tp_(140, 25, 15, new=[nl("N1", 12)])], ["iUPD", "iPR", "iPR"]),
    # IR-RESET: after a reset, NLT meeting RECIST PD against their own nadir (12 -> 18: +50%, +6)
    # is a new iUPD
    ("reset-then-nlt-pd", [tp_(56, 30, 20, new=[nl("N1", 12)]), tp_(98, 25, 15, new=[nl("N1", 12)]),
                           tp_(140, 25, 15, new=[nl("N1", 18)])], ["iUPD", "iPR", "iUPD"]),
    # IR-RESET: after a reset, a further new lesion is a new iUPD
    ("reset-then-new", [tp_(56, 30, 20, new=[nl("N1", 12)]), tp_(98, 25, 15, new=[nl("N1", 12)]),
                        tp_(140, 25, 15, new=[nl("N1", 12), nl("N4", 11, "brain")])],
     ["iUPD", "iPR", "iUPD"]),
]


@pytest.mark.parametrize("case", IR_CONF, ids=[c[0] for c in IR_CONF])
def test_irecist_confirmation(case: tuple[Any, ...]) -> None:
    _, visits, expected = case
    assert overall(subject(T80, visits, NT1), "irecist") == expected


def test_irecist_scenario_b_off_keeps_iupd() -> None:
    # A5 other reading: persisting new lesions keep iUPD (Table 2 lists iPR only without new lesions).
    visits = [tp_(56, 30, 20, new=[nl("N1", 12)]), tp_(98, 25, 15, new=[nl("N1", 12)])]
    data = subject(T80, visits, NT1, settings={"irecist_nl_iupd_allows_ipr": False})
    assert overall(data, "irecist") == ["iUPD", "iUPD"]


def test_irecist_nlt_sum_is_separate() -> None:
    # IR-NEW: NLT sum is recorded separately and never added to the target sum.
    out = one(subject(T80, [tp_(56, 45, new=[nl("N1", 12), nl("N2", 14, "liver")])], NT1), "irecist")
    tp = out["timepoints"][0]
    assert tp["sum_mm"] == 75.0 and tp["nlt_sum_mm"] == 26.0


def test_irecist_confirmation_with_target_missing_is_not_icpd() -> None:
    # IR-CONF a needs target SOM +5 mm over the iUPD SOM. iUPD: 40 + 40 = 80 (+33% over 60).
    # Next: T1 46, T2 not assessed. SOM = 46 + T2 >= 46 but could be 46 (T2 gone): the rise
    # over 80 is not proven (missing lesions can only add, R11-MISSING; 46 < 80 + 5). Not iCPD;
    # targets NE, iUPD neither confirmed nor reset -> NE.
    data = subject([("T1", 30, "liver", False), ("T2", 30, "lung", False)],
                   [(56, {"targets": {"T1": 40, "T2": 40}}), (98, {"targets": {"T1": 46, "T2": None}})])
    assert overall(data, "irecist") == ["iUPD", "NE"]


def test_irecist_nlt_confirmation_with_nlt_missing_is_not_icpd() -> None:
    # NL-driven iUPD with NLT N1 12 and N2 20 (liver) -> NLT SOM 32. Next: N1 18, N2 not
    # listed (not assessed). NLT SOM = 18 + N2 >= 18: the +5 mm over 32 is not proven.
    visits = [tp_(56, 45, new=[nl("N1", 12), nl("N2", 20, "liver")]),
              tp_(98, 45, new=[nl("N1", 18), nl("N2", None, "liver")])]
    assert overall(subject(T80, visits, NT1), "irecist")[1] != "iCPD"


def test_irecist_nlt_omitted_after_nl_iupd_is_not_a_reset() -> None:
    # NL-driven iUPD (N1 12 mm, NLT). Next visit: targets unchanged, N1 not listed at all. The
    # engine's own convention (new_target_lesions: "a chosen lesion missing from the timepoint's
    # list ... is not assessed"; imRECIST gives NE here) means the new lesion's status is
    # unknown: the iUPD can be neither confirmed nor reset -> NE, not iSD (IR-RESET needs the
    # iSD criteria to be *met*).
    visits = [tp_(56, 45, new=[nl("N1", 12)]), tp_(98, 45)]
    data = subject(T80, visits, NT1)
    assert overall(data, "imrecist")[1] == "NE"
    assert overall(data, "irecist") == ["iUPD", "NE"]


# --- FAQ-IR-EARLY-SCAN ------------------------------------------------------------------------

EARLY = [
    # (id, second visit, expected codes) ; iUPD at day 56 (target 100)
    # growth (+10) on a scheduled scan 14 days later: cannot define iCPD -> iUPD
    ("growth-scheduled-14d", [tp_(70, 80)], ["iUPD", "iUPD"]),
    # ... and the repeat scan in the window shows the same +10 -> iCPD
    ("growth-then-window", [tp_(70, 80), tp_(98, 80)], ["iUPD", "iUPD", "iCPD"]),
    # symptom-driven early scan with growth only: still cannot confirm
    ("growth-symptom-14d", [tp_(70, 80, scan="unscheduled_symptom_driven")], ["iUPD", "iUPD"]),
    # symptom-driven early scan with an additional new lesion: iCPD allowed
    ("new-symptom-14d", [tp_(70, 70, new=[nl("N1", 11, "brain")], scan="unscheduled_symptom_driven")],
     ["iUPD", "iCPD"]),
    # additional new lesion but not symptom-driven: cannot confirm
    ("new-scheduled-14d", [tp_(70, 70, new=[nl("N1", 11, "brain")])], ["iUPD", "iUPD"]),
    # protocol variance ~2 days: 26 days after the iUPD is in the window -> +10 confirms
    ("growth-26d", [tp_(82, 80)], ["iUPD", "iCPD"]),
    ("growth-25d", [tp_(81, 80)], ["iUPD", "iUPD"]),
]


@pytest.mark.parametrize("case", EARLY, ids=[c[0] for c in EARLY])
def test_irecist_early_scan(case: tuple[Any, ...]) -> None:
    _, later, expected = case
    assert overall(subject(T80, [IUPD_T, *later], NT1), "irecist") == expected


# --- IR-RESET then a new iUPD against the nadir; iPFS dating ------------------------------------

def test_irecist_reset_then_new_iupd_against_nadir() -> None:
    # IR-RESET: 100 (iUPD, +25% over 80), 84 (+5% over nadir 80: iSD, reset), 97 (+21.25%,
    # +17 mm over the nadir 80: iUPD again), 97 (no change: iUPD), 102 (+5 over 97: iCPD).
    # iPFS: the iUPD of the confirmed block, day 140 (AO-IR-PD-DATE).
    visits = [IUPD_T, tp_(98, 54), tp_(140, 67), tp_(182, 67), tp_(224, 72)]
    out = one(subject(T80, visits, NT1), "irecist")
    assert [tp["overall"] for tp in out["timepoints"]] == ["iUPD", "iSD", "iUPD", "iUPD", "iCPD"]
    assert out["pfs"] == {"event": True, "date": day(140), "reason": "iUPD confirmed as iCPD"}
    assert out["progression"] == {"iupd_date": day(140), "icpd_date": day(224)}
    # iBOR: iSD at day 98 (>= 42) is the best (Table 3 ex. 5 pattern)
    assert out["bor"] == "iSD"


def test_ao_ir_pfs_second_iupd() -> None:
    # AO-IR-PD-DATE verbatim: SD, SD, iUPD, PR, PR, iUPD, iCPD -> the iRECIST PD date is the
    # second occurrence of iUPD.
    data = response_subject(["iSD", "iSD", "iUPD", "iPR", "iPR", "iUPD", "iCPD"], every=42)
    out = one(data, "irecist")
    assert out["pfs"] == {"event": True, "date": day(6 * 42), "reason": "iUPD confirmed as iCPD"}
    assert out["progression"] == {"iupd_date": day(6 * 42), "icpd_date": day(7 * 42)}
    assert out["bor"] == "iPR"


# --- iRECIST Table 3: iBOR -------------------------------------------------------------------

IR_TABLE3 = [
    ("ex1", ["iCR", "iPR", "NE", "iUPD", "iCPD"], "iCR"),
    ("ex1b", ["iCR", "iCR", "iUPD", "iUPD", "iCPD"], "iCR"),
    ("ex2", ["iUPD", "iPR", "iCR", "iCR", "iUPD"], "iCR"),
    ("ex2b", ["iUPD", "NE", "iCR", "NE", "iCPD"], "iCR"),
    ("ex3", ["iUPD", "iPR", "iSD", "iUPD", "iCPD"], "iPR"),
    ("ex4", ["iUPD", "iSD", "iPR", "iUPD", "iCPD"], "iPR"),
    ("ex5", ["iUPD", "iSD", "iUPD", "iCPD", "iSD"], "iSD"),
    ("ex5b", ["iUPD", "iSD", "NE", "iUPD", "iUPD"], "iSD"),
    ("ex6", ["iUPD", "iCPD", "iPR"], "iCPD"),
    ("ex7", ["iUPD", "iUPD", "iCPD", "iCR"], "iCPD"),
    ("ex8", ["iUPD", "NE", "NE", "NE", "NE"], "iUPD"),
]


@pytest.mark.parametrize("case", IR_TABLE3, ids=[c[0] for c in IR_TABLE3])
def test_irecist_table3_ibor(case: tuple[Any, ...]) -> None:
    _, codes, expected = case
    assert one(response_subject(codes), "irecist")["bor"] == expected


def test_irecist_ex8_ipfs_default_a3() -> None:
    # A3 default: an iUPD never confirmed is an iPFS event at the iUPD date.
    out = one(response_subject(["iUPD", "NE", "NE", "NE", "NE"]), "irecist")
    assert out["pfs"] == {"event": True, "date": day(56), "reason": "unconfirmed iUPD"}
    # A3 other reading: censored at the last adequate assessment before it (none: reference date).
    out = one(response_subject(["iUPD", "NE"], settings={"irecist_unconfirmed_iupd": "censor"}), "irecist")
    assert (out["pfs"]["event"], out["pfs"]["date"]) == (False, day(0))


def test_irecist_reset_iupd_is_no_event() -> None:
    # IR-RESET: iUPD then iSD: no iPFS event; censored at the last adequate assessment.
    out = one(response_subject(["iSD", "iUPD", "iSD"]), "irecist")
    assert (out["pfs"]["event"], out["pfs"]["date"]) == (False, day(168))


# --- imRECIST ---------------------------------------------------------------------------------

T50 = [("T1", 50, "liver", False)]
NTB = [("NT1", "bone", False)]


def im(n: int, t1: Any, nt: str = "present", new: list[Any] = ()) -> tuple[int, dict[str, Any]]:
    return (n, {"targets": {"T1": t1}, "non_targets": {"NT1": nt}, "new_lesions": list(new)})


IM_CASES = [
    # (id, visits, expected imRECIST overall, expected sum_mm of the last visit)
    # IM-NEW-MEAS: 50 + 12 = 62 (+24%, +12 mm over nadir 50) -> PD
    ("nl-meas-pd", [im(56, 50, new=[nl("N1", 12)])], ["PD"], 62.0),
    # 40 + 12 = 52: +4% -> SD (RECIST 1.1 would be PD)
    ("nl-meas-sd", [im(56, 40, new=[nl("N1", 12)])], ["SD"], 52.0),
    # IM-NEW-NONMEAS: non-measurable new lesion never PD: 30 (-40%) -> PR
    ("nl-nonmeas-pr", [im(56, 30, new=[nl("N2", 6, "liver")])], ["PR"], 30.0),
    # ... but precludes CR: target 0, non-targets absent -> PR
    ("nl-nonmeas-no-cr", [im(56, 0, nt="absent", new=[nl("N2", 6, "liver")])], ["PR"], 0.0),
    # IM-NT: unequivocal NT progression never PD: SD stays SD; CR of targets -> PR
    ("nt-pd-sd", [im(56, 45, nt="unequivocal_progression")], ["SD"], 45.0),
    ("nt-pd-no-cr", [im(56, 0, nt="unequivocal_progression")], ["PR"], 0.0),
    # IM-CR: everything gone -> CR
    ("cr", [im(56, 0, nt="absent")], ["CR"], 0.0),
    # measurable new lesion in the SLD precludes CR: 0 + 12 = 12 (-76%) -> PR
    ("nl-meas-no-cr", [im(56, 0, nt="absent", new=[nl("N1", 12)])], ["PR"], 12.0),
    # IM-PR: SLD incl. new lesion at -30% exactly: 25 + 10 = 35 = 0.7 x 50 -> PR
    ("pr-exact", [im(56, 25, new=[nl("N1", 10)])], ["PR"], 35.0),
    # IM-PD against the nadir of the combined SLD: 30 (PR, nadir 30), then 30 + 10 = 40
    # (+33%, +10 mm) -> PD
    ("pd-vs-nadir", [im(56, 30), im(112, 30, new=[nl("N1", 10)])], ["PR", "PD"], 40.0),
    # A7 default: +20% needs +5 mm too: T1 20 (nadir 20), then 20 + ... use 24 (+20%, +4) -> not PD
    ("a7-5mm", [im(56, 20), im(112, 24)], ["PR", "PR"], 24.0),
]


@pytest.mark.parametrize("case", IM_CASES, ids=[c[0] for c in IM_CASES])
def test_imrecist_timepoints(case: tuple[Any, ...]) -> None:
    _, visits, expected, last_sum = case
    out = one(subject(T50, visits, NTB), "imrecist")
    assert [tp["overall"] for tp in out["timepoints"]] == expected
    assert out["timepoints"][-1]["sum_mm"] == last_sum


def test_imrecist_a7_without_5mm() -> None:
    # A7 other reading: +20% alone is PD: 20 -> 24.
    data = subject(T50, [im(56, 20), im(112, 24)], NTB, settings={"imrecist_pd_requires_5mm": False})
    assert overall(data, "imrecist") == ["PR", "PD"]


PD_VISIT = im(56, 50, new=[nl("N1", 12)])          # SLD 62: PD
SD_AFTER = lambda n: im(n, 40, new=[nl("N1", 12)])  # noqa: E731  SLD 52: SD


@pytest.mark.parametrize("gap, status, event", [
    (28, "negated", False),  # IM-PFS: non-PD exactly 4 weeks later negates
    (27, "stands", True),    # 27 days is too early: the PD stands as an event
])
def test_imrecist_negation_boundary(gap: int, status: str, event: bool) -> None:
    out = one(subject(T50, [PD_VISIT, SD_AFTER(56 + gap)], NTB), "imrecist")
    assert [tp["overall"] for tp in out["timepoints"]] == ["PD", "SD"]
    assert out["timepoints"][0]["pd_status"] == status
    assert out["pfs"]["event"] is event
    if event:
        assert out["pfs"]["date"] == day(56)
    else:
        assert out["pfs"]["date"] == day(56 + gap)  # censored at the last adequate assessment


def test_imrecist_unnegated_pd_stands_and_confirmed() -> None:
    # IM-PFS: no later assessment -> the PD stands and is the event.
    out = one(subject(T50, [PD_VISIT], NTB), "imrecist")
    assert out["timepoints"][0]["pd_status"] == "stands"
    assert out["pfs"] == {"event": True, "date": day(56), "reason": "PD"}
    # PD then PD: confirmed, event at the first.
    out = one(subject(T50, [PD_VISIT, im(112, 50, new=[nl("N1", 14)])], NTB), "imrecist")
    assert [tp.get("pd_status") for tp in out["timepoints"]] == ["confirmed", "stands"]
    assert out["pfs"]["date"] == day(56)


def test_imrecist_death_event() -> None:
    # IM-PFS: death is an event.
    out = one(subject(T50, [im(56, 40)], NTB, death=100), "imrecist")
    assert out["pfs"] == {"event": True, "date": day(100), "reason": "death"}
    # a negated PD followed by death: event at death.
    out = one(subject(T50, [PD_VISIT, SD_AFTER(98)], NTB, death=130), "imrecist")
    assert out["pfs"] == {"event": True, "date": day(130), "reason": "death"}


def test_imrecist_bor_after_pd_a8() -> None:
    # IM-BOR / A8 default: response after PD counts: PD (62), then 30 (-40%) -> PR.
    visits = [PD_VISIT, im(112, 30, new=[nl("N1", 0)])]
    out = one(subject(T50, visits, NTB), "imrecist")
    assert [tp["overall"] for tp in out["timepoints"]] == ["PD", "PR"]
    assert out["bor"] == "PR"


def test_imrecist_negation_by_next_assessment_at_4_weeks() -> None:
    # IM-PFS: "an imPD is not an event if the next assessment >= 4 weeks later shows non-PD".
    # PD day 56; SD at day 70 (14 d, too early to count); SD at day 98 (42 d): the next
    # assessment >= 4 weeks later is non-PD -> negated, no event. (Engine fixed in 5a2987d
    # during this review: an extra reassuring scan must not turn a non-event into an event.)
    out = one(subject(T50, [PD_VISIT, SD_AFTER(70), SD_AFTER(98)], NTB), "imrecist")
    assert out["timepoints"][0]["pd_status"] == "negated"
    assert out["pfs"]["event"] is False


# --- contract examples (subprocess, the CLI itself) -------------------------------------------

def _cli(payload: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "criteria", "evaluate", "-", *args], input=payload,
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


@pytest.mark.parametrize("name", ["measurement-level", "response-level"])
def test_contract_examples_via_cli(name: str) -> None:
    payload = (EXAMPLES / f"{name}.json").read_text()
    expected = json.loads((EXAMPLES / f"{name}.expected.json").read_text())
    r = _cli(payload)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)["results"]
    for crit, exp in expected.items():
        if crit.startswith("_"):
            continue
        got = results[crit]
        if "overall" in exp:
            got_overall = {tp["date"]: tp["overall"] for tp in got["timepoints"]}
            # the expected file lists the dates it pins down (a subset for imRECIST)
            assert {d: got_overall.get(d) for d in exp["overall"]} == exp["overall"], crit
        for key in ("bor", "bor_confirmed"):
            if key in exp:
                assert got[key] == exp[key], (crit, key)
        for key, value in exp.get("pfs", {}).items():
            assert got["pfs"][key] == value, (crit, key)


def test_cli_published_r11_missing_and_table3() -> None:
    # The R11-MISSING example and a Table 3 row through the real command line.
    r = _cli(json.dumps(subject(THREE, [(56, {"targets": {"T1": 50, "T2": 30, "T3": None}})])),
             "--criteria", "recist1.1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"]["recist1.1"]["timepoints"][0]["overall"] == "PD"
    r = _cli(json.dumps(response_subject(["PR", "PD"], 28, 28)))
    assert json.loads(r.stdout)["results"]["recist1.1"]["bor_confirmed"] == "PD"


# --- robustness (hypothesis) ------------------------------------------------------------------

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ORGANS = ("liver", "lung", "spleen", "adrenal gland", "brain")
NEW_POOL = (  # one organ each (or 2 nodes): the 5-total / 2-per-organ NLT cap never binds
    ("N1", "liver", False), ("N2", "bone", False), ("N3", "brain", False),
    ("N4", "axillary lymph node", True), ("N5", "inguinal lymph node", True),
)
NT_WORDS = ("present", "absent", "unequivocal_progression", "further_increase", "not_evaluated")
SCANS = ("scheduled", "scheduled", "scheduled", "not_done", "unscheduled_symptom_driven",
         "unscheduled_not_symptom_driven")
mm_value = st.one_of(st.integers(0, 120), st.decimals(min_value=0, max_value=120, places=1))


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    n_targets = draw(st.integers(0, 5))
    targets = []
    for k in range(n_targets):
        node = k < 2 and draw(st.booleans())
        low = 15 if node else 10
        targets.append({"id": f"T{k + 1}", "organ": "lymph node" if node else ORGANS[k], "node": node,
                        "mm": draw(st.one_of(st.integers(low, 90),
                                             st.decimals(min_value=low, max_value=90, places=1)))})
    n_nt = draw(st.integers(1 if n_targets == 0 else 0, 3))
    non_targets = [{"id": f"NT{k + 1}", "organ": "bone", "node": draw(st.booleans())} for k in range(n_nt)]
    timepoints = []
    t = 0
    for _ in range(draw(st.integers(0, 7))):
        t += draw(st.integers(5, 80))
        scan = draw(st.sampled_from(SCANS))
        tp: dict[str, Any] = {"date": day(t), "scan": scan}
        if draw(st.integers(0, 5)) == 0:  # images on several days (CDISC: PD at the earliest)
            tp["scan_dates"] = [day(max(1, t - draw(st.integers(0, 4)))), day(t)]
        if scan != "not_done":
            values: dict[str, Any] = {}
            for tg in targets:
                if draw(st.integers(0, 12)) == 0:
                    continue  # omitted: not assessed
                values[tg["id"]] = draw(st.one_of(mm_value, mm_value, mm_value, st.none(), st.just("TSTM"),
                                                  st.builds(lambda a, b: {"fragments_mm": [a, b]},
                                                            st.integers(0, 30), st.integers(0, 30))))
            tp["targets"] = values
            tp["non_targets"] = {n["id"]: draw(st.sampled_from(NT_WORDS)) for n in non_targets
                                 if draw(st.integers(0, 10)) > 0}
            new = []
            for lesion_id, organ, node in NEW_POOL:
                if draw(st.integers(0, 5)) == 0:
                    lesion = {"id": lesion_id, "organ": organ, "node": node,
                              "mm": draw(st.one_of(st.none(), st.integers(0, 40),
                                                   st.decimals(min_value=0, max_value=40, places=1)))}
                    if draw(st.booleans()):
                        lesion["equivocal"] = draw(st.booleans())
                    if draw(st.integers(0, 3)) == 0:
                        lesion["measurable"] = draw(st.booleans())
                    new.append(lesion)
            tp["new_lesions"] = new
        timepoints.append(tp)
    data: dict[str, Any] = {"subject": "H1", "reference_date": day(0),
                            "baseline": {"date": day(0), "targets": targets, "non_targets": non_targets},
                            "timepoints": timepoints}
    if draw(st.booleans()):
        data["settings"] = draw(st.fixed_dictionaries({}, optional={
            "pr_continues_until_pd": st.booleans(),
            "reappearance_after_cr_is_pd": st.booleans(),
            "irecist_unconfirmed_iupd": st.sampled_from(["event", "censor"]),
            "irecist_late_scan_confirms": st.booleans(),
            "irecist_nl_iupd_allows_ipr": st.booleans(),
            "imrecist_new_lesion_cap": st.sampled_from(["recist", "irrc"]),
            "imrecist_pd_requires_5mm": st.booleans(),
            "imrecist_bor_after_pd": st.booleans(),
            "equivocal_backdates_response": st.booleans(),
            "cr_then_pr_confirmed_as": st.sampled_from(["sd", "pr"]),
            "sd_min_days": st.integers(0, 90),
            "confirm_min_days": st.integers(0, 60),
            "max_ne_between_confirmation": st.integers(0, 3),
            "imrecist_negation_min_days": st.integers(0, 60),
        }))
    if draw(st.booleans()):
        data["death_date"] = day(t + draw(st.integers(0, 200)))
    return data


def _plain(value: Any) -> Any:
    # Decimals from the strategies -> JSON numbers (one decimal: float repr is exact enough).
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _jsonable(data: Any) -> str:
    return json.dumps(_plain(data))


def _evaluate_text(text: str) -> Any:
    subj = parse(text)
    assert not isinstance(subj, list)
    return subject_json(evaluate(subj), explain=True)


@PROPS
@given(histories())
def test_random_valid_subjects_never_raise(data: dict[str, Any]) -> None:
    # Every generated subject is valid by construction (except possibly zero-size edge cases
    # the validator rejects): evaluate must return a result, or raise InputError only.
    text = _jsonable(data)
    try:
        out = _evaluate_text(text)
    except InputError:
        return
    json.dumps(out)  # serialisable
    for crit, res in out["results"].items():
        assert len(res["timepoints"]) <= len(data["timepoints"]), crit


@PROPS
@given(st.sampled_from(["recist", "irecist"]), st.data())
def test_random_response_level_never_raises(vocab: str, data: st.DataObject) -> None:
    codes = (("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "NA") if vocab == "recist"
             else ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD", "NE", "NA"))
    seq = data.draw(st.lists(st.sampled_from(codes), max_size=8))
    gaps = data.draw(st.lists(st.integers(0, 70), min_size=len(seq), max_size=len(seq)))
    t, tps = 0, []
    for code, gap in zip(seq, gaps, strict=True):
        t += gap + 1
        tps.append({"date": day(t), "overall": code})
    payload = {"subject": "R1", "reference_date": day(0), "timepoints": tps}
    crits = (("recist1.1", "imrecist") if vocab == "recist" else ("irecist",))
    try:
        subj = parse(json.dumps(payload))
        out = subject_json(evaluate(subj, crits), explain=True)
    except InputError:
        return
    json.dumps(out)


def _permute_and_rename(data: dict[str, Any], rnd: Any) -> dict[str, Any]:
    """Shuffle baseline lesions, timepoint lesion keys and new-lesion lists; rename every id."""
    out = copy.deepcopy(data)
    base = out["baseline"]
    ids = [t["id"] for t in base["targets"]] + [n["id"] for n in base["non_targets"]]
    new_ids = sorted({n["id"] for tp in out["timepoints"] for n in tp.get("new_lesions", [])})
    names = [f"X{k}" for k in range(len(ids) + len(new_ids))]
    rnd.shuffle(names)
    mapping = dict(zip(ids + new_ids, names, strict=True))
    base["targets"] = [dict(t, id=mapping[t["id"]]) for t in base["targets"]]
    base["non_targets"] = [dict(n, id=mapping[n["id"]]) for n in base["non_targets"]]
    rnd.shuffle(base["targets"])
    rnd.shuffle(base["non_targets"])
    for tp in out["timepoints"]:
        for key in ("targets", "non_targets"):
            if key in tp:
                items = [(mapping[k], v) for k, v in tp[key].items()]
                rnd.shuffle(items)
                tp[key] = dict(items)
        if "new_lesions" in tp:
            lesions = [dict(n, id=mapping[n["id"]]) for n in tp["new_lesions"]]
            rnd.shuffle(lesions)
            tp["new_lesions"] = lesions
    return out


@PROPS
@given(histories(), st.randoms(use_true_random=False))
def test_results_invariant_under_permutation_and_renaming(data: dict[str, Any], rnd: Any) -> None:
    # Extends test_properties (which keeps new-lesion order and generates at most one new
    # lesion per visit): here several new lesions, nodes, non-target-only baselines, settings.
    try:
        before = subject_json(evaluate(parse(_jsonable(data))))["results"]
    except InputError:
        return
    after = subject_json(evaluate(parse(_jsonable(_permute_and_rename(data, rnd)))))["results"]
    assert after == before


def test_new_lesion_selection_does_not_depend_on_input_order() -> None:
    # 3 measurable new lesions in the lung (cap 2 per organ, R11-TGT-SEL / IR-NEW / A6): the two
    # largest (30, 20) should be measured, whatever the order they are listed in.
    base = [("T1", 50, "liver", False)]
    a = [nl("N1", 10), nl("N2", 20), nl("N3", 30)]
    b = list(reversed(a))
    make = lambda lst: subject(base, [(56, {"targets": {"T1": 20}, "new_lesions": lst})])  # noqa: E731
    assert run(make(a)) == run(make(b))


MAP_I = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "NON-CR/NON-PD": "NON-iCR/NON-iUPD", "PD": "iUPD",
         "NE": "NE", "NA": "NA"}


def _results(data: dict[str, Any]) -> dict[str, Any]:
    return subject_json(evaluate(parse(_jsonable(data))))["results"]


@PROPS
@given(histories())
def test_irecist_equals_recist_up_to_first_pd(data: dict[str, Any]) -> None:
    # IR-BASE: before any iUPD, iRECIST is RECIST 1.1 with the "i" prefix, category by
    # category, and the first RECIST PD is an iUPD.
    out = _results(data)
    rec = out["recist1.1"]["timepoints"]
    ir = out["irecist"]["timepoints"][: len(rec)]
    for a, b in zip(rec, ir, strict=True):
        assert (MAP_I[a["target"]], MAP_I[a["non_target"]], a["new_lesions"], MAP_I[a["overall"]]) == (
            b["target"], b["non_target"], b["new_lesions"], b["overall"])


@PROPS
@given(histories())
def test_imrecist_equals_recist_without_new_lesions_or_nt_progression(data: dict[str, Any]) -> None:
    # IM-BASE: without new lesions and without non-target progression, imRECIST is RECIST 1.1
    # (A2 off: imRECIST lets non-targets decide only CR; A7 on: without the 5 mm rule imRECIST
    # PD legitimately differs from RECIST 1.1 PD).
    data = copy.deepcopy(data)
    data["settings"] = {**data.get("settings", {}), "reappearance_after_cr_is_pd": False,
                        "imrecist_pd_requires_5mm": True}
    for tp in data["timepoints"]:
        tp.pop("new_lesions", None)
        if "non_targets" in tp:
            tp["non_targets"] = {k: "present" if v == "unequivocal_progression" else v
                                 for k, v in tp["non_targets"].items()}
    out = _results(data)
    rec = out["recist1.1"]["timepoints"]
    im_ = out["imrecist"]["timepoints"][: len(rec)]
    keys = ("target", "non_target", "overall", "sum_mm", "nadir_ref_mm")
    assert [[a[k] for k in keys] for a in rec] == [[b[k] for k in keys] for b in im_]


@PROPS
@given(histories(), st.integers(0, 7))
def test_timepoint_results_never_depend_on_later_assessments(data: dict[str, Any], k: int) -> None:
    # Causality: a timepoint response uses only that and earlier assessments (A11 default:
    # a later confirmation backdates the PD date, not the earlier response).
    data = copy.deepcopy(data)
    data["settings"] = {**data.get("settings", {}), "equivocal_backdates_response": False}
    data.pop("death_date", None)
    full = _results(data)
    prefix = copy.deepcopy(data)
    prefix["timepoints"] = prefix["timepoints"][:k]
    part = _results(prefix)
    for crit, res in part.items():
        strip = lambda tps: [{f: v for f, v in tp.items() if f != "pd_status"} for tp in tps]  # noqa: E731
        assert strip(full[crit]["timepoints"][: len(res["timepoints"])]) == strip(res["timepoints"]), crit


@PROPS
@given(histories(), st.integers(0, 7), st.integers(1, 30))
def test_a_scan_not_done_changes_no_other_response_and_never_advances_pfs(
        data: dict[str, Any], where: int, offset: int) -> None:
    # R11-MISSING: a scan not done is NE; it must not change any other timepoint response
    # (iRECIST windows count days, not scans), nor create or advance a PFS event.
    tps = data["timepoints"]
    where = min(where, len(tps))
    prev = dt.date.fromisoformat(tps[where - 1]["date"]) if where else START
    new_date = prev + dt.timedelta(days=offset)
    if where < len(tps) and new_date >= dt.date.fromisoformat(tps[where]["date"]):
        return
    if "death_date" in data and new_date > dt.date.fromisoformat(data["death_date"]):
        return
    extended = copy.deepcopy(data)
    extended["timepoints"].insert(where, {"date": new_date.isoformat(), "scan": "not_done"})
    before, after = _results(data), _results(extended)
    for crit in before:
        codes_before = [tp["overall"] for tp in before[crit]["timepoints"]]
        codes_after = [tp["overall"] for tp in after[crit]["timepoints"]
                       if tp["date"] != new_date.isoformat()]
        assert codes_after == codes_before, crit
        pb, pa = before[crit]["pfs"], after[crit]["pfs"]
        if pa["event"]:
            assert pb["event"] and pa["date"] >= pb["date"], crit


def test_imrecist_no_5mm_rule_zero_against_zero_nadir_is_not_pd() -> None:
    # Found by hypothesis (test_imrecist_equals_recist_without_new_lesions_or_nt_progression):
    # with A7 off (imrecist_pd_requires_5mm False) and a nadir of 0 mm after CR, a partial sum of
    # 0 mm was PD because 0 >= 0 x 1.2. R11-PD / IM-PD need an increase of at least 20%: 0 mm
    # against 0 mm is no increase, and with T1 not assessed the timepoint is NE (R11-MISSING).
    data = {
        "subject": "Z0", "reference_date": "2024-01-01",
        "settings": {"imrecist_pd_requires_5mm": False},
        "baseline": {"date": "2024-01-01", "non_targets": [],
                     "targets": [{"id": "T1", "organ": "liver", "node": False, "mm": 10}]},
        "timepoints": [
            {"date": "2024-03-01", "targets": {"T1": 0}, "non_targets": {}},
            {"date": "2024-05-01", "targets": {}, "non_targets": {}},
            {"date": "2024-07-01", "targets": {"T1": 0}, "non_targets": {}},
        ],
    }
    im = _results(data)["imrecist"]["timepoints"]
    assert [tp["overall"] for tp in im] == ["CR", "NE", "CR"]
