"""criteria keeps no process-wide mutable state: no module-level caches or tables that can
change, no ``global`` rebinding; the work the criteria of one subject share lives in a
per-subject :class:`~criteria.lesions.SubjectCache` created by ``evaluate()``."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import criteria
from criteria.bench import synthetic_batch_json
from criteria.evaluate import evaluate
from criteria.parse import load_json, parse_payload
from criteria.serialize import subject_json
from criteria.types import CRITERIA

PACKAGE = Path(criteria.__file__).resolve().parent
MUTABLE = (dict, list, set, bytearray)


def _modules() -> list[ModuleType]:
    return [importlib.import_module(f"criteria.{m.name}") for m in pkgutil.iter_modules(criteria.__path__)]


def test_no_module_level_mutable_containers_or_caches() -> None:
    found = []
    for module in _modules():
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            if isinstance(value, MUTABLE):
                found.append(f"{module.__name__}.{name}: {type(value).__name__}")
            elif callable(value) and hasattr(value, "cache_info"):  # functools caches
                found.append(f"{module.__name__}.{name}: cached function")
    assert not found, found


def test_no_global_statements() -> None:
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Global | ast.Nonlocal):
                found.append(f"{path.name}:{node.lineno}")
    assert not found, found


def test_results_do_not_depend_on_what_was_evaluated_before() -> None:
    # The same subjects in order, reversed, and each alone in a fresh call: identical
    # results (a cache leaking between subjects or criteria would show here).
    subjects = parse_payload(load_json(synthetic_batch_json(150, seed=7)))
    assert isinstance(subjects, list)
    forward = [subject_json(evaluate(s, CRITERIA), explain=True) for s in subjects]
    backward = [subject_json(evaluate(s, CRITERIA), explain=True) for s in reversed(subjects)][::-1]
    one_by_one = [
        {c: subject_json(evaluate(s, [c]), explain=True)["results"][c] for c in CRITERIA} for s in subjects
    ]
    assert forward == backward
    assert [f["results"] for f in forward] == one_by_one
