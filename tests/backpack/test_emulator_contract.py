"""First contract test: the real connector against the loopback Backpack emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.backpack.connector import BackpackConnector
from connectors.backpack.keys import BackpackKeys
from connectors.base import (
    ConnectionState,
    ErrorCode,
    Event,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    RateLimited,
    Side,
    TimeInForce,
)
from tests.waiting import until

emulator = pytest.importorskip("connectors.backpack.emulator")

from .test_signing import SECRET  # noqa: E402

KEYS = BackpackKeys(SECRET)
SYMBOL = "SOL_USDC_PERP"


@pytest.fixture
async def venue_emu() -> AsyncIterator[tuple[Any, BackpackConnector, list[Event]]]:
    with emulator.backpack_emulator({KEYS.api_key: "alice"}, seed=3) as emu:
        conn = BackpackConnector(emu.base_url, emu.ws_url, KEYS, connect_timeout_s=5)
        events: list[Event] = []
        await conn.connect(events.append)
        try:
            yield emu, conn, events
        finally:
            await conn.close()


async def test_place_open_fill_cancel(
    venue_emu: tuple[Any, BackpackConnector, list[Event]],
) -> None:
    _, conn, events = venue_emu
    assert conn.state is ConnectionState.CONNECTED
    inst = (await conn.instruments())[SYMBOL]
    await conn.subscribe_books([SYMBOL])
    book = conn.book(SYMBOL)
    assert book is not None
    await until(book.is_valid)
    best_bid, best_ask = book.best_bid(), book.best_ask()
    assert best_bid is not None and best_ask is not None and best_bid < best_ask

    # place a passive post-only bid well below the touch: it rests
    price = inst.round_price(best_bid * Decimal("0.95"), Side.BUY)
    size = inst.min_size
    req = OrderRequest("mmtest1-1", SYMBOL, Side.BUY, size, price=price, post_only=True)
    ack = await conn.place(req)
    # the answer as the venue gave it: "New" with the order's id
    assert ack.status is OrderStatus.OPEN and ack.venue_order_id
    (listed,) = [o for o in await conn.open_orders(SYMBOL) if o.client_id == "mmtest1-1"]
    assert (listed.price, listed.size, listed.side) == (price, size, Side.BUY)
    await until(
        lambda: any(
            isinstance(e, OrderUpdate)
            and e.client_id == "mmtest1-1"
            and e.status is OrderStatus.OPEN
            for e in events
        )
    )

    # a post-only order that would cross is refused by the venue
    cross = OrderRequest(
        "mmtest1-2",
        SYMBOL,
        Side.BUY,
        size,
        price=inst.round_price(best_ask * Decimal("1.01"), Side.SELL),
        post_only=True,
    )
    with pytest.raises(Exception) as info:
        await conn.place(cross)
    assert getattr(info.value, "code", "") == ErrorCode.INVALID_ORDER
    assert getattr(info.value, "venue_code", "") == "INVALID_ORDER"

    # an IOC taker buy fills against the book: Fill + final status arrive as events
    taker = OrderRequest(
        "mmtest1-3", SYMBOL, Side.BUY, size, type=OrderType.MARKET, time_in_force=TimeInForce.IOC
    )
    await conn.place(taker)
    await until(lambda: any(isinstance(e, Fill) and e.client_id == "mmtest1-3" for e in events))
    fill = next(e for e in events if isinstance(e, Fill) and e.client_id == "mmtest1-3")
    assert fill.side is Side.BUY and fill.size <= size and fill.price > 0
    positions = await conn.positions()
    assert any(p.symbol == SYMBOL and p.size > 0 for p in positions)

    # cancel the resting bid by our client id; a second cancel finds nothing
    assert await conn.cancel(SYMBOL, "mmtest1-1")
    assert not await conn.cancel(SYMBOL, "mmtest1-1")
    await until(
        lambda: any(
            isinstance(e, OrderUpdate)
            and e.client_id == "mmtest1-1"
            and e.status is OrderStatus.CANCELLED
            for e in events
        )
    )
    assert not [o for o in await conn.open_orders(SYMBOL) if o.client_id == "mmtest1-1"]

    # cancel_all by prefix only touches our orders
    for n in (4, 5):
        await conn.place(
            OrderRequest(
                f"mmtest1-{n}",
                SYMBOL,
                Side.SELL,
                size,
                price=inst.round_price(best_ask * Decimal("1.05"), Side.SELL),
                post_only=True,
            )
        )
    assert await conn.cancel_all(SYMBOL, "mmtest1-") == 2
    assert await conn.open_orders(SYMBOL) == []
    assert conn.stats.bad_frames == 0


async def test_resync_reconnect_and_throttle(
    venue_emu: tuple[Any, BackpackConnector, list[Event]],
) -> None:
    emu, conn, events = venue_emu
    inst = (await conn.instruments())[SYMBOL]
    await conn.subscribe_books([SYMBOL])
    book = conn.book(SYMBOL)
    assert book is not None
    await until(book.is_valid)

    # a gap in the update ids invalidates the book; the connector re-snapshots
    emu.faults.skip_book_ids(3, SYMBOL)
    await until(lambda: conn.stats.resyncs >= 1)
    await until(book.is_valid)
    # ... and the resynced book is the emulator's book, level for level
    emu.pause()
    try:
        await asyncio.sleep(0.5)  # let deltas already on the wire arrive
        internal = SYMBOL.split("_")[0] + "-PERP"  # the sim's own name for it
        bids, asks, _ = emu.call(lambda: emu.venue.snapshot(internal, 20))
        assert book.bids_ticks(20) == bids and book.asks_ticks(20) == asks
    finally:
        emu.resume()

    # the server drops the socket: reconnect, resubscribe, book and private stream back
    assert emu.faults.close_sockets() >= 1
    await until(lambda: conn.stats.reconnects >= 1)
    await until(lambda: conn.state is ConnectionState.CONNECTED and book.is_valid())
    best_bid = book.best_bid()
    assert best_bid is not None
    price = inst.round_price(best_bid * Decimal("0.9"), Side.BUY)
    await conn.place(OrderRequest("mmtest2-1", SYMBOL, Side.BUY, inst.min_size, price=price))
    await until(
        lambda: any(
            isinstance(e, OrderUpdate)
            and e.client_id == "mmtest2-1"
            and e.status is OrderStatus.OPEN
            for e in events
        )
    )
    assert await conn.cancel_all(SYMBOL) == 1

    # throttling surfaces as RateLimited with the venue's Retry-After
    emu.faults.http_errors(1, status=429, retry_after_s=2)
    with pytest.raises(RateLimited) as info:
        await conn.open_orders(SYMBOL)
    assert info.value.retry_after == 2
    emu.faults.http_errors(1, status=503)
    with pytest.raises(Exception) as err:
        await conn.positions()
    assert getattr(err.value, "retryable", False)

    balances = await conn.balances()
    collateral = await conn.collateral()
    assert balances or collateral
    assert conn.stats.bad_frames == 0
