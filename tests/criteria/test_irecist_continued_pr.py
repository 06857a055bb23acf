"""A1 continued PR under iRECIST, category by category (IR-BASE, FAQ-IR-MANAGING-PR).

Before any iUPD, iRECIST is RECIST 1.1 with the "i" prefix in every category (target,
non-target, new lesions, overall). RECIST 1.1 with A1 (``pr_continues_until_pd``, default
on) turns a target SD after an earlier PR into target PR; iRECIST must do the same to its
target category, whatever the overall response, and must honour the setting when it is
off. Both cases were found by the property test ``test_irecist_equals_recist_up_to_first_pd``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from criteria.evaluate import evaluate
from criteria.parse import parse
from criteria.serialize import subject_json


def _subject(timepoints: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {
        "subject": "A1",
        "reference_date": "2024-01-01",
        "baseline": {
            "date": "2024-01-01",
            "targets": [{"id": "T1", "organ": "liver", "node": False, "mm": 10}],
            "non_targets": [],
        },
        "timepoints": timepoints,
        **({"settings": settings} if settings else {}),
    }


def _codes(data: dict[str, Any], criterion: str) -> list[tuple[str, str, str]]:
    subject = parse(json.dumps(data))
    assert not isinstance(subject, list)
    out = subject_json(evaluate(subject), explain=True)["results"][criterion]["timepoints"]
    return [(t["target"], t["new_lesions"], t["overall"]) for t in out]


def _tp(date: str, mm: Any, new: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "date": date,
        "scan": "scheduled",
        "targets": {"T1": mm},
        "non_targets": {},
        "new_lesions": new or [],
    }


# 10 mm -> 4 mm is PR (-60%); 4 mm -> 8 mm is +100% but only +4 mm, so not PD (R11-PD needs
# +5 mm): the sum alone is SD (-20% from baseline), and A1 keeps it PR.
PR_THEN_SD = [_tp("2024-03-01", 4), _tp("2024-05-01", 8)]
NEW_LESION = [{"id": "N1", "organ": "lung", "node": False, "mm": 12, "measurable": True}]


def test_recist_and_irecist_both_continue_pr_in_the_target_category() -> None:
    data = _subject(PR_THEN_SD)
    assert _codes(data, "recist1.1") == [("PR", "NO", "PR"), ("PR", "NO", "PR")]
    assert _codes(data, "irecist") == [("iPR", "NO", "iPR"), ("iPR", "NO", "iPR")]


def test_continued_target_pr_stands_when_a_new_lesion_makes_the_overall_progression() -> None:
    data = _subject([PR_THEN_SD[0], _tp("2024-05-01", 8, NEW_LESION)])
    assert _codes(data, "recist1.1")[-1] == ("PR", "YES", "PD")
    assert _codes(data, "irecist")[-1] == ("iPR", "YES", "iUPD")


@pytest.mark.parametrize(
    ("criterion", "expected"), [("recist1.1", ("SD", "NO", "SD")), ("irecist", ("iSD", "NO", "iSD"))]
)
def test_with_a1_off_the_sum_decides_in_both(criterion: str, expected: tuple[str, str, str]) -> None:
    data = _subject(PR_THEN_SD, pr_continues_until_pd=False)
    assert _codes(data, criterion)[-1] == expected
