"""Imports point down only: mmtui -> strategies -> connectors; the core is headless."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
