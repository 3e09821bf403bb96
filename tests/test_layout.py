"""The package's import graph: no cycles, and every import points down the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import medcnn

PACKAGE = Path(medcnn.__file__).parent
LAYERS = {
    "config": 0,
    "io": 0,
    "notebook_pairing": 0,
    "imaging": 1,
    "data": 2,
    "modeling": 3,
    "evaluation": 4,
    "training": 5,
    "explain": 5,
    "inference": 6,
    "presentation": 7,
    "ui": 8,
    "cli": 8,
}
"""Each top-level part may import only parts of a lower layer, or itself."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every `medcnn` module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("medcnn"):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (PACKAGE.parent / node.module.replace(".", "/") / f"{alias.name}.py").exists()
            )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("medcnn"))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) & set(modules) for name, path in modules.items()}


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the modules along it, or None."""
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*trail[trail.index(target) :], target]
            if target not in state and (cycle := visit(target, [*trail, target])):
                return cycle
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " → ".join(cycle)


def test_every_import_points_down_the_layers():
    upward = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if part(module) in LAYERS
        and part(target) in LAYERS
        and part(target) != part(module)
        and LAYERS[part(target)] >= LAYERS[part(module)]
    ]
    assert not upward, upward


def test_a_cycle_is_found(tmp_path, monkeypatch):
    (tmp_path / "medcnn").mkdir()
    (tmp_path / "medcnn" / "a.py").write_text("def f():\n    from medcnn import b\n")
    (tmp_path / "medcnn" / "b.py").write_text("from medcnn.a import f\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "medcnn")
    assert find_cycle(import_graph()) == ["medcnn.a", "medcnn.b", "medcnn.a"]
