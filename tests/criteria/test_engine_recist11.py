"""RECIST 1.1 timepoint engine: Table 1 / Table 2, thresholds and the special lesion rules.

Every expected value is worked out by hand in the comment beside it (criteria-rules.md §3).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from engine_builders import (
    coalesced,
    coalesced_into,
    d,
    day,
    new,
    non_target,
    not_done,
    overall,
    split,
    subject,
    sums_subject,
    target,
    visit,
)

from criteria.recist11 import timepoint_responses
from criteria.types import NewLesion, Subject

# --- thresholds (R11-PR, R11-PD, CONV-ARITH) --------------------------------------


@pytest.mark.parametrize(
    ("baseline", "value", "expected"),
    [
        (100, 70, "PR"),  # exactly -30%
        (100, "70.1", "SD"),  # -29.9%
        (90, 63, "PR"),  # 0.7 x 90 = 63 exactly (float gives 62.999...)
        (170, 119, "PR"),  # 0.7 x 170 = 119
        (180, 126, "PR"),  # 0.7 x 180 = 126
        (170, "119.1", "SD"),  # 0.1 mm short of -30%
        (25, 30, "PD"),  # +20% and +5 mm exactly
        (20, 24, "SD"),  # +20% but only +4 mm
        ("24.5", "29.4", "SD"),  # +20% exactly, +4.9 mm
        (20, 25, "PD"),  # +25% and +5 mm
        (50, "59.9", "SD"),  # +19.8%, +9.9 mm
        (50, 60, "PD"),  # +20%, +10 mm
    ],
)
def test_sum_thresholds_against_baseline_nadir(baseline: int | str, value: int | str, expected: str) -> None:
    (result,) = timepoint_responses(sums_subject(baseline, [value]))
    assert result.overall == expected
    assert result.target == expected


def test_exact_percentages_are_kept_unrounded() -> None:
    (result,) = timepoint_responses(sums_subject(90, [63]))
    assert result.pct_vs_baseline == Decimal(-30)
    assert result.sum_mm == Decimal(63)
    assert result.nadir_ref_mm == Decimal(90)


def test_pd_sentence_names_sum_percentage_and_nadir() -> None:
    # 100 -> 70 (nadir) -> 86: +16 mm = +22.857...% over 70
    results = timepoint_responses(sums_subject(100, [70, 86]))
    assert overall(results) == ["PR", "PD"]
    assert "PD: sum 86.0 mm is 22.9% and 16.0 mm above the nadir 70.0 mm" in results[1].why[0]
    assert results[1].nadir_ref_mm == Decimal(70)
    assert results[1].progression_date == day(112)


def test_stops_after_first_pd() -> None:
    # 100 -> 130 (+30%, PD) -> 50 is never evaluated: the RECIST assessment ends at PD.
    results = timepoint_responses(sums_subject(100, [130, 50]))
    assert overall(results) == ["PD"]


# --- nadir over complete sums only (R11-NADIR, R11-MISSING) -----------------------


def test_incomplete_sum_never_becomes_the_nadir() -> None:
    # Baseline 50 + 50 = 100. Visit 1: T1 30, T2 not assessed -> NE (30 is not a sum).
    # Visit 2: 20 + 16 = 36. Against the true nadir 100 that is -64% PR; had the partial
    # 30 been taken as nadir, 36 would be +20% and +6 mm: PD.
    s = subject(
        [target("T1", 50, "liver"), target("T2", 50, "lung")],
        [visit(56, {"T1": 30, "T2": None}), visit(112, {"T1": 20, "T2": 16})],
    )
    results = timepoint_responses(s)
    assert overall(results) == ["NE", "PR"]
    assert results[0].sum_mm is None
    assert results[0].extra["partial_sum_mm"] == Decimal(30)
    assert results[1].nadir_ref_mm == Decimal(100)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # 20 + 20 + 10 = 50 at baseline; 40 + 40 = 80 without T3 is already +60% and +30 mm
        ({"T1": 40, "T2": 40, "T3": None}, "PD"),
        # 20 + 20 = 40 without T3: could be anything from SD to PD -> NE
        ({"T1": 20, "T2": 20, "T3": None}, "NE"),
        # T3 simply absent from the timepoint is the same as not assessed
        ({"T1": 20, "T2": 20}, "NE"),
    ],
)
def test_missing_target_is_ne_unless_pd_is_proven(values: dict[str, int | None], expected: str) -> None:
    s = subject(
        [target("T1", 20, "liver"), target("T2", 20, "lung"), target("T3", 10, "spleen")],
        [visit(56, dict(values))],
    )
    (result,) = timepoint_responses(s)
    assert result.target == expected
    assert result.overall == expected


# --- lesion recording rules (R11-TSTM, R11-SPLIT, R11-NODE-RECORD) -----------------


def test_too_small_to_measure_counts_5mm_and_real_small_values_are_kept() -> None:
    # 40 + 20 = 60; TSTM (5) + 3 measured = 8 -> -86.7% PR, not CR (a non-node is present)
    s = subject([target("T1", 40, "liver"), target("T2", 20, "lung")], [visit(56, {"T1": "TSTM", "T2": 3})])
    (result,) = timepoint_responses(s)
    assert result.sum_mm == Decimal(8)
    assert result.target == "PR"


def test_split_lesion_adds_fragments() -> None:
    # 40 at baseline; fragments 15 + 12 = 27 -> -32.5% PR
    (result,) = timepoint_responses(subject([target("T1", 40)], [visit(56, {"T1": split(15, 12)})]))
    assert result.sum_mm == Decimal(27)
    assert result.overall == "PR"


def test_coalesced_lesions_carry_the_whole_on_one() -> None:
    # 30 + 30 = 60; coalesced mass 45 on T1, T2 absorbed with 0 -> 45, -25% SD
    s = subject(
        [target("T1", 30, "liver"), target("T2", 30, "liver")],
        [visit(56, {"T1": coalesced(45, "T2"), "T2": coalesced_into("T1")})],
    )
    (result,) = timepoint_responses(s)
    assert result.sum_mm == Decimal(45)
    assert result.overall == "SD"


@pytest.mark.parametrize(
    ("node_mm", "nt_status", "target_code", "overall_code", "sum_mm"),
    [
        # liver 0, target node 9 mm SA, non-target node absent (<10 mm): CR with sum 9
        (9, "absent", "CR", "CR", 9),
        # same targets, but the non-target node is still pathological: Table 1 CR/non-CR -> PR
        (9, "present", "CR", "PR", 9),
        # target node at 10 mm is not normal: sum 10 is -80% vs 50 -> PR
        (10, "absent", "PR", "PR", 10),
    ],
)
def test_node_cr_rule(node_mm: int, nt_status: str, target_code: str, overall_code: str, sum_mm: int) -> None:
    s = subject(
        [target("T1", 30, "liver"), target("T2", 20, "lymph node", node=True)],
        [visit(56, {"T1": 0, "T2": node_mm}, {"NT1": nt_status})],
        non_targets=[non_target("NT1", "lymph node", node=True)],
    )
    (result,) = timepoint_responses(s)
    assert (result.target, result.overall, result.sum_mm) == (target_code, overall_code, Decimal(sum_mm))


# --- Table 1 and Table 2 (R11-TPR-T1, R11-TPR-T2) ----------------------------------


@pytest.mark.parametrize(
    ("t1", "nt", "new_lesions", "cats", "expected"),
    [
        (0, "absent", [], ("CR", "CR", "NO"), "CR"),
        (0, "present", [], ("CR", "NON-CR/NON-PD", "NO"), "PR"),
        (0, "not_evaluated", [], ("CR", "NE", "NO"), "PR"),
        (30, "not_evaluated", [], ("PR", "NE", "NO"), "PR"),  # 30 vs 50: -40%
        (45, "not_evaluated", [], ("SD", "NE", "NO"), "SD"),  # -10%
        (None, "present", [], ("NE", "NON-CR/NON-PD", "NO"), "NE"),
        (70, "present", [], ("PD", "NON-CR/NON-PD", "NO"), "PD"),  # +40%, +20 mm
        (30, "unequivocal_progression", [], ("PR", "PD", "NO"), "PD"),
        (30, "present", [new("N1", 12)], ("PR", "NON-CR/NON-PD", "YES"), "PD"),
        (None, "not_evaluated", [new("N1", None, measurable=False)], ("NE", "NE", "YES"), "PD"),
        # RECIST 1.1: "further increase" is not unequivocal progression
        (45, "further_increase", [], ("SD", "NON-CR/NON-PD", "NO"), "SD"),
        # a new lesion recorded at 0 mm has resolved: not present
        (45, "present", [new("N1", 0, measurable=False)], ("SD", "NON-CR/NON-PD", "NO"), "SD"),
        # a "new" node under 10 mm short axis is a normal node
        (45, "present", [new("N1", 8, organ="lymph node", node=True)], ("SD", "NON-CR/NON-PD", "NO"), "SD"),
    ],
)
def test_table1(
    t1: int | None, nt: str, new_lesions: list[NewLesion], cats: tuple[str, str, str], expected: str
) -> None:
    s = subject(
        [target("T1", 50, "liver")],
        [visit(56, {"T1": t1}, {"NT1": nt}, new_lesions)],
        non_targets=[non_target("NT1")],
    )
    (result,) = timepoint_responses(s)
    assert (result.target, result.non_target, result.new_lesions) == cats
    assert result.overall == expected


@pytest.mark.parametrize(
    ("nt", "new_lesions", "expected"),
    [
        ("absent", [], "CR"),
        ("present", [], "NON-CR/NON-PD"),
        ("further_increase", [], "NON-CR/NON-PD"),
        ("not_evaluated", [], "NE"),
        ("unequivocal_progression", [], "PD"),
        ("present", [new("N1", 6, measurable=False)], "PD"),
    ],
)
def test_table2_non_target_only_disease(nt: str, new_lesions: list[NewLesion], expected: str) -> None:
    s = subject([], [visit(56, {}, {"NT1": nt}, new_lesions)], non_targets=[non_target("NT1")])
    (result,) = timepoint_responses(s)
    assert result.target == "NA"
    assert result.sum_mm is None
    assert result.overall == expected


def test_scan_not_done_is_ne_everywhere() -> None:
    s = subject([target("T1", 50)], [not_done(56), visit(112, {"T1": 30}, {"NT1": "present"})],
                non_targets=[non_target("NT1")])
    results = timepoint_responses(s)
    first = results[0]
    assert (first.target, first.non_target, first.new_lesions, first.overall) == ("NE", "NE", "NE", "NE")
    assert overall(results) == ["NE", "PR"]


# --- equivocal new lesions (R11-EQUIVOCAL, A11) ------------------------------------


def _equivocal_subject(**settings: Any) -> Subject:
    return subject(
        [target("T1", 50, "liver")],
        [
            visit(56, {"T1": 45}, new_lesions=[new("N1", 6, equivocal=True, measurable=False)]),
            visit(112, {"T1": 45}, new_lesions=[new("N1", 8, measurable=False)]),
        ],
        **settings,
    )


def test_equivocal_new_lesion_is_not_pd_until_confirmed_then_backdates_the_date() -> None:
    results = timepoint_responses(_equivocal_subject())
    assert [r.new_lesions for r in results] == ["EQUIVOCAL", "YES"]
    assert overall(results) == ["SD", "PD"]  # 45 vs 50: -10% SD
    assert results[0].progression_date is None
    assert results[1].progression_date == day(56)  # first seen (equivocal) at day 56


def test_equivocal_backdates_response_alternative_makes_the_first_scan_pd() -> None:
    results = timepoint_responses(_equivocal_subject(equivocal_backdates_response=True))
    assert overall(results) == ["PD"]  # assessment stops at the backdated PD
    assert results[0].new_lesions == "YES"
    assert results[0].progression_date == day(56)


def test_equivocal_lesion_that_resolves_never_makes_pd() -> None:
    s = subject(
        [target("T1", 50, "liver")],
        [
            visit(56, {"T1": 45}, new_lesions=[new("N1", 6, equivocal=True, measurable=False)]),
            visit(112, {"T1": 45}, new_lesions=[new("N1", 0, measurable=False)]),
        ],
    )
    results = timepoint_responses(s)
    assert [r.new_lesions for r in results] == ["EQUIVOCAL", "NO"]
    assert overall(results) == ["SD", "SD"]


# --- continued PR (A1) -------------------------------------------------------------


def test_continued_pr_faq_table() -> None:
    # EORTC FAQ: 100, 70, 70, 80, 80, 80 -> PR at every follow-up. 80 vs nadir 70 is
    # +14.3%: not PD; vs baseline -20%: SD if read literally.
    results = timepoint_responses(sums_subject(100, [70, 70, 80, 80, 80]))
    assert overall(results) == ["PR"] * 5
    assert any("A1" in w for w in results[2].why)


def test_continued_pr_faq_165_63_65() -> None:
    assert overall(timepoint_responses(sums_subject(165, [63, 65]))) == ["PR", "PR"]


def test_literal_pr_reading_when_a1_is_off() -> None:
    results = timepoint_responses(sums_subject(100, [70, 70, 80, 80, 80], pr_continues_until_pd=False))
    assert overall(results) == ["PR", "PR", "SD", "SD", "SD"]


def test_pr_does_not_continue_after_sd_only() -> None:
    # 100 -> 80 (SD) -> 85 (SD): no PR ever assigned, nothing continues
    assert overall(timepoint_responses(sums_subject(100, [80, 85]))) == ["SD", "SD"]


# --- reappearance after CR (A2) ----------------------------------------------------


def _after_cr(second: dict[str, int], nt: str = "absent", **settings: Any) -> list[str]:
    s = subject(
        [target("T1", 30, "liver"), target("T2", 20, "lymph node", node=True)],
        [visit(56, {"T1": 0, "T2": 8}, {"NT1": "absent"}), visit(112, second, {"NT1": nt})],
        non_targets=[non_target("NT1", "bone")],
        **settings,
    )
    return overall(timepoint_responses(s))


@pytest.mark.parametrize(
    ("second", "nt", "a2", "expected"),
    [
        # node 8 -> 11 mm: +3 mm over the nadir 8 is not PD by the sum, but the node has
        # "reappeared" (>= 10 mm) after an overall CR: PD (A2 default)
        ({"T1": 0, "T2": 11}, "absent", True, ["CR", "PD"]),
        # A2 off: sum 11 vs baseline 50 is -78% -> target PR, overall PR
        ({"T1": 0, "T2": 11}, "absent", False, ["CR", "PR"]),
        # liver lesion back at 3 mm (sum 11, +3 mm): reappeared after CR -> PD
        ({"T1": 3, "T2": 8}, "absent", True, ["CR", "PD"]),
        # node still < 10 mm and liver 0: CR continues
        ({"T1": 0, "T2": 9}, "absent", True, ["CR", "CR"]),
        # non-nodal non-target seen again after CR: PD (A2); with A2 off, CR+non-CR = PR
        ({"T1": 0, "T2": 8}, "present", True, ["CR", "PD"]),
        ({"T1": 0, "T2": 8}, "present", False, ["CR", "PR"]),
    ],
)
def test_reappearance_after_cr(second: dict[str, int], nt: str, a2: bool, expected: list[str]) -> None:
    assert _after_cr(second, nt, reappearance_after_cr_is_pd=a2) == expected


def test_progression_uses_earliest_scan_date() -> None:
    s = sums_subject(100, [130])
    tp = dataclasses.replace(s.timepoints[0], scan_dates=(day(50), day(56)))
    s = dataclasses.replace(s, timepoints=(tp,))
    (result,) = timepoint_responses(s)
    assert result.progression_date == day(50)
    assert d(130) == result.sum_mm


@pytest.mark.parametrize(("criterion", "expected"), [
    ("recist1.1", "NON-CR/NON-PD"), ("irecist", "NON-iCR/NON-iUPD"), ("imrecist", "NON-CR/NON-PD"),
])
def test_confirmed_bor_of_non_target_only_disease_is_never_sd(criterion: str, expected: str) -> None:
    # Non-target-only baseline: every non-target gone on day 56 and day 70 (CR, but the
    # second scan is 14 days later: not confirmed). Measurement level knows there were no
    # targets, so the fallback is NON-CR/NON-PD (Table 2 footnote), not SD, in each vocabulary.
    from criteria.evaluate import evaluate

    s = subject([], [visit(56, {}, {"NT1": "absent"}), visit(70, {}, {"NT1": "absent"})],
                non_targets=[non_target("NT1")])
    result = evaluate(s, [criterion]).results[criterion]
    assert result.bor_confirmed == expected
    assert result.bor in ("CR", "iCR")
