"""irRECIST (Nishino 2013/2014, Bohnsack 2014): TMTB, +20% / +5 mm, confirmation, and the
property that it equals RECIST 1.1 without new lesions up to the first PD."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from engine_builders import d, day, new, non_target, overall, subject, sums_subject, target, visit
from hypothesis import given
from test_properties import PROPERTY_SETTINGS, histories

from criteria.evaluate import evaluate
from criteria.irrecist import CODES
from criteria.parse import parse_subject
from criteria.types import IRRECIST, RECIST11


def run(s: Any, criterion: str = IRRECIST) -> Any:
    return evaluate(s, [criterion]).results[criterion]


@pytest.mark.parametrize(("sums", "expected", "five_mm"), [
    ([60], "irPD", True),       # 50 -> 60: exactly +20% and +10 mm
    (["59.9"], "irSD", True),   # +19.8%
    (["60.1"], "irPD", True),
    ([24], "irSD", True),       # nadir 20 -> 24: +20% but +4 mm (I3 default needs 5 mm)
    ([24], "irPD", False),      # +20% only (Nishino reading)
    (["23.9"], "irSD", False),
    ([25], "irPD", True),       # +25%, exactly +5 mm
    (["24.9"], "irSD", True),   # +24.5%, +4.9 mm
])
def test_pd_boundaries(sums: list[int | str], expected: str, five_mm: bool) -> None:
    baseline = 50 if sums[0] in (60, "59.9", "60.1") else 20
    s = sums_subject(baseline, sums, irrecist_pd_requires_5mm=five_mm)
    assert overall(run(s).timepoints) == [expected]


@pytest.mark.parametrize(("value", "expected"), [(35, "irPR"), ("34.9", "irPR"), ("35.1", "irSD")])
def test_pr_boundary(value: int | str, expected: str) -> None:
    assert overall(run(sums_subject(50, [value])).timepoints) == [expected]  # -30% of 50 = 35


def test_new_measurable_lesion_joins_tmtb_instead_of_making_pd() -> None:
    s = subject([target("T1", 50, "liver")],
                [visit(56, {"T1": 40}, new_lesions=[new("N1", 10, "lung")]),      # 40 + 10 = 50: irSD
                 visit(112, {"T1": 40}, new_lesions=[new("N1", 20, "lung")])])    # 60 vs nadir 50: irPD
    result = run(s)
    assert overall(result.timepoints) == ["irSD", "irPD"]
    assert [tp.sum_mm for tp in result.timepoints] == [d(50), d(60)]
    assert overall(run(s, RECIST11).timepoints) == ["PD"]


def test_new_non_measurable_lesion_precludes_ircr_only() -> None:
    s = subject([target("T1", 30, "liver")], [visit(56, {"T1": 0}, new_lesions=[new("N1", 6, "lung")])])
    assert overall(run(s).timepoints) == ["irPR"]


def test_non_target_unequivocal_progression_is_irpd() -> None:
    s = subject([target("T1", 30, "liver")], [visit(56, {"T1": 30}, {"NT1": "unequivocal_progression"})],
                [non_target("NT1")])
    assert overall(run(s).timepoints) == ["irPD"]


def test_non_target_only_disease_is_irnn() -> None:
    visits = [visit(56, {}, {"NT1": "present"}), visit(112, {}, {"NT1": "absent"})]
    s = subject([], visits, [non_target("NT1")])
    assert overall(run(s).timepoints) == ["irNN", "irCR"]


@pytest.mark.parametrize(("gap", "max_days", "status"), [
    (28, 0, "confirmed"), (27, 0, "unconfirmed"), (84, 84, "confirmed"), (85, 84, "not_confirmed")])
def test_confirmation_window(gap: int, max_days: int, status: str) -> None:
    s = subject([target("T1", 50, "liver")], [visit(56, {"T1": 60}), visit(56 + gap, {"T1": 62})],
                ir_confirm_max_days=max_days)
    result = run(s)
    assert result.timepoints[0].extra["pd_status"] == status
    # the first irPD dates irPFS unless the window closed on it; then the late irPD, itself
    # unconfirmed (nothing after it), is the event (I2 default)
    assert result.pfs.event
    assert result.pfs.date == (day(56 + gap) if status == "not_confirmed" else day(56))


def test_pseudoprogression_then_response_counts_for_irbor() -> None:
    s = sums_subject(50, [60, 30, 30])  # irPD, then irPR twice 8 weeks apart
    result = run(s)
    assert overall(result.timepoints) == ["irPD", "irPR", "irPR"]
    assert result.timepoints[0].extra["pd_status"] == "not_confirmed"
    assert (result.bor, result.bor_confirmed, result.pfs.event) == ("irPR", "irPR", False)


def _no_new_lesions(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for tp in data["timepoints"]:
        if "new_lesions" in tp:
            tp["new_lesions"] = []
    return data


@PROPERTY_SETTINGS
@given(histories())
def test_irrecist_equals_recist_without_new_lesions_up_to_first_pd(data: dict[str, Any]) -> None:
    s = parse_subject(_no_new_lesions(data))
    both = evaluate(s, [RECIST11, IRRECIST]).results
    recist = both[RECIST11].timepoints
    ir = both[IRRECIST].timepoints[: len(recist)]
    assert [CODES[r.overall] for r in recist] == [r.overall for r in ir]
    assert [r.sum_mm for r in recist] == [r.sum_mm for r in ir]
    assert [r.target for r in recist] == [r.target for r in ir]


@pytest.mark.parametrize(("is_pd", "expected"), [(True, ["irPD", "irPD"]), (False, ["irSD", "irPR"])])
def test_i7_non_target_progression_setting(is_pd: bool, expected: list[str]) -> None:
    # False (Nishino): the unequivocal non-target progression only rules out irCR: target CR
    # with progressing non-targets is irPR
    s = subject([target("T1", 30, "liver")],
                [visit(56, {"T1": 30}, {"NT1": "unequivocal_progression"}),
                 visit(112, {"T1": 0}, {"NT1": "unequivocal_progression"})],
                [non_target("NT1")], irrecist_nt_progression_is_pd=is_pd)
    assert overall(run(s).timepoints) == expected


@pytest.mark.parametrize(("refutes", "status"), [(True, "not_confirmed"), (False, "confirmed")])
def test_i8_early_non_pd_after_irpd(refutes: bool, status: str) -> None:
    # irPD at day 56 (60 vs 50), irSD 14 days later (55: +10%), irPD again at day 98 (42 days)
    s = subject([target("T1", 50, "liver")],
                [visit(56, {"T1": 60}), visit(70, {"T1": 55}), visit(98, {"T1": 62})],
                ir_early_non_pd_refutes=refutes)
    result = run(s)
    assert overall(result.timepoints) == ["irPD", "irSD", "irPD"]
    assert result.timepoints[0].extra["pd_status"] == status
    # True: the day-98 irPD is itself unconfirmed (nothing after it): the I2 event is there
    assert result.pfs.event and result.pfs.date == (day(98) if refutes else day(56))
