"""Without sentences (``criteria.lesions.without_sentences``, the batch path without
``--explain``) every code, date and number is what the explained evaluation gives; only the
``why`` sentences are left out. And serialisation, which converts each shared Decimal and
date of a subject once, writes what a fresh conversion of each value writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from criteria.bench import synthetic_batch_json
from criteria.evaluate import evaluate
from criteria.lesions import without_sentences
from criteria.parse import load_json, parse_payload
from criteria.serialize import number, subject_json, timepoint_json
from criteria.types import CRITERIA, Subject, TimepointResult


def _subjects(n: int, seed: int) -> list[Subject]:
    subjects = parse_payload(load_json(synthetic_batch_json(n, seed=seed)))
    assert isinstance(subjects, list)
    return subjects


def _without_why(out: dict[str, Any], explained: bool) -> dict[str, Any]:
    for result in out["results"].values():
        for tp in result["timepoints"]:
            assert tp["why"] or not explained, tp
            tp["why"] = []
        assert bool(result["why"]) is explained  # the criterion's BOR / confirmed BOR / PFS lines
        result["why"] = []
    return out


def test_codes_dates_and_numbers_do_not_depend_on_sentences() -> None:
    for subject in _subjects(400, seed=11):
        explained = subject_json(evaluate(subject, CRITERIA), explain=True)
        with without_sentences():
            quiet = evaluate(subject, CRITERIA)
        assert _without_why(explained, True) == _without_why(subject_json(quiet, explain=True), False)


def test_shared_conversions_write_what_each_value_writes() -> None:
    for subject in _subjects(100, seed=12):
        out = subject_json(evaluate(subject, CRITERIA))
        for name, result in evaluate(subject, CRITERIA).results.items():
            assert out["results"][name]["timepoints"] == [timepoint_json(tp) for tp in result.timepoints]


def test_a_reused_memo_never_answers_for_another_object() -> None:
    # the memo is keyed by identity and holds the object: equal ids of dead objects cannot
    # match, and different objects with the same value each get their own (equal) entry
    shown: dict[int, tuple[object, Any]] = {}
    day = dt.date(2024, 5, 1)
    for k in range(200):
        value = Decimal(k) / 7  # a fresh object each time
        tp = TimepointResult(day + dt.timedelta(days=k), "SD", "NA", "NO", "SD", sum_mm=value,
                             nadir_ref_mm=Decimal(k), pct_vs_baseline=-value, pct_vs_nadir=None)
        out = timepoint_json(tp, shown=shown)
        assert out["sum_mm"] == number(value) and out["pct_vs_baseline"] == number(-value)
        assert out["nadir_ref_mm"] == float(k) and out["date"] == tp.date.isoformat()
        assert out == timepoint_json(dataclasses.replace(tp))
