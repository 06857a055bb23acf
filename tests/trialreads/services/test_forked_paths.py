"""Large trials take the forked paths (recompute on every CPU, export in two halves); the
results and the bytes must be those of the single-process paths.

The paths are chosen by size (``ENDPOINT_PARALLEL_MIN_SUBJECTS``, default 200), so the
ordinary tests, with a handful of subjects, never fork. Here the threshold is lowered to
force them, and a spy proves the fork really happened.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from trialreads.management.commands.benchmark import build_synthetic_trial
from trialreads.models import EndpointRun
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as export_services

pytestmark = pytest.mark.django_db


def _force(settings: Any, forked: bool) -> None:
    threshold = 1 if forked else 10**9
    settings.TRIALREADS = {
        **settings.TRIALREADS,
        "ENDPOINT_PARALLEL_MIN_SUBJECTS": threshold,
        "ENDPOINT_PROCESSES": 2,
    }


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    seen: list[Any] = []
    real = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        seen.append((args, kwargs, result))
        return result

    monkeypatch.setattr(module, name, spy)
    return seen


def _results(trial_id: int) -> dict[tuple[str, str], Any]:
    runs = EndpointRun.objects.filter(trial_id=trial_id).select_related("subject")
    return {
        (run.subject.subject_code.rsplit("-", 1)[1], run.criterion): (
            run.status,
            run.accepted_evaluator,
            run.result,
        )
        for run in runs
    }


def test_forked_recompute_gives_the_single_process_results(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = build_synthetic_trial(9, seed=7, code="FORK-ONE")
    two = build_synthetic_trial(9, seed=7, code="FORK-TWO")
    processes = _spy(monkeypatch, endpoint_services, "fork_processes")

    _force(settings, forked=False)
    endpoint_services.endpoints_compute(trial_id=one.pk, requested_by="test", full=True)
    _force(settings, forked=True)
    endpoint_services.endpoints_compute(trial_id=two.pk, requested_by="test", full=True)

    assert [result for _, _, result in processes] == [1, 2]
    serial, forked = _results(one.pk), _results(two.pk)
    assert len(serial) == 9 * 3
    assert forked == serial


def test_two_process_export_writes_the_single_process_bytes(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trial = build_synthetic_trial(6, seed=11, code="FORK-EXP")
    job = endpoint_services.endpoints_compute(trial_id=trial.pk, requested_by="test", full=True).job
    rendered = _spy(monkeypatch, export_services, "render_study")

    _force(settings, forked=False)
    export_services.export_write(job, tmp_path / "serial")
    _force(settings, forked=True)
    export_services.export_write(job, tmp_path / "forked")

    assert [kwargs["parallel"] for _, kwargs, _ in rendered] == [False, True]
    names = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "forked").iterdir())
    # 6 datasets (TU, TR, RS, ADSL, ADRS, ADTTE) x (xpt, csv) + manifest, reviewer's guide and
    # define.xml (issue 18 items 3 and 5)
    assert len(names) == 15 and "define.xml" in names and "adsl.xpt" in names
    for name in names:
        serial = hashlib.sha256((tmp_path / "serial" / name).read_bytes()).hexdigest()
        assert hashlib.sha256((tmp_path / "forked" / name).read_bytes()).hexdigest() == serial, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forked", "serial"]  # no staging left
