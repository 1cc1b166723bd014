"""Paper trading: a QueueVenue fed by a "live" venue's public data (a SimVenue through its
SimConnector here; no network): its book is the live one, our orders stay on paper."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from connectors.base import Event, Fill, OrderRequest, OrderStatus, Side
from connectors.replay.live import start_paper
from connectors.sim.connector import SimConnector
from connectors.sim.venue import FlowParams
from connectors.sim.world import AssetSpec, SimWorld, VenueSpec

SYMBOL = "BTC-PERP"


def _live_world() -> SimWorld:
    return SimWorld(
        [AssetSpec("BTC", D(100_000), D("0.1"), D("0.001"), D("0.001"), volatility=0.8)],
        [VenueSpec("live", flow=FlowParams(taker_rate=8.0))],
        seed=5,
    )


async def test_the_paper_book_is_the_live_book_and_our_orders_stay_on_paper() -> None:
    world = _live_world()
    live = world.venues["live"]
    now = 1_780_000_000_000
    world.prime(now)
    live_conn = SimConnector(live, account="watcher")
    feed = await start_paper(live_conn, [SYMBOL], now_ms=lambda: live.now_ms)
    paper = feed.venue
    assert paper is not None and paper.name == "live"
    assert paper.instruments[SYMBOL] == live.instruments[SYMBOL]
    core = SimConnector(paper)  # type: ignore[arg-type]  # the core's connector to the paper venue
    events: list[Event] = []
    await core.connect(events.append)
    await asyncio.sleep(0)
    await core.subscribe_books([SYMBOL])
    placed = 0
    for step in range(300):
        now += 100
        world.step(now, 100)
        feed.advance()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        bids, asks, _ = live.snapshot(SYMBOL)
        assert paper.recorded(SYMBOL) == (dict(bids), dict(asks)), f"step {step}"
        book = core.book(SYMBOL)
        assert book is not None and book.synced
        if step % 20 == 0:
            await core.cancel_all(SYMBOL)
            best_bid, best_ask = book.best_bid(), book.best_ask()
            assert best_bid is not None and best_ask is not None
            for side, price in ((Side.BUY, best_bid), (Side.SELL, best_ask)):
                placed += 1
                ack = await core.place(
                    OrderRequest(f"p{placed}", SYMBOL, side, D("0.002"), price=price)
                )
                assert ack.status is OrderStatus.OPEN, ack.reason
        # our paper orders are in the paper book the core sees, never in the live venue
        assert live.open_orders("me") == [] and live.open_orders("watcher") == []
        assert live.positions("me") == []
    assert feed.snapshots == 1 and feed.gaps == 0 and feed.deltas > 100 and feed.trades > 10
    assert any(isinstance(e, Fill) for e in events), "paper quotes at the touch got filled"
    assert paper.open_orders("me"), "the paper venue holds our orders"
    await core.close()
    await live_conn.close()


async def test_a_gap_in_the_live_feed_is_a_new_snapshot_on_paper() -> None:
    world = _live_world()
    live = world.venues["live"]
    now = 1_780_000_000_000
    world.prime(now)
    live_conn = SimConnector(live, account="watcher")
    feed = await start_paper(live_conn, [SYMBOL], now_ms=lambda: live.now_ms)
    paper = feed.venue
    assert paper is not None
    for step in range(30):
        if step == 10:
            live_conn.skip_next_seq = True  # the live feed loses a delta: it resyncs
        now += 100
        world.step(now, 100)
        await asyncio.sleep(0)
        followed = live_conn.book(SYMBOL)
        assert followed is not None
        # the paper book is the live connector's book, lost delta or not ...
        assert paper.recorded(SYMBOL) == followed.level_maps(), f"step {step}"
        if step != 10:  # ... which is the live venue's again once the gap is seen
            bids, asks, _ = live.snapshot(SYMBOL)
            assert paper.recorded(SYMBOL) == (dict(bids), dict(asks)), f"step {step}"
    assert feed.snapshots == 2 and live_conn.stats.resyncs == 1
    await live_conn.close()


async def test_no_paper_heartbeats_while_the_live_feed_is_down() -> None:
    world = _live_world()
    live = world.venues["live"]
    now = 1_780_000_000_000
    world.prime(now)
    live_conn = SimConnector(live, account="watcher")
    feed = await start_paper(live_conn, [SYMBOL], now_ms=lambda: live.now_ms)
    paper = feed.venue
    assert paper is not None
    beats: list[int] = []
    paper.on_heartbeat(beats.append)

    async def step() -> None:
        nonlocal now
        now += 100
        world.step(now, 100)
        await asyncio.sleep(0)
        feed.advance()

    await step()
    assert feed.live() and beats == [now]
    live_conn.drop_stream()
    await step()
    await step()
    assert not feed.live() and beats == [now - 200]
    live_conn.restore_stream()
    await step()
    assert feed.live() and beats[-1] == now and feed.snapshots == 2
    await live_conn.close()
