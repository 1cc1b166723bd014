"""The console's read model: the engine's state as plain, immutable views."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from connectors.base import ConnectionState
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState
from mmtui.session import Session


async def _quoting(session: Session) -> None:
    runner = session.engine.runner("as_btc")
    for _ in range(60):
        await session.run_for(1.0)
        if runner.orders() and runner.position("sim", "BTC-PERP").fills:
            return
    raise AssertionError("no resting quotes and fills to read")


async def test_the_views_show_what_the_engine_holds(session: Session) -> None:
    await _quoting(session)
    engine = session.engine
    view = engine.view
    runner = engine.runner("as_btc")

    header = view.header()
    assert (header.mode, header.run_id) == ("sim", engine.run_prefix)
    assert [v.name for v in header.venues] == list(engine.connectors)
    assert header.venues[0].state is ConnectionState.CONNECTED
    assert header.risk_state is RiskState.ACTIVE
    assert header.session_pnl == engine.session_pnl()
    assert header.now_ms == engine.clock.now_ms()

    (position,) = [p for p in view.positions() if (p.venue, p.symbol) == ("sim", "BTC-PERP")]
    account = engine.positions.get(("sim", "BTC-PERP"))
    assert (position.size, position.fills, position.base) == (account.size, account.fills, "BTC")
    assert position.mark == engine.mark("sim", "BTC-PERP")
    assert position.unrealized_pnl == account.unrealized_pnl(position.mark)

    assert {o.client_id for o in view.orders()} == {o.client_id for o in engine.orders.live()}
    (mine,) = view.strategy_positions("as_btc")
    assert mine.size == runner.position("sim", "BTC-PERP").size and mine.strategy == "as_btc"

    (strategy,) = view.strategies()
    assert view.strategy("as_btc") == strategy and view.strategy("nope") is None
    assert (strategy.name, strategy.kind, strategy.state) == (
        "as_btc",
        "avellaneda_stoikov",
        StrategyState.RUNNING,
    )
    assert strategy.markets == (("sim", "BTC-PERP"),)
    assert strategy.live_orders == len(runner.orders())
    assert strategy.position == mine.size and strategy.fills == mine.fills
    assert strategy.note == runner.telemetry.values["state"]

    telemetry = view.telemetry("as_btc")
    assert telemetry is not None and telemetry.value("state") == strategy.note
    assert telemetry.points("mid") and view.telemetry("nope") is None

    book = engine.book("sim", "BTC-PERP")
    shown = view.book("sim", "BTC-PERP", 5)
    assert book is not None and shown is not None and shown.valid
    assert shown.asks[0][0] == book.best_ask() and shown.bids[0][0] == book.best_bid()
    assert len(shown.asks) == len(shown.bids) == 5 and shown.mid == book.mid()
    assert view.book_stamp("sim", "BTC-PERP") == (book.seq, book.synced, book.resync_reason)
    assert view.book("sim", "ETH-PERP", 5) is None  # not subscribed
    ours = sum((level.size for level in view.our_levels("sim", "BTC-PERP")), D(0))
    assert ours == sum((o.remaining for o in runner.orders()), D(0))

    assert view.events()[-1] == view.snapshot().events[-1]
    assert ("sim", "BTC-PERP") in view.markets() and view.venue_names() == ("sim",)


async def test_a_view_is_immutable_and_stays_as_it_was_taken(session: Session) -> None:
    await _quoting(session)
    view = session.engine.view
    before = view.snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.header.session_pnl = D(0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.strategies[0].position = D(0)  # type: ignore[misc]
    orders = before.orders
    await session.run_for(30)
    assert before.orders is orders and before != view.snapshot()


async def test_reading_creates_no_engine_state(session: Session) -> None:
    engine = session.engine
    engine.add_strategy("idle", "avellaneda_stoikov", "sim", "BTC-PERP")
    held = len(engine.strategy_positions)
    idle = engine.view.strategy("idle")
    assert idle is not None and idle.position == 0 and idle.state is StrategyState.STOPPED
    engine.view.snapshot()
    assert len(engine.strategy_positions) == held
