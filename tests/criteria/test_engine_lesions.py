"""Shared measurement helpers of the engines (criteria.lesions)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_builders import coalesced_into, d, measurement, new, split, subject, target, visit

from criteria.lesions import (
    SumLesion,
    allocate_new_targets,
    assess_sum,
    new_lesion_measurable,
    new_lesion_present,
    new_lesion_views,
    organ_key,
    target_mm,
)
from criteria.types import NewLesion, TargetKind, TargetMeasurement


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (measurement("TSTM"), Decimal(5)),  # R11-TSTM
        (measurement("3.5"), Decimal("3.5")),  # a real value below 5 is kept
        (measurement(None), None),
        (split(15, 12), Decimal(27)),
        (coalesced_into("T1"), Decimal(0)),
        (TargetMeasurement(TargetKind.COALESCED_INTO, None, coalesced_into="T1"), Decimal(0)),
        (TargetMeasurement(TargetKind.TOO_SMALL, None, raw="TSTM"), Decimal(5)),
    ],
)
def test_target_mm(value: TargetMeasurement, expected: Decimal | None) -> None:
    assert target_mm(value) == expected


@pytest.mark.parametrize(
    ("organ", "node", "key"),
    [
        ("Left lung", False, "lung"),
        ("right  lung", False, "lung"),
        ("lungs", False, "lung"),
        ("kidney-left", False, "kidney"),
        ("ovary", False, "ovaries"),
        ("mediastinum", True, "lymph node"),  # all nodes are one organ
        ("Liver", False, "liver"),
    ],
)
def test_organ_key(organ: str, node: bool, key: str) -> None:
    assert organ_key(organ, node) == key


@pytest.mark.parametrize(
    ("lesion", "present", "measurable"),
    [
        (new("N1", 10), True, True),
        (new("N1", "9.9", measurable=True), True, False),  # below 10 mm
        (new("N1", 14, node=True, measurable=True), True, False),  # node needs 15 mm SA
        (new("N1", 15, node=True), True, True),
        (new("N1", 9, node=True, measurable=False), False, False),  # normal node
        (new("N1", 0, measurable=False), False, False),  # resolved
        (new("N1", None, measurable=False), True, False),  # present, not measured
    ],
)
def test_new_lesion_presence_and_measurability(lesion: NewLesion, present: bool, measurable: bool) -> None:
    assert new_lesion_present(lesion) is present
    assert new_lesion_measurable(lesion) is measurable


def test_allocation_caps_per_organ_with_paired_organs_grouped() -> None:
    # left and right lung are one organ (2 per organ): largest first (R11-TGT-SEL), so N3
    # (30) is chosen, then one of the tied N1 / N2 (12): equal sizes go by organ text
    # ("left lung" < "right lung"), never by input order or id; N4 (liver) chosen at the
    # next visit
    s = subject(
        [target("T1", 50, "liver")],
        [
            visit(56, {"T1": 50}, new_lesions=[new("N1", 12, "left lung"), new("N2", 12, "right lung"),
                                               new("N3", 30, "lung")]),
            visit(112, {"T1": 50}, new_lesions=[new("N4", 11, "liver")]),
        ],
    )
    views = new_lesion_views(s)
    assert allocate_new_targets(s, views) == {"N3": 0, "N1": 0, "N4": 1}
    assert allocate_new_targets(s, views, cap=(10, 5)) == {"N1": 0, "N2": 0, "N3": 0, "N4": 1}


def test_allocation_promotion_only_when_asked() -> None:
    s = subject(
        [target("T1", 50, "liver")],
        [
            visit(56, {"T1": 50}, new_lesions=[new("N1", 8, measurable=False)]),
            visit(112, {"T1": 50}, new_lesions=[new("N1", 12)]),
        ],
    )
    views = new_lesion_views(s)
    assert allocate_new_targets(s, views) == {}  # iRECIST: NLNT when first seen, stays NLNT
    assert allocate_new_targets(s, views, promote=True) == {"N1": 1}  # imRECIST


def test_assess_sum_incomplete_pd_from_zero_nadir() -> None:
    # nadir 0 (CR without nodes): 6 mm is +6 mm -> PD; the percentage is undefined
    result = assess_sum([SumLesion("T1", False, d(6))], baseline_mm=d(30), nadir_mm=d(0))
    assert result.code == "PD"
    assert result.pct_vs_nadir is None
    assert "6.0 mm above the nadir 0.0 mm" in result.why[0]


def test_response_level_subject_is_refused_by_every_engine() -> None:
    import dataclasses

    from criteria import imrecist, irecist, recist11
    from criteria.errors import InputError

    s = dataclasses.replace(subject([target("T1", 50)], []), baseline=None)
    for engine in (recist11, irecist, imrecist):
        with pytest.raises(InputError, match="baseline"):
            engine.timepoint_responses(s)


def test_allocation_size_ties_do_not_depend_on_order_or_ids() -> None:
    # Three lung lesions tied at 20 mm when first seen, 2 places (R11-TGT-SEL / IR-NEW): the
    # tie is broken on what the input says about the lesions later, never on list order or
    # ids, so every ordering and naming of the same lesions gives the same sums.
    from itertools import permutations

    from criteria import imrecist, irecist

    sizes = {"a": (20, 25), "b": (20, 20), "c": (20, 10)}
    outcomes = set()
    for names in permutations(["N1", "N2", "N3"]):
        for order in permutations("abc"):
            rename = dict(zip("abc", names, strict=True))
            s = subject(
                [target("T1", 50, "liver")],
                [visit(n, {"T1": 30}, new_lesions=[new(rename[k], sizes[k][j]) for k in order])
                 for j, n in enumerate((56, 112))],
            )
            chosen = allocate_new_targets(s, new_lesion_views(s))
            outcomes.add((
                frozenset(k for k in "abc" if rename[k] in chosen),
                tuple(r.extra.get("nlt_sum_mm") for r in irecist.timepoint_responses(s)),
                tuple(r.sum_mm for r in imrecist.timepoint_responses(s)),
            ))
    assert len(outcomes) == 1
