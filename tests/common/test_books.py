"""The book set: one tracked resync per symbol, paced, waiting for the stream."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from connectors.base import ConnectorStats, Instrument
from connectors.common.books import BookSet
from tests.waiting import until

INST = Instrument("v", "BTC", "BTC", "USD", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"))


class Rig:
    def __init__(self, *, connected: bool = True, apply_on_refetch: bool = True) -> None:
        self.connected = connected
        self.apply_on_refetch = apply_on_refetch
        self.refetched: list[str] = []
        self.changes: list[str] = []
        self.stats = ConnectorStats()
        self.books = BookSet(
            "v",
            refetch=self.refetch,
            on_change=self.changes.append,
            is_connected=lambda: self.connected,
            stats=self.stats,
            min_gap_s=0.05,
            max_gap_s=0.4,
            settle_s=0.2,
        )
        self.book = self.books.add(INST)

    async def refetch(self, symbol: str) -> None:
        self.refetched.append(symbol)
        if self.apply_on_refetch:
            self.snapshot()

    def snapshot(self) -> None:
        self.book.apply_snapshot([(1000, 1)], [(1001, 1)], 7, 0)
        self.books.changed("BTC")


async def test_a_resync_refetches_once_and_ends_when_synced() -> None:
    rig = Rig()
    rig.snapshot()
    rig.books.resync("BTC", "gap")
    rig.books.resync("BTC", "gap again")  # one task, not two
    await until(lambda: rig.book.synced and rig.books.resyncing == 0)
    assert rig.refetched == ["BTC"]
    assert rig.stats.resyncs == 2
    assert "BTC" in rig.changes
    await rig.books.close()


async def test_a_flapping_book_is_refetched_at_a_falling_pace() -> None:
    rig = Rig()
    rig.snapshot()
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(40):  # the feed keeps "gapping" right after each sync
        rig.books.resync("BTC", "gap")
        await asyncio.sleep(0.01)
    await until(lambda: rig.book.synced and rig.books.resyncing == 0)
    elapsed = loop.time() - started
    # 40 gaps; the gap between refetches doubles from 0.05 s to the 0.4 s cap while the
    # book keeps flapping: a handful of refetches, however slow the machine ran
    assert 1 <= len(rig.refetched) <= 4 + elapsed / 0.4, (rig.refetched, elapsed)
    await rig.books.close()


async def test_no_refetch_while_disconnected_and_a_subscribe_gets_time_to_answer() -> None:
    rig = Rig(connected=False)
    rig.books.watch("BTC")  # a fresh subscribe: its snapshot may come by itself
    await asyncio.sleep(0.3)
    assert rig.refetched == []
    rig.connected = True
    await until(lambda: rig.book.synced)
    assert rig.refetched == ["BTC"]
    rig.books.invalidate_all("socket dropped")
    assert not rig.book.synced
    rig.books.watch("BTC")
    rig.snapshot()  # the resubscribe's snapshot arrives by itself
    await until(lambda: rig.books.resyncing == 0)
    assert rig.refetched == ["BTC"]
    await rig.books.close()


async def test_close_cancels_resyncs() -> None:
    rig = Rig(apply_on_refetch=False)
    rig.books.resync("BTC", "gap")
    await until(lambda: len(rig.refetched) >= 1)
    await rig.books.close()
    assert rig.books.resyncing == 0
    rig.books.resync("BTC", "after close")  # no new task after close
    assert rig.books.resyncing == 0
