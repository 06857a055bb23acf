"""imRECIST timepoint engine: SLD with measurable new lesions, PD on measurable disease only.

Expected values are worked out by hand in the comments (criteria-rules.md §5).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from engine_builders import day, new, non_target, overall, subject, sums_subject, target, visit

from criteria import irecist, recist11
from criteria.imrecist import timepoint_responses
from criteria.types import NewLesion, Subject


def _with_new(values: list[tuple[int, int, list[NewLesion]]], baseline: int = 50, **settings: Any) -> Subject:
    """One liver target (baseline ``baseline`` mm); visits (day, T1 mm, new lesions)."""
    return subject(
        [target("T1", baseline, "liver")],
        [visit(t, {"T1": mm}, new_lesions=nl) for t, mm, nl in values],
        **settings,
    )


def test_contract_example() -> None:
    # 62 -> 42 (PR) -> 37 (PR) -> 47 (+27.0%, +10 over 37: PD) -> 50 (PD) -> 53 (PD)
    s = subject(
        [target("T1", 42, "liver"), target("T2", 20, "lymph node", node=True)],
        [
            visit(56, {"T1": 30, "T2": 12}, {"NT1": "present"}),
            visit(112, {"T1": 28, "T2": 9}, {"NT1": "present"}),
            visit(168, {"T1": 35, "T2": 12}, {"NT1": "present"}),
            visit(210, {"T1": 38, "T2": 12}, {"NT1": "present"}),
            visit(252, {"T1": 41, "T2": 12}, {"NT1": "present"}),
        ],
        non_targets=[non_target("NT1", "bone")],
    )
    results = timepoint_responses(s)
    assert overall(results) == ["PR", "PR", "PD", "PD", "PD"]
    assert results[2].progression_date == day(168)
    assert results[4].nadir_ref_mm == Decimal(37)


def test_new_measurable_lesion_joins_the_sum_and_drives_pd_then_response_after_pd() -> None:
    # 50 -> 30 (-40% PR) -> 30 + N1 12 = SLD 42: +40% and +12 over the nadir 30: PD
    # -> 25 + 10 = 35: +16.7% over 30, not PD; -30% vs baseline 50: PR (imRECIST goes on)
    s = _with_new([(56, 30, []), (112, 30, [new("N1", 12)]), (168, 25, [new("N1", 10)])])
    results = timepoint_responses(s)
    assert overall(results) == ["PR", "PD", "PR"]
    assert results[1].sum_mm == Decimal(42)
    assert results[1].extra["new_measurable_sum_mm"] == Decimal(12)
    assert results[2].pct_vs_baseline == Decimal(-30)
    assert overall(recist11.timepoint_responses(s)) == ["PR", "PD"]


def test_new_measurable_lesion_is_not_pd_by_itself() -> None:
    # 100 -> 60 (PR) -> 55 + N1 10 = 65: +8.3% over 60, not PD; -35% vs 100: PR.
    # RECIST 1.1 calls the new lesion PD, iRECIST iUPD.
    s = _with_new([(56, 60, []), (112, 55, [new("N1", 10)])], baseline=100)
    assert overall(timepoint_responses(s)) == ["PR", "PR"]
    assert overall(recist11.timepoint_responses(s)) == ["PR", "PD"]
    assert overall(irecist.timepoint_responses(s)) == ["iPR", "iUPD"]


def test_non_measurable_new_lesion_is_not_pd_but_blocks_cr() -> None:
    # T1 gone, new 6 mm non-measurable lesion: SLD CR, overall PR (CR precluded)
    s = _with_new([(56, 0, [new("N1", 6, measurable=False)])])
    (result,) = timepoint_responses(s)
    assert (result.target, result.new_lesions, result.overall) == ("CR", "YES", "PR")
    # ...and once it resolves: CR
    s = _with_new([(56, 0, [new("N1", 6, measurable=False)]), (112, 0, [new("N1", 0, measurable=False)])])
    assert overall(timepoint_responses(s)) == ["PR", "CR"]


def test_non_measurable_new_lesion_with_stable_targets_is_sd() -> None:
    s = _with_new([(56, 45, [new("N1", 6, measurable=False)])])  # 45 vs 50: -10%
    assert overall(timepoint_responses(s)) == ["SD"]


def test_non_target_unequivocal_progression_is_not_pd() -> None:
    s = subject(
        [target("T1", 50, "liver")],
        [visit(56, {"T1": 45}, {"NT1": "unequivocal_progression"})],
        non_targets=[non_target("NT1")],
    )
    (result,) = timepoint_responses(s)
    assert (result.non_target, result.overall) == ("NON-CR/NON-PD", "SD")
    assert recist11.timepoint_responses(s)[0].overall == "PD"


def test_goes_on_after_pd() -> None:
    # 100 -> 130 (PD) -> 60 (-40% vs baseline; nadir stays 100): PR
    assert overall(timepoint_responses(sums_subject(100, [130, 60]))) == ["PD", "PR"]


@pytest.mark.parametrize(("cap", "sld", "new_sum"), [("recist", 94, 34), ("irrc", 106, 46)])
def test_new_lesion_cap(cap: str, sld: int, new_sum: int) -> None:
    # 60 + lung N1 12, N2 14, N3 20: "recist" keeps 2 per organ, the largest (20 + 14;
    # R11-TGT-SEL selection by size), "irrc" all three
    s = _with_new([(56, 60, [new("N1", 12), new("N2", 14), new("N3", 20)])], baseline=100,
                  imrecist_new_lesion_cap=cap)
    (result,) = timepoint_responses(s)
    assert result.sum_mm == Decimal(sld)
    assert result.extra["new_measurable_sum_mm"] == Decimal(new_sum)


@pytest.mark.parametrize(("requires_5mm", "expected"), [(True, "SD"), (False, "PD")])
def test_five_mm_rule_setting(requires_5mm: bool, expected: str) -> None:
    # 20 -> 24: +20% but +4 mm (A7)
    s = sums_subject(20, [24], imrecist_pd_requires_5mm=requires_5mm)
    assert overall(timepoint_responses(s)) == [expected]


def test_lesion_joins_the_sum_once_measurable() -> None:
    # N1 8 mm (too small) -> not in the SLD; 14 mm later -> in the SLD: 40 + 14 = 54
    s = _with_new([(56, 40, [new("N1", 8, measurable=False)]), (112, 40, [new("N1", 14)])])
    results = timepoint_responses(s)
    assert results[0].sum_mm == Decimal(40)
    assert results[1].sum_mm == Decimal(54)  # +35% and +14 over the nadir 40: PD
    assert overall(results) == ["SD", "PD"]


def test_measured_new_lesion_not_reported_makes_the_sld_incomplete() -> None:
    # N1 (12) joined the SLD; next visit lists no N1: SLD 30 + ? -> NE
    s = _with_new([(56, 30, [new("N1", 12)]), (112, 30, [])], baseline=100)
    results = timepoint_responses(s)
    assert overall(results) == ["PR", "NE"]


def test_non_target_only_disease() -> None:
    # NT only: present -> NON-CR/NON-PD; a new measurable lesion (12 mm over a nadir of
    # 0) is measurable disease meeting PD
    s = subject([], [visit(56, {}, {"NT1": "present"}), visit(112, {}, {"NT1": "present"}, [new("N1", 12)])],
                non_targets=[non_target("NT1")])
    results = timepoint_responses(s)
    assert overall(results) == ["NON-CR/NON-PD", "PD"]
    assert results[0].target == "NA"


@pytest.mark.parametrize("later_mm", [4, 12, 1])
def test_non_target_only_disease_never_gets_pr_or_sd_after_a_new_measurable_lesion(later_mm: int) -> None:
    # RECIST 1.1 Table 2: without measurable baseline disease the categories are CR,
    # NON-CR/NON-PD, PD, NE. N1 12 mm (PD over the nadir 0), then N1 4 / 12 / 1 mm: not PD
    # over the nadir 0 by 5 mm when 4 or 1 (NON-CR/NON-PD, never SD or PR against a baseline
    # sum of 0); 12 mm is still PD; then gone with NT1 absent: CR.
    s = subject(
        [],
        [
            visit(56, {}, {"NT1": "present"}, [new("N1", 12)]),
            visit(112, {}, {"NT1": "present"}, [new("N1", later_mm)]),
            visit(168, {}, {"NT1": "absent"}, [new("N1", 0)]),
        ],
        non_targets=[non_target("NT1")],
    )
    results = timepoint_responses(s)
    middle = "PD" if later_mm >= 5 else "NON-CR/NON-PD"
    assert overall(results) == ["PD", middle, "CR"]
    assert results[1].target == middle
    assert not any("baseline 0.0 mm" in w for w in results[1].why)
    assert not {r.overall for r in results} & {"PR", "SD"}


@pytest.mark.parametrize(("a2", "expected"), [(True, ["CR", "PD"]), (False, ["CR", "PR"])])
def test_target_reappearing_after_cr(a2: bool, expected: list[str]) -> None:
    # liver 0 + node 8 = CR (nadir 8); node 11 next: +3 mm is not PD by the SLD, but a
    # reappearance after CR under A2; without A2: 11 vs 50 is -78%, PR
    s = subject(
        [target("T1", 30, "liver"), target("T2", 20, "lymph node", node=True)],
        [visit(56, {"T1": 0, "T2": 8}), visit(112, {"T1": 0, "T2": 11})],
        reappearance_after_cr_is_pd=a2,
    )
    assert overall(timepoint_responses(s)) == expected
