"""Fills the private stream missed, read back from each venue's fill history.

Venues close sockets (Backpack's docs say so for maintenance); a fill that
happens while ours is down never arrives on it. After every reconnect — and on
a slow timer, and whenever a lookup shows an order filled further than we saw —
the core reads the venue's fill history from its watermark (the newest fill it
has seen, minus an overlap) and delivers every fill it has not seen, whatever
path delivered the others. This module owns "seen": one bounded set of fill
keys per venue, consulted for every fill from any path, so nothing is applied
twice and nothing is lost.

At start the history of the last ``prime_window_s`` is read and marked seen
without being applied: those fills are in the positions the venue reported at
start, and belong to earlier sessions.

"Seen" keeps the newest ``SEEN_KEPT`` fill keys per venue (with each fill's time).
A history read that reaches further back than the oldest key kept (an order's
whole life, read after a lookup) would find fills that were applied and then
forgotten: fills at or before the newest forgotten one's time are never delivered
from history (counted in ``beyond_memory``, logged). A fill missed that long ago
and never recovered since (recovery runs on every reconnect and every 30 s) is
the position guard's to catch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from connectors.base import Fill, VenueError
from connectors.common.seen import SeenIds

log = logging.getLogger("mmtui.recovery")

SEEN_KEPT = 10_000
"""Fill keys remembered per venue: ~190 bytes each, ~1.9 MB when full; ~75 minutes
of the example's quoting strategy, where a recovery reads back 30 seconds past its
watermark (50,000 grew a soak's RSS ~1.2 MB per hour for seven hours)."""

History = Callable[[str, int], Awaitable[list[Fill]]]
"""(venue, since_ms) -> the venue's fills since then (rate-limited by the caller)."""


def fill_key(fill: Fill) -> str:
    """One side of one trade (a self-trade has both sides on our account)."""
    return f"{fill.trade_id}|{getattr(fill.side, 'value', fill.side)}"


class FillRecovery:
    def __init__(
        self,
        venues: list[str],
        *,
        history: History,
        deliver: Callable[[Fill], None],
        now_ms: Callable[[], int],
        overlap_s: float = 30.0,
        prime_window_s: float = 300.0,
        capacity: int = SEEN_KEPT,
    ) -> None:
        self._history = history
        self._deliver = deliver
        self._now_ms = now_ms
        self.overlap_ms = int(overlap_s * 1000)
        self.prime_window_ms = int(prime_window_s * 1000)
        self.capacity = capacity
        self._seen = {v: SeenIds(capacity) for v in venues}
        self._watermark: dict[str, int] = dict.fromkeys(venues, 0)
        self._gap_from: dict[str, int] = {}
        """venue -> the watermark when its stream went down (recover from there)."""
        self._locks = {v: asyncio.Lock() for v in venues}
        self.recovered: dict[str, int] = dict.fromkeys(venues, 0)
        self.duplicates = 0
        self.beyond_memory = 0
        """History fills older than what "seen" still remembers: not delivered."""
        self.failures = 0

    def first_sight(self, fill: Fill, trusted: bool = True) -> bool:
        """Every fill from any path passes here: True the first time it is seen
        (apply it, or refuse it), False for a repeat (drop it). An untrusted fill
        (one the core refuses) is marked seen but its timestamp does not move the
        watermark the history is read from."""
        seen = self._seen.get(fill.venue)
        if seen is None:
            seen = self._seen[fill.venue] = SeenIds(self.capacity)
            self._watermark.setdefault(fill.venue, 0)
        if not seen.add(fill_key(fill), fill.ts_ms):
            self.duplicates += 1
            return False
        if trusted and fill.ts_ms > self._watermark.get(fill.venue, 0):
            self._watermark[fill.venue] = fill.ts_ms
        return True

    def watermark(self, venue: str) -> int:
        return self._watermark.get(venue, 0)

    async def prime(self, venue: str) -> int:
        """At start: mark the recent history seen (it is already in the positions the
        venue reported) and set the watermark. Returns how many fills were read."""
        now = self._now_ms()
        since = now - self.prime_window_ms
        try:
            fills = await self._history(venue, since)
        except VenueError as exc:
            self.failures += 1
            log.warning("%s: reading the fill history at start failed: %s", venue, exc)
            fills = []
        seen = self._seen.setdefault(venue, SeenIds(self.capacity))
        newest = 0
        for fill in fills:
            seen.add(fill_key(fill), fill.ts_ms)
            newest = max(newest, fill.ts_ms)
        # Venue clocks differ from ours: never start later than what the venue shows.
        self._watermark[venue] = max(self._watermark.get(venue, 0), newest or now)
        return len(fills)

    def stream_down(self, venue: str) -> None:
        """``venue``'s stream dropped: the next recovery reads from here on, however
        many fills the stream delivers after it comes back and before we read."""
        mark = self._watermark.get(venue, 0)
        self._gap_from[venue] = min(self._gap_from.get(venue, mark), mark)

    async def recover(self, venue: str, why: str, since_ms: int | None = None) -> int:
        """Deliver the fills of ``venue`` the core has not seen; returns how many.

        Reads from ``since_ms`` when given (e.g. an order's creation), else from
        where the stream dropped, else from the watermark — less the overlap."""
        lock = self._locks.setdefault(venue, asyncio.Lock())
        async with lock:
            gap = self._gap_from.pop(venue, None)
            start = min(x for x in (since_ms, gap, self._watermark.get(venue, 0)) if x is not None)
            since = max(0, start - self.overlap_ms)
            try:
                fills = await self._history(venue, since)
            except VenueError as exc:
                self.failures += 1
                if gap is not None:
                    self._gap_from[venue] = gap  # try again from there next time
                log.warning("%s: reading the fill history (%s) failed: %s", venue, why, exc)
                return 0
            fresh = self._unseen(venue, fills)
            for fill in sorted(fresh, key=lambda f: f.ts_ms):
                self._deliver(fill)  # through the intake, which calls first_sight
            if fresh:
                self.recovered[venue] = self.recovered.get(venue, 0) + len(fresh)
                log.warning(
                    "%s: recovered %d fill(s) the stream did not deliver (%s)",
                    venue,
                    len(fresh),
                    why,
                )
            return len(fresh)

    def _unseen(self, venue: str, fills: list[Fill]) -> list[Fill]:
        """The fills not seen, less those from before what "seen" remembers."""
        seen = self._seen.setdefault(venue, SeenIds(self.capacity))
        horizon = seen.forgotten_stamp
        unseen = [f for f in fills if fill_key(f) not in seen]
        fresh = [f for f in unseen if not horizon or f.ts_ms > horizon]
        if len(fresh) < len(unseen):
            skipped = len(unseen) - len(fresh)
            self.beyond_memory += skipped
            log.warning(
                "%s: %d fill(s) in the history at or before %d, older than the fill keys "
                "kept (%d): maybe applied already, not delivered",
                venue,
                skipped,
                horizon,
                seen.capacity,
            )
        return fresh


__all__ = ["SEEN_KEPT", "FillRecovery", "fill_key"]
