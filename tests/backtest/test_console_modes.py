"""Mode replay and mode paper in the console, through Textual's pilot: the header says
REPLAY / PAPER; a paper session quotes on a live venue's public data (the Backpack
emulator) and never sends it an order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.backpack.emulator import backpack_emulator
from mmtui.app import MMApp
from mmtui.config import Config
from mmtui.logsetup import LogBuffer
from mmtui.paper import PaperConnector
from mmtui.session import build_session
from mmtui.widgets.status import StatusBar
from tests.conftest import AS_PARAMS
from tests.ui.test_snapshots import screen_lines
from tests.waiting import until

from .conftest import replay_config

KEY_ENV = ("BACKPACK_API_KEY", "BACKPACK_API_SECRET")


def _header(app: MMApp) -> str:
    """The top line of the screen as drawn (the status bar)."""
    assert app.screen.query_one(StatusBar) is not None
    return screen_lines(app.export_screenshot())[0]


async def test_replay_in_the_console_says_replay(recorded: Path, tmp_path: Path) -> None:
    config = Config.model_validate(replay_config(recorded, report_dir=str(tmp_path / "rep")))
    session = build_session(config, speed="manual", journal_path=tmp_path / "j.sqlite")
    await session.start()
    world = session.world
    assert session.clock.now_ms() == world.start_ms  # the clock starts at the data
    app = MMApp(session, LogBuffer())
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await session.run_for(5)
            await pilot.pause()
            header = _header(app)
            assert header.lstrip().startswith("REPLAY "), header
            assert "SIM" not in header.split()[0]
            runner = session.engine.runner("as_btc")
            assert runner.orders(), "the strategy quotes on the replayed book"
            await session.run_for(120)  # past the data's end: the world finishes
            assert world.finished
            ended = [detail for _, kind, detail in session.engine.events if kind == "replay"]
            assert ended and "data ended" in ended[0]
    finally:
        report = await session.stop()
    assert report.ok, report.lines
    # replay.report_dir: the console's run leaves its report there as it stops
    written = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert written["strategies"]["as_btc"]["orders"]["placed"] > 0
    assert any(note.startswith("report: ") for note in report.notes), report.notes


@pytest.fixture
def emulator() -> Any:
    harness = backpack_emulator({}, seed=3)  # it knows no API key at all
    return harness


async def test_paper_quotes_on_live_data_says_paper_and_sends_nothing(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in KEY_ENV:
        monkeypatch.delenv(name, raising=False)
    requests: list[tuple[str, str]] = []
    submits: list[Any] = []
    real_submit = emulator.venue.submit

    def spy_submit(account: str, req: Any) -> Any:
        submits.append((account, req))
        return real_submit(account, req)

    emulator.venue.submit = spy_submit
    real_middleware = emulator._fault_middleware

    @web.middleware
    async def spy_requests(request: web.Request, handler: Any) -> web.StreamResponse:
        requests.append((request.method, request.path))
        return await real_middleware(request, handler)

    emulator._fault_middleware = spy_requests
    await asyncio.to_thread(emulator.start)
    try:
        config = Config.model_validate(
            {
                "mode": "paper",
                "venues": {
                    "bp": {
                        "type": "backpack",
                        "rest_url": emulator.base_url,
                        "ws_url": emulator.ws_url,
                    }
                },
                "paper": {
                    "venues": {"bp": {"latency": {"entry_ms": 10, "cancel_ms": 10}}},
                    "report_dir": str(tmp_path / "rep"),
                },
                "strategies": [
                    {
                        "name": "as_bp",
                        "kind": "avellaneda_stoikov",
                        "venue": "bp",
                        "symbol": "BTC_USDC_PERP",
                        "params": {**AS_PARAMS, "tick_interval_ms": 200},
                    }
                ],
                "journal": {"path": str(tmp_path / "j.sqlite")},
            }
        )
        session = build_session(config)
        conn = session.engine.connectors["bp"]
        assert isinstance(conn, PaperConnector)
        app = MMApp(session, LogBuffer())
        try:
            async with app.run_test(size=(120, 30)) as pilot:
                runner = session.engine.runner("as_bp")
                await until(lambda: len(runner.orders()) >= 2, timeout=20, what="paper quotes")
                await until(lambda: conn.feed.snapshots > 0 and conn.feed.deltas > 0)
                await pilot.pause()
                header = _header(app)
                assert header.lstrip().startswith("PAPER "), header
                placed = session.engine.orders.counters.placed
                assert placed >= 2
                # our quotes rest on the local paper venue (the emulator's venue never
                # sees a submit: checked below)
                assert conn.venue is not None and conn.venue.open_orders("me")
        finally:
            report = await session.stop()
        assert report.ok, report.lines
    finally:
        await asyncio.to_thread(emulator.stop)
    assert requests, "the public feed did read the venue"
    assert all(method == "GET" for method, _ in requests), requests
    assert not any("order" in path.lower() for _, path in requests), requests
    assert submits == []  # the emulator's venue never saw an order
    written = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert written["mode"] == "paper" and written["strategies"]["as_bp"]["orders"]["placed"] >= 2
