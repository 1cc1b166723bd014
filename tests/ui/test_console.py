"""What the console says: every modal's text, the keys the footer offers for the
state the selected strategy and risk are in, alerts until acknowledged, log
search, and the 80x24 layout (the real app on the real sim, through the pilot)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from textual.widgets import Input, Select, TabbedContent

from mmtui.app import MainScreen, MMApp
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState
from mmtui.launcher import LaunchScreen
from mmtui.logsetup import LogBuffer
from mmtui.palette import entries
from mmtui.screens import ConfirmScreen, HelpScreen, ReportScreen
from mmtui.session import Session
from mmtui.widgets.alerts import AlertBar
from mmtui.widgets.log import LogPane

from ..conftest import AS_PARAMS, sim_config
from ..strategies.test_cross_arbitrage import BASE_PARAMS
from .test_snapshots import screen_lines


def screen_text(app: MMApp) -> str:
    return "\n".join(screen_lines(app.export_screenshot()))


def dialog_rows(app: MMApp) -> list[str]:
    """The text inside the modal's frame on screen, one string per row."""
    return [
        line.split("█")[1].strip()
        for line in screen_lines(app.export_screenshot())
        if line.count("█") >= 2
    ]


def dialog_says(app: MMApp, phrase: str) -> bool:
    """``phrase`` is in the modal on screen (wrapped over its lines as it may be)."""
    return " ".join(phrase.split()) in " ".join(" ".join(dialog_rows(app)).split())


def footer(app: MMApp) -> str:
    return screen_lines(app.export_screenshot())[-1]


@asynccontextmanager
async def console(
    make_session: Callable[..., Session],
    size: tuple[int, int],
    *,
    config: Any = None,
    buffer: LogBuffer | None = None,
    bell: bool = True,
) -> AsyncIterator[tuple[MMApp, Any, Session]]:
    """The console on a started sim session (``sim_config()`` unless ``config``)."""
    session = make_session(config or sim_config())
    await session.start()
    app = MMApp(session, buffer or LogBuffer(), bell=bell)
    try:
        async with app.run_test(size=size) as pilot:
            yield app, pilot, session
    finally:
        await session.stop()


async def _frame(app: MMApp, pilot: Any) -> None:
    if isinstance(app.screen, MainScreen):
        app.render_panes()
    await pilot.pause()


async def _report_done(app: MMApp, pilot: Any, session: Session) -> ReportScreen:
    for _ in range(100):
        screen = app.screen
        if isinstance(screen, ReportScreen) and screen.done:
            await pilot.pause()
            return screen
        await session.run_for(0.2)
        await pilot.pause(0.05)
    raise AssertionError(f"no outcome on {app.screen!r}")


async def test_flatten_with_nothing_to_flatten_shows_its_outcome_and_q_closes(
    make_session: Callable[..., Session],
) -> None:
    """The outcome came before the modal existed: it used to say "working ..."
    forever (NoMatches swallowed). Now it says what is flat, and q closes it."""
    async with console(make_session, (80, 24)) as (app, pilot, session):
        session.engine.pause_strategy("as_btc")  # nothing traded, nothing to close
        await _frame(app, pilot)
        await pilot.press("f")
        await pilot.pause(0.1)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert dialog_says(
            app, "Flatten strategy as_btc? Cancels its orders and closes its position."
        )
        assert dialog_says(app, "press y to confirm, n or Esc to cancel")
        await pilot.press("y")
        report = await _report_done(app, pilot, session)
        body = report.outcome.plain
        assert body.splitlines() == [
            "PASS sim: strategy as_btc's share flat",
            "  strategy as_btc BTC-PERP: +0 (flat); venue sim BTC-PERP: +0 (flat)",
            "flatten strategy as_btc: PASS on 1 venue(s)",
            "(Enter, Esc or q closes)",
        ]
        for line in body.splitlines():
            assert dialog_says(app, line), line
        assert "working" not in screen_text(app)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.is_running


async def test_flatten_report_names_the_venue_position_and_whose_it_is(
    make_session: Callable[..., Session],
) -> None:
    from decimal import Decimal

    from connectors.base import Side

    async with console(make_session, (160, 48)) as (app, pilot, session):
        await session.run_for(2)
        session.engine.pause_strategy("as_btc")
        mark = session.engine.mark("sim", "BTC-PERP")
        assert mark is not None
        venue = session.world.venues["sim"]  # type: ignore[index]
        venue.force_fill("me", "BTC-PERP", Side.BUY, Decimal("0.010"), mark)
        for _ in range(50):
            if session.engine.positions.get(("sim", "BTC-PERP")).size:
                break
            await session.run_for(0.1)
        held = session.engine.positions.get(("sim", "BTC-PERP")).size
        mine = session.engine.runner("as_btc").position("sim", "BTC-PERP").size
        await _frame(app, pilot)
        await pilot.press("f", "y")
        report = await _report_done(app, pilot, session)
        lines = report.outcome.plain.splitlines()
        rest = held - mine
        assert lines[0] == "PASS sim: strategy as_btc's share flat"
        assert lines[1].startswith("  strategy as_btc BTC-PERP: +0")
        assert lines[1].endswith(
            f"venue sim BTC-PERP: {rest:+} — {rest:+} not ours (no strategy holds it)"
        ), lines
        for line in lines:
            assert dialog_says(app, line), line
        await pilot.press("enter")


async def test_kill_switch_report_alert_ack_and_reset_risk(
    make_session: Callable[..., Session],
) -> None:
    rings: list[int] = []
    async with console(make_session, (80, 24)) as (app, pilot, session):
        app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
        await session.run_for(3)
        await _frame(app, pilot)
        keys = footer(app)
        assert "p Pause" in keys and "R Reset" not in keys and "a Ack" not in keys
        await pilot.press("K")
        await pilot.pause()
        assert dialog_says(
            app, "KILL SWITCH: pause every strategy, cancel everything, flatten every venue?"
        )
        await pilot.press("y")
        report = await _report_done(app, pilot, session)
        lines = report.outcome.plain.splitlines()
        assert lines[0] == "PASS sim: flat"
        assert lines[1].startswith("  venue sim BTC-PERP: +0") and lines[1].endswith("(flat)")
        assert lines[-2] == "kill switch: PASS on 1 venue(s)"
        assert lines[-1] == "(Enter, Esc or q closes)"
        for line in lines:
            assert dialog_says(app, line), line
        await pilot.press("q")
        await _frame(app, pilot)
        assert session.engine.risk.state is RiskState.HALTED
        bar = app.main.query_one(AlertBar)
        assert bar.display
        shown = screen_text(app)
        assert "1 ALERT (a: ack)" in shown
        assert "risk HALTED: kill switch engaged" in shown
        assert rings == [1]
        keys = footer(app)
        # halted: resume is not valid until risk is reset; reset and ack are
        assert "R Reset" in keys and "a Ack" in keys and "p Resume" not in keys
        assert "p Pause" not in keys
        await pilot.press("p")  # not valid now: nothing happens
        assert session.engine.runner("as_btc").state is StrategyState.PAUSED
        await pilot.press("a")
        await _frame(app, pilot)
        assert not bar.display and "ALERT" not in screen_text(app)
        assert "a Ack" not in footer(app)
        await pilot.press("R")
        await _frame(app, pilot)
        assert session.engine.risk.state is RiskState.ACTIVE
        keys = footer(app)
        assert "R Reset" not in keys and "p Resume" in keys


async def test_p_is_pause_or_resume_and_the_palette_offers_only_what_is_valid(
    make_session: Callable[..., Session],
) -> None:
    async with console(make_session, (80, 24)) as (app, pilot, session):
        runner = session.engine.runner("as_btc")
        await session.run_for(2)
        await _frame(app, pilot)
        names = [text for text, _, _ in entries(app)]
        assert "Pause strategy as_btc" in names and "Resume strategy as_btc" not in names
        assert "Start strategy as_btc" not in names and "Reset risk" not in names
        assert "p Pause" in footer(app) and "x Stop" in footer(app)
        await pilot.press("p")
        await _frame(app, pilot)
        assert runner.state is StrategyState.PAUSED
        assert "p Resume" in footer(app) and "p Pause" not in footer(app)
        names = [text for text, _, _ in entries(app)]
        assert "Resume strategy as_btc" in names and "Pause strategy as_btc" not in names
        await pilot.press("x")
        await _frame(app, pilot)
        assert runner.state is StrategyState.STOPPED
        keys = footer(app)
        assert "s Start" in keys and "x Stop" not in keys
        assert "p Pause" not in keys and "p Resume" not in keys
        names = [text for text, _, _ in entries(app)]
        assert "Start strategy as_btc" in names and "Stop strategy as_btc" not in names
        await pilot.press("s")
        await _frame(app, pilot)
        assert runner.state is StrategyState.RUNNING


async def test_help_lists_every_key_and_q_closes_it(make_session: Callable[..., Session]) -> None:
    async with console(make_session, (160, 48)) as (app, pilot, _session):
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = dialog_rows(app)
        for key, says in (
            ("s", "start the selected strategy (when stopped)"),
            ("p", "pause the selected strategy (when running)"),
            ("p", "resume the selected strategy (when paused or halted)"),
            ("x", "stop the selected strategy (cancels its orders)"),
            ("R", "set risk back to ACTIVE (when halted)"),
            ("a", "acknowledge the alerts"),
            ("/", "search the log (filters and highlights)"),
            ("l", "cycle the log pane's level filter"),
            ("t", "cycle dark / light / high-contrast theme"),
            ("ctrl+p", "command palette: every action valid now, by name"),
            ("ctrl+q", "quit from anywhere"),
        ):
            assert any(row.startswith(f"{key} ") and says in row for row in rows), (
                key,
                says,
                rows,
            )
        assert "Esc, ? or q closes; arrows scroll" in rows
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.is_running


async def test_disconnect_and_position_mismatch_alert_until_acknowledged(
    make_session: Callable[..., Session], caplog: Any
) -> None:
    async with console(make_session, (80, 24), bell=False) as (app, pilot, session):
        app.bell = lambda: (_ for _ in ()).throw(AssertionError("bell off"))  # type: ignore[method-assign]
        await session.run_for(1)
        session.engine.connectors["sim"].drop_stream()  # type: ignore[attr-defined]
        await session.run_for(0.5)
        session.engine.note_event("position_mismatch", "sim BTC-PERP: venue 0.01, ours 0")
        await _frame(app, pilot)
        shown = screen_text(app)
        assert "2 ALERTS (a: ack)" in shown
        assert "position mismatch: sim BTC-PERP: venue 0.01, ours 0" in shown
        assert "venue sim reconnecting stream dropped (fault)" in shown
        logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert any("ALERT (disconnect): venue sim reconnecting" in m for m in logged)
        assert any("ALERT (position_mismatch)" in m for m in logged)
        await session.run_for(5)  # the stream comes back: the alert stays
        await _frame(app, pilot)
        assert "2 ALERTS" in screen_text(app)
        await pilot.press("a")
        await _frame(app, pilot)
        assert "ALERT" not in screen_text(app)


async def test_log_search_filters_and_highlights(make_session: Callable[..., Session]) -> None:
    import logging

    buffer = LogBuffer()
    buffer.setLevel(0)
    logging.getLogger().addHandler(buffer)
    try:
        async with console(make_session, (80, 24), buffer=buffer) as (app, pilot, _session):
            logging.getLogger("mmtui.test").warning("needle one in the log")
            logging.getLogger("mmtui.test").warning("hay")
            logging.getLogger("mmtui.test").warning("Needle two")
            await pilot.press("slash")
            await pilot.pause()
            assert app.main.query_one(TabbedContent).active == "tab-log"
            search = app.main.query_one("#log-search", Input)
            assert search.has_focus
            await pilot.press(*"needle")
            await _frame(app, pilot)
            pane = app.main.query_one(LogPane)
            texts = [line.message for line in pane.shown]
            assert any("needle one in the log" in t for t in texts)
            assert any("Needle two" in t for t in texts)
            assert not any(t.endswith("hay") for t in texts)
            assert "search 'needle': 2 line(s)" in screen_text(app)
            assert "needle one in the log" in screen_text(app)
            await pilot.press("escape")
            await _frame(app, pilot)
            assert not search.display
            texts = [line.message for line in app.main.query_one(LogPane).shown]
            assert any(t.endswith("hay") for t in texts)
    finally:
        logging.getLogger().removeHandler(buffer)


async def test_launch_name_follows_the_symbol_and_the_preview_is_whole(
    make_session: Callable[..., Session],
) -> None:
    async with console(make_session, (80, 24), config=two_assets()) as (app, pilot, session):
        await session.run_for(5)
        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        screen.query_one("#kind", Select).value = "perp_market_maker"
        await pilot.pause()
        assert screen.query_one("#name", Input).value == "perp_btc"
        screen.query_one("#symbol", Select).value = "ETH-PERP"
        await pilot.pause()
        assert screen.query_one("#name", Input).value == "perp_eth"
        await pilot.press("ctrl+r")
        await pilot.pause(0.3)
        assert screen.previewed is not None
        shown = screen_text(app)
        for planned in screen.previewed:  # every planned order is on screen
            assert f"{planned.price}" in shown, (planned, shown)
        assert "Launch" in shown and "Preview" in shown


def two_assets(strategies: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
    assets = {
        "BTC": {"start_price": 100000, "tick_size": 0.1, "step_size": 0.001, "min_size": 0.001},
        "ETH": {"start_price": 3000, "tick_size": 0.01, "step_size": 0.01, "min_size": 0.01},
    }
    extra = {} if strategies is None else {"strategies": strategies}
    return sim_config(
        sim={"seed": 11, "speed": None, "step_ms": 100, "assets": assets}, **extra, **kw
    )


def three_strategies() -> Any:
    still = {"sigma": 0.0, "half_life_s": 3600}  # the test sets the gap by hand
    return two_assets(
        [
            {
                "name": "as_btc",
                "kind": "avellaneda_stoikov",
                "venue": "venue_a",
                "symbol": "BTC-PERP",
                "params": AS_PARAMS,
            },
            {
                "name": "pmm_eth",
                "kind": "perp_market_maker",
                "venue": "venue_a",
                "symbol": "ETH-PERP",
            },
            {
                "name": "arb_btc",
                "kind": "cross_arbitrage",
                "venue": "venue_a",
                "symbol": "BTC-PERP",
                "params": {**BASE_PARAMS, "other_venue": "venue_b"},
            },
        ],
        venues={
            "venue_a": {"type": "sim", "basis": still, "flow": {"taker_k": 1.0}},
            "venue_b": {"type": "sim", "basis": still},
        },
    )


async def test_80x24_keeps_what_matters_with_three_strategies(
    make_session: Callable[..., Session],
) -> None:
    import logging

    buffer = LogBuffer()
    buffer.setLevel(0)
    fills_log = logging.getLogger("mmtui.fills")
    fills_level = fills_log.level
    fills_log.setLevel(logging.INFO)
    fills_log.addHandler(buffer)
    try:
        async with console(make_session, (80, 24), config=three_strategies(), buffer=buffer) as (
            app,
            pilot,
            session,
        ):
            engine = session.engine
            session.world.market.set_basis("venue_b", "BTC", 0.005)  # type: ignore[union-attr]
            for _ in range(60):
                await session.run_for(1)
                arb = engine.view.strategy("arb_btc")
                if arb is not None and arb.legs[0][2] != 0 and arb.legs[1][2] != 0:
                    break
            engine.pause_strategy("arb_btc")
            await session.run_for(1)
            await _frame(app, pilot)
            lines = screen_lines(app.export_screenshot())
            rows = {
                name: next((ln for ln in lines if f"{name} " in ln), "")
                for name in ("as_btc", "pmm_eth", "arb_btc")
            }
            assert all(rows.values()), lines  # all three rows on screen
            arb = engine.view.strategy("arb_btc")
            assert arb is not None
            leg_a, leg_b = arb.legs[0][2], arb.legs[1][2]
            assert leg_a != 0 and leg_b == -leg_a
            assert f"{leg_a:+} {leg_b:+}" in rows["arb_btc"]  # both legs of the cross row
            assert "own PnL" in "\n".join(lines) and "acct PnL" in lines[0]
            # the ETH ladder shows pmm_eth's own quotes (its nearest each side, on two
            # rows a side; its ticks span cents, its quotes dollars), and no blank rows
            ours = engine.view.our_levels("venue_a", "ETH-PERP")
            bids = [lv for lv in ours if lv.side.value == "buy"]
            asks = [lv for lv in ours if lv.side.value == "sell"]
            assert bids and asks
            nearest = [max(bids, key=lambda lv: lv.price), min(asks, key=lambda lv: lv.price)]
            ladder = [ln.split("│")[1] for ln in lines if ln.startswith("│")]
            for level in nearest:
                assert any(
                    cells.split()[:2] == [f"{level.size}", f"{level.price}"] for cells in ladder
                ), (level, ladder)
            assert not any(cells.strip() == "" for cells in ladder), ladder
            # NET after every venue row
            pane = [ln.split("│", 2)[-1] for ln in lines]
            venue_rows = [i for i, ln in enumerate(pane) if ln.startswith("venue_")]
            net_rows = [i for i, ln in enumerate(pane) if ln.startswith("NET ")]
            assert {pane[i].split()[0] for i in venue_rows} == {"venue_a", "venue_b"}, pane
            assert net_rows and min(net_rows) > max(venue_rows), pane
            # Orders keeps venue and symbol
            app.main.query_one(TabbedContent).active = "tab-orders"
            await _frame(app, pilot)
            lines = screen_lines(app.export_screenshot())
            order = next(o for o in engine.view.orders() if o.strategy == "pmm_eth")
            found = [ln for ln in lines if f" {order.price} " in ln + " " and "pmm_eth" in ln]
            assert found, (order, lines)
            row = found[0]
            for cell in ("pmm_eth", "venue_a", "ETH-PERP", order.side.value, f"{order.size}"):
                assert cell in row, (cell, row)
            # the Log tab wraps a fill line: its size and price are on screen
            app.main.query_one(TabbedContent).active = "tab-log"
            await _frame(app, pilot)
            lines = screen_lines(app.export_screenshot())
            fills = [ln for ln in buffer.records() if ln.name == "mmtui.fills"]
            assert fills
            fill = fills[-1]
            size, price = fill.message.split(" @ ")[0].split()[-1], fill.message.split(" @ ")[1]
            price = price.split()[0]
            head = " ".join(fill.message.split()[:3])  # strategy venue symbol
            at = [i for i, ln in enumerate(lines) if head in ln and "fills:" in ln]
            assert at, (fill.message, lines)
            shown = " ".join(" ".join(lines[at[-1] : at[-1] + 2]).split())
            assert size in shown and price in shown, (fill.message, shown)
    finally:
        fills_log.removeHandler(buffer)
        fills_log.setLevel(fills_level)


async def test_net_row_stays_after_a_venue_row_that_comes_later() -> None:
    """Venue b's first fill comes after the NET row exists: NET still comes last."""
    from decimal import Decimal as D

    from textual.app import App, ComposeResult

    from mmtui.core.readmodel import PositionRow
    from mmtui.widgets.positions import PositionsTable

    def row(venue: str, size: str) -> PositionRow:
        return PositionRow(
            venue, "BTC-PERP", "BTC", D(size), D(100), D(100), D(0), D(0), D(0), D(1), 1
        )

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield PositionsTable()

    app = One()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(PositionsTable)
        table.render_positions((row("venue_a", "0.01"),))
        await pilot.pause()
        table.render_positions((row("venue_a", "0.01"), row("venue_b", "-0.01")))
        await pilot.pause()
        keys = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
        assert keys == ["venue_a/BTC-PERP", "venue_b/BTC-PERP", "net/BTC"]
        lines = [ln for ln in screen_lines(app.export_screenshot()) if ln.strip()]
        assert lines[-1].split()[:3] == ["NET", "BTC", "+0.00"], lines


async def test_a_failed_flatten_says_fail_and_alerts(make_session: Callable[..., Session]) -> None:
    """The venue will not say what it holds: the flatten cannot verify anything, the
    report says FAIL, and an alert stays up naming the venue and why."""
    rings: list[int] = []

    async def refused() -> list[Any]:
        raise ConnectionError("positions endpoint down")

    async with console(make_session, (80, 24)) as (app, pilot, session):
        app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
        await session.run_for(1)
        session.engine.connectors["sim"].positions = refused  # type: ignore[method-assign]
        await _frame(app, pilot)
        await pilot.press("f", "y")
        report = await _report_done(app, pilot, session)
        assert report.outcome.plain.splitlines() == [
            "FAIL sim: could not read positions from the venue",
            "flatten strategy as_btc: FAIL on sim",
            "(Enter, Esc or q closes)",
        ]
        await pilot.press("escape")
        await _frame(app, pilot)
        shown = screen_text(app)
        assert "1 ALERT (a: ack)" in shown
        assert "FLATTEN FAILED: strategy as_btc" in shown
        (alert,) = app.main.query_one(AlertBar).pending
        assert alert.kind == "flatten_failed"
        assert alert.text == (
            "FLATTEN FAILED: strategy as_btc: flatten strategy as_btc: FAIL on sim; "
            "FAIL sim: could not read positions from the venue"
        )
        assert rings == [1]


async def test_a_command_that_fails_in_the_background_says_so(
    make_session: Callable[..., Session], caplog: Any
) -> None:
    """Starting a strategy while risk is HALTED (from the palette's code path): the
    engine refuses, and the console says why instead of swallowing it in a worker."""
    async with console(make_session, (160, 48)) as (app, pilot, session):
        session.engine.stop_strategy("as_btc")
        await session.engine.kill_switch()
        app.strategy_command("start", "as_btc")
        said = "start as_btc: risk is HALTED (kill switch); reset risk first"
        for _ in range(40):
            await pilot.pause(0.05)
            if said in [n.message for n in app._notifications]:
                break
        assert said in [n.message for n in app._notifications]
        assert any("reset risk first" in r.getMessage() for r in caplog.records)
        assert session.engine.runner("as_btc").state is StrategyState.STOPPED
