"""irRC / irRECIST on the command line: selection, and bad bidimensional input (exit 2, the
field named on stderr, nothing on stdout)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from test_cli import run_inline

BASE: dict[str, Any] = {
    "subject": "C1", "reference_date": "2024-01-01",
    "baseline": {"date": "2024-01-01",
                 "targets": [{"id": "T1", "organ": "liver", "mm": 40, "perp_mm": 30},
                             {"id": "L1", "organ": "lymph node", "node": True, "mm": 20, "long_mm": 30}],
                 "non_targets": []},
    "timepoints": [{"date": "2024-02-26", "targets": {"T1": {"mm": 30, "perp_mm": 20},
                                                      "L1": {"mm": 15, "long_mm": 20}}}],
}


def with_change(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def test_irrc_and_irrecist_selected_with_criteria() -> None:
    code, out, err = run_inline("evaluate", "-", "--criteria", "irrc,irrecist", payload=BASE)
    assert (code, err) == (0, "")
    results = json.loads(out)["results"]
    # 1200 + 600 = 1800 -> 600 + 300 = 900: exactly -50%, irPR; TMTB 60 -> 45: -25%, irSD
    assert results["irrc"]["timepoints"][0]["overall"] == "irPR"
    assert results["irrc"]["timepoints"][0]["sum_mm"] == 900
    assert results["irrecist"]["timepoints"][0]["overall"] == "irSD"


def test_default_selection_does_not_include_them() -> None:
    code, out, _ = run_inline("evaluate", "-", payload=BASE)
    assert code == 0
    assert list(json.loads(out)["results"]) == ["recist1.1", "irecist", "imrecist"]


@pytest.mark.parametrize(("path", "value", "field"), [
    (["baseline", "targets", 0, "perp_mm"], 41, "baseline.targets[0].perp_mm"),        # > mm
    (["baseline", "targets", 0, "perp_mm"], -1, "baseline.targets[0].perp_mm"),
    (["baseline", "targets", 0, "perp_mm"], "30", "baseline.targets[0].perp_mm"),
    (["baseline", "targets", 1, "perp_mm"], 10, "baseline.targets[1].perp_mm"),        # node: long_mm
    (["baseline", "targets", 1, "long_mm"], 19, "baseline.targets[1].long_mm"),        # < short axis
    (["baseline", "targets", 0, "long_mm"], 50, "baseline.targets[0].long_mm"),        # not a node
    (["timepoints", 0, "targets", "T1"], {"mm": 30, "perp_mm": 31}, "timepoints[0].targets.T1.perp_mm"),
    (["timepoints", 0, "targets", "T1"], {"mm": 30, "perpmm": 3}, "timepoints[0].targets.T1.perpmm"),
    (["timepoints", 0, "targets", "T1"], {"fragments_mm": [10, 8], "fragments_perp_mm": [5]},
     "timepoints[0].targets.T1.fragments_perp_mm"),
    (["timepoints", 0, "targets", "T1"], 30, "timepoints[0].targets.T1.perp_mm"),      # irrc needs it
    (["timepoints", 0, "targets", "L1"], 15, "timepoints[0].targets.L1.long_mm"),
    (["timepoints", 0, "new_lesions"], [{"id": "N1", "mm": 12}], "timepoints[0].new_lesions[0].perp_mm"),
    (["baseline", "targets", 0], {"id": "T1", "organ": "liver", "mm": 40}, "baseline.targets[0].perp_mm"),
])
def test_bad_bidimensional_input_exits_2_naming_the_field(path: list[Any], value: Any, field: str) -> None:
    code, out, err = run_inline("evaluate", "-", "--criteria", "irrc", payload=with_change(path, value))
    assert (code, out) == (2, "")
    assert f"C1: {field}:" in err


def test_response_level_input_cannot_be_evaluated_by_irrc() -> None:
    payload = {"subject": "R1", "reference_date": "2024-01-01",
               "timepoints": [{"date": "2024-02-26", "overall": "PR"}]}
    for name in ("irrc", "irrecist"):
        code, out, err = run_inline("evaluate", "-", "--criteria", name, payload=payload)
        assert (code, out) == (2, "")
        assert "R1: baseline:" in err


def test_bidimensional_baseline_beyond_recist_limits_fails_recist_only() -> None:
    data = copy.deepcopy(BASE)
    data["baseline"]["targets"] = [{"id": f"T{k}", "organ": "skin", "mm": 12, "perp_mm": 8} for k in range(3)]
    values = {f"T{k}": {"mm": 12, "perp_mm": 8} for k in range(3)}
    data["timepoints"] = [{"date": "2024-02-26", "targets": values}]
    code, out, _ = run_inline("evaluate", "-", "--criteria", "irrc", payload=data)
    assert code == 0 and json.loads(out)["results"]["irrc"]["timepoints"][0]["overall"] == "irSD"
    code, out, err = run_inline("evaluate", "-", payload=data)
    assert (code, out) == (2, "")
    assert "C1: baseline.targets:" in err and "at most 2 per organ" in err
