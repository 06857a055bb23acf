"""``criteria.serialize.results_text`` writes exactly what ``json.dumps`` writes for the
:func:`~criteria.serialize.subject_json` dicts: compact (the benchmark's batch path) and with
``indent=2`` (what ``python -m criteria evaluate`` prints), for a batch and for one subject, with
and without ``--explain``; and on the values json treats specially (escaping, -0.0, rounding
ties, numbers too long for a float's 15 digits, extras, response-level timepoints)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from criteria.bench import synthetic_batch_json
from criteria.cli import main, run_evaluate
from criteria.evaluate import evaluate
from criteria.parse import load_json, parse_payload
from criteria.serialize import results_text, subject_json
from criteria.types import (
    CRITERIA,
    CriterionResult,
    DurationOfResponse,
    Pfs,
    Progression,
    SubjectResult,
    TimepointResult,
)

DAY = dt.date(2024, 3, 1)


def _dumps(results: SubjectResult | list[SubjectResult], explain: bool, indent: int | None) -> str:
    if isinstance(results, SubjectResult):
        return json.dumps(subject_json(results, explain), indent=indent)
    return json.dumps([subject_json(r, explain) for r in results], indent=indent)


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("explain", [False, True])
def test_bench_subjects_as_json_dumps_writes_them(explain: bool, indent: int | None) -> None:
    subjects = parse_payload(load_json(synthetic_batch_json(150, seed=5)))
    assert isinstance(subjects, list)
    results = [evaluate(s, CRITERIA) for s in subjects]
    assert results_text(results, explain, indent) == _dumps(results, explain, indent)
    assert results_text(results[0], explain, indent) == _dumps(results[0], explain, indent)
    assert results_text([], explain, indent) == json.dumps([], indent=indent)


def _odd_result() -> SubjectResult:
    numbers = [Decimal("-0.04"), Decimal("0.05"), Decimal("-0.05"), Decimal("12.25"), Decimal("1e-9"),
               Decimal("123456789012345.67"), Decimal("99999999999999.95"), Decimal("1234567890123456789.4"),
               Decimal(100) / 3, Decimal("-7.45"), Decimal(0)]
    timepoints = tuple(
        TimepointResult(DAY + dt.timedelta(days=k), "SD", "NON-CR/NON-PD", "NO", "SD", sum_mm=x,
                        nadir_ref_mm=numbers[k - 1], pct_vs_baseline=-x, pct_vs_nadir=None,
                        why=("é \"quoted\" \\ \n line", ""),
                        extra={"nlt_sum_mm": x, "note": "ü", "none": None, "flag": k % 2 == 0, "count": k,
                               "nested": {"sum_mm": x, "on": DAY, "ids": ("T1", "é"), "empty": {},
                                          "none": []}})
        for k, x in enumerate(numbers))
    given = (
        TimepointResult(DAY, "", "", "", "iUPD", progression_date=DAY - dt.timedelta(days=3), why=("given",)),
        TimepointResult(DAY + dt.timedelta(days=40), "", "", "", "NE"),
    )
    full = CriterionResult(
        criterion="irecist", timepoints=timepoints, bor="iSD", bor_date=DAY, bor_confirmed=None,
        pfs=Pfs(event=False, date=DAY, reason="censored: \u2603 \"last\" assessment"),
        progression=Progression(iupd_date=DAY, icpd_date=None), why=("one", "two"), bor_confirmed_date=None,
        dor=DurationOfResponse(start=DAY, end=DAY + dt.timedelta(days=9), days=9, event=True, reason="PD"),
        defaults=("d1",),
        extra={"injected": {"overall": "PR", "sum_mm": Decimal("12.25"), "dates": [DAY, None],
                            "lesions": ({"id": "T1", "pct": Decimal("-7.45")}, {"id": "T2", "pct": None})},
               "label": "x", "ratio": Decimal("2.25"), "yes": True, "n": 3, "nothing": None})
    bare = CriterionResult(criterion="recist1.1", timepoints=(), bor=None, bor_date=None, bor_confirmed=None,
                           pfs=Pfs(event=True, date=DAY, reason="death"))
    response_level = CriterionResult(criterion="imrecist", timepoints=given, bor="NE", bor_date=None,
                                     bor_confirmed="NE", pfs=Pfs(event=True, date=DAY, reason="iUPD"))
    return SubjectResult(subject='S\u00fc"1\\/\t\u2603',
                         results={"irecist": full, "recist1.1": bare, "imrecist": response_level})


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("explain", [False, True])
def test_special_values_as_json_dumps_writes_them(explain: bool, indent: int | None) -> None:
    result = _odd_result()
    assert results_text(result, explain, indent) == _dumps(result, explain, indent)
    assert results_text([result, result], explain, indent) == _dumps([result, result], explain, indent)


def test_the_command_line_prints_the_indented_json_of_run_evaluate() -> None:
    text = synthetic_batch_json(40, seed=9)
    for explain in (False, True):
        out = io.StringIO()
        args = ["evaluate", "-"] + (["--explain"] if explain else [])
        assert main(args, stdin=io.StringIO(text), stdout=out, stderr=io.StringIO()) == 0
        assert out.getvalue() == json.dumps(run_evaluate(text, None, explain), indent=2) + "\n"
