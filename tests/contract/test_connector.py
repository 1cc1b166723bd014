"""The connector contract: what every venue's connector does, checked against the
venue's own state (the sim exchange behind the rig), on every venue in ``RIGS``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from connectors.base import (
    ConnectionChanged,
    ConnectionState,
    Connector,
    ErrorCode,
    Event,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Position,
    Side,
    VenueError,
)
from tests.contract.rig import VenueRig
from tests.waiting import until

PREFIX = "mmctest"


@dataclass
class Session:
    rig: VenueRig
    conn: Connector
    events: list[Event] = field(default_factory=list)
    n: int = 0

    def cid(self, prefix: str = PREFIX) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    def updates(self, cid: str) -> list[OrderUpdate]:
        return [e for e in self.events if isinstance(e, OrderUpdate) and e.client_id == cid]

    def fills(self, cid: str | None) -> list[Fill]:
        return [e for e in self.events if isinstance(e, Fill) and e.client_id == cid]

    def connected_count(self) -> int:
        return sum(
            1
            for e in self.events
            if isinstance(e, ConnectionChanged) and e.state is ConnectionState.CONNECTED
        )

    async def rest_bid(self, size: Decimal | None = None, ticks_below: int = 20) -> str:
        """A post-only bid ``ticks_below`` the venue's best bid; waits until it rests."""
        bid, _, tick = self.rig.touch(self.rig.symbol)
        cid = self.cid()
        req = OrderRequest(
            cid,
            self.rig.symbol,
            Side.BUY,
            size or self.rig.min_size(self.rig.symbol),
            price=bid - ticks_below * tick,
            post_only=True,
        )
        ack = await self.conn.place(req)
        assert ack.status in (OrderStatus.OPEN, OrderStatus.PENDING), ack
        await until(
            lambda: any(u.status is OrderStatus.OPEN for u in self.updates(cid)),
            what=lambda: f"{cid} open: {self.updates(cid)}",
        )
        return cid

    def price_of(self, cid: str) -> Decimal:
        (order,) = [o for o in self.rig.venue_orders() if o.client_id == self._sim_cid(cid)]
        return order.price

    def _sim_cid(self, cid: str) -> str:
        """The id the sim exchange holds for our order (what the dialect gave it)."""
        wire = self.conn.venue_client_id(cid)
        for o in self.rig.venue_orders():
            if o.client_id in (cid, wire):
                return o.client_id or ""
        raise AssertionError(f"{cid} ({wire}) is not resting on the venue")


@pytest.fixture
async def s(rig: VenueRig) -> AsyncIterator[Session]:
    conn = rig.connector(PREFIX)
    session = Session(rig, conn)
    await conn.connect(session.events.append)
    await conn.subscribe_books([rig.symbol, rig.other_symbol])
    for symbol in (rig.symbol, rig.other_symbol):
        await until(lambda sym=symbol: conn.book(sym).is_valid(), what=f"{symbol} book")  # type: ignore[union-attr]
    try:
        yield session
    finally:
        await conn.close()


async def test_place_rest_look_up_cancel(s: Session) -> None:
    cid = await s.rest_bid()
    (listed,) = [o for o in await s.conn.open_orders(s.rig.symbol) if o.client_id == cid]
    assert listed.venue_client_id == s.conn.venue_client_id(cid)
    assert listed.side is Side.BUY and listed.remaining_size == listed.size
    found = await s.conn.lookup_order(s.rig.symbol, cid)
    assert found is not None and found.status is OrderStatus.OPEN, found
    assert found.client_id == cid and found.filled_size == 0
    assert await s.conn.cancel(s.rig.symbol, cid)
    await until(lambda: any(u.status is OrderStatus.CANCELLED for u in s.updates(cid)))
    found = await s.conn.lookup_order(s.rig.symbol, cid)
    assert found is not None and found.status is OrderStatus.CANCELLED, found
    assert not await s.conn.cancel(s.rig.symbol, cid)
    assert s.rig.venue_orders() == []


async def test_unknown_client_id_is_none(s: Session) -> None:
    assert await s.conn.lookup_order(s.rig.symbol, f"{PREFIX}-999999") is None


async def test_partial_then_full_fill_with_history(s: Session) -> None:
    t0 = s.rig.call(lambda: s.rig.venue.now_ms)
    size = s.rig.min_size(s.rig.symbol) * 2
    cid = await s.rest_bid(size, ticks_below=-1)  # improves the bid: first in line
    price = s.price_of(cid)
    half = size / 2
    s.rig.take(s.rig.symbol, Side.SELL, half, price)
    await until(lambda: len(s.fills(cid)) == 1, what=lambda: f"fills {s.fills(cid)}")
    (first,) = s.fills(cid)
    assert (first.side, first.price, first.size) == (Side.BUY, price, half)
    found = await s.conn.lookup_order(s.rig.symbol, cid)
    assert found is not None and found.status is OrderStatus.PARTIALLY_FILLED
    assert found.filled_size == half
    s.rig.take(s.rig.symbol, Side.SELL, half, price)
    await until(lambda: len(s.fills(cid)) == 2)
    await until(lambda: any(u.status is OrderStatus.FILLED for u in s.updates(cid)))
    history = [f for f in await s.conn.fills_since(t0, s.rig.symbol) if f.client_id == cid]
    assert sorted(f.trade_id for f in history) == sorted(f.trade_id for f in s.fills(cid))
    assert sum(f.size for f in history) == size
    found = await s.conn.lookup_order(s.rig.symbol, cid)
    assert found is not None and found.status is OrderStatus.FILLED and found.filled_size == size
    await until(lambda: s.rig.venue_position(s.rig.symbol) == size)
    positions = {p.symbol: p.size for p in await s.conn.positions()}
    assert positions.get(s.rig.symbol) == size


async def test_cancel_all_is_scoped_to_symbol_and_prefix(s: Session) -> None:
    ours = await s.rest_bid()
    other_run = s.cid("mmother")
    bid, _, tick = s.rig.touch(s.rig.symbol)
    await s.conn.place(
        OrderRequest(
            other_run,
            s.rig.symbol,
            Side.BUY,
            s.rig.min_size(s.rig.symbol),
            price=bid - 30 * tick,
            post_only=True,
        )
    )
    eth_bid, _, eth_tick = s.rig.touch(s.rig.other_symbol)
    eth = s.cid()
    await s.conn.place(
        OrderRequest(
            eth,
            s.rig.other_symbol,
            Side.BUY,
            s.rig.min_size(s.rig.other_symbol),
            price=eth_bid - 20 * eth_tick,
            post_only=True,
        )
    )
    await until(lambda: len(s.rig.venue_orders()) == 3, what=lambda: s.rig.venue_orders())
    assert await s.conn.cancel_all(s.rig.symbol, PREFIX + "-") == 1
    await until(lambda: len(s.rig.venue_orders()) == 2)
    left = {o.client_id for o in await s.conn.open_orders()}
    assert ours not in left and other_run in left and eth in left


async def test_a_fill_missed_while_the_stream_was_down_is_in_the_history(s: Session) -> None:
    t0 = s.rig.call(lambda: s.rig.venue.now_ms)
    cid = await s.rest_bid(ticks_below=-1)
    price = s.price_of(cid)
    before = s.connected_count()
    s.rig.drop_stream_on_next_fill(s.conn)
    s.rig.take(s.rig.symbol, Side.SELL, s.rig.min_size(s.rig.symbol), price)
    await until(lambda: s.connected_count() > before, timeout=15, what="reconnected")
    history = [f for f in await s.conn.fills_since(t0) if f.client_id == cid]
    assert len(history) == 1 and history[0].size == s.rig.min_size(s.rig.symbol)
    assert s.fills(cid) == []  # the stream never delivered it: only the history has it


async def test_a_liquidation_fill_has_no_client_id(s: Session) -> None:
    bid, _, _ = s.rig.touch(s.rig.symbol)
    size = s.rig.min_size(s.rig.symbol)
    s.rig.liquidate(s.rig.symbol, Side.SELL, size, bid)
    await until(lambda: s.fills(None), what="the liquidation fill")
    (fill,) = s.fills(None)
    assert fill.symbol == s.rig.symbol and fill.side is Side.SELL and fill.size == size
    assert fill.venue_order_id in (None, "") or fill.client_id is None
    await until(
        lambda: any(
            isinstance(e, Position) and e.symbol == s.rig.symbol and e.size == -size
            for e in s.events
        )
    )


async def test_a_lost_answer_is_an_unknown_outcome_and_the_order_can_be_found(s: Session) -> None:
    bid, _, tick = s.rig.touch(s.rig.symbol)
    cid = s.cid()
    s.rig.lose_next_answer()
    with pytest.raises(VenueError) as err:
        await s.conn.place(
            OrderRequest(
                cid,
                s.rig.symbol,
                Side.BUY,
                s.rig.min_size(s.rig.symbol),
                price=bid - 20 * tick,
                post_only=True,
            )
        )
    assert err.value.outcome_unknown, err.value
    found = None

    async def look() -> None:
        nonlocal found
        found = await s.conn.lookup_order(s.rig.symbol, cid)

    for _ in range(100):
        await look()
        if found is not None:
            break
        await asyncio.sleep(0.05)
    assert found is not None and found.status is OrderStatus.OPEN, found
    assert len(s.rig.venue_orders()) == 1


async def test_a_dropped_order_is_unknown_to_the_venue(s: Session) -> None:
    bid, _, tick = s.rig.touch(s.rig.symbol)
    cid = s.cid()
    s.rig.drop_next_order()
    ack = await s.conn.place(
        OrderRequest(
            cid,
            s.rig.symbol,
            Side.BUY,
            s.rig.min_size(s.rig.symbol),
            price=bid - 20 * tick,
            post_only=True,
        )
    )
    assert ack.status in (OrderStatus.OPEN, OrderStatus.PENDING)
    await asyncio.sleep(0.5)
    assert await s.conn.lookup_order(s.rig.symbol, cid) is None
    assert all(u.status is not OrderStatus.OPEN for u in s.updates(cid))
    assert s.rig.venue_orders() == []


async def test_another_tools_order_is_listed_with_its_own_id(s: Session) -> None:
    bid, _, tick = s.rig.touch(s.rig.symbol)
    size = s.rig.min_size(s.rig.symbol)
    wire = s.rig.place_foreign(s.rig.symbol, Side.BUY, size, bid - 40 * tick)
    await until(lambda: len(s.rig.venue_orders()) == 1)
    (listed,) = await s.conn.open_orders(s.rig.symbol)
    assert listed.venue_client_id == wire
    assert listed.client_id is None or not listed.client_id.startswith(PREFIX)


async def test_malformed_frames_are_counted_and_the_stream_stays_up(s: Session) -> None:
    if not s.rig.supports_raw_frames:
        pytest.skip("no wire on this venue")
    before = s.conn.stats.bad_frames
    frames = ["{not json", "[]", "null", '{"data": 1e999999}', '{"stream": 5, "data": [1]}']
    for text in frames:
        assert await s.rig.push_raw(s.conn, text)
    await until(
        lambda: s.conn.stats.bad_frames >= before + 2,
        what=lambda: f"bad frames {s.conn.stats.bad_frames}",
    )
    assert s.conn.state is ConnectionState.CONNECTED
    cid = await s.rest_bid()  # and trading goes on
    assert cid


async def test_hostile_frames_on_the_live_socket_leave_the_feed_up(s: Session) -> None:
    """Mutated recordings of the venue's own frames (and the issue's frame that killed
    Lighter's feed) pushed down the live socket: counted as bad, no reconnect, and a
    fill of our order afterwards is seen on the stream."""
    if not s.rig.supports_raw_frames:
        pytest.skip("no wire on this venue")
    from tests.frame_mutations import FrameMutator
    from tests.frame_rigs import RIGS as FRAME_RIGS

    frame_rig = FRAME_RIGS[s.rig.name]()
    await frame_rig.close()
    mutator = FrameMutator(16)
    texts = [
        '{"type":"update/account_all_positions","channel":"account_all_positions:281",'
        '"positions":[1]}'
    ]
    for _ in range(300):
        raw = mutator.frame(frame_rig.recorded[mutator.rng.randrange(len(frame_rig.recorded))])
        texts.append(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"))
    before, seen = s.conn.stats.bad_frames, len(s.events)
    for text in texts:
        await s.rig.push_raw(s.conn, text)
    await until(
        lambda: s.conn.stats.bad_frames >= before + 50,
        what=lambda: f"bad frames {s.conn.stats.bad_frames - before}",
    )
    cid = await s.rest_bid(ticks_below=-1)  # improves the bid: first in line
    s.rig.take(s.rig.symbol, Side.SELL, s.rig.min_size(s.rig.symbol), s.price_of(cid))
    await until(lambda: len(s.fills(cid)) == 1, what=lambda: f"fills {s.fills(cid)}")
    assert s.conn.state is ConnectionState.CONNECTED
    down = [
        e
        for e in s.events[seen:]
        if isinstance(e, ConnectionChanged) and e.state is not ConnectionState.CONNECTED
    ]
    assert down == [], down  # not one reconnect


async def test_rate_limit_is_a_retryable_refusal_with_a_delay(s: Session) -> None:
    if s.rig.name == "sim":
        pytest.skip("the in-process sim has no rate limit")
    bid, _, tick = s.rig.touch(s.rig.symbol)
    s.rig.rate_limit_next(1, retry_after_s=0.3)
    with pytest.raises(VenueError) as err:
        await s.conn.place(
            OrderRequest(
                s.cid(),
                s.rig.symbol,
                Side.BUY,
                s.rig.min_size(s.rig.symbol),
                price=bid - 20 * tick,
                post_only=True,
            )
        )
    assert err.value.code == ErrorCode.RATE_LIMITED and err.value.retryable
    assert not err.value.outcome_unknown
    assert s.rig.venue_orders() == []
