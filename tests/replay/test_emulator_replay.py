"""A recorded emulator session replayed: the book at every step equals the recorded one.

The Backpack emulator runs in-process; its public feed is recorded with no keys the way
``mmtui record`` does it (``public_feed`` -> ``Recorder``), across a skipped depth id
and a dropped socket. At every ``BookChanged`` the recorder is given, the connector's
own book is captured, keyed by the ``local_timestamp`` the recorder stamped it with.
The files are then replayed with ``ReplayWorld`` one message at a time, and the replay
venue's recorded book is compared with the captured one after every message.

The recorder's clock here is the wall clock made strictly increasing in whole ms (a
session clock, as ``Recorder`` takes any): every message then has its own ms, so the
replay's ms steps apply one message each and every message is compared on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.backpack.emulator import backpack_emulator
from connectors.base import BookChanged, Event
from connectors.emulation.harness import EmulatorHarness
from connectors.replay.spec import ReplayVenueSpec
from connectors.replay.tardis import discover, read_all_book
from connectors.replay.world import ReplayWorld
from mmtui.config import BackpackVenueConfig
from mmtui.core.recorder import Recorder
from mmtui.venue_factory import public_feed
from tests.recording.rebuild import Side, book_sides
from tests.waiting import until

SYMBOL = "BTC_USDC_PERP"
Book = tuple[Side, Side]


class _MsClock:
    """Wall time in µs, rounded to whole ms, never the same ms twice."""

    def __init__(self) -> None:
        self.last_us = 0

    def __call__(self) -> int:
        ms = max(time.time_ns() // 1_000_000, self.last_us // 1000 + 1)
        self.last_us = ms * 1000
        return self.last_us


@pytest.fixture
async def harness() -> AsyncIterator[EmulatorHarness]:
    h = backpack_emulator({}, seed=11, speed=4)  # no API key; 4x: a busy book
    await asyncio.to_thread(h.start)
    try:
        yield h
    finally:
        await asyncio.to_thread(h.stop)


class Captured:
    """The connector's book at every ``BookChanged`` the recorder was given, by the
    local timestamp (µs) the recorder stamped it with, and the book's snapshot count."""

    def __init__(self) -> None:
        self.books: dict[int, Book] = {}
        self.snapshots: dict[int, int] = {}
        self.trade_rows = 0


async def _record(harness: EmulatorHarness, out: Path) -> Captured:
    """Record the emulator's BTC book and trades into ``out`` across a skipped depth id
    and a dropped socket, the way ``mmtui record`` does."""
    conn = public_feed(
        "backpack", BackpackVenueConfig(rest_url=harness.base_url, ws_url=harness.ws_url)
    )
    clock = _MsClock()
    recorder = Recorder(out, lambda _v, s: conn.book(s), clock)
    captured = Captured()

    def capture() -> None:
        book = conn.book(SYMBOL)
        assert book is not None
        captured.books[clock.last_us] = book_sides(book)
        captured.snapshots[clock.last_us] = book.snapshots

    def recording() -> bool:
        return bool(recorder.markets) and not recorder.closed

    def sink(event: Event) -> None:
        recorder.on_event(event)
        if isinstance(event, BookChanged) and event.symbol == SYMBOL and recording():
            capture()

    await conn.connect(sink)
    try:
        await conn.subscribe_books([SYMBOL])
        book = conn.book(SYMBOL)
        assert book is not None
        recorder.add_market("backpack", "backpack", (await conn.instruments())[SYMBOL])
        capture()  # add_market writes the synced book as the first snapshot
        await until(lambda: len(captured.books) >= 30, timeout=15, what="book changes")
        harness.faults.skip_book_ids(1, SYMBOL)  # one depth id never sent: a gap
        await until(lambda: book.snapshots >= 2 and book.synced, timeout=15, what=repr(book))
        seen = len(captured.books)
        await until(
            lambda: len(captured.books) >= seen + 20, timeout=15, what="changes after the gap"
        )
        await asyncio.to_thread(harness.faults.close_sockets)  # the stream drops
        await until(lambda: book.snapshots >= 3 and book.synced, timeout=15, what=repr(book))
        seen = len(captured.books)
        await until(lambda: len(captured.books) >= seen + 20, timeout=15, what="changes after")
        summary = recorder.close()
    finally:
        await conn.close()
    assert summary.gaps == 2 and not summary.error, summary
    captured.trade_rows = summary.trade_rows
    return captured


def _replayed(world: ReplayWorld) -> Book:
    venue = world.venues["backpack"]
    inst = venue.instruments[SYMBOL]
    bids, asks = venue.recorded(SYMBOL)
    tick, lot = inst.tick_size, inst.step_size
    return (
        {p * tick: q * lot for p, q in bids.items()},
        {p * tick: q * lot for p, q in asks.items()},
    )


async def test_a_recorded_emulator_session_replays_the_same_book_at_every_step(
    harness: EmulatorHarness, tmp_path: Path
) -> None:
    captured = await _record(harness, tmp_path)
    assert captured.trade_rows > 0, "trades are replayed too: they must not move the book"

    (ds,) = discover(tmp_path)
    messages = {row.local_ts_us for row in read_all_book(ds.book_files)}
    assert messages <= set(captured.books), "every book message has its connector book"
    world = ReplayWorld(tmp_path, [ReplayVenueSpec("backpack", symbols=(SYMBOL,))])
    for ts in sorted(captured.books):
        world.step(ts // 1000, 1)  # what was recorded up to this ms: one book message at most
        assert _replayed(world) == captured.books[ts], f"after the message at {ts} µs"
    # a capture with no message: a BookChanged the recorder had nothing to write for
    # (the book was not synced yet, or did not move); the book must not differ there either
    assert world.finished, "every recorded message was replayed by the last capture"
    assert len(messages) > 60, len(messages)
    empty = [t for t in messages if captured.books[t] == ({}, {})]
    assert len(empty) >= 2, "the gap and the dropped socket: an empty book each"
    for n in (2, 3):  # the snapshot after the gap, and after the reconnect
        first = min(t for t, s in captured.snapshots.items() if s == n)
        assert first in messages and all(captured.books[first]), n
