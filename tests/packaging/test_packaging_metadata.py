"""The distribution's metadata agrees with the example project's requirements and the lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements(path: Path) -> dict[str, Requirement]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            found[req.name.lower()] = req
    return found


def _declared() -> dict[str, Requirement]:
    project = _pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines.extend(extra)
    declared: dict[str, Requirement] = {}
    for line in lines:
        req = Requirement(line)
        declared.setdefault(req.name.lower(), req)
    return declared


def test_plugin_dependencies_are_the_example_projects_with_the_same_ranges() -> None:
    base = _requirements(ROOT / "requirements" / "base.txt")
    declared = _declared()
    # The example project adds only its settings helper to what the plugin declares.
    assert set(base) - set(declared) == {"dj-database-url"}
    assert set(declared) <= set(base)
    for name, req in declared.items():
        assert req.specifier == base[name].specifier, name


def test_every_declared_dependency_is_locked_inside_its_range(lock_pins: dict[str, str]) -> None:
    assert lock_pins
    for name, req in _declared().items():
        assert name in lock_pins, f"{name} is not in requirements/lock.txt"
        assert req.specifier.contains(lock_pins[name]), f"{name}=={lock_pins[name]} outside {req.specifier}"


def test_lock_carries_no_machine_specific_index_or_links() -> None:
    lock = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    assert not re.search(r"^--(find-links|index-url|extra-index-url)", lock, re.MULTILINE)
    assert "--hash=sha256:" in lock


def test_the_console_script_and_both_packages_are_declared() -> None:
    data = _pyproject()
    assert data["project"]["scripts"] == {"criteria": "criteria.cli:main"}
    assert set(data["tool"]["setuptools"]["packages"]["find"]["include"]) == {"trialreads*", "criteria*"}
    assert (ROOT / "criteria" / "py.typed").is_file()
    assert (ROOT / "LICENSE").is_file()
