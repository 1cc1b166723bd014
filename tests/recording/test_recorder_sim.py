"""Recording the sim's public feed: files read back with ``connectors.replay.tardis``,
the book rebuilt from them equal to the connector's, gaps written as snapshots."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from connectors.base import BookChanged, Event, Trade
from connectors.common.public import PublicFeed
from connectors.replay.tardis import discover, read_all_book, read_all_trades
from connectors.sim.connector import SimConnector
from connectors.sim.world import SimWorld
from mmtui.core.clock import SimClock
from mmtui.core.recorder import Recorder
from mmtui.record import record
from tests.conftest import sim_config
from tests.recording.rebuild import book_sides, rebuild, snapshots

SYMBOLS = ["BTC-PERP", "ETH-PERP"]
ASSETS = {
    "BTC": {"start_price": 100_000, "tick_size": "0.1", "step_size": "0.001", "min_size": "0.001"},
    "ETH": {"start_price": 4_000, "tick_size": "0.01", "step_size": "0.01", "min_size": "0.01"},
}


def two_assets() -> Any:
    return sim_config(sim={"seed": 3, "speed": None, "assets": ASSETS})


class SimRig:
    """The sim's public feed on a manual clock, recorded; ``last`` holds the
    connector's book as it was at each ``BookChanged`` the recorder got."""

    def __init__(self, out: Path) -> None:
        config = two_assets()
        self.world = SimWorld(config.asset_specs(), config.sim_venue_specs(), seed=3)
        self.clock = SimClock()
        self.sim = SimConnector(self.world.venues["sim"], account="rec", sleep=self.clock.sleep)
        self.conn = PublicFeed(self.sim)
        self.recorder = Recorder(
            out, lambda _v, s: self.conn.book(s), lambda: self.clock.now_ms() * 1000
        )
        self.last: dict[str, Any] = {}
        self.trades = 0

    def sink(self, event: Event) -> None:
        self.recorder.on_event(event)
        if isinstance(event, BookChanged):
            book = self.conn.book(event.symbol)
            assert book is not None
            self.last[event.symbol] = book_sides(book)
        elif isinstance(event, Trade):
            self.trades += 1

    async def start(self) -> None:
        self.world.prime(self.clock.now_ms())
        await self.conn.connect(self.sink)
        await self.conn.subscribe_books(SYMBOLS)
        insts = await self.conn.instruments()
        for symbol in SYMBOLS:
            self.recorder.add_market("sim", "sim", insts[symbol])

    async def run(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):
            await self.clock.advance(100)
            self.world.step(self.clock.now_ms(), 100)
            await asyncio.sleep(0)
        await asyncio.sleep(0)


def _rows(out: Path, symbol: str) -> list[Any]:
    (ds,) = [d for d in discover(out) if d.symbol == symbol]
    assert ds.exchange == "sim"
    return list(read_all_book(ds.book_files))


async def test_the_book_rebuilt_from_the_files_is_the_connectors(tmp_path: Path) -> None:
    rig = SimRig(tmp_path)
    await rig.start()
    await rig.run(60)
    summary = rig.recorder.close()
    assert summary.gaps == 0 and summary.error == ""
    assert len(summary.files) == 4  # a book and a trades file per symbol
    for symbol in SYMBOLS:
        rows = _rows(tmp_path, symbol)
        assert rows[0].is_snapshot and snapshots(rows) == 1
        assert sum(not r.is_snapshot for r in rows) > 100  # level rows, not snapshots
        book = rig.conn.book(symbol)
        assert book is not None
        assert rebuild(rows) == rig.last[symbol] == book_sides(book)
        # the venue's time (the sim's) and the arrival time, in microseconds
        assert all(r.ts_us % 1000 == 0 and r.local_ts_us >= r.ts_us for r in rows)
    trades = [t for d in discover(tmp_path) for t in read_all_trades(d.trade_files)]
    assert len(trades) == rig.trades == summary.trade_rows > 0
    assert all(t.id.startswith("sim-") and t.side in ("buy", "sell") for t in trades)
    assert summary.book_rows == sum(len(_rows(tmp_path, s)) for s in SYMBOLS)


async def test_a_skipped_sequence_is_recorded_as_a_new_snapshot(tmp_path: Path) -> None:
    rig = SimRig(tmp_path)
    await rig.start()
    await rig.run(5)
    rig.sim.skip_next_seq = True  # the feed loses one delta: the connector resyncs
    await rig.run(5)
    summary = rig.recorder.close()
    assert rig.sim.stats.resyncs >= 1
    assert summary.gaps >= 1
    rows = [r for s in SYMBOLS for r in _rows(tmp_path, s)]
    assert snapshots(rows) == 2 + summary.gaps  # each symbol's first, and one a gap
    for symbol in SYMBOLS:
        book = rig.conn.book(symbol)
        assert book is not None
        assert rebuild(_rows(tmp_path, symbol)) == book_sides(book)


async def test_a_dropped_stream_empties_the_book_until_the_next_snapshot(tmp_path: Path) -> None:
    rig = SimRig(tmp_path)
    await rig.start()
    await rig.run(5)
    rig.sim.drop_stream()
    await asyncio.sleep(0)  # the connector tells its sink on the next loop turn
    dropped_us = rig.clock.now_ms() * 1000
    await rig.run(2)
    rig.sim.restore_stream()
    await rig.run(5)
    summary = rig.recorder.close()
    assert summary.gaps == 2  # both books
    for symbol in SYMBOLS:
        rows = _rows(tmp_path, symbol)
        assert snapshots(rows) == 2
        before = [r for r in rows if r.local_ts_us <= dropped_us]
        assert rebuild(before) == ({}, {})  # at the drop: empty, as the connector's was
        assert before[-1].is_snapshot
        book = rig.conn.book(symbol)
        assert book is not None
        assert rebuild(rows) == book_sides(book)


async def test_record_runs_the_sim_for_its_seconds(tmp_path: Path) -> None:
    config = sim_config()  # speed None: as fast as it goes
    lines: list[str] = []
    summary = await record(config, "sim", ["BTC-PERP"], tmp_path, 30.0, announce=lines.append)
    assert lines and "recording sim BTC-PERP" in lines[0]
    assert summary.gaps == 0 and summary.book_rows > 0
    assert {p.name.split("_2")[0] for p in summary.files} == {
        "sim_incremental_book_L2",
        "sim_trades",
    }
    rows = _rows(tmp_path, "BTC-PERP")
    assert rows[0].is_snapshot
    span = (rows[-1].local_ts_us - rows[0].local_ts_us) / 1e6
    assert 29 <= span <= 30.1  # 30 s of sim time
    line = summary.line()
    assert line.startswith(f"recorded {summary.book_rows} book rows, ") and "0 gap(s)" in line


async def test_a_folder_with_that_markets_files_is_refused(tmp_path: Path) -> None:
    config = two_assets()
    await record(config, "sim", ["BTC-PERP"], tmp_path, 1.0, announce=lambda _: None)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match="already holds sim BTC-PERP files"):
        await record(config, "sim", ["BTC-PERP"], tmp_path, 1.0, announce=lambda _: None)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before  # untouched
