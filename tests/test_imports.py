"""The package imports one way: no module imports, directly or through others, a module
that imports it back, counting imports inside functions too (a lazy import that closes a
cycle still ties two modules together)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wastelab"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The package modules that module ``name`` imports, anywhere in its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: one dot is the package itself
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                start = ".".join(base + ([node.module] if node.module else []))
            else:
                start = node.module or ""
            # `from X import y` imports the module X.y when y is one, else X
            targets = [
                f"{start}.{alias.name}" if f"{start}.{alias.name}" in MODULES else start
                for alias in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_is_read_from_the_code():
    """The parser sees the imports it must see (so an empty graph cannot pass)."""
    assert "wastelab.models" in GRAPH["wastelab.training"]
    assert "wastelab.devices" in GRAPH["wastelab.training"]
    assert "wastelab.data.pipeline" in GRAPH["wastelab.training"]
    assert "wastelab.metrics" in GRAPH["wastelab.training"]  # a lazy import
    assert "wastelab.training" in GRAPH["wastelab.cli"]  # lazy, inside commands


def test_find_cycle_finds_a_lazy_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("low", ["wastelab.atomic", "wastelab.io", "wastelab.devices"])
def test_bottom_modules_import_no_learner_code(low):
    """The atomic writer, save/load and device choice sit below everything else."""
    allowed = {"wastelab", "wastelab.atomic"}
    assert GRAPH[low] <= allowed, f"{low} imports {sorted(GRAPH[low] - allowed)}"


def test_data_does_not_import_models_or_training():
    for name, imported in GRAPH.items():
        if name.startswith("wastelab.data"):
            upward = {m for m in imported if not m.startswith("wastelab.data")}
            assert upward <= {"wastelab", "wastelab.atomic"}, (name, upward)
