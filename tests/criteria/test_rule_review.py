"""Regressions from the rule review against ``reference/criteria-rules.md`` (table-driven).

Each case cites the rule id and carries the hand-computed expectation in a comment; each
failed on the engine before the fix named in its section.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from criteria.evaluate import evaluate
from criteria.parse import parse
from criteria.serialize import subject_json


def _run(targets: list[dict[str, Any]], visits: list[dict[str, Any]], criteria: tuple[str, ...],
         non_targets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data = {
        "subject": "RV",
        "reference_date": "2024-01-01",
        "baseline": {"date": "2024-01-01", "targets": targets, "non_targets": non_targets or []},
        "timepoints": visits,
    }
    subject = parse(json.dumps(data))
    assert not isinstance(subject, list)
    return subject_json(evaluate(subject, criteria))["results"]


def _new(lesion_id: str, organ: str, mm: float, node: bool = False) -> dict[str, Any]:
    return {"id": lesion_id, "organ": organ, "node": node, "mm": mm}


# --- R11-TGT-SEL organ grouping for new-lesion targets (IR-NEW, IM-NEW-MEAS) ------------------
# FAQ-PAIRED-ORGANS / FAQ-NODES-ONE-ORGAN: lung (any lobe or side, "pulmonary"), kidney
# ("renal"), ovaries and all lymph nodes each count as ONE organ for the 2-per-organ cap.
# The new-lesion cap used its own organ key, so "right lower lobe of lung", "left lung" and
# "pulmonary nodule" were three organs and all three lesions were measured.

ORGAN_CAP = [
    # (id, new lesions (organ, mm), expected iRECIST NLT sum = imRECIST new measurable sum)
    # three lung lesions 20, 15, 12: only the two largest are measured -> 20 + 15 = 35
    ("lung-lobes", [("right lower lobe of lung", 20), ("left lung", 15), ("pulmonary nodule", 12)], 35.0),
    # kidney: "renal mass" is the kidney -> 18 + 16 = 34 (not + 11)
    ("kidney", [("left kidney", 18), ("renal mass", 16), ("kidney", 11)], 34.0),
    # non-nodal lesions labelled as lymph nodes are one organ too -> 25 + 22 = 47 (not + 19)
    ("lymph-text", [("axillary lymph node", 25), ("inguinal lymph node", 22), ("mediastinal lymph node", 19)],
     47.0),
]


@pytest.mark.parametrize("case", ORGAN_CAP, ids=[c[0] for c in ORGAN_CAP])
def test_new_lesion_cap_groups_organs_as_baseline_targets(case: tuple[Any, ...]) -> None:
    _, lesions, expected = case
    new = [_new(f"N{k}", organ, mm) for k, (organ, mm) in enumerate(lesions)]
    out = _run([{"id": "T1", "organ": "liver", "node": False, "mm": 50}],
               [{"date": "2024-02-26", "targets": {"T1": 50}, "non_targets": {}, "new_lesions": new}],
               ("irecist", "imrecist"))
    assert out["irecist"]["timepoints"][0]["nlt_sum_mm"] == expected
    assert out["imrecist"]["timepoints"][0]["new_measurable_sum_mm"] == expected
    # imRECIST SLD = 50 + the measured new lesions (IM-NEW-MEAS)
    assert out["imrecist"]["timepoints"][0]["sum_mm"] == 50.0 + expected
