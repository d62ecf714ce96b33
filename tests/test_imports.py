"""The import graph of ``conformance/`` has no cycle, ``TYPE_CHECKING`` and function-level imports included.

Every module is parsed with ``ast`` (nothing is imported), each ``import`` / ``from ... import``
of a ``conformance`` module is an edge, and a depth-first search looks for a back edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import conformance

PACKAGE = Path(conformance.__file__).parent


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str], root: Path = PACKAGE.parent) -> set[str]:
    """The conformance modules a module imports (from X import Y counts X.Y when that is a module)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {target for target in found if target in modules and target != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imports_of(path, modules) for path in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, str] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path = [start]
        state[start] = "open"
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[node] = "done"
                continue
            nxt = todo.pop()
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if not state.get(nxt):
                state[nxt] = "open"
                path.append(nxt)
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return None


def test_conformance_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_through_a_type_checking_import(tmp_path: Path) -> None:
    """The test above can fail: a TYPE_CHECKING import back to its importer is a cycle."""
    (tmp_path / "conformance").mkdir()
    (tmp_path / "conformance" / "auth.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from conformance.client import Client\n"
    )
    (tmp_path / "conformance" / "client.py").write_text("from conformance.auth import Auth\n")
    modules = {"conformance.auth", "conformance.client"}
    graph = {
        module_name(path, tmp_path): imports_of(path, modules, tmp_path)
        for path in (tmp_path / "conformance").glob("*.py")
    }
    assert find_cycle(graph) in (
        ["conformance.auth", "conformance.client", "conformance.auth"],
        ["conformance.client", "conformance.auth", "conformance.client"],
    )
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "conformance.client._client" in graph["conformance.client"]
    assert "conformance.client" in graph["conformance.tokens"]
    assert "conformance.client" not in graph["conformance.auth"]
