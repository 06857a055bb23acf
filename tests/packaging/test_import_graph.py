"""No import cycle among trialreads modules, counting every import statement wherever it
stands (module level, inside functions, under ``TYPE_CHECKING``): the AST of each module is
walked, so an import hidden in a function cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "trialreads"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, known: set[str]) -> str | None:
    """The trialreads module an imported name lives in (``a.b.c`` -> ``a.b`` when ``c`` is a
    name inside ``a.b``)."""
    while module:
        if module in known:
            return module
        module = module.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    paths = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)
    modules = {_module_name(p): p for p in paths}
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for target in targets:
                resolved = _resolve(target, known)
                # A package importing its own submodules (``trialreads.models``) is not a cycle.
                if resolved is not None and resolved != name and not resolved.startswith(f"{name}."):
                    graph[name].add(resolved)
    return graph


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert len(graph) > 50
    # trialreads.apps imports trialreads.checks inside ready(): a function-level import.
    assert "trialreads.checks" in graph["trialreads.apps"]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module: each is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_cycle_finder_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_trialreads_modules() -> None:
    cycles = strongly_connected(import_graph())
    assert cycles == [], "modules importing each other: " + "; ".join(", ".join(c) for c in cycles)
