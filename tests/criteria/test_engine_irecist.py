"""iRECIST timepoint engine: iUPD, confirmation (iCPD), reset, new-lesion targets, scan timing.

Expected values are worked out by hand in the comments (criteria-rules.md §4).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from engine_builders import (
    day,
    new,
    non_target,
    not_done,
    overall,
    subject,
    target,
    visit,
)

from criteria import recist11
from criteria.irecist import timepoint_responses
from criteria.types import NewLesion, ScanKind, Subject


def _sums(days_and_sums: list[tuple[int, int | None]], new_at: dict[int, list[NewLesion]] | None = None,
          **settings: Any) -> Subject:
    """One non-nodal liver target carrying the whole sum, on the given days."""
    new_at = new_at or {}
    return subject(
        [target("T1", 100, "liver")],
        [visit(t, {"T1": s}, new_lesions=new_at.get(t, [])) for t, s in days_and_sums],
        **settings,
    )


def test_contract_example() -> None:
    # examples/measurement-level.json: 42 + 20 = 62 -> 30+12 = 42 (-32.3%) -> 28+9 = 37
    # (-40.3%) -> 35+12 = 47 (+10 mm, +27.0% over 37: iUPD) -> 50 (+3 over 47: iUPD)
    # -> 53 (+6 over 47: iCPD). RECIST 1.1 stops at the PD.
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
    assert overall(results) == ["iPR", "iPR", "iUPD", "iUPD", "iCPD"]
    assert [r.sum_mm for r in results] == [Decimal(x) for x in (42, 37, 47, 50, 53)]
    assert results[2].progression_date == day(168)
    assert results[2].target == "iUPD"
    assert results[0].non_target == "NON-iCR/NON-iUPD"
    assert results[4].nadir_ref_mm == Decimal(37)
    assert results[4].extra["icpd_reason"] == "target_increase"
    assert overall(recist11.timepoint_responses(s)) == ["PR", "PR", "PD"]


def test_sequential_increases_add_up() -> None:
    # 100 -> 70 (iPR) -> 90 (+20 mm, +28.6% over 70: iUPD) -> 94 (+4 over 90: iUPD)
    # -> 96 (+6 over 90 in total: iCPD; FAQ: 4 mm then 2 mm confirms)
    results = timepoint_responses(_sums([(42, 70), (84, 90), (126, 94), (168, 96)]))
    assert overall(results) == ["iPR", "iUPD", "iUPD", "iCPD"]


def test_persisting_pd_without_further_increase_stays_iupd() -> None:
    # 100 -> 70 -> 90 (iUPD) -> 90 -> 92: never +5 over 90, still PD against nadir 70
    results = timepoint_responses(_sums([(42, 70), (84, 90), (126, 90), (168, 92)]))
    assert overall(results) == ["iPR", "iUPD", "iUPD", "iUPD"]


def test_confirmed_progression_stands() -> None:
    # iCPD at day 126 (+10 over 90); a later shrinkage does not undo it; not done -> NE
    results = timepoint_responses(_sums([(42, 70), (84, 90), (126, 100), (168, 50)]))
    assert overall(results) == ["iPR", "iUPD", "iCPD", "iCPD"]


def test_scan_not_done_inside_a_block_keeps_it_open() -> None:
    s = _sums([(42, 70), (84, 90)])
    s = subject(
        [target("T1", 100, "liver")],
        [*s.timepoints, not_done(126), visit(168, {"T1": 96})],
    )
    # iUPD, NE (no scan), then +6 over the iUPD sum 90 confirms (84 days later; A4 default)
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "NE", "iCPD"]


# --- non-target driven progression (FAQ-IR-NT-DRIVEN) ------------------------------


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ("further_increase", "iCPD"),  # increase since the last assessment (INCLA): confirms
        ("unequivocal_progression", "iUPD"),  # rated again: no change since the iUPD (NCLA)
        ("present", "iSD"),  # non-iCR/non-iUPD: an improvement, iSD criteria met -> reset
        ("absent", "iSD"),  # non-target iCR; targets 45 vs 50 are iSD -> reset
        ("not_evaluated", "NE"),  # cannot be confirmed or reset: NE, iUPD open
    ],
)
def test_non_target_driven_confirmation(second: str, expected: str) -> None:
    s = subject(
        [target("T1", 50, "liver")],
        [
            visit(56, {"T1": 45}, {"NT1": "unequivocal_progression"}),  # 45 vs 50: iSD targets
            visit(112, {"T1": 45}, {"NT1": second}),
        ],
        non_targets=[non_target("NT1")],
    )
    results = timepoint_responses(s)
    assert results[0].overall == "iUPD"
    assert results[0].non_target == "iUPD"
    assert results[0].target == "iSD"
    assert results[1].overall == expected


def test_present_after_non_target_iupd_resets_to_ipr_when_the_targets_shrink() -> None:
    # Issue 12 example: target 40 -> 40 with NT1 unequivocal (iUPD) -> 20 (-50%) with NT1
    # present: iUPD reset to iPR (SEY17 IR-RESET), not iUPD then iCPD; the explanation says
    # nothing the reader did not record.
    s = subject(
        [target("T1", 40, "liver")],
        [
            visit(56, {"T1": 40}, {"NT1": "unequivocal_progression"}),
            visit(112, {"T1": 20}, {"NT1": "present"}),
            visit(168, {"T1": 20}, {"NT1": "unequivocal_progression"}),
            visit(210, {"T1": 20}, {"NT1": "unequivocal_progression"}),
            visit(252, {"T1": 20}, {"NT1": "further_increase"}),
        ],
        non_targets=[non_target("NT1")],
    )
    results = timepoint_responses(s)
    # after the reset a new iUPD needs RECIST progression again (unequivocal), NCLA keeps
    # it, INCLA confirms
    assert overall(results) == ["iUPD", "iPR", "iUPD", "iUPD", "iCPD"]
    assert results[1].non_target == "NON-iCR/NON-iUPD"
    assert not any("progressed non-target disease persists" in w for w in results[1].why)
    assert any("IR-RESET" in w for w in results[1].why)
    assert any("NCLA" in w for w in results[3].why)
    assert results[4].extra["icpd_reason"] == "non_target_increase"


def test_further_increase_without_prior_non_target_iupd_is_not_progression() -> None:
    s = subject(
        [target("T1", 50, "liver")],
        [visit(56, {"T1": 45}, {"NT1": "further_increase"})],
        non_targets=[non_target("NT1")],
    )
    assert overall(timepoint_responses(s)) == ["iSD"]


def test_target_iupd_confirmed_by_non_target_progression_newly_met() -> None:
    # iUPD by targets (100 -> 70 -> 90); next: targets +2 only, but NT unequivocal
    # progression is RECIST PD newly met in another category: iCPD (IR-CONF b)
    s = subject(
        [target("T1", 100, "liver")],
        [
            visit(42, {"T1": 70}, {"NT1": "present"}),
            visit(84, {"T1": 90}, {"NT1": "present"}),
            visit(126, {"T1": 92}, {"NT1": "unequivocal_progression"}),
        ],
        non_targets=[non_target("NT1")],
    )
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "iCPD"]


# --- new-lesion driven progression (IR-NEW, FAQ-IR-NL-PROG) -------------------------


@pytest.mark.parametrize(
    ("third", "expected"),
    [
        ([new("N1", 16)], "iUPD"),  # NLT 12 -> 16: +4, not yet
        ([new("N1", 17)], "iCPD"),  # +5 mm in the NLT sum of measures
        ([new("N1", 12), new("N2", 6, measurable=False)], "iCPD"),  # more new lesions
        ([new("N1", 12)], "iUPD"),  # no change: remains iUPD (scenario F)
    ],
)
def test_new_lesion_driven_iupd_and_confirmation(third: list[NewLesion], expected: str) -> None:
    # targets 100 -> 60 (iPR) -> 60 + N1 12 mm lung (measurable: NLT) -> ...
    s = _sums([(42, 60), (84, 60), (126, 60)], {84: [new("N1", 12)], 126: third})
    results = timepoint_responses(s)
    assert overall(results)[:2] == ["iPR", "iUPD"]
    assert results[1].new_lesions == "YES"
    assert results[1].extra["nlt_sum_mm"] == Decimal(12)
    assert results[1].sum_mm == Decimal(60)  # NLT are not in the target sum
    assert results[2].overall == expected


def test_nlnt_any_increase_confirms() -> None:
    # N1 non-measurable (6 mm) -> iUPD; 7 mm next time: any NLNT increase -> iCPD
    s = _sums(
        [(42, 60), (84, 60)],
        {42: [new("N1", 6, measurable=False)], 84: [new("N1", 7, measurable=False)]},
    )
    results = timepoint_responses(s)
    assert overall(results) == ["iUPD", "iCPD"]
    assert "nlt_sum_mm" not in results[0].extra


def test_nlt_cap_two_per_organ() -> None:
    # three measurable lung lesions at once: the two largest (20 + 14 = 34) are NLT, the
    # smallest is NLNT (2 per organ, IR-NEW; selection by size, R11-TGT-SEL)
    s = _sums([(42, 60)], {42: [new("N1", 12), new("N2", 14), new("N3", 20)]})
    (result,) = timepoint_responses(s)
    assert result.overall == "iUPD"
    assert result.extra["nlt_sum_mm"] == Decimal(34)


# --- scenarios B and F (A5) ---------------------------------------------------------


def test_scenario_b_further_shrinkage_gives_ipr_then_further_new_lesions_iupd_again() -> None:
    # 100 -> 60 (iPR) -> 60 + N1 (iUPD) -> 50 with N1 unchanged: targets shrank further
    # and meet iPR: iPR (scenario B) -> 50 with N1 still there: iPR (N1 already known,
    # no further new lesion) -> N2 appears: a new iUPD, not iCPD (the block was reset)
    n1 = new("N1", 6, measurable=False)
    s = _sums(
        [(42, 60), (84, 60), (126, 50), (168, 50), (210, 50)],
        {84: [n1], 126: [n1], 168: [n1], 210: [n1, new("N2", 8, measurable=False)]},
    )
    results = timepoint_responses(s)
    assert overall(results) == ["iPR", "iUPD", "iPR", "iPR", "iUPD"]
    assert any("scenario B" in w for w in results[2].why)


def test_scenario_b_off_keeps_iupd_while_new_lesions_persist() -> None:
    n1 = new("N1", 6, measurable=False)
    s = _sums([(42, 60), (84, 60), (126, 50)], {84: [n1], 126: [n1]}, irecist_nl_iupd_allows_ipr=False)
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "iUPD"]


def test_scenario_f_no_change_remains_iupd() -> None:
    n1 = new("N1", 6, measurable=False)
    s = _sums([(42, 60), (84, 60), (126, 60)], {84: [n1], 126: [n1]})
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "iUPD"]


def test_new_lesion_resolving_resets() -> None:
    # N1 gone (0 mm) at the next assessment, targets 60 = -40%: reset to iPR
    s = _sums([(42, 60), (84, 60), (126, 60)], {84: [new("N1", 6, measurable=False)],
                                                126: [new("N1", 0, measurable=False)]})
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "iPR"]


# --- reset (IR-RESET) ---------------------------------------------------------------


def test_reset_after_isd_then_new_iupd_needs_confirmation_again() -> None:
    # 100 -> 80 (iSD, nadir 80) -> 100 (+20 mm, +25%: iUPD) -> 85 (+6.25% over 80: not PD;
    # -15% vs baseline: iSD, reset) -> 104 (+30% and +24 mm over 80: iUPD again, not iCPD)
    # -> 110 (+6 over 104: iCPD)
    results = timepoint_responses(_sums([(42, 80), (84, 100), (126, 85), (168, 104), (210, 110)]))
    assert overall(results) == ["iSD", "iUPD", "iSD", "iUPD", "iCPD"]
    assert any("IR-RESET" in w for w in results[2].why)
    assert results[3].progression_date == day(168)


def test_nlt_meeting_pd_after_reset_is_a_new_iupd() -> None:
    # N1 (NLT 20) -> iUPD; targets shrink and N1 shrinks to 10 -> reset? no: N1 persists;
    # use scenario B to reset (targets 60 -> 50, N1 unchanged 20). Afterwards N1 grows
    # 20 -> 25: +25% and +5 mm over its own nadir 20: iUPD again (IR-RESET)
    s = _sums(
        [(42, 60), (84, 60), (126, 50), (168, 50)],
        {84: [new("N1", 20)], 126: [new("N1", 20)], 168: [new("N1", 25)]},
    )
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "iPR", "iUPD"]


def test_pre_existing_nlt_growing_less_than_pd_after_reset_is_not_iupd() -> None:
    # as above but N1 20 -> 24 (+20%, +4 mm): not PD for the NLT, persisting lesion: iPR
    s = _sums(
        [(42, 60), (84, 60), (126, 50), (168, 50)],
        {84: [new("N1", 20)], 126: [new("N1", 20)], 168: [new("N1", 24)]},
    )
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "iPR", "iPR"]


# --- confirmation timing (FAQ-IR-EARLY-SCAN, A4) ------------------------------------


def test_early_scan_cannot_confirm_by_growth() -> None:
    # iUPD at day 84 (90 over nadir 70); day 98 is 14 days later (< 28 - 2): +10 mm is
    # disregarded for confirmation (iUPD); day 140 (56 days): 96 is +6 over 90: iCPD
    results = timepoint_responses(_sums([(42, 70), (84, 90), (98, 100), (140, 96)]))
    assert overall(results) == ["iPR", "iUPD", "iUPD", "iCPD"]
    assert any("FAQ-IR-EARLY-SCAN" in w for w in results[2].why)


def test_early_scan_window_edge() -> None:
    # 26 days after the iUPD is inside the tolerance (28 - 2): it confirms; 25 days is early
    assert overall(timepoint_responses(_sums([(42, 70), (84, 90), (110, 100)]))) == ["iPR", "iUPD", "iCPD"]
    assert overall(timepoint_responses(_sums([(42, 70), (84, 90), (109, 100)]))) == ["iPR", "iUPD", "iUPD"]


def test_early_symptom_driven_scan_with_new_lesion_confirms() -> None:
    s = _sums([(42, 70), (84, 90)])
    early = visit(98, {"T1": 90}, new_lesions=[new("N1", 8, measurable=False)],
                  scan=ScanKind.UNSCHEDULED_SYMPTOM_DRIVEN)
    s = subject([target("T1", 100, "liver")], [*s.timepoints, early])
    results = timepoint_responses(s)
    assert overall(results) == ["iPR", "iUPD", "iCPD"]
    assert results[2].extra["icpd_reason"] == "new_lesions_added"


def test_early_scheduled_scan_with_new_lesion_is_disregarded_then_confirmed_in_window() -> None:
    # the new lesion on a non-symptom-driven early scan cannot confirm; it still counts as
    # "additional" at the in-window scan (day 140), which confirms
    n1 = new("N1", 8, measurable=False)
    s = _sums([(42, 70), (84, 90), (98, 90), (140, 90)], {98: [n1], 140: [n1]})
    assert overall(timepoint_responses(s)) == ["iPR", "iUPD", "iUPD", "iCPD"]


@pytest.mark.parametrize(("late_confirms", "expected"), [(True, "iCPD"), (False, "iUPD")])
def test_late_scan(late_confirms: bool, expected: str) -> None:
    # iUPD at day 84; next scan 70 days later (> 56) with +6 mm
    s = _sums([(42, 70), (84, 90), (154, 96)], irecist_late_scan_confirms=late_confirms)
    assert overall(timepoint_responses(s))[-1] == expected


# --- continued PR and non-target-only disease ----------------------------------------


def test_continued_ipr_faq() -> None:
    # FAQ-IR-MANAGING-PR: 100, 70, 70, 80, 80, 80 -> iPR at every follow-up
    results = timepoint_responses(_sums([(42, 70), (84, 70), (126, 80), (168, 80), (210, 80)]))
    assert overall(results) == ["iPR"] * 5


@pytest.mark.parametrize(
    ("nt", "new_lesions", "expected"),
    [
        ("present", [], "NON-iCR/NON-iUPD"),
        ("absent", [], "iCR"),
        ("not_evaluated", [], "NE"),
        ("unequivocal_progression", [], "iUPD"),
        ("present", [new("N1", 5, measurable=False)], "iUPD"),
    ],
)
def test_non_target_only_disease(nt: str, new_lesions: list[NewLesion], expected: str) -> None:
    s = subject([], [visit(56, {}, {"NT1": nt}, new_lesions)], non_targets=[non_target("NT1")])
    (result,) = timepoint_responses(s)
    assert result.target == "NA"
    assert result.overall == expected


# --- equivocal new lesions (R11-EQUIVOCAL via IR-BASE, A11) --------------------------


def _equivocal(**settings: Any) -> Subject:
    return _sums(
        [(42, 60), (84, 60), (126, 60)],
        {
            42: [new("N1", 6, measurable=False, equivocal=True)],
            84: [new("N1", 8, measurable=False)],
            126: [new("N1", 8, measurable=False)],
        },
        **settings,
    )


def test_equivocal_new_lesion_confirmed_later_dates_the_iupd_back() -> None:
    # day 42 equivocal (iPR, EQUIVOCAL); day 84 unequivocal: iUPD dated day 42; day 126
    # unchanged: remains iUPD
    results = timepoint_responses(_equivocal())
    assert [r.new_lesions for r in results] == ["EQUIVOCAL", "YES", "YES"]
    assert overall(results) == ["iPR", "iUPD", "iUPD"]
    assert results[1].progression_date == day(42)


def test_equivocal_backdated_response_alternative() -> None:
    # A11 alternative: day 42 is already iUPD; at day 84 the lesion (NLNT) grew 6 -> 8 mm:
    # any NLNT increase confirms (42 days later, in the window): iCPD
    results = timepoint_responses(_equivocal(equivocal_backdates_response=True))
    assert overall(results) == ["iUPD", "iCPD", "iCPD"]
    assert results[0].progression_date == day(42)


def test_missing_target_proves_iupd_when_the_rest_already_progress() -> None:
    # R11-MISSING under iRECIST: 20 + 20 + 10 = 50; 40 + 40 with T3 not assessed: iUPD
    s = subject(
        [target("T1", 20, "liver"), target("T2", 20, "lung"), target("T3", 10, "spleen")],
        [visit(56, {"T1": 40, "T2": 40, "T3": None})],
    )
    (result,) = timepoint_responses(s)
    assert (result.target, result.overall, result.sum_mm) == ("iUPD", "iUPD", None)
    assert result.extra["partial_sum_mm"] == Decimal(80)


def test_lesion_missing_at_the_iupd_does_not_pass_for_growth() -> None:
    # 20 + 20 + 10 = 50; day 56: 40 + 40 with T3 not assessed proves iUPD (80 >= 60).
    # Day 98: 40 + 40 + 10 = 90. T1 and T2 did not grow: no further increase, and 90 is
    # still PD against the nadir 50 -> iUPD, not iCPD (comparing 90 with the partial 80
    # would wrongly give +10 mm).
    s = subject(
        [target("T1", 20, "liver"), target("T2", 20, "lung"), target("T3", 10, "spleen")],
        [visit(56, {"T1": 40, "T2": 40, "T3": None}), visit(98, {"T1": 40, "T2": 40, "T3": 10}),
         visit(140, {"T1": 43, "T2": 42, "T3": 10})],
    )
    # day 140: T1 +3, T2 +2 over the iUPD values: +5 mm -> iCPD
    assert overall(timepoint_responses(s)) == ["iUPD", "iUPD", "iCPD"]


def test_node_reappearing_after_icr_is_iupd() -> None:
    # liver 0 + node 8 = iCR; node 11: reappearance after iCR (A2) -> iUPD
    s = subject(
        [target("T1", 30, "liver"), target("T2", 20, "lymph node", node=True)],
        [visit(56, {"T1": 0, "T2": 8}), visit(112, {"T1": 0, "T2": 11})],
    )
    assert overall(timepoint_responses(s)) == ["iCR", "iUPD"]


def test_early_scan_can_reset() -> None:
    # iUPD at day 84 (90 over nadir 70); day 98 (early) 72: +2.9% over 70, not PD, and
    # -28% vs baseline -> iSD, a reset (the FAQ only bars early scans from defining iCPD);
    # day 140 back at 90: a new iUPD, not iCPD
    results = timepoint_responses(_sums([(42, 70), (84, 90), (98, 72), (140, 90)]))
    assert overall(results) == ["iPR", "iUPD", "iSD", "iUPD"]


def test_new_lesion_omitted_after_new_lesion_iupd() -> None:
    # NL-driven iUPD (N1 12 NLT, N2 6 NLNT). Next: N1 left off the list (not assessed, not
    # resolved). With N2 still there the iUPD holds; with N2 resolved (0) nothing shows the
    # progression gone either: NE, iUPD open, not a reset (IR-RESET, R11-MISSING). Listing
    # N1 at 0 mm (resolved) as well does reset.
    n1, n2 = new("N1", 12), new("N2", 6, measurable=False)
    assert overall(timepoint_responses(_sums([(42, 90), (84, 90)], {42: [n1, n2], 84: [n2]}))) == [
        "iUPD", "iUPD"]
    gone = new("N2", 0, measurable=False)
    results = timepoint_responses(_sums([(42, 90), (84, 90)], {42: [n1, n2], 84: [gone]}))
    assert overall(results) == ["iUPD", "NE"]
    assert any("N1" in w and "not on this scan's list" in w for w in results[1].why)
    both_gone = [new("N1", 0), gone]
    assert overall(timepoint_responses(_sums([(42, 90), (84, 90)], {42: [n1, n2], 84: both_gone}))) == [
        "iUPD", "iSD"]
