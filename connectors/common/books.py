"""The books of one connector and their resyncs: one owner for what every venue
does the same way.

A connector keeps one ``OrderBook`` per subscribed symbol in a ``BookSet`` and
supplies one hook, ``refetch(symbol)``: whatever brings that book back on its
venue (Backpack fetches a REST snapshot and replays buffered deltas; Lighter and
GRVT subscribe the channel again and the snapshot arrives as a frame). The set:

* invalidates every book when the stream drops (``invalidate_all``);
* on a gap or an unreadable frame (``resync``) invalidates the book, counts the
  resync and starts one tracked task per symbol that calls ``refetch`` until the
  book is synced again — never two at once for a symbol; a snapshot that cannot be
  read or is impossible is refused (counted as a bad frame) and fetched again, and
  nothing a refetch raises ends the task;
* paces refetches: at least ``min_gap_s`` apart per symbol, doubling up to
  ``max_gap_s`` while a book keeps falling out of sync soon after it synced, so a
  venue that numbers its feed differently than we expect costs a resubscribe
  every few seconds, not several per second;
* waits for the connection before refetching, and cancels everything on close;
* owns the books' ``Liveness`` (one for the set: the socket that carries them beats
  it, ``ReconnectingWs.liveness``), so the stale-book check measures the feed, not
  the market's quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from connectors.base import ConnectorStats, Instrument
from connectors.book import Liveness, OrderBook
from connectors.common.badframes import UNREADABLE, BadFrameLog, reason_of
from connectors.common.errors import VenueError

log = logging.getLogger("connectors.common.books")

Refetch = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class _Pace:
    last_refetch: float = float("-inf")
    last_synced: float = float("-inf")
    streak: int = 0


class BookSet:
    def __init__(
        self,
        venue: str,
        *,
        refetch: Refetch,
        on_change: Callable[[str], None],
        is_connected: Callable[[], bool],
        stats: ConnectorStats,
        min_gap_s: float = 1.0,
        max_gap_s: float = 30.0,
        settle_s: float = 5.0,
        flap_window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.venue = venue
        self._resync_log = BadFrameLog(venue, log, what="book resync")
        """A book falling out of sync: one line each, at a rate limit (a venue that
        keeps sending impossible books writes a few lines a window, not one a frame)."""
        self._refetch = refetch
        self._on_change = on_change
        self._is_connected = is_connected
        self.stats = stats
        self.min_gap_s = min_gap_s
        self.max_gap_s = max_gap_s
        self.settle_s = settle_s
        self.flap_window_s = flap_window_s
        self._clock = clock
        self._books: dict[str, OrderBook] = {}
        self._synced: dict[str, asyncio.Event] = {}
        self._pace: dict[str, _Pace] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self.refetches = 0
        self.liveness = Liveness()
        """Beaten by the socket that carries these books (every frame, every pong)."""

    # -- the books ----------------------------------------------------------------

    def add(self, inst: Instrument) -> OrderBook:
        """The book of ``inst`` (created unsynced on first call)."""
        book = self._books.get(inst.symbol)
        if book is None:
            book = OrderBook(inst.symbol, inst.tick_size, inst.step_size)
            book.liveness = self.liveness
            self._books[inst.symbol] = book
            self._synced[inst.symbol] = asyncio.Event()
            self._pace[inst.symbol] = _Pace()
        return book

    def get(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._books

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._books))

    def __len__(self) -> int:
        return len(self._books)

    def changed(self, symbol: str) -> None:
        """The connector applied something to ``symbol``'s book: tell the core, and
        wake a resync waiting for it."""
        book = self._books.get(symbol)
        if book is None:
            return
        event = self._synced[symbol]
        if book.synced:
            if not event.is_set():
                event.set()
                self._pace[symbol].last_synced = self._clock()
        elif event.is_set():
            event.clear()
        self._on_change(symbol)

    # -- falling out of sync ------------------------------------------------------

    def invalidate_all(self, reason: str) -> None:
        """The stream dropped: every book is stale until its venue resends it."""
        for symbol, book in self._books.items():
            if book.synced:
                book.invalidate(reason)
                self.changed(symbol)

    def resync(self, symbol: str, reason: str) -> None:
        """``symbol``'s book cannot go on (a gap, an unreadable or impossible frame):
        drop it, count it, and bring it back (paced)."""
        book = self._books.get(symbol)
        if book is None:
            return
        was_synced = book.synced
        if was_synced:
            book.invalidate(reason)
        pace = self._pace[symbol]
        if self._clock() - pace.last_synced < self.flap_window_s:
            pace.streak += 1
        else:
            pace.streak = 0
        self.stats.resyncs += 1
        # a line when a book falls out of sync (rate-limited); more bad frames while it
        # is out (a flood) are the socket's to count, not a line each here
        if was_synced:
            self._resync_log.add(f"{symbol} ({reason})")
        else:
            log.debug("%s %s: book resync (%s)", self.venue, symbol, reason)
        self.changed(symbol)
        self.watch(symbol, refetch_now=True)

    def watch(self, symbol: str, *, refetch_now: bool = False) -> None:
        """Make sure ``symbol``'s book comes back: without ``refetch_now`` first give
        the venue ``settle_s`` to send it by itself (a subscribe's snapshot)."""
        if self._closing or symbol not in self._books:
            return
        task = self._tasks.get(symbol)
        if task is not None and not task.done():
            return
        self._tasks[symbol] = asyncio.get_running_loop().create_task(
            self._until_synced(symbol, refetch_now), name=f"{self.venue} resync {symbol}"
        )

    def watch_all(self, *, refetch_now: bool = False) -> None:
        for symbol in self._books:
            self.watch(symbol, refetch_now=refetch_now)

    @property
    def resyncing(self) -> int:
        return sum(1 for t in self._tasks.values() if not t.done())

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the resync task ----------------------------------------------------------

    async def _until_synced(self, symbol: str, refetch_now: bool) -> None:
        book = self._books[symbol]
        synced = self._synced[symbol]
        pace = self._pace[symbol]
        try:
            if not refetch_now and await self._wait_synced(synced, self.settle_s):
                return
            while not self._closing and not book.synced:
                gap = min(self.max_gap_s, self.min_gap_s * 2 ** min(pace.streak, 16))
                wait = pace.last_refetch + gap - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._closing or book.synced:
                    return
                if not self._is_connected():
                    await asyncio.sleep(self.min_gap_s)
                    continue  # a snapshot is useless without the stream that follows it
                pace.last_refetch = self._clock()
                self.refetches += 1
                try:
                    await self._refetch(symbol)
                except VenueError as exc:
                    log.warning("%s %s: refetching the book failed: %s", self.venue, symbol, exc)
                    pace.streak += 1
                    continue
                except UNREADABLE as exc:  # refused: an unreadable or impossible snapshot
                    self.stats.bad_frames += 1
                    log.warning(
                        "%s %s: book snapshot refused: %s", self.venue, symbol, reason_of(exc)
                    )
                    pace.streak += 1
                    continue
                except Exception as exc:  # a bug of ours must not end the resync for good
                    self.stats.bad_frames += 1
                    log.error("%s %s: refetching the book raised", self.venue, symbol, exc_info=exc)
                    pace.streak += 1
                    continue
                if not await self._wait_synced(synced, self.settle_s):
                    pace.streak += 1
                    log.info(
                        "%s %s: book not in sync after a refetch (%s); trying again",
                        self.venue,
                        symbol,
                        book.resync_reason or "no snapshot yet",
                    )
        finally:
            if self._tasks.get(symbol) is asyncio.current_task():
                self._tasks.pop(symbol, None)

    @staticmethod
    async def _wait_synced(event: asyncio.Event, timeout: float) -> bool:
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


__all__ = ["BookSet", "Refetch"]
