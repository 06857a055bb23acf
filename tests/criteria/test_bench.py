"""The batch-path benchmark: deterministic synthetic input, a quick pytest-benchmark run, and the
one-line report of ``python -m criteria bench``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from criteria.bench import GENERATORS, run_batch, synthetic_batch_json
from criteria.parse import load_json, parse_payload

ROOT = Path(__file__).resolve().parents[2]


def test_synthetic_subjects_are_deterministic_and_valid() -> None:
    text = synthetic_batch_json(200, seed=7)
    assert text == synthetic_batch_json(200, seed=7)
    assert text != synthetic_batch_json(200, seed=8)
    subjects = parse_payload(load_json(text))
    assert isinstance(subjects, list) and len(subjects) == 200


def test_synthetic_batch_covers_every_recist_response() -> None:
    out = json.loads(run_batch(synthetic_batch_json(300)))
    seen = {tp["overall"] for o in out for tp in o["results"]["recist1.1"]["timepoints"]}
    assert {"CR", "PR", "SD", "PD", "NE"} <= seen
    assert {o["results"]["irecist"]["bor"] for o in out} >= {"iPR", "iSD", "iCPD"}


@pytest.mark.benchmark_suite
def test_batch_path_benchmark(benchmark: Any) -> None:
    text = synthetic_batch_json(300)
    out = benchmark.pedantic(run_batch, args=(text,), rounds=3, iterations=1)
    assert len(json.loads(out)) == 300


def test_bench_command_prints_one_json_line() -> None:
    r = subprocess.run([sys.executable, "-m", "criteria", "bench", "--subjects", "50"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert (report["subjects"], report["criteria"]) == (50, 3)
    assert report["seconds"] > 0 and report["evaluations_per_second"] > 0


def test_bench_per_criterion_times_each_criterion_alone() -> None:
    r = subprocess.run([sys.executable, "-m", "criteria", "bench", "--subjects", "30", "--per-criterion"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert set(report["per_criterion"]) == set(GENERATORS)
    assert all(v["evaluations_per_second"] > 0 for v in report["per_criterion"].values())
