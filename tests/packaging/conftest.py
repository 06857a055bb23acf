"""The lock file's pins, read by the audit script's own parser (one reading of the lock)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def lock_pins() -> dict[str, str]:
    """``name -> version`` of every pin in requirements/lock.txt (names lower-cased)."""
    script = ROOT / "scripts" / "audit_dependencies.py"
    spec = importlib.util.spec_from_file_location("audit_dependencies", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    return {name.lower(): version for name, version in module.pins(text)}
