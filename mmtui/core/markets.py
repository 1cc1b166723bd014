"""The venues the engine trades on: their connectors, the instruments they list,
and what each connection last reported. Every part of the core looks markets
up here (an unknown market is an ``EngineError``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.base import Balance, ConnectionState, Connector, Instrument, Position, Trade
from connectors.book import OrderBook

log = logging.getLogger("mmtui.engine")


class EngineError(Exception):
    """The engine cannot do what was asked (bad name, not started, ...)."""


@dataclass(slots=True)
class VenueStatus:
    state: ConnectionState = ConnectionState.DISCONNECTED
    detail: str = ""
    venue_positions: dict[str, Position] = field(default_factory=dict)
    balances: dict[str, Balance] = field(default_factory=dict)
    last_trade: Trade | None = None


class Markets:
    """Connectors by venue name, instruments by (venue, symbol), status by venue."""

    def __init__(
        self, connectors: dict[str, Connector], now_ms: Callable[[], int] | None = None
    ) -> None:
        self.connectors = dict(connectors)
        self.instruments: dict[tuple[str, str], Instrument] = {}
        self.status: dict[str, VenueStatus] = {name: VenueStatus() for name in connectors}
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._last_mid: dict[tuple[str, str], tuple[Decimal, int]] = {}

    def instrument(self, venue: str, symbol: str) -> Instrument:
        try:
            return self.instruments[(venue, symbol)]
        except KeyError:
            raise EngineError(f"unknown market {venue}/{symbol}") from None

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        conn = self.connectors.get(venue)
        return conn.book(symbol) if conn is not None else None

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        """The best price to value a position at: the book's mid while the book is
        valid; else the fresher of the last mid this session saw and the venue's
        own mark (from its last position report: entry + unrealized / size) — a
        position on a market with no book subscribed, or after the books closed;
        None when there is neither."""
        book = self.book(venue, symbol)
        if book is not None and book.is_valid():
            mid = book.mid()
            if mid is not None:
                self._last_mid[(venue, symbol)] = (mid, self._now_ms())
                return mid
        last = self._last_mid.get((venue, symbol))
        reported = self.venue_mark(venue, symbol)
        if last is None or (reported is not None and reported[1] > last[1]):
            return reported[0] if reported is not None else None
        return last[0]

    def venue_mark(self, venue: str, symbol: str) -> tuple[Decimal, int] | None:
        """(mark, when) implied by the venue's last report of a non-flat position."""
        status = self.status.get(venue)
        p = status.venue_positions.get(symbol) if status is not None else None
        if p is None:
            return None
        try:  # a venue's numbers: a NaN or a zero must cost this mark, nothing else
            if not p.size or not p.entry_price > 0:
                return None
            mark = p.entry_price + p.unrealized_pnl / p.size
            if not (mark.is_finite() and mark > 0):
                return None
        except (ArithmeticError, TypeError, AttributeError):
            return None
        return mark, p.ts_ms

    async def close_all(self, within_s: float) -> None:
        """Close every connection at once; one not closed within ``within_s`` (a
        frozen venue) is abandoned and logged. Every venue ends CLOSED."""
        loop = asyncio.get_running_loop()
        names = list(self.connectors)
        tasks = [loop.create_task(self.connectors[n].close(), name=f"close {n}") for n in names]
        _, late = await asyncio.wait(tasks, timeout=within_s)
        for name, task in zip(names, tasks, strict=True):
            if task in late:
                abandon(task)
                log.warning("closing %s did not finish within %.1fs: abandoned", name, within_s)
            elif (exc := task.exception()) is not None:
                log.error("closing %s failed: %r", name, exc, exc_info=exc)
            self.status[name].state = ConnectionState.CLOSED


def abandon(task: asyncio.Task[Any]) -> None:
    """Cancel a task given up on (a frozen venue's request) without waiting for it;
    its outcome no longer matters (never logged as 'exception never retrieved')."""
    task.cancel()
    task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
