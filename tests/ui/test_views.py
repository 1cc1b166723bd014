"""The views (fills, account, PnL, health, depth and tape, parameters) on the real
engine and sim through the app: each asserts what the screen says against the
figures of the same instant."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from mmtui.app import MainScreen, MMApp
from mmtui.logsetup import LogBuffer
from mmtui.session import Session
from mmtui.views.account import AccountScreen
from mmtui.views.depth import DepthScreen
from mmtui.views.fills import FillsScreen
from mmtui.views.health import HealthScreen
from mmtui.views.params import ParamsScreen
from mmtui.views.pnl_chart import PnlScreen
from mmtui.widgets.depth import DepthPane

from ..conftest import sim_config
from ..waiting import until
from .test_snapshots import screen_lines
from .views_session import RUN_PREFIX, views_session

SIM_SECONDS = 31  # three funding settlements (10, 20, 30 s), fills, a position


async def _open(pilot: Pilot[Any], session: Session, key: str, screen: type) -> str:
    app = pilot.app
    assert isinstance(app, MMApp)
    await until(lambda: isinstance(app.screen, MainScreen), what="main screen")
    if session.clock.now_ms() < session.engine.started_ms + SIM_SECONDS * 1000:
        await session.run_for(SIM_SECONDS)
    await pilot.press(key)
    await until(lambda: isinstance(app.screen, screen), what=f"{key} opens {screen.__name__}")
    return await _text(pilot)


async def _text(pilot: Pilot[Any]) -> str:
    app = pilot.app
    app.screen.refresh_view()  # type: ignore[attr-defined]
    await pilot.pause()
    return "\n".join(screen_lines(app.export_screenshot()))


@asynccontextmanager
async def opened(
    tmp_path: Path, key: str, screen: type, size: tuple[int, int] = (100, 30)
) -> AsyncIterator[tuple[Pilot[Any], Session, str]]:
    """A view session's app with the view of ``key`` open: (pilot, session, screen text);
    the session is stopped after."""
    session = views_session(tmp_path / "j.sqlite")
    app = MMApp(session, LogBuffer())
    async with app.run_test(size=size) as pilot:
        yield pilot, session, await _open(pilot, session, key, screen)
    await session.stop()


def _row(screen: str, marker: str) -> str:
    return next((line for line in screen.splitlines() if marker in line), "")


async def test_fills_view_lists_this_run_and_earlier_runs_and_exports(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    first = views_session(journal, run_prefix="mmearly")
    await first.start()
    await first.run_for(15)
    await first.stop()
    earlier = len(first.engine.journal.fills())  # type: ignore[union-attr]
    assert earlier > 0

    session = views_session(journal, start_ms=first.clock.now_ms() + 60_000)
    app = MMApp(session, LogBuffer())
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot, session, "h", FillsScreen)
        view = app.screen
        assert isinstance(view, FillsScreen)
        await until(lambda: view.loaded, what="fills read from the journal")
        session.engine.journal.flush()  # type: ignore[union-attr]
        ours = session.engine.journal.fills()  # type: ignore[union-attr]
        view.reload()
        await until(lambda: len(view.fills) == earlier + len(ours), what="both runs' fills")
        screen = await _text(pilot)
        n = earlier + len(ours)
        assert f"run this run  strategy all  venue all  {len(ours)} of {n}" in screen
        newest = ours[-1]
        top = _row(screen, RUN_PREFIX)
        assert f" {newest['size']} " in top and f" {newest['price']} " in top, top
        assert "mmearly" not in screen

        await pilot.press("r")  # every run
        screen = await _text(pilot)
        assert f"run all  strategy all  venue all  {n} of {n} fills" in screen

        await pilot.press("x")
        path = tmp_path / "fills-all-all-all.csv"
        await until(path.exists, what=f"{path} written")
        await until(lambda: view.exported == path, what="export reported")
        screen = await _text(pilot)
        assert f"exported to {path}" in screen.replace("\n", "")
        with path.open() as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == n
        assert {r["run_id"] for r in rows} == {"mmearly", RUN_PREFIX}
        assert Decimal(rows[-1]["price"]) == newest["price"]

        await pilot.press("s")  # strategy filter: as_btc (the only one)
        assert "strategy as_btc" in await _text(pilot)
        body = view.query_one(".view-body")
        assert body.max_scroll_y > 0  # more fills than rows: the keys scroll them
        await pilot.press("pagedown")
        await until(lambda: body.scroll_y > 0, what="page down scrolls the fills")
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, MainScreen), what="q closes the view")
    await session.stop()


async def test_account_view_shows_margin_and_funding(tmp_path: Path) -> None:
    async with opened(tmp_path, "b", AccountScreen) as (_pilot, session, screen):
        watch = session.engine.insight.watch
        payments = list(watch.funding["sim"])
        assert [p.ts_ms - session.engine.started_ms for p in payments][:3] == [
            10_000,
            20_000,
            30_000,
        ]
        state = watch.accounts["sim"]
        [balance] = state.balances
        assert f"USDC total {balance.total:,.2f}" in screen
        assert f"equity {state.equity:,.2f}  margin used {state.margin_used:,.2f}" in screen
        [market] = state.markets
        row = _row(screen, "BTC-PERP  ")
        assert f"{market.position_size:+}" in row and "0.1000%" in row, row
        assert "00:00:09" in row, row  # next settlement at 40 s; the clock is at 31 s
        total = sum(p.amount for p in payments)
        assert market.funding == total
        assert f"funding this session: BTC-PERP {total:+,.4f}" in screen
        last = payments[-1]
        verb = "got" if last.amount >= 0 else "paid"
        assert (
            f"BTC-PERP {verb} {abs(last.amount):,.4f} at 0.1000% on {last.position_size:+}"
            in screen
        )
        # the sim took it from the collateral, and the journal has each settlement
        venue = session.world.venues["sim"]  # type: ignore[union-attr]
        [b] = venue.balances("me")
        assert (
            b.available
            == venue.starting_collateral
            + sum(s.realized_pnl - s.fees for s in [venue.accounts.position("me", "BTC-PERP")])
            + total
        )
    events = session.engine.journal.events(RUN_PREFIX)  # type: ignore[union-attr]
    assert sum(1 for e in events if e["kind"] == "funding") == len(payments)


async def test_pnl_view_charts_total_and_per_strategy(tmp_path: Path) -> None:
    async with opened(tmp_path, "g", PnlScreen) as (_pilot, session, screen):
        points = session.engine.view.pnl_history()
        assert len(points) >= SIM_SECONDS
        last = points[-1]
        [(name, value)] = last.strategies
        assert name == "as_btc"
        assert (
            f"total {last.total:+,.2f}   as_btc {value:+,.2f}   ({len(points)} samples)" in screen
        )
        assert "session PnL (quote)" in screen and "minutes" in screen
        assert "total" in _row(screen, "⢕⢕ total")  # the legend of both lines
        assert "as_btc" in _row(screen, "⢕⢕ as_btc")


async def test_health_view_shows_round_trips_limits_and_session(tmp_path: Path) -> None:
    async with opened(tmp_path, "v", HealthScreen) as (pilot, session, screen):
        [health] = session.engine.view.health()
        assert f"run {RUN_PREFIX}  mode sim  uptime 00:00:31" in screen
        assert "config  /etc/mmtui/views.yaml" in screen
        assert f"journal {tmp_path / 'j.sqlite'}" in screen
        assert health.round_trips > 0
        assert (
            f"order round trip p50 {health.round_trip_p50_ms} ms  "
            f"p99 {health.round_trip_p99_ms} ms  ({health.round_trips} orders)"
        ) in screen
        assert "rate limit: none configured" in screen
        assert f"frames {health.frames}" in screen
        assert "book BTC-PERP age 0 ms" in screen
        assert "venue counters" not in screen  # the sim keeps none
        session.engine.connectors["sim"].stats.extra["auth_tokens"] = 3
        assert "  venue counters: auth_tokens 3" in await _text(pilot)


async def test_depth_view_shows_bars_and_the_tape(tmp_path: Path) -> None:
    async with opened(tmp_path, "d", DepthScreen) as (pilot, session, screen):
        book = session.engine.book("sim", "BTC-PERP")
        assert book is not None
        assert f"mid {book.mid()}  spread {book.spread()}" in screen
        pane = pilot.app.screen.query_one(DepthPane)
        shown = session.engine.view.book("sim", "BTC-PERP", pane.levels)
        assert shown is not None and len(shown.asks) > 2 and len(shown.bids) > 2
        best_price, best_size = shown.asks[0]
        best = _row(screen, f"{best_price} ")
        assert best.split("│")[1].split()[-2:] == [str(best_size), str(best_size)], best
        # the biggest level shown gets the full bar; the cumulative size sums the side
        price, _ = max((*shown.asks, *shown.bids), key=lambda level: level[1])
        assert "█" * 20 in _row(screen, f"{price} ")
        last_bid = _row(screen, f"{shown.bids[-1][0]} ")
        assert last_bid.split("│")[1].split()[-1] == str(sum(s for _, s in shown.bids))
        newest = session.engine.view.tape("sim", "BTC-PERP", 1)[0]
        side = "buy " if newest.side.value == "buy" else "sell"
        assert f"{side} {newest.price} {newest.size}" in screen


async def test_params_view_edits_a_live_parameter_risk_checked(tmp_path: Path) -> None:
    async with opened(tmp_path, "e", ParamsScreen, (100, 40)) as (pilot, session, screen):
        assert "as_btc (avellaneda_stoikov on sim BTC-PERP, running)" in screen
        assert _row(screen, " gamma ").startswith(" * gamma")
        assert _row(screen, " tau ").startswith("   tau")
        runner = session.engine.runner("as_btc")

        async def edit(name: str, value: str) -> str:
            view = pilot.app.screen
            assert isinstance(view, ParamsScreen)
            view.cursor = [r.name for r in view.rows()].index(name)
            await pilot.press("enter")
            if name not in {r.name for r in view.rows() if r.live}:
                return " ".join((await _text(pilot)).split())
            await until(lambda: view.editing == name, what=f"editing {name}")
            box = view.query_one("#params-input")
            box.value = value  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(lambda: view.editing is None, what="submitted")
            return " ".join((await _text(pilot)).split())  # the result line wraps

        screen = await edit("gamma", "0.02")
        assert "applied: as_btc: gamma 0.01 -> 0.02 (journaled)" in screen
        assert runner.strategy.p.gamma == 0.02  # type: ignore[attr-defined]
        screen = await edit("size", "5")
        assert "refused: as_btc: size=5 refused:" in screen
        assert "above the risk limit max_order_notional 10000" in screen
        assert runner.strategy.size == Decimal("0.01")  # type: ignore[attr-defined]
        screen = await edit("k", "-1")
        assert "refused: as_btc: k='-1' refused: Input should be greater than 0" in screen
        screen = await edit("tau", "1")
        assert "tau cannot change while running" in screen
        await session.run_for(1)
    events = session.engine.journal.events(RUN_PREFIX)  # type: ignore[union-attr]
    assert [e["detail"] for e in events if e["kind"] == "params"] == ["as_btc: gamma 0.01 -> 0.02"]


async def test_fills_view_without_a_journal_says_so(
    make_session: Callable[..., Session],
) -> None:
    session = make_session(sim_config())  # journal.enabled: false
    app = MMApp(session, LogBuffer())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, session, "h", FillsScreen)
        assert "the journal is off (journal.enabled: false): no fills kept" in screen
        await pilot.press("x")
        await until(lambda: bool(app._notifications), what="a notice")
        assert "the journal is off: nothing to export" in str(
            [n.message for n in app._notifications]
        )
    await session.stop()


async def test_params_view_of_a_strategy_with_no_live_parameters(
    make_session: Callable[..., Session],
) -> None:
    grid = {
        "name": "grid_btc",
        "kind": "geometric_grid",
        "venue": "sim",
        "symbol": "BTC-PERP",
        "autostart": False,
    }
    session = make_session(sim_config(strategies=[grid]))
    app = MMApp(session, LogBuffer())
    async with app.run_test(size=(120, 40)) as pilot:
        lines = await _open(pilot, session, "e", ParamsScreen)
        assert not [line for line in lines.splitlines() if line.startswith(" * ")]  # none live
        screen = " ".join(lines.split())
        assert "grid_btc (geometric_grid on sim BTC-PERP, stopped)" in screen
        assert "none of its parameters changes while it runs" in screen
        await pilot.press("enter")
        screen = " ".join((await _text(pilot)).split())
        assert "tick_interval_ms cannot change while running" in screen
    await session.stop()


async def test_the_book_pane_has_the_trade_tape_when_wide(tmp_path: Path) -> None:
    session = views_session(tmp_path / "j.sqlite")
    app = MMApp(session, LogBuffer())
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: isinstance(app.screen, MainScreen), what="main screen")
        await session.run_for(SIM_SECONDS)
        app.render_panes()
        await pilot.pause()
        screen = "\n".join(screen_lines(app.export_screenshot()))
        newest = session.engine.view.tape("sim", "BTC-PERP", 1)[0]
        side = "buy " if newest.side.value == "buy" else "sell"
        assert "trades BTC-PERP" in screen
        assert f"{side} {newest.price} {newest.size}" in screen
        await pilot.resize_terminal(80, 24)  # narrow: the ladder keeps the rows
        await until(lambda: app.main.has_class("-narrow"), what="narrow layout")
        app.render_panes()
        await pilot.pause()
        assert "trades BTC-PERP" not in "\n".join(screen_lines(app.export_screenshot()))
    await session.stop()
