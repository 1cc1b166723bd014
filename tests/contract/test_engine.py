"""The core's contract with every venue: what it does when the venue misbehaves as
real venues do — nothing lost, nothing doubled, nobody else's orders touched.

Each case runs the real engine over the real connector of every venue in
``RIGS`` (the sim in-process; the others against their emulators on 127.0.0.1)
and checks the outcome against the venue's own state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.base import OrderStatus, Side
from mmtui.core.clock import WallClock
from mmtui.core.engine import Engine
from mmtui.core.inflight import InflightPolicy
from mmtui.core.journal import Journal
from mmtui.core.orders import Order
from tests.contract.rig import VenueRig
from tests.waiting import until

FAST = InflightPolicy(
    grace_s=0.5, unknown_grace_s=0.2, recheck_s=0.3, misses_to_lost=2, cancel_grace_s=1.0
)


@dataclass
class Core:
    rig: VenueRig
    engine: Engine
    journal: Journal

    @property
    def venue(self) -> str:
        return self.rig.name

    @property
    def conn(self):  # type: ignore[no-untyped-def]
        return self.engine.connectors[self.venue]

    def bid(self, ticks_below: int = 20, size: Decimal | None = None) -> Order:
        """A post-only bid ``ticks_below`` the venue's best bid (negative: inside)."""
        best, _, tick = self.rig.touch(self.rig.symbol)
        return self.engine.submit_order(
            venue=self.venue,
            symbol=self.rig.symbol,
            side=Side.BUY,
            size=size or self.rig.min_size(self.rig.symbol),
            price=best - ticks_below * tick,
            post_only=True,
        )

    async def resting(self, order: Order) -> None:
        await until(
            lambda: order.status is OrderStatus.OPEN,
            timeout=10,
            what=lambda: f"{order.client_id} {order.status.value} {order.reason}",
        )

    def position(self) -> Decimal:
        state = self.engine.positions.peek((self.venue, self.rig.symbol))
        return state.size if state is not None else Decimal(0)

    async def journal_rows(self, table: str) -> list[dict[str, object]]:
        await asyncio.to_thread(self.journal.flush)
        return getattr(self.journal, table)()


async def start_core(rig: VenueRig, path: Path, prefix: str, **kw: object) -> Core:
    journal = Journal(path, prefix)
    engine = Engine(
        clock=WallClock(),
        connectors={rig.name: rig.connector(prefix)},
        journal=journal,
        run_prefix=prefix,
        inflight=FAST,
        inflight_interval_s=0.1,
        **kw,  # type: ignore[arg-type]
    )
    await engine.start()
    await engine.subscribe([(rig.name, rig.symbol)])
    book = engine.book(rig.name, rig.symbol)
    await until(lambda: book is not None and book.is_valid(), what="book")
    return Core(rig, engine, journal)


@pytest.fixture
async def core(rig: VenueRig, tmp_path: Path) -> AsyncIterator[Core]:
    c = await start_core(rig, tmp_path / "journal.sqlite", "mmcore1")
    try:
        yield c
    finally:
        if c.engine.running:
            await c.engine.shutdown(10)


def eventually(cond: Callable[[], bool], what: str = "") -> object:
    return until(cond, timeout=15, what=what)


async def test_a_round_trip_matches_the_venue(core: Core) -> None:
    rig, size = core.rig, core.rig.min_size(core.rig.symbol) * 2
    order = core.bid(ticks_below=-1, size=size)  # improves the bid: first in line
    await core.resting(order)
    rig.take(rig.symbol, Side.SELL, size / 2, order.price)  # type: ignore[arg-type]
    await eventually(lambda: order.status is OrderStatus.PARTIALLY_FILLED)
    assert order.filled == size / 2 and core.position() == size / 2
    assert core.engine.request_cancel(order)
    await eventually(lambda: order.status is OrderStatus.CANCELLED)
    assert rig.venue_orders() == []
    assert rig.venue_position(rig.symbol) == core.position() == size / 2


async def test_a_burst_of_429s_places_each_order_exactly_once(core: Core) -> None:
    if core.rig.name == "sim":
        pytest.skip("the in-process sim has no rate limit")
    core.rig.rate_limit_next(3, retry_after_s=0.2)
    orders = [core.bid(ticks_below=20 + i) for i in range(3)]
    for order in orders:
        await core.resting(order)
    assert len(core.rig.venue_orders()) == 3


async def test_fills_missed_during_a_reconnect_are_recovered(core: Core) -> None:
    rig, size = core.rig, core.rig.min_size(core.rig.symbol)
    order = core.bid(ticks_below=-1)
    await core.resting(order)
    rig.drop_stream_on_next_fill(core.conn)
    rig.take(rig.symbol, Side.SELL, size, order.price)  # type: ignore[arg-type]
    await eventually(
        lambda: order.status is OrderStatus.FILLED,
        what=f"{order.client_id} filled (recovered from history)",
    )
    assert core.position() == size == rig.venue_position(rig.symbol)
    fills = [f for f in await core.journal_rows("fills") if f["client_id"] == order.client_id]
    assert len(fills) == 1  # once, however many paths delivered it
    assert core.engine.recovery.recovered.get(core.venue, 0) == 1


async def test_an_order_cancelled_while_we_were_away_is_reconciled(core: Core) -> None:
    order = core.bid()
    await core.resting(order)
    await core.rig.cancel_behind_our_back(core.conn, core.rig.symbol)
    await eventually(
        lambda: order.status is OrderStatus.CANCELLED,
        what=lambda: f"{order.status.value} {order.reason}",
    )
    assert core.engine.orders.live_count() == 0


async def test_a_dropped_order_ends_lost_and_frees_its_limits(core: Core) -> None:
    core.rig.drop_next_order()
    order = core.bid()
    await eventually(lambda: order.status is OrderStatus.LOST, what=lambda: order.reason)
    assert core.engine.orders.counters.lost == 1 and core.engine.orders.live_count() == 0
    rows = [r for r in await core.journal_rows("orders") if r["client_id"] == order.client_id]
    assert rows[-1]["status"] == "lost"
    assert any(kind == "order_lost" for _, kind, _ in core.engine.events)
    after = core.bid()  # the next order is not blocked
    await core.resting(after)
    assert len(core.rig.venue_orders()) == 1


async def test_a_place_whose_answer_was_lost_is_found_and_never_sent_twice(core: Core) -> None:
    core.rig.book_duplicate_client_ids()  # a resend would become a second live order
    core.rig.lose_next_answer()
    order = core.bid()
    await core.resting(order)  # the lookup by client id found it
    gateway = core.engine.order_path.gateways[core.venue]
    await eventually(lambda: gateway.in_flight == 0, what="the place request done")
    # a resend would have come from that request's retries: there is none
    assert len(core.rig.venue_orders()) == 1
    assert order.outcome_unknown and order.venue_order_id
    assert core.engine.orders.counters.placed == 1


async def test_other_tools_orders_are_never_touched(rig: VenueRig, tmp_path: Path) -> None:
    best, _, tick = rig.touch(rig.symbol)
    size = rig.min_size(rig.symbol)
    foreign = rig.place_foreign(rig.symbol, Side.BUY, size, best - 50 * tick)
    core = await start_core(rig, tmp_path / "j.sqlite", "mmcore2")
    try:
        await core.engine.settle_earlier_orders()
        ours = core.bid()
        await core.resting(ours)
        await core.engine.reconcile(core.venue)
        listed = core.engine.reconciler.foreign_orders[core.venue]
        assert [o.venue_client_id for o in listed] == [foreign]
        assert any(kind == "foreign_orders" for _, kind, _ in core.engine.events)
        report = await core.engine.shutdown(10)
    finally:
        if core.engine.running:
            await core.engine.shutdown(10)
    assert report.ok and report.open_orders_left == 0, report
    left = rig.venue_orders()
    assert len(left) == 1 and left[0].size == size  # theirs, still resting


async def test_a_liquidation_moves_the_account_position(core: Core) -> None:
    rig, size = core.rig, core.rig.min_size(core.rig.symbol)
    best, _, _ = rig.touch(rig.symbol)
    rig.liquidate(rig.symbol, Side.SELL, size, best)
    await eventually(lambda: core.position() == -size, what="account position")
    assert core.engine.order_path.foreign_fills == 1
    assert any(kind == "foreign_fill" for _, kind, _ in core.engine.events)
    fills = await core.journal_rows("fills")
    assert [(f["client_id"], f["strategy"]) for f in fills] == [(None, None)]


async def test_an_earlier_runs_order_is_proven_by_the_journal(
    rig: VenueRig, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    first = await start_core(rig, path, "mmearly")
    old = first.bid()
    await first.resting(old)
    # the first run dies without its safe shutdown: its order stays on the venue
    await asyncio.to_thread(first.journal.flush)
    for conn in first.engine.connectors.values():
        await conn.close()
    first.engine.running = False
    await first.journal.aclose()
    best, _, tick = rig.touch(rig.symbol)
    rig.place_foreign(rig.symbol, Side.BUY, rig.min_size(rig.symbol), best - 60 * tick)
    second = await start_core(rig, path, "mmlater")
    try:
        adopted, cancelled = await second.engine.settle_earlier_orders()
        assert (adopted, cancelled) == (0, 1)  # ours (no strategy to hand it to): cancelled
        await eventually(lambda: len(rig.venue_orders()) == 1, what="the earlier order cancelled")
        (left,) = rig.venue_orders()
        assert left.price == best - 60 * tick  # the other tool's order is still there
    finally:
        await second.engine.shutdown(10)
