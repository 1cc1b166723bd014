"""Snapshots of the main screen on the real sim, fully deterministic.

Fixed seed (``sim_config``), fixed sim start, fixed run prefix, no journal, a
manual clock: the sim moves only inside ``run_before``, by a fixed amount, so
the book, the strategy row and the position are the same numbers every run.

Regenerate after an intended change to the screen (keep the report out of the repo)::

    .venv/bin/pytest tests/ui/test_snapshots.py --snapshot-update \
        --snapshot-report=/tmp/snapshot_report.html
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from textual.pilot import Pilot

from mmtui.app import MainScreen, MMApp
from mmtui.logsetup import LogBuffer
from mmtui.session import Session, build_session

from ..conftest import sim_config

START_MS = 1_700_000_000_000  # 2023-11-14 22:13:20Z
RUN_PREFIX = "mmsnap0"
SIM_SECONDS = 21  # by then: a short position, two resting quotes, 23 fills

SnapCompare = Callable[..., bool]

_TEXT = re.compile(
    r'<text class="terminal-(?:\d+-)?r\d+" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>'
)
_CELL_W, _LINE_H, _TOP = 12.2, 24.4, 20.0  # Rich's SVG export geometry


def screen_lines(svg: str) -> list[str]:
    """The text of an exported screenshot, one string per terminal row."""
    rows: dict[int, dict[int, str]] = {}
    for x, y, text in _TEXT.findall(svg):
        row = rows.setdefault(round((float(y) - _TOP) / _LINE_H), {})
        col = round(float(x) / _CELL_W)
        for i, ch in enumerate(html.unescape(text).replace("\xa0", " ")):
            row[col + i] = ch
    return [
        "".join(rows[r].get(c, " ") for c in range(max(rows[r]) + 1)).rstrip() if r in rows else ""
        for r in range(max(rows) + 1 if rows else 0)
    ]


def _session() -> Session:
    """Unstarted: ``MMApp.on_mount`` starts it inside the snapshot's own event loop."""
    return build_session(sim_config(), speed="manual", start_ms=START_MS, run_prefix=RUN_PREFIX)


@dataclass
class Shot:
    """The screen and the figures it must show, taken at the same sim instant."""

    lines: list[str]
    expect: dict[str, str]

    def row(self, marker: str) -> str:
        return next((line for line in self.lines if marker in line), "")


def _figures(session: Session) -> dict[str, str]:
    engine = session.engine
    book = engine.book("sim", "BTC-PERP")
    assert book is not None and book.is_valid()
    runner = engine.runner("as_btc")
    assert runner.orders(), "no resting quotes to show"
    position = engine.positions.get(("sim", "BTC-PERP"))
    assert position.size != 0, "no position to show"
    mark = engine.mark("sim", "BTC-PERP")
    return {
        "bid": f"{book.best_bid()}",
        "ask": f"{book.best_ask()}",
        "strategy_pos": f"{runner.position('sim', 'BTC-PERP').size:+}",
        "size": f"{position.size:+}",
        "entry": f"{position.entry_price:.2f}",
        "mark": f"{mark:.2f}",
        "upnl": f"{position.unrealized_pnl(mark):+.2f}",
        "rpnl": f"{position.realized_pnl - position.fees:+.2f}",
        "notional": f"{position.notional(mark):.0f}",
    }


async def _shoot(pilot: Pilot[Any], session: Session) -> Shot:
    """Advance the sim a fixed amount, render once, read the screen."""
    app = pilot.app
    assert isinstance(app, MMApp)
    for _ in range(500):  # on_mount starts the session, then pushes the main screen
        if isinstance(app.screen, MainScreen):
            break
        await pilot.pause(0.01)
    await session.run_for(SIM_SECONDS)
    # Render the final state now rather than on the next timer tick.
    app.render_panes()
    await pilot.pause()
    return Shot(screen_lines(app.export_screenshot()), _figures(session))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    session = _session()
    shots: list[Shot] = []

    async def run_before(pilot: Pilot[Any]) -> None:
        shots.append(await _shoot(pilot, session))

    matched = snap_compare(MMApp(session, LogBuffer()), terminal_size=size, run_before=run_before)

    # What a user must see, read off the screen itself (a snapshot can be accepted wrong).
    [shot] = shots
    screen = "\n".join(shot.lines)
    assert "BTC-PERP @ sim" in screen
    assert shot.expect["bid"] in screen and shot.expect["ask"] in screen
    strategy_row = shot.row("as_btc")
    assert "running" in strategy_row and shot.expect["strategy_pos"] in strategy_row
    position_row = next((ln for ln in shot.lines if re.search(r"\bsim +BTC-PERP ", ln)), "") + " "
    # 80x24 keeps the columns that matter most, whole (mark is on the book ladder)
    shown = ("mark", "notional") if size[0] >= 160 else ()
    for key in ("size", "entry", "upnl", "rpnl", *shown):
        assert f" {shot.expect[key]} " in position_row, (key, shot.expect[key], position_row)
    assert matched


# -- every screen and modal the console shows, at 80x24 and 160x48 -------------


async def _main(pilot: Pilot[Any], session: Session, seconds: float = 5) -> MMApp:
    app = pilot.app
    assert isinstance(app, MMApp)
    for _ in range(500):
        if isinstance(app.screen, MainScreen):
            break
        await pilot.pause(0.01)
    await session.run_for(seconds)
    await settled(pilot, app)
    return app


async def _until_reported(pilot: Pilot[Any], session: Session) -> None:
    from mmtui.screens import ReportScreen

    app = pilot.app
    # the sim's clock stands still meanwhile (a flatten on the sim needs no sim time):
    # how long this waits must not change what the screen shows
    for _ in range(1000):
        if isinstance(app.screen, ReportScreen) and app.screen.done:
            break
        await pilot.pause(0.01)
    assert isinstance(app.screen, ReportScreen) and app.screen.done
    assert isinstance(app, MMApp)
    await settled(pilot, app)


async def settled(pilot: Pilot[Any], app: MMApp) -> None:
    """Render the panes from the core's state now and wait until the screen stops
    changing (tables widen their columns, the footer's keys follow the state, on the
    next refresh): the snapshot shows the final state, however busy the machine."""
    shots: list[list[str]] = []
    for _ in range(100):
        app.render_panes()
        await pilot.pause()
        await pilot.pause(0.02)
        shots.append(screen_lines(app.export_screenshot()))
        if len(shots) >= 3 and shots[-1] == shots[-2] == shots[-3]:
            return
    raise AssertionError("the screen never settled")


async def _nothing_to_flatten(pilot: Pilot[Any], session: Session) -> None:
    session.engine.pause_strategy("as_btc")
    await _main(pilot, session, 1)
    await pilot.press("f", "y")
    await _until_reported(pilot, session)


async def _confirm(pilot: Pilot[Any], session: Session) -> None:
    await _main(pilot, session)
    await pilot.press("f")
    await pilot.pause()


async def _kill_report(pilot: Pilot[Any], session: Session) -> None:
    await _main(pilot, session)
    await pilot.press("K", "y")
    await _until_reported(pilot, session)
    # the kill switch halts: an alert, and its key in the footer behind the modal
    app = pilot.app
    assert isinstance(app, MMApp)
    for _ in range(100):
        if "Ack" in "\n".join(screen_lines(app.export_screenshot())):
            break
        await settled(pilot, app)
    assert "Ack" in "\n".join(screen_lines(app.export_screenshot()))


async def _alert(pilot: Pilot[Any], session: Session) -> None:
    await _kill_report(pilot, session)
    await pilot.press("q")
    app = await _main(pilot, session, 0.5)
    assert "ALERT" in "\n".join(screen_lines(app.export_screenshot()))


async def _help(pilot: Pilot[Any], session: Session) -> None:
    await _main(pilot, session, 1)
    await pilot.press("question_mark")
    await pilot.pause()


async def _launch(pilot: Pilot[Any], session: Session) -> None:
    await _main(pilot, session)
    await pilot.press("n")
    await pilot.pause()
    await pilot.press("ctrl+r")
    await pilot.pause(0.2)


async def _log_search(pilot: Pilot[Any], session: Session) -> None:
    import logging

    app = await _main(pilot, session, 1)
    for i, message in enumerate(
        (
            "as_btc sim BTC-PERP buy 0.001 @ 100011.6 (maker)",
            "reconcile: sim: 0 corrections",
            "as_btc sim BTC-PERP sell 0.001 @ 100031.2 (maker, partial)",
        )
    ):
        record = logging.LogRecord("mmtui.fills", logging.INFO, "", 0, message, None, None)
        record.created = START_MS / 1000 + i
        app.log_buffer.emit(record)
    await pilot.press("slash", *"maker")
    search = app.main.query_one("#log-search")
    search.cursor_blink = False  # type: ignore[attr-defined]  # a blink is not a change
    await pilot.wait_for_scheduled_animations()
    app.render_panes()
    await pilot.pause()


SCREENS: dict[str, Callable[[Pilot[Any], Session], Any]] = {
    "nothing-to-flatten": _nothing_to_flatten,
    "confirm": _confirm,
    "kill-report": _kill_report,
    "alert": _alert,
    "help": _help,
    "launch": _launch,
    "log-search": _log_search,
}


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(snap_compare: SnapCompare, name: str, size: tuple[int, int]) -> None:
    session = _session()

    async def run_before(pilot: Pilot[Any]) -> None:
        await SCREENS[name](pilot, session)

    assert snap_compare(MMApp(session, LogBuffer()), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_three_strategies(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    from .test_console import three_strategies

    session = build_session(
        three_strategies(), speed="manual", start_ms=START_MS, run_prefix=RUN_PREFIX
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        session.world.market.set_basis("venue_b", "BTC", 0.005)  # type: ignore[union-attr]
        await _main(pilot, session, 20)

    assert snap_compare(MMApp(session, LogBuffer()), terminal_size=size, run_before=run_before)
