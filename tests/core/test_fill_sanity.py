"""Impossible fills are refused: journaled as refused with the reason, alerted, and
never applied to orders, positions or strategies (the real engine on the sim, the
fills handed to its intake as a connector hands them, a real journal file)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Fill, Liquidity, OrderStatus, Side
from mmtui.core.journal import Journal
from mmtui.core.orders import Order
from mmtui.session import Session

from ..conftest import AS_PARAMS, sim_config

VENUE, SYMBOL = "sim", "BTC-PERP"


@pytest.fixture
async def quiet(make_session: Callable[..., Session], tmp_path: Path) -> AsyncIterator[Session]:
    """A session with a journal and one strategy that is not started: orders are
    placed by the test, in the strategy's name."""
    cfg = sim_config(
        journal={"enabled": True},
        strategies=[
            {
                "name": "as_btc",
                "kind": "avellaneda_stoikov",
                "venue": VENUE,
                "symbol": SYMBOL,
                "autostart": False,
                "params": dict(AS_PARAMS),
            }
        ],
    )
    s = make_session(cfg)
    await s.start()
    await s.engine.subscribe([(VENUE, SYMBOL)])
    await s.run_for(2)
    yield s
    await s.stop()


async def _resting(s: Session) -> Order:
    """Our 0.010 bid resting below the touch."""
    engine = s.engine
    book = engine.book(VENUE, SYMBOL)
    assert book is not None and book.best_bid() is not None
    price = book.best_bid() - 50 * engine.instrument(VENUE, SYMBOL).tick_size  # type: ignore[operator]
    order = engine.submit_order(
        venue=VENUE, symbol=SYMBOL, side=Side.BUY, size=D("0.010"), price=price, strategy="as_btc"
    )
    for _ in range(20):
        await s.run_for(0.1)
        if order.status is OrderStatus.OPEN:
            break
    assert order.status is OrderStatus.OPEN, order
    return order


def _fill(order: Order | None, trade: str, **over: Any) -> Fill:
    kw: dict[str, Any] = dict(
        venue=VENUE,
        symbol=SYMBOL,
        client_id=order.client_id if order is not None else None,
        venue_order_id=order.venue_order_id if order is not None else None,
        side=Side.BUY,
        price=order.price if order is not None and order.price is not None else D("100000"),
        size=D("0.004"),
        fee=D("0.01"),
        liquidity=Liquidity.MAKER,
        trade_id=trade,
        ts_ms=0,
    )
    kw.update(over)
    return Fill(**kw)


async def _journal(s: Session) -> Journal:
    journal = s.engine.journal
    assert journal is not None
    assert await asyncio.to_thread(journal.flush, 10.0)
    return journal


def _untouched(s: Session, order: Order | None) -> None:
    engine = s.engine
    assert engine.positions.get((VENUE, SYMBOL)).size == 0
    assert engine.positions.get((VENUE, SYMBOL)).fills == 0
    runner = engine.runner("as_btc")
    assert runner.position(VENUE, SYMBOL).size == 0
    if order is not None:
        assert order.filled == 0 and order.status is OrderStatus.OPEN, order


OUR_FILLS = [
    pytest.param(dict(size=D("-5")), "size: -5 must be positive", id="negative"),
    pytest.param(dict(size=D("0")), "size: 0 must be positive", id="zero"),
    pytest.param(dict(size=D("NaN")), "size: NaN is not a number", id="nan-size"),
    pytest.param(dict(price=D("NaN")), "price: NaN is not a number", id="nan-price"),
    pytest.param(dict(price=D("Infinity")), "price: Infinity is not finite", id="inf-price"),
    pytest.param(dict(price=D("-100000")), "price: -100000 must be positive", id="neg-price"),
    pytest.param(dict(fee=D("sNaN")), "fee: sNaN is not a number", id="nan-fee"),
    pytest.param(dict(size=0.004), "size: 0.004 is a float", id="float-size"),
    pytest.param(dict(size=D("5")), "beyond the order's remaining 0.010", id="beyond-size"),
    pytest.param(dict(size=D("0.011")), "beyond the order's remaining 0.010", id="just-beyond"),
    pytest.param(dict(symbol="DOGE-PERP"), "unknown instrument 'sim'/'DOGE-PERP'", id="unknown"),
    pytest.param(dict(price=D("1")), "from the market's mark", id="absurd-low"),
    pytest.param(dict(price=D("250000")), "from the market's mark", id="absurd-high"),
    pytest.param(dict(side="buy"), "side: 'buy' is not buy or sell", id="bad-side"),
]


@pytest.mark.parametrize(("over", "reason"), OUR_FILLS)
async def test_impossible_fill_of_our_order_is_refused(
    quiet: Session, over: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = quiet.engine
    order = await _resting(quiet)
    bad = _fill(order, "t-bad", **over)
    engine.order_path.on_fill(bad)
    _untouched(quiet, order)
    assert engine.order_path.refused_fills == 1
    # alerted: an ERROR in the log and an event the console shows
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("fill REFUSED" in m and reason in m for m in errors), errors
    assert any(kind == "fill_refused" and reason in detail for _, kind, detail in engine.events)
    # a history re-read delivers it again: seen, still not applied, not journaled twice
    engine.order_path.on_fill(bad)
    _untouched(quiet, order)
    journal = await _journal(quiet)
    (row,) = journal.refused_fills()
    assert reason in str(row["reason"])
    assert row["trade_id"] == "t-bad" and row["client_id"] == order.client_id
    assert row["strategy"] == "as_btc"
    assert journal.fills() == []
    kinds = [e["kind"] for e in journal.events()]
    assert kinds.count("fill_refused") == 1
    # the intake still takes a good fill of the same order afterwards
    engine.order_path.on_fill(_fill(order, "t-good"))
    assert order.filled == D("0.004") and order.status is OrderStatus.PARTIALLY_FILLED
    assert engine.positions.get((VENUE, SYMBOL)).size == D("0.004")
    assert engine.runner("as_btc").position(VENUE, SYMBOL).size == D("0.004")
    summary = engine.summary()
    assert summary.fills_refused == 1 and summary.fills == 1
    assert any("refused as impossible" in n for n in summary.notices)


FOREIGN_FILLS = [
    pytest.param(dict(size=D("-5")), "size: -5 must be positive", id="negative"),
    pytest.param(dict(price=D("NaN")), "price: NaN is not a number", id="nan-price"),
    pytest.param(dict(size=D("Infinity")), "size: Infinity is not finite", id="inf-size"),
    pytest.param(dict(symbol="NOPE"), "unknown instrument", id="unknown"),
    pytest.param(dict(price=D("3")), "from the market's mark", id="absurd"),
]


@pytest.mark.parametrize(("over", "reason"), FOREIGN_FILLS)
async def test_impossible_fill_of_no_order_of_ours_is_refused(
    quiet: Session, over: dict[str, Any], reason: str
) -> None:
    engine = quiet.engine
    engine.order_path.on_fill(_fill(None, "liq-bad", **over))
    _untouched(quiet, None)
    assert engine.order_path.refused_fills == 1 and engine.order_path.foreign_fills == 0
    journal = await _journal(quiet)
    (row,) = journal.refused_fills()
    assert reason in str(row["reason"]) and row["client_id"] is None
    assert journal.fills() == []


async def test_a_large_liquidation_is_not_refused_for_its_size(quiet: Session) -> None:
    """Beyond-the-order's-size applies to our orders only: a liquidation of 5 BTC at
    the market moves the account like any fill of no order of ours."""
    engine = quiet.engine
    mark = engine.mark(VENUE, SYMBOL)
    assert mark is not None
    price = engine.instrument(VENUE, SYMBOL).round_price(mark)
    engine.order_path.on_fill(_fill(None, "liq-1", side=Side.SELL, size=D("5"), price=price))
    assert engine.order_path.refused_fills == 0 and engine.order_path.foreign_fills == 1
    assert engine.positions.get((VENUE, SYMBOL)).size == D("-5")


async def test_a_liquidation_priced_absurdly_through_the_sim_connector(quiet: Session) -> None:
    """The venue (the sim exchange) reports a fill of no order of ours at $1 while
    BTC trades near 100k: it arrives through the real connector and is refused."""
    venue = quiet.world.venues[VENUE]  # type: ignore[union-attr]
    venue.force_fill("me", SYMBOL, Side.SELL, D("0.01"), D("1"))
    for _ in range(10):
        await quiet.run_for(0.1)
        if quiet.engine.order_path.refused_fills:
            break
    assert quiet.engine.order_path.refused_fills == 1
    assert quiet.engine.positions.get((VENUE, SYMBOL)).size == 0
    journal = await _journal(quiet)
    (row,) = journal.refused_fills()
    assert row["price"] == "1" and row["size"] == "0.01" and row["side"] == "sell"


async def test_a_refused_fill_does_not_move_the_history_watermark(quiet: Session) -> None:
    """Its timestamp is not trusted: a fill stamped in the far future must not make
    the next history read start after fills the stream missed."""
    engine = quiet.engine
    before = engine.recovery.watermark(VENUE)
    engine.order_path.on_fill(_fill(None, "t-future", price=D("NaN"), ts_ms=before + 10**12))
    assert engine.order_path.refused_fills == 1
    assert engine.recovery.watermark(VENUE) == before
