"""Snapshots of the main screen on the real sim, fully deterministic.

Fixed seed (``sim_config``), fixed sim start, fixed run prefix, no journal, a
manual clock: the sim moves only inside ``run_before``, by a fixed amount, so
the book, the strategy row and the position are the same numbers every run.

Regenerate after an intended change to the screen::

    .venv/bin/pytest tests/ui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from mmtui.app import MainScreen, MMApp
from mmtui.logsetup import LogBuffer
from mmtui.session import Session, build_session

from ..conftest import sim_config

START_MS = 1_700_000_000_000  # 2023-11-14 22:13:20Z
RUN_PREFIX = "mmsnap0"
SIM_SECONDS = 21  # a position, two resting quotes and a few fills by then

SnapCompare = Callable[..., bool]


def _session() -> Session:
    """Unstarted: ``MMApp.on_mount`` starts it inside the snapshot's own event loop."""
    return build_session(sim_config(), speed="manual", start_ms=START_MS, run_prefix=RUN_PREFIX)


def _advance(session: Session) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, MMApp)
        for _ in range(200):  # on_mount starts the session before it pushes the main screen
            if isinstance(app.screen, MainScreen):
                break
            await pilot.pause(0.01)
        assert isinstance(app.screen, MainScreen)
        await session.run_for(SIM_SECONDS)
        # Render the final state now rather than on the next timer tick.
        app.render_panes()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    session = _session()
    app = MMApp(session, LogBuffer())
    assert snap_compare(app, terminal_size=size, run_before=_advance(session))
    runner = session.engine.runner("as_btc")
    assert runner.position("sim", "BTC-PERP").size != 0
    assert runner.orders()
