"""How a connector hands events to the core: on the next loop turn, never inside
the call that caused them, with book changes coalesced to one ``BookChanged``
per symbol per turn (so 10k level updates cost the core what 10 do)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from connectors.base import BookChanged, Event, EventSink


class EventQueue:
    def __init__(self, venue: str, now_ms: Callable[[], int]) -> None:
        self.venue = venue
        self.sink: EventSink | None = None
        self._now_ms = now_ms
        self._pending: list[Event] = []
        self._dirty_books: set[str] = set()
        self._scheduled = False

    def push(self, event: Event) -> None:
        self._pending.append(event)
        self._schedule()

    def book_changed(self, symbol: str) -> None:
        self._dirty_books.add(symbol)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        sink = self.sink
        events, self._pending = self._pending, []
        dirty, self._dirty_books = self._dirty_books, set()
        if sink is None:
            return
        for event in events:
            sink(event)
        now = self._now_ms()
        for symbol in dirty:
            sink(BookChanged(self.venue, symbol, now))
