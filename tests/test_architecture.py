"""Imports point down only: mmtui -> strategies -> connectors; the core is headless."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = "mmtui.core"


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in _imports(package).items()
        for name in sorted(names)
        if name.split(".")[0] in forbidden or name.startswith(forbidden)
    ]


def test_connectors_import_neither_core_nor_strategies() -> None:
    assert _offenders("connectors", ("mmtui", "strategies", "textual")) == []


def test_strategies_never_touch_the_core_or_a_venue_package() -> None:
    venue_packages = (
        "connectors.sim",
        "connectors.backpack",
        "connectors.lighter",
        "connectors.grvt",
        "lighter",
        "pysdk",
        "aiohttp",
        "websockets",
    )
    assert _offenders("strategies", ("mmtui", "textual", *venue_packages)) == []


def test_core_never_imports_textual() -> None:
    assert _offenders("mmtui/core", ("textual", "rich")) == []
    code = (
        "import sys, mmtui.core.engine, mmtui.session, mmtui.config; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual',)); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"textual imported by the core: {result.stdout}{result.stderr}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.Module, *, type_checking: bool) -> list[ast.AST]:
    """Every node of the module; without the ``if TYPE_CHECKING:`` bodies unless asked."""
    skip: set[int] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:
                    skip.update(id(n) for n in ast.walk(child))
    return [n for n in ast.walk(tree) if id(n) not in skip]


def _core_graph(*, type_checking: bool) -> dict[str, set[str]]:
    """mmtui/core module -> the mmtui/core modules it imports (absolute or relative)."""
    paths = {p.stem: p for p in (ROOT / "mmtui" / "core").glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps: set[str] = set()
        for node in _nodes(tree, type_checking=type_checking):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = CORE.rsplit(".", node.level - 1)[0]
                    base = f"{package}.{base}" if base else package
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                if target.startswith(CORE + "."):
                    module = target[len(CORE) + 1 :].split(".")[0]
                    if module in paths and module != name:
                        deps.add(module)
        graph[name] = deps
    return graph


def test_core_imports_have_no_cycles() -> None:
    graph = _core_graph(type_checking=False)
    assert "order_path" in graph["engine"] and "orders" in graph["runner"]  # the parser sees
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle in mmtui/core: {' -> '.join(exc.args[1])}") from None


def test_the_strategy_runner_never_reaches_the_engine() -> None:
    graph = _core_graph(type_checking=True)  # not even for type hints
    assert "engine" not in graph["runner"]
    reached, todo = set(), ["runner"]
    while todo:
        for dep in graph[todo.pop()] - reached:
            reached.add(dep)
            todo.append(dep)
    assert "engine" not in reached, f"runner reaches the engine through {sorted(reached)}"
