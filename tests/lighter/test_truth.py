"""Lighter's own answers to what real venues do (docs/venues/lighter.md): lost answers the
nonce settles, dropped orders, a repeated client order index booked twice, liquidations,
other tools' orders, and reading every page — our connector against the emulator, through
the contract rig with other emulator settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import (
    ErrorCode,
    Event,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
    VenueError,
)
from connectors.lighter import reads as lighter_reads
from connectors.lighter.connector import LighterConnector
from tests.contract.rigs.lighter import ACCOUNT_INDEX, OUR_KEY, LighterRig
from tests.waiting import until

PREFIX = "mmtruth"


class Trading:
    def __init__(self, rig: LighterRig, conn: LighterConnector) -> None:
        self.rig, self.conn = rig, conn
        self.events: list[Event] = []
        self.n = 0

    def cid(self) -> str:
        self.n += 1
        return f"{PREFIX}-{self.n}"

    def bid(self, cid: str, ticks_below: int = 20, symbol: str = "BTC") -> OrderRequest:
        bid, _, tick = self.rig.touch(symbol)
        size = self.rig.min_size(symbol)
        return OrderRequest(
            cid, symbol, Side.BUY, size, price=bid - ticks_below * tick, post_only=True
        )

    def updates(self, cid: str | None) -> list[OrderUpdate]:
        return [e for e in self.events if isinstance(e, OrderUpdate) and e.client_id == cid]

    def executed_nonce(self) -> int:
        h = self.rig._harness
        return h.call(lambda: h.dialect._accounts[ACCOUNT_INDEX].executed[OUR_KEY])


async def trading(**options: Any) -> AsyncIterator[Trading]:
    rig = LighterRig(**options)
    await rig.start()
    conn = rig.connector(PREFIX)
    assert isinstance(conn, LighterConnector)
    t = Trading(rig, conn)
    try:
        await conn.connect(t.events.append)
        await conn.subscribe_books(["BTC", "ETH"])
        await until(lambda: conn.book("BTC").is_valid(), what="BTC book")  # type: ignore[union-attr]
        yield t
    finally:
        await rig.stop()


@pytest.fixture
async def t() -> AsyncIterator[Trading]:
    async for x in trading():
        yield x


@pytest.fixture
async def quick() -> AsyncIterator[Trading]:
    """A sequencer that executes at once, lost answers included, and small pages."""
    async for x in trading(apply_delay_ms=0, lost_answer_delay_ms=0, active_page_size=2):
        yield x


async def test_a_lost_answer_the_nonce_shows_executed_is_a_pending_ack(quick: Trading) -> None:
    cid = quick.cid()
    quick.rig.lose_next_answer()
    ack = await quick.conn.place(quick.bid(cid))  # re-reads nextNonce: executed
    assert ack.status is OrderStatus.PENDING
    assert quick.conn.tx.unknown_outcomes == 0
    await until(lambda: any(u.status is OrderStatus.OPEN for u in quick.updates(cid)))
    assert len(quick.rig.venue_orders()) == 1


async def test_a_lost_answer_still_queued_is_unknown_and_never_resent(t: Trading) -> None:
    cid = t.cid()
    before = t.executed_nonce()
    t.rig.lose_next_answer()
    with pytest.raises(VenueError) as err:
        await t.conn.place(t.bid(cid))
    assert err.value.outcome_unknown and err.value.code == ErrorCode.NETWORK
    assert t.executed_nonce() == before  # the venue has not executed it (yet)
    await until(lambda: t.executed_nonce() == before + 1, what="the held tx executes")
    found = await t.conn.lookup_order("BTC", cid)
    assert found is not None and found.status is OrderStatus.OPEN
    assert len(t.rig.venue_orders()) == 1


async def test_a_dropped_order_spends_its_nonce_and_leaves_no_trace(t: Trading) -> None:
    cid = t.cid()
    before = t.executed_nonce()
    t.rig.drop_next_order()
    ack = await t.conn.place(t.bid(cid))
    assert ack.status is OrderStatus.PENDING  # answered like any accepted tx
    await until(lambda: t.executed_nonce() == before + 1, what="executed")
    assert await t.conn.lookup_order("BTC", cid) is None
    assert await t.conn.open_orders("BTC") == []
    assert t.updates(cid) == []
    assert not await t.conn.cancel("BTC", t.cid())  # never sent: nothing to cancel


async def test_a_client_index_booked_twice_is_listed_twice_and_cancelled_whole(
    t: Trading,
) -> None:
    t.rig.book_duplicate_client_ids()
    cid = t.cid()
    # both sent before either shows up: the connector cannot know; the venue books both
    await asyncio.gather(t.conn.place(t.bid(cid)), t.conn.place(t.bid(cid, 21)))
    await until(lambda: len(t.rig.venue_orders()) == 2, what=lambda: t.rig.venue_orders())
    await until(lambda: len(t.conn.orders.live.get(int(t.conn.venue_client_id(cid)), ())) == 2)
    listed = await t.conn.open_orders("BTC")
    assert [o.venue_client_id for o in listed] == [t.conn.venue_client_id(cid)] * 2
    assert len({o.venue_order_id for o in listed}) == 2
    with pytest.raises(VenueError) as err:  # now the stream shows it live
        await t.conn.place(t.bid(cid, 22))
    assert err.value.code == ErrorCode.DUPLICATE_CLIENT_ID
    assert await t.conn.cancel("BTC", cid)
    await until(lambda: t.rig.venue_orders() == [], what="both cancelled")


async def test_a_liquidation_is_a_fill_without_client_id_in_stream_and_history(
    t: Trading,
) -> None:
    t0 = t.rig.call(lambda: t.rig.venue.now_ms)
    bid, _, _ = t.rig.touch("BTC")
    size = t.rig.min_size("BTC")
    t.rig.liquidate("BTC", Side.SELL, size, bid)
    await until(lambda: [e for e in t.events if isinstance(e, Fill)], what="the fill")
    (fill,) = [e for e in t.events if isinstance(e, Fill)]
    assert fill.client_id is None and fill.side is Side.SELL and fill.size == size
    (history,) = await t.conn.fills_since(t0)
    assert history == fill  # the same Fill, trade id and all
    h = t.rig._harness
    (trade,) = h.call(lambda: h.dialect._accounts[ACCOUNT_INDEX].trades)
    assert trade["type"] == "liquidation" and trade["ask_client_id"] == 0


async def test_every_page_is_read(quick: Trading, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lighter_reads, "PAGE", 2)
    t0 = quick.rig.call(lambda: quick.rig.venue.now_ms)
    cids = [quick.cid() for _ in range(3)]
    for n, cid in enumerate(cids):
        await quick.conn.place(quick.bid(cid, 20 + n))
    await until(lambda: len(quick.rig.venue_orders()) == 3)
    listed = await quick.conn.open_orders("BTC")  # the emulator pages them by two
    assert sorted(o.client_id or "" for o in listed) == sorted(cids)
    # five fills, read back two at a time, oldest first
    size = quick.rig.min_size("BTC")
    _, ask, tick = quick.rig.touch("BTC")
    cid = quick.cid()
    await quick.conn.place(
        OrderRequest(cid, "BTC", Side.SELL, size * 5, price=ask - tick, post_only=True)
    )
    await until(lambda: any(u.status is OrderStatus.OPEN for u in quick.updates(cid)))
    for _ in range(5):
        quick.rig.take("BTC", Side.BUY, size, ask - tick)
    await until(lambda: any(u.status is OrderStatus.FILLED for u in quick.updates(cid)))
    fills = [f for f in await quick.conn.fills_since(t0) if f.client_id == cid]
    assert len(fills) == 5 and sum(f.size for f in fills) == size * 5
    assert [f.ts_ms for f in fills] == sorted(f.ts_ms for f in fills)
    assert len({f.trade_id for f in fills}) == 5


async def test_another_tools_order_is_never_cancelled_as_ours(t: Trading) -> None:
    bid, _, tick = t.rig.touch("BTC")
    size = t.rig.min_size("BTC")
    foreign = t.rig.place_foreign("BTC", Side.BUY, size, bid - 40 * tick)
    ours = t.cid()
    await t.conn.place(t.bid(ours))
    await until(lambda: len(t.rig.venue_orders()) == 2)
    assert await t.conn.cancel_all(None, PREFIX + "-") == 1
    await until(lambda: len(t.rig.venue_orders()) == 1)
    (left,) = await t.conn.open_orders()
    assert left.venue_client_id == foreign and left.client_id == foreign
    assert (await t.conn.lookup_order("BTC", foreign)).status is OrderStatus.OPEN  # type: ignore[union-attr]
    assert Decimal(left.price) == bid - 40 * tick
