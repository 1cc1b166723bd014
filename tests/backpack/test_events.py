"""Private stream frames -> Fill / OrderUpdate / Position, delivered after the call."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from connectors.backpack.connector import BackpackConnector
from connectors.backpack.wire import instrument_from_market, us_ms
from connectors.backpack.ws import Frame
from connectors.base import (
    Event,
    Fill,
    Liquidity,
    OrderStatus,
    OrderUpdate,
    Position,
    Side,
    Trade,
)

from .test_payload import MARKET

FILL = {
    "e": "orderFill",
    "E": 1754939110175879,
    "T": 1754939110174705,
    "s": "SOL_USDC_PERP",
    "S": "Bid",
    "o": "LIMIT",
    "f": "GTC",
    "q": "0.10",
    "p": "150.25",
    "X": "PartiallyFilled",
    "i": "4228978331",
    "z": "0.04",
    "Z": "6.01",
    "t": 2888471,
    "l": "0.04",
    "L": "150.25",
    "m": True,
    "n": "0.0006",
    "N": "USDC",
    "y": True,
    "r": False,
    "V": "RejectTaker",
    "O": "USER",
}


def _connector() -> tuple[BackpackConnector, list[Event]]:
    c = BackpackConnector("http://127.0.0.1:9", "ws://127.0.0.1:9/")
    inst = instrument_from_market("backpack", MARKET)
    assert inst is not None
    c._instruments = {"SOL_USDC_PERP": inst}
    events: list[Event] = []
    c._events.sink = events.append
    return c, events


async def test_order_fill_gives_fill_then_update() -> None:
    c, events = _connector()
    cid = c.client_ids.to_venue("mmab12c-9")
    c._on_frame(Frame("account.orderUpdate.SOL_USDC_PERP", dict(FILL, c=cid)))
    assert events == []  # never inside the call: flushed on the loop
    await asyncio.sleep(0)
    fill, update = events
    assert fill == Fill(
        "backpack",
        "SOL_USDC_PERP",
        "mmab12c-9",
        "4228978331",
        Side.BUY,
        Decimal("150.25"),
        Decimal("0.04"),
        Decimal("0.0006"),
        Liquidity.MAKER,
        "SOL_USDC_PERP:2888471",  # trade ids count per market
        1754939110174,  # the engine time T: the fill's time
    )
    assert isinstance(update, OrderUpdate)
    assert update.status is OrderStatus.PARTIALLY_FILLED
    assert (update.filled_size, update.remaining_size) == (Decimal("0.04"), Decimal("0.06"))


async def test_order_lifecycle_events() -> None:
    c, events = _connector()
    base = {"s": "SOL_USDC_PERP", "S": "Ask", "q": "1", "z": "0", "i": "7", "E": "5000"}
    c._on_frame(Frame("account.orderUpdate", dict(base, e="orderAccepted", X="New")))
    c._on_frame(Frame("account.orderUpdate", dict(base, e="orderCancelled", X="Cancelled")))
    c._on_frame(
        Frame("account.orderUpdate", dict(base, e="orderExpired", X="Expired", R="PostOnlyTaker"))
    )
    c._on_frame(
        Frame(
            "account.orderUpdate",
            dict(base, e="orderFill", X="Filled", t=1, l="1", L="150", m=False, z="1"),
        )
    )
    c._on_frame(Frame("account.orderUpdate", dict(base, e="orderModified")))
    await asyncio.sleep(0)
    kinds = [(type(e).__name__, getattr(e, "status", None)) for e in events]
    assert kinds == [
        ("OrderUpdate", OrderStatus.OPEN),
        ("OrderUpdate", OrderStatus.CANCELLED),
        ("OrderUpdate", OrderStatus.EXPIRED),
        ("Fill", None),
        ("OrderUpdate", OrderStatus.FILLED),
    ]
    assert events[0].client_id is None  # no "c": no client id  # type: ignore[union-attr]
    assert events[2].reason == "PostOnlyTaker"  # type: ignore[union-attr]
    assert events[3].liquidity is Liquidity.TAKER  # type: ignore[union-attr]
    assert events[0].ts_ms == 5  # µs string -> ms  # type: ignore[union-attr]


async def test_positions_trades_and_bad_frames() -> None:
    c, events = _connector()
    snap = {"s": "SOL_USDC_PERP", "q": "-0.5", "B": "150.1", "P": "0.2", "p": "-1", "E": 2_000_000}
    c._on_frame(Frame("account.positionUpdate", snap))  # the subscribe snapshot: no "e"
    c._on_frame(Frame("account.positionUpdate", dict(snap, e="positionClosed", q="0")))
    c._on_frame(
        Frame(
            "trade.SOL_USDC_PERP",
            {
                "e": "trade",
                "s": "SOL_USDC_PERP",
                "p": "150.2",
                "q": "0.3",
                "m": True,
                "T": "3000000",
            },
        )
    )
    c._on_frame(Frame("ticker.SOL_USDC_PERP", {"e": "ticker"}))
    c._on_frame(Frame("bookTicker.SOL_USDC_PERP", {"e": "bookTicker"}))
    assert c.stats.extra["unknown_frames"] == 2  # nothing we use: not bad either
    # a frame the handler cannot read is skipped and counted by the socket reader
    assert not c.ws.handle(None, '{"stream":"account.orderUpdate","data":{"e":"orderFill"}}')
    assert not c.ws.handle(None, "{{{")
    assert c.ws.bad_frames == 2 and c.stats.bad_frames == 2
    assert c.ws.handle(None, '{"result":null,"id":1}')  # an ack is not a bad frame
    assert c.stats.bad_frames == 2
    await asyncio.sleep(0)
    p1, p2, trade = events
    assert p1 == Position(
        "backpack",
        "SOL_USDC_PERP",
        Decimal("-0.5"),
        Decimal("150.1"),
        Decimal("0.2"),
        Decimal("-1"),
        2000,
    )
    assert isinstance(p2, Position) and p2.size == 0
    assert trade == Trade(
        "backpack", "SOL_USDC_PERP", Side.SELL, Decimal("150.2"), Decimal("0.3"), 3000
    )


def test_us_ms() -> None:
    assert us_ms("1754939110175879") == 1754939110175
    assert us_ms(1754939110175879) == 1754939110175
    assert us_ms(None) == 0 and us_ms("x") == 0
