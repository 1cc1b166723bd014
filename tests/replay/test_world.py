"""ReplayWorld: a recorded session played back — the book at every message is the
recorded one; the same files and spec give the same fills; the core's connector path."""

from __future__ import annotations

import asyncio
import gzip
from decimal import Decimal as D
from pathlib import Path

import pytest

from connectors.base import Event, Fill, OrderRequest, OrderStatus, Side
from connectors.replay.source import ReplayDataError
from connectors.replay.spec import InstrumentSpec, LatencySpec, ReplayVenueSpec
from connectors.replay.tardis import BOOK_HEADER, TRADES_HEADER, TardisWriter
from connectors.replay.world import ReplayWorld, base_of
from connectors.sim.connector import SimConnector

from .recording import START_MS, SYMBOL, Recording


def _spec(**kw: object) -> ReplayVenueSpec:
    return ReplayVenueSpec("sim", symbols=(SYMBOL,), **kw)  # type: ignore[arg-type]


def test_the_book_after_every_recorded_message_is_the_recorded_one(recording: Recording) -> None:
    world = ReplayWorld(recording.out_dir, [_spec()])
    venue = world.venues["sim"]
    inst = venue.instruments[SYMBOL]
    assert (inst.tick_size, inst.step_size) == (D("0.1"), D("0.001")), "inferred from the data"
    assert inst.base == "BTC"
    seen: list[tuple[dict[int, int], dict[int, int]]] = []
    venue.on_book(lambda symbol, changes, seq, ts: seen.append(venue.recorded(symbol)))
    assert world.start_ms == START_MS and not world.finished
    now = world.start_ms
    world.prime(now)
    halfway = None
    while not world.finished:
        now += 100
        world.step(now, 100)
        if halfway is None and now >= world.start_ms + 10_000:
            halfway = world.progress()
    assert halfway is not None and 0.45 < halfway < 0.55
    assert len(seen) == recording.messages > 100
    for i, (got, want) in enumerate(zip(seen, recording.books, strict=True)):
        assert got == want, f"message {i}"
    assert world.progress() == 1.0
    assert world.end_ms <= now


def test_a_replay_is_deterministic(recording: Recording) -> None:
    def run() -> list[tuple[object, ...]]:
        world = ReplayWorld(
            recording.out_dir,
            [_spec(latency=LatencySpec(entry_ms=20, cancel_ms=20, feed_ms=5))],
        )
        venue = world.venues["sim"]
        events: list[Event] = []
        venue.on_account("me", events.append)
        now = world.start_ms
        world.prime(now)
        n = 0
        while not world.finished:
            now += 100
            world.step(now, 100)
            bids, asks, _ = venue.snapshot(SYMBOL)
            if not bids or not asks or now % 1000:
                continue
            venue.cancel_all("me", SYMBOL)
            for side, price in ((Side.BUY, bids[0][0]), (Side.SELL, asks[0][0])):
                n += 1
                venue.submit(
                    "me",
                    OrderRequest(f"q{n}", SYMBOL, side, D("0.002"), price=D(price) * D("0.1")),
                )
        return [
            (f.client_id, f.side, f.price, f.size, f.fee, f.liquidity, f.ts_ms)
            for f in events
            if isinstance(f, Fill)
        ] + [tuple(venue.positions("me"))]

    first = run()
    assert len(first) > 3, "the quotes must fill for the test to mean something"
    assert run() == first


@pytest.mark.parametrize("feed_ms", [0, 250])
async def test_the_core_connector_path_on_a_replay_venue(
    recording: Recording, feed_ms: int
) -> None:
    world = ReplayWorld(recording.out_dir, [_spec(latency=LatencySpec(feed_ms=feed_ms))])
    venue = world.venues["sim"]
    conn = SimConnector(venue)  # type: ignore[arg-type]
    events: list[Event] = []
    now = world.start_ms
    world.prime(now)
    await conn.connect(events.append)
    await conn.subscribe_books([SYMBOL])
    book = conn.book(SYMBOL)
    assert book is not None and book.synced
    while book.best_bid_ticks() is None:  # with a lagging feed the book shows up late
        assert now < world.start_ms + 1000
        now += 100
        world.step(now, 100)
        await asyncio.sleep(0)
    bid = book.best_bid_ticks()
    assert bid is not None
    ack = await conn.place(OrderRequest("c1", SYMBOL, Side.BUY, D("0.003"), price=D(bid) / 10))
    assert ack.status is OrderStatus.OPEN
    for _ in range(100):
        now += 100
        world.step(now, 100)
        await asyncio.sleep(0)
        bids, asks, seq = venue.snapshot(SYMBOL, depth=1_000_000)
        assert book.synced and book.seq == seq and conn.stats.resyncs == 0
        assert book.bids_ticks(1_000_000) == bids and book.asks_ticks(1_000_000) == asks
        if any(isinstance(e, Fill) for e in events):
            break
    fills = [e for e in events if isinstance(e, Fill)]
    assert fills and fills[0].client_id == "c1"
    assert (await conn.positions())[0].size == sum(f.size for f in fills)
    if feed_ms:  # what the connector's book shows lags the venue's own
        assert book.last_update_ms <= now - feed_ms


def test_snapshot_rows_after_deltas_clear_the_book(tmp_path: Path) -> None:
    t = START_MS * 1000
    w = TardisWriter(tmp_path, "x", "ETH-PERP")
    w.snapshot(t, t, [("10.5", "1")], [("10.7", "2"), ("10.9", "1")])
    w.levels(t + 1000, t + 1000, [("ask", "10.6", "3")])
    w.snapshot(t + 2000, t + 2000, [("10.4", "1")], [("10.8", "2")])
    w.close()
    world = ReplayWorld(tmp_path, [ReplayVenueSpec("v", exchange="x")])
    venue = world.venues["v"]
    world.prime(START_MS + 1)
    assert venue.recorded("ETH-PERP") == ({105: 1}, {106: 3, 107: 2, 109: 1})
    world.step(START_MS + 2, 1)
    assert venue.recorded("ETH-PERP") == ({104: 1}, {108: 2})
    assert world.finished and world.messages == 3


def test_a_price_off_the_given_grid_is_a_clear_error(tmp_path: Path) -> None:
    t = START_MS * 1000
    w = TardisWriter(tmp_path, "x", "ETH-PERP")
    w.snapshot(t, t, [("10.55", "1")], [("10.7", "2")])
    w.close()
    spec = ReplayVenueSpec("v", exchange="x", instruments={"ETH-PERP": InstrumentSpec(D("0.1"))})
    message = r"ETH-PERP\.csv\.gz line 2: x ETH-PERP price: 10.55 is not a multiple of 0.1"
    with pytest.raises(ReplayDataError, match=message):
        ReplayWorld(tmp_path, [spec]).prime(START_MS)


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("x,ETH-PERP,1,1,false,bid,10.5", "line 3: 7 columns, expected 8"),
        ("x,ETH-PERP,1,1,false,buy,10.5,1", "line 3: 'buy' is not a side"),
        ("x,ETH-PERP,1,1,maybe,bid,10.5,1", "line 3: 'maybe' is not a side .* or an is_snapshot"),
        ("x,ETH-PERP,1,1,false,bid,10.5,1\n\0", "line 4: 1 columns, expected 8"),
        ("x,ETH-PERP,1,1x,false,bid,10.5,1", "line 3: local_timestamp '1x'"),
        ("x,BTC-PERP,1,1,false,bid,10.5,1", "line 3: symbol 'BTC-PERP' in a file of ETH-PERP"),
        ("x,ETH-PERP,1,1,false,bid,10_5,1", "line 3: x ETH-PERP price: '10_5' is not a number"),
    ],
)
def test_a_bad_book_row_is_an_error_naming_file_and_line(
    tmp_path: Path, row: str, error: str
) -> None:
    path = tmp_path / "x_incremental_book_L2_2026-05-28_ETH-PERP.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(",".join(BOOK_HEADER) + "\n")
        fh.write("x,ETH-PERP,1,1,true,bid,10.5,1\n")
        fh.write(row + "\n")
    grid = InstrumentSpec(D("0.1"), D("1"))  # given: nothing else reads the rows first
    spec = ReplayVenueSpec("v", exchange="x", instruments={"ETH-PERP": grid})
    with pytest.raises(ValueError, match=f"ETH-PERP.csv.gz {error}"):
        world = ReplayWorld(tmp_path, [spec])
        world.prime(START_MS)


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("x,ETH-PERP,1,1,t2,bid,10.5,1", "line 3: 'bid' is not a side \\(buy, sell, unknown\\)"),
        ("x,ETH-PERP,1,1,t2,buy,10.5", "line 3: 7 columns, expected 8"),
        ("x,ETH-PERP,1,-1,t2,buy,10.5,1", "line 3: local_timestamp '-1'"),
        ("x,ETH-PERP,1,1,t2,buy,10.55,1", "line 3: x ETH-PERP price: 10.55 is not a multiple"),
    ],
)
def test_a_bad_trade_row_is_an_error_naming_file_and_line(
    tmp_path: Path, row: str, error: str
) -> None:
    path = tmp_path / "x_trades_2026-05-28_ETH-PERP.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(",".join(TRADES_HEADER) + "\n")
        fh.write("x,ETH-PERP,1,1,t1,sell,10.5,1\n")
        fh.write(row + "\n")
    grid = InstrumentSpec(D("0.1"), D("1"))
    spec = ReplayVenueSpec("v", exchange="x", instruments={"ETH-PERP": grid})
    with pytest.raises(ValueError, match=f"ETH-PERP.csv.gz {error}"):
        world = ReplayWorld(tmp_path, [spec])
        world.prime(START_MS)


def test_missing_data_names_what_is_there(tmp_path: Path) -> None:
    t = START_MS * 1000
    w = TardisWriter(tmp_path, "x", "ETH-PERP")
    w.snapshot(t, t, [("10.5", "1")], [("10.7", "2")])
    w.close()
    with pytest.raises(ReplayDataError, match=r"no data for x SOL-PERP .*have x:ETH-PERP"):
        ReplayWorld(tmp_path, [ReplayVenueSpec("v", exchange="x", symbols=("SOL-PERP",))])
    with gzip.open(next(tmp_path.iterdir()), "rt") as fh:
        assert fh.readline().startswith("exchange,")


def test_base_of_symbols() -> None:
    assert [base_of(s) for s in ("BTC-PERP", "BTCUSDT", "ETH_USDC_Perp", "SOL")] == [
        "BTC",
        "BTC",
        "ETH",
        "SOL",
    ]


def test_two_venues_files_are_merged_in_time_order(tmp_path: Path) -> None:
    t = START_MS * 1000
    a = TardisWriter(tmp_path, "ex-a", "ETH-PERP")
    b = TardisWriter(tmp_path, "ex-b", "ETH-PERP")
    a.snapshot(t, t, [("10.5", "1")], [("10.7", "2")])
    b.snapshot(t + 500, t + 500, [("10.4", "1")], [("10.6", "2")])
    a.levels(t + 1000, t + 1000, [("bid", "10.6", "4")])
    b.trade(t + 1500, t + 1500, "x1", "sell", "10.4", "1")
    b.levels(t + 2000, t + 2000, [("ask", "10.6", "0")])
    for w in (a, b):
        w.close()
    world = ReplayWorld(
        tmp_path,
        [ReplayVenueSpec("va", exchange="ex-a"), ReplayVenueSpec("vb", exchange="ex-b")],
    )
    order: list[tuple[str, int]] = []
    for name, venue in world.venues.items():
        venue.on_book(lambda s, c, seq, ts, name=name: order.append((name, ts)))
        venue.on_trade(lambda trade, name=name: order.append((name + " trade", trade.ts_ms)))
    now = world.start_ms
    world.prime(now)
    while not world.finished:
        now += 1
        world.step(now, 1)
    ms = START_MS
    assert order == [("va", ms), ("vb", ms), ("va", ms + 1), ("vb trade", ms + 1), ("vb", ms + 2)]
    assert world.venues["va"].recorded("ETH-PERP") == ({105: 1, 106: 4}, {107: 2})
    assert world.venues["vb"].recorded("ETH-PERP") == ({104: 1}, {})
