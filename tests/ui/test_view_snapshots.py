"""A snapshot of every view at 80x24 and 160x48, on the real sim, deterministic
(fixed seed, start, run prefix, manual clock, the journal at a relative path).

Regenerate after an intended change::

    .venv/bin/pytest tests/ui/test_view_snapshots.py --snapshot-update \
        --snapshot-report=/tmp/snapshot_report.html
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mmtui.app import MainScreen, MMApp
from mmtui.logsetup import LogBuffer
from mmtui.views.fills import FillsScreen
from mmtui.views.wiring import VIEWS

from ..waiting import until
from .test_snapshots import screen_lines
from .views_session import views_session

SIM_SECONDS = 21  # two funding settlements, fills, a position
KEYS = {"fills": "h", "account": "b", "pnl": "g", "health": "v", "depth": "d", "params": "e"}


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("name", list(KEYS))
def test_view(
    snap_compare: Callable[..., bool],
    name: str,
    size: tuple[int, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the journal's path on screen is the same every run
    session = views_session(Path("journal.sqlite"))
    seen: list[str] = []

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await until(lambda: isinstance(app.screen, MainScreen), what="main screen")
        await session.run_for(SIM_SECONDS)
        session.engine.journal.flush()  # type: ignore[union-attr]
        await pilot.press(KEYS[name])
        await until(lambda: isinstance(app.screen, VIEWS[name]), what=f"{name} view")
        screen = app.screen
        if isinstance(screen, FillsScreen):
            screen.reload()
            await until(lambda: screen.loaded and not screen.loading, what="fills loaded")
        screen.refresh_view()  # type: ignore[attr-defined]
        await pilot.pause()
        seen.append("\n".join(screen_lines(app.export_screenshot())))

    assert snap_compare(MMApp(session, LogBuffer()), terminal_size=size, run_before=run_before)
    [text] = seen
    title = VIEWS[name].TITLE.split("  ")[0].split(" (")[0]
    assert title in text
