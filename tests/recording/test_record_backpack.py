"""Recording Backpack's public feed from its emulator with no keys: the book rebuilt
from the files equals the connector's, a skipped depth id and a dropped socket are
new snapshots; and the recorded session that ships with the tests reads back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.backpack.emulator import backpack_emulator
from connectors.base import BookChanged, Event
from connectors.emulation.harness import EmulatorHarness
from connectors.replay.tardis import discover, read_all_book, read_all_trades
from mmtui.config import BackpackVenueConfig
from mmtui.core.recorder import Recorder
from mmtui.venue_factory import public_feed
from tests.recording.rebuild import Rebuilt, book_sides, rebuild, snapshots
from tests.waiting import until

SYMBOL = "BTC_USDC_PERP"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "backpack"


@pytest.fixture
async def harness() -> AsyncIterator[EmulatorHarness]:
    h = backpack_emulator({}, seed=7)  # it knows no API key: ours would be refused
    await asyncio.to_thread(h.start)
    try:
        yield h
    finally:
        await asyncio.to_thread(h.stop)


async def test_recording_backpack_without_keys_gaps_are_snapshots(
    harness: EmulatorHarness, tmp_path: Path
) -> None:
    conn = public_feed(
        "backpack", BackpackVenueConfig(rest_url=harness.base_url, ws_url=harness.ws_url)
    )
    recorder = Recorder(tmp_path, lambda _v, s: conn.book(s), lambda: time.time_ns() // 1000)
    last: dict[str, Any] = {}
    changes = [0]

    def sink(event: Event) -> None:
        recorder.on_event(event)
        if isinstance(event, BookChanged) and event.symbol == SYMBOL and not recorder.closed:
            book = conn.book(SYMBOL)
            assert book is not None
            last["book"] = book_sides(book)
            changes[0] += 1

    await conn.connect(sink)
    try:
        await conn.subscribe_books([SYMBOL])
        recorder.add_market("backpack", "backpack", (await conn.instruments())[SYMBOL])
        book = conn.book(SYMBOL)
        assert book is not None
        await until(lambda: changes[0] >= 20, timeout=15, what="book changes")
        harness.faults.skip_book_ids(1, SYMBOL)  # one depth id never sent: a gap
        await until(lambda: book.snapshots >= 2 and book.synced, timeout=15, what=repr(book))
        seen = changes[0]
        await until(lambda: changes[0] >= seen + 10, timeout=15, what="changes after the gap")
        await asyncio.to_thread(harness.faults.close_sockets)  # the stream drops
        await until(lambda: book.snapshots >= 3 and book.synced, timeout=15, what=repr(book))
        seen = changes[0]
        await until(lambda: changes[0] >= seen + 10, timeout=15, what="changes after")
        summary = recorder.close()
    finally:
        await conn.close()
    assert summary.gaps == 2, summary
    (ds,) = discover(tmp_path)
    assert (ds.exchange, ds.symbol) == ("backpack", SYMBOL)
    assert ds.book_files[0].name.startswith("backpack_incremental_book_L2_")
    assert ds.book_files[0].name.endswith("_BTC-USDC-PERP.csv.gz")
    rows = list(read_all_book(ds.book_files))
    assert snapshots(rows) == 3  # the first, the gap's, the reconnect's (after an empty one)
    assert rebuild(rows) == last["book"]
    assert any(r.is_snapshot and r.price == "0" and r.amount == "0" for r in rows)


def test_the_shipped_recording_reads_back_and_its_books_never_cross() -> None:
    sets = discover(FIXTURE)
    assert [(d.exchange, d.symbol) for d in sets] == [
        ("backpack", "BTC_USDC_PERP"),
        ("backpack", "ETH_USDC_PERP"),
    ]
    assert sum(p.stat().st_size for p in FIXTURE.iterdir()) < 1_000_000
    for ds in sets:
        rows = list(read_all_book(ds.book_files))
        assert rows[0].is_snapshot and snapshots(rows) == 1
        span_s = (rows[-1].local_ts_us - rows[0].local_ts_us) / 1e6
        assert 30 <= span_s <= 60
        book = Rebuilt()
        for i, row in enumerate(rows):  # after every message: a book that makes sense
            book.apply(row)
            last_of_message = i + 1 == len(rows) or rows[i + 1].local_ts_us != row.local_ts_us
            if last_of_message and book.bids and book.asks:
                assert max(book.bids) < min(book.asks), row
        trades = list(read_all_trades(ds.trade_files))
        assert len(trades) > 50 and all(Decimal(t.amount) > 0 for t in trades)
