"""``manage.py benchmark``: the synthetic trial, the JSON line, and a recompute whose number
of queries does not grow with the trial."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from django.core.management import call_command

from trialreads.management.commands.benchmark import FOLLOWUPS, build_synthetic_trial, run_benchmark
from trialreads.models import AcceptedRead, Lesion, Read, TimepointRead
from trialreads.services.endpoints import endpoints_compute, load_trial_inputs

pytestmark = pytest.mark.django_db

KEYS = {
    "subjects", "backend", "measurement_rows", "endpoint_runs", "export_rows", "build_s", "floor_s",
    "recompute_s", "export_s", "recompute_plus_export_s", "recompute_queries", "ratio", "export_validated",
}  # fmt: skip


def test_synthetic_trial_has_the_promised_shape() -> None:
    trial = build_synthetic_trial(40, seed=7, code="BENCH-SHAPE")

    reads = Read.objects.filter(subject__trial=trial)
    assert reads.count() == 80 and set(reads.values_list("slot", flat=True)) == {1, 2}
    trs = TimepointRead.objects.filter(read__subject__trial=trial)
    assert trs.count() == 80 * (FOLLOWUPS + 1) and not trs.filter(locked=False).exists()
    per_read = {}
    for read_id, kind in Lesion.objects.filter(read__subject__trial=trial).values_list("read_id", "kind"):
        per_read.setdefault(read_id, []).append(kind)
    assert all(1 <= kinds.count("TARGET") <= 5 for kinds in per_read.values())
    assert any("NEW" in kinds for kinds in per_read.values())
    assert any("NON_TARGET" in kinds for kinds in per_read.values())
    bases = list(AcceptedRead.objects.filter(subject__trial=trial).values_list("basis", flat=True))
    assert len(bases) == 40 and 0 < bases.count("ADJUDICATION") < 20  # about a fifth discordant
    # The synthetic reads evaluate: every subject has two engine inputs with 10 follow-ups.
    inputs = load_trial_inputs(trial.pk)
    assert all(len(s.reads) == 2 for s in inputs.subjects)
    assert all(len(r.timepoints) == FOLLOWUPS for s in inputs.subjects for r in s.reads.values())


def test_same_seed_same_inputs() -> None:
    one = load_trial_inputs(build_synthetic_trial(10, seed=3, code="BENCH-A").pk)
    two = load_trial_inputs(build_synthetic_trial(10, seed=3, code="BENCH-B").pk)
    def anonymous(inputs: Any) -> list[Any]:  # subject codes carry the trial code
        return [{slot: replace(r, subject="") for slot, r in s.reads.items()} for s in inputs.subjects]

    assert anonymous(one) == anonymous(two)


def test_recompute_queries_do_not_grow_with_the_trial() -> None:
    small = run_benchmark(25, seed=1)
    large = run_benchmark(75, seed=2)
    assert small["recompute_queries"] == large["recompute_queries"]
    assert large["endpoint_runs"] == 75 * 3 and large["measurement_rows"] > small["measurement_rows"]


def test_command_prints_one_json_line(capsys: Any) -> None:
    call_command("benchmark", "--subjects", "20", "--seed", "5")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) >= KEYS and result["subjects"] == 20 and result["endpoint_runs"] == 60
    assert result["export_rows"]["ADTTE"] == 60 or not result["export_validated"]
    assert result["ratio"] == pytest.approx(result["recompute_s"] / result["floor_s"], rel=0.05)


def test_recompute_of_the_synthetic_trial_is_complete() -> None:
    trial = build_synthetic_trial(15, seed=11, code="BENCH-DONE")
    outcome = endpoints_compute(trial_id=trial.pk, full=True)
    assert outcome.job.status == "DONE" and outcome.job.failed_runs == 0 and outcome.evaluated_subjects == 15


def test_every_criterion_trial_evaluates_every_criterion() -> None:
    """The every-criterion synthetic trial carries what each criterion needs: every read of
    every subject evaluates under all of them (bidimensional, injected, PET, pre-baseline)."""
    from criteria.evaluate import AVAILABLE, evaluate
    from trialreads.models import Charter
    from trialreads.snapshot import TrialSnapshot, engine_subject, scope_from_charter, settings_from_charter

    trial = build_synthetic_trial(12, seed=5, code="BENCH-EVERY", every_criterion=True)
    charter = Charter.objects.get(trial=trial, is_current=True)
    assert list(charter.criteria) == list(AVAILABLE)
    snap = TrialSnapshot.load(trial.pk)
    overall: dict[str, set[str]] = {}
    for subject in snap.subjects:
        for read in subject.reads.values():
            engine_input = engine_subject(
                subject, read, settings_from_charter(charter), scope=scope_from_charter(charter)
            )
            assert engine_input.pet is not None and engine_input.injection is not None
            assert len(engine_input.prebaseline) == 1 and len(engine_input.timepoints) == FOLLOWUPS
            results = evaluate(engine_input, list(AVAILABLE), analyses=["tgr"]).results
            for criterion, result in results.items():
                overall.setdefault(criterion, set()).update(tp.overall for tp in result.timepoints)
    assert set(overall) == set(AVAILABLE)
    assert all(codes - {"NE"} for codes in overall.values())  # every criterion judges something
    assert {"irPR", "irPD"} <= overall["irrc"] and "PMD" in overall["percist"]
