"""The real console on the real sim, driven through Textual's pilot."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import TabbedContent

from mmtui.app import MMApp
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState
from mmtui.logsetup import LogBuffer
from mmtui.screens import ConfirmScreen, ReportScreen
from mmtui.session import Session
from mmtui.widgets.book import BookLadder
from mmtui.widgets.log import LogPane

from ..conftest import sim_config
from ..test_broken_configs import ALIAS_BOMB
from .test_console import screen_text


async def _wait(pilot, session: Session, sim_seconds: float) -> None:
    await session.run_for(sim_seconds)
    await pilot.pause(0.2)


async def _started(make_session: Callable[..., Session], **kw) -> Session:
    session = make_session(sim_config(**kw))
    await session.start()
    return session


async def test_book_shows_prices_and_pause_resume(make_session: Callable[..., Session]) -> None:
    session = await _started(make_session)
    app = MMApp(session, LogBuffer())
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await _wait(pilot, session, 10)
            book = session.engine.book("sim", "BTC-PERP")
            assert book is not None and book.is_valid()
            app.main.render_panes()
            await pilot.pause()
            screen = app.export_screenshot()
            assert app.main.query_one(BookLadder).border_title == "BTC-PERP @ sim"
            assert str(book.best_bid()) in screen and str(book.best_ask()) in screen
            runner = session.engine.runner("as_btc")
            assert runner.orders()
            await pilot.press("p")
            await _wait(pilot, session, 2)
            assert runner.state is StrategyState.PAUSED
            assert runner.orders() == []
            assert session.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]
            await pilot.press("p")
            await _wait(pilot, session, 3)
            assert runner.state is StrategyState.RUNNING
            assert runner.orders()
    finally:
        await session.stop()


async def test_flatten_with_confirm_leaves_position_zero(
    make_session: Callable[..., Session],
) -> None:
    session = await _started(make_session)
    app = MMApp(session, LogBuffer())
    runner = session.engine.runner("as_btc")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(120):
                await _wait(pilot, session, 1)
                if runner.position("sim", "BTC-PERP").size != 0:
                    break
            assert runner.position("sim", "BTC-PERP").size != 0
            await pilot.press("f")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            for _ in range(50):
                await _wait(pilot, session, 0.5)
                if isinstance(app.screen, ReportScreen) and app.screen.done:
                    break
            assert isinstance(app.screen, ReportScreen) and app.screen.done
            assert runner.position("sim", "BTC-PERP").size == 0
            await pilot.press("escape")
    finally:
        await session.stop()


async def test_kill_switch_confirm_no_then_yes(make_session: Callable[..., Session]) -> None:
    session = await _started(make_session)
    app = MMApp(session, LogBuffer())
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await _wait(pilot, session, 30)
            await pilot.press("K")
            await pilot.press("n")
            await pilot.pause()
            assert session.engine.risk.state is RiskState.ACTIVE
            await pilot.press("K")
            await pilot.press("y")
            for _ in range(50):
                await _wait(pilot, session, 0.5)
                if isinstance(app.screen, ReportScreen) and app.screen.done:
                    break
            engine = session.engine
            assert engine.risk.state is RiskState.HALTED
            assert engine.orders.live_count() == 0
            assert session.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]
            assert all(p.size == 0 for p in session.world.venues["sim"].positions("me"))  # type: ignore[union-attr]
    finally:
        await session.stop()


async def test_quit_runs_safe_shutdown(make_session: Callable[..., Session]) -> None:
    session = await _started(make_session)
    app = MMApp(session, LogBuffer())
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, session, 10)
        assert session.engine.orders.live_count() > 0
        await pilot.press("q")
        for _ in range(50):
            await pilot.pause(0.1)
            if not app.is_running:
                break
    summary = app.return_value
    assert summary is not None and summary.open_orders_left == 0
    assert session.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]


async def test_tabs_log_and_theme(make_session: Callable[..., Session]) -> None:
    session = await _started(make_session)
    buffer = LogBuffer()
    buffer.setLevel(0)
    import logging

    logging.getLogger().addHandler(buffer)
    app = MMApp(session, buffer)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await _wait(pilot, session, 5)
            app.main.query_one(TabbedContent).active = "tab-log"
            logging.getLogger("mmtui.test").warning("hello from the test")
            await pilot.pause(0.3)
            log_pane = app.main.query_one(LogPane)
            assert any(line.message == "hello from the test" for line in log_pane.shown)
            assert "hello from the test" in screen_text(app)
            before = app.theme
            await pilot.press("t")
            assert app.theme != before
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen.__class__.__name__ == "HelpScreen"
    finally:
        logging.getLogger().removeHandler(buffer)
        await session.stop()


async def test_launch_previews_then_starts_a_quoting_strategy(
    make_session: Callable[..., Session],
) -> None:
    from mmtui.launcher import LaunchScreen

    session = await _started(make_session)
    app = MMApp(session, LogBuffer())
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _wait(pilot, session, 10)
            await pilot.press("n")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, LaunchScreen)
            name = screen.query_one("#name").value  # type: ignore[attr-defined]
            assert name and name not in session.engine.strategies
            # a bad parameter is refused with a message naming it
            params = screen.query_one("#params")
            good = params.text  # type: ignore[attr-defined]
            params.text = "gamma: -1\n"  # type: ignore[attr-defined]
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert "gamma" in str(screen.query_one("#launch-status").render())
            # hostile text is refused by the config file's limits, the console stays up
            for text, says in (
                (ALIAS_BOMB, "more than 50000 values"),
                ("gamma: " + "9" * 5000 + "\n", "a number of 5000 characters"),
                ("gamma: 0.1\ngamma: 0.2\n", "duplicate key 'gamma'"),
                ("gamma: inf\n", "params.gamma: not a finite number"),
            ):
                params.text = text  # type: ignore[attr-defined]
                await pilot.press("ctrl+r")
                await pilot.pause()
                assert says in str(screen.query_one("#launch-status").render())
            params.text = good  # type: ignore[attr-defined]
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert screen.previewed is not None and len(screen.previewed) == 2
            bid, ask = sorted(screen.previewed, key=lambda p: p.side.value)
            book = session.engine.book("sim", "BTC-PERP")
            assert book is not None
            assert bid.price is not None and bid.price < book.best_ask()  # type: ignore[operator]
            assert ask.price is not None and ask.price > book.best_bid()  # type: ignore[operator]
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert name in session.engine.strategies
            await _wait(pilot, session, 10)
            runner = session.engine.runner(name)
            assert runner.state is StrategyState.RUNNING
            assert runner.orders(), runner.telemetry.values
    finally:
        await session.stop()


async def test_keys_are_remappable_by_binding_id(make_session: Callable[..., Session]) -> None:
    session = await _started(make_session)
    app = MMApp(session, LogBuffer(), keymap={"pause": "P"})
    runner = session.engine.runner("as_btc")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await _wait(pilot, session, 5)
            await pilot.press("p")
            await pilot.pause()
            assert runner.state is StrategyState.RUNNING
            await pilot.press("P")
            await pilot.pause()
            assert runner.state is StrategyState.PAUSED
            app.render_panes()  # paused: the same key now resumes
            await pilot.press("P")
            await pilot.pause()
            assert runner.state is StrategyState.RUNNING
    finally:
        await session.stop()


async def test_command_palette_pauses_a_strategy_by_name(
    make_session: Callable[..., Session],
) -> None:
    session = await _started(make_session)
    app = MMApp(session, LogBuffer())
    runner = session.engine.runner("as_btc")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _wait(pilot, session, 5)
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Pause strategy as_btc")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert runner.state is StrategyState.PAUSED
    finally:
        await session.stop()


async def test_a_second_console_on_a_fresh_sim_starts_the_strategy_flat(
    make_session: Callable[..., Session],
) -> None:
    """As a new user: run the console, quit holding a position, run it again with the
    same state (journal): the new sim account is flat and so is the strategy — and
    the console says the journal and the account disagreed."""
    config = sim_config(journal={"enabled": True})
    first = make_session(config)
    await first.start()
    app = MMApp(first, LogBuffer())
    runner = first.engine.runner("as_btc")
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(240):
            await _wait(pilot, first, 1)
            if runner.position("sim", "BTC-PERP").size != 0:
                break
        held = runner.position("sim", "BTC-PERP").size
        assert held != 0
        await pilot.press("q")
        for _ in range(50):
            await pilot.pause(0.1)
            if not app.is_running:
                break
    await first.stop()
    second = make_session(config)  # same journal file, a new sim venue
    await second.start()
    app = MMApp(second, LogBuffer())
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await _wait(pilot, second, 1)
            app.main.render_panes()
            await pilot.pause()
            lines = _text_lines(app.export_screenshot())
            row = next(line for line in lines if "as_btc" in line)
            assert "+0 " in row, row
            (header,) = [line for line in lines if "inventory sim BTC-PERP" in line]
            assert f"account 0, journal {held}" in header, header
    finally:
        await second.stop()


def _text_lines(svg: str) -> list[str]:
    """The text rows of a Textual SVG screenshot, in order."""
    import html
    import re

    rows: dict[str, list[str]] = {}
    for y, text in re.findall(r'<text[^>]*\by="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        rows.setdefault(y, []).append(html.unescape(text).replace("\xa0", " "))
    return ["".join(parts) for _, parts in sorted(rows.items(), key=lambda kv: float(kv[0]))]
