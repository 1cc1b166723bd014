"""``mmtui attach``'s console (``AttachedApp`` on a ``RemoteCore``) on a served sim
core in this process, driven through Textual's pilot: what the screen says, what
its keys do to the core, and that q detaches while Q stops the core."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmtui.app import AttachedApp
from mmtui.core.runner import StrategyState
from mmtui.logsetup import LogBuffer
from mmtui.palette import entries
from mmtui.remote.client import RemoteCore
from mmtui.screens import ConfirmScreen
from mmtui.session import Session

from ..ui.test_console import footer, screen_text
from ..waiting import until
from .rig import served


async def _shows(app: AttachedApp, pilot: Any, *phrases: str) -> None:
    async def check() -> bool:
        return all(p in screen_text(app) for p in phrases)

    for _ in range(100):
        await pilot.pause(0.05)
        if await check():
            return
    raise AssertionError(f"not on screen: {phrases!r}\n{screen_text(app)}")


async def test_attached_console_commands_the_core_and_q_detaches(
    make_session: Callable[..., Session], caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    session = make_session()
    async with served(session) as server:
        await session.run_for(5)
        buffer = LogBuffer()
        buffer.setLevel(logging.INFO)
        core = RemoteCore(server.path, logs=buffer)
        await core.connect()
        app = AttachedApp(core, buffer)
        runner = session.engine.runner("as_btc")
        async with app.run_test(size=(160, 48)) as pilot:
            await _shows(app, pilot, f"attached to {server.path}", "BTC-PERP @ sim")
            await _shows(app, pilot, "q detaches (the core keeps trading)", "running")
            assert "q Detach" in footer(app) and "Q StopCore" in footer(app)
            await pilot.press("question_mark")
            await _shows(app, pilot, "detach: the console closes, the core keeps trading")
            await _shows(app, pilot, "attached to a served core: stop it")
            await pilot.press("escape")
            # the palette says what q does here: detach, not the safe shutdown
            offered = {label: text for label, _, text in entries(app)}
            assert offered["Detach"] == "detach: the console closes, the core keeps trading"
            assert "Quit" not in offered
            await pilot.press("ctrl+p")
            await pilot.press(*"Detach")
            await _shows(app, pilot, "the console closes, the core keeps trading")
            assert "cancel all our orders, print the summary" not in screen_text(app)
            await pilot.press("escape")
            await _shows(app, pilot, "BTC-PERP @ sim")
            await pilot.press("p")
            await until(lambda: runner.state is StrategyState.PAUSED, what="paused by the key")
            await _shows(app, pilot, "paused")
            # the core's log reaches the attached console's log
            await _shows(app, pilot, "strategy_paused: as_btc")
            await pilot.press("p")
            await until(lambda: runner.state is StrategyState.RUNNING, what="resumed")
            await session.run_for(3)
            await pilot.press("q")
            for _ in range(100):
                await pilot.pause(0.05)
                if not app.is_running:
                    break
        assert app.return_value is None  # a detach: no shutdown summary
        await until(lambda: not server.viewers, what="the viewer gone")
        await session.run_for(3)
        assert runner.state is StrategyState.RUNNING
        assert session.world.venues["sim"].open_orders("me")  # type: ignore[union-attr]
        assert not server.stop_requested.is_set()


async def test_capital_q_with_confirm_stops_the_core(
    make_session: Callable[..., Session],
) -> None:
    session = make_session()
    async with served(session) as server:
        await session.run_for(5)
        core = RemoteCore(server.path, logs=LogBuffer())
        await core.connect()
        app = AttachedApp(core, LogBuffer())
        async with app.run_test(size=(100, 30)) as pilot:
            await _shows(app, pilot, "BTC-PERP @ sim")
            await pilot.press("Q")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            await pilot.pause(0.2)
            assert not server.stop_requested.is_set()
            await pilot.press("Q", "y")
            await until(server.stop_requested.is_set, what="stop requested")
            # what `mmtui serve` does on the request
            await session.stop()
            await server.finish(session.summary())
            for _ in range(100):
                await pilot.pause(0.05)
                if not app.is_running:
                    break
        summary = app.return_value
        assert summary is not None and summary.open_orders_left == 0
        assert session.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]


async def test_a_plain_console_has_no_stop_core_key(make_session: Callable[..., Session]) -> None:
    from mmtui.app import MMApp

    session = make_session()
    await session.start()
    app = MMApp(session, LogBuffer())
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            assert "q Quit" in footer(app) and "StopCore" not in footer(app)
            assert "attached to" not in screen_text(app)
    finally:
        await session.stop()


async def test_the_record_key_on_an_attached_console_records_in_the_core(
    make_session: Callable[..., Session], tmp_path: Path
) -> None:
    from ..conftest import sim_config

    session = make_session(sim_config(record={"dir": str(tmp_path / "rec")}))
    async with served(session) as server:
        await session.run_for(2)
        core = RemoteCore(server.path, logs=LogBuffer())
        await core.connect()
        app = AttachedApp(core, LogBuffer())
        async with app.run_test(size=(100, 30)) as pilot:
            await _shows(app, pilot, "BTC-PERP @ sim")
            assert "REC" not in screen_text(app)
            await pilot.press("r")
            await until(lambda: session.engine.recording.active, what="recording")
            await session.run_for(3)
            await _shows(app, pilot, "REC")
            said = [n.message for n in app._notifications]
            assert any(m.startswith("recording to ") for m in said), said
            await pilot.press("r")
            await until(lambda: not session.engine.recording.active, what="stopped")
            for _ in range(100):
                await pilot.pause(0.05)
                if "REC" not in screen_text(app):
                    break
            assert "REC" not in screen_text(app)
            await pilot.press("q")
    (folder,) = (tmp_path / "rec").iterdir()
    assert any(folder.iterdir()), "the core wrote the recording"
