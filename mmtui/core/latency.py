"""The core's own latencies, on the wall clock: tick-to-trade and event-loop lag.

- **Tick-to-trade**, per market: from the engine's intake of the latest book
  change (``BookChanged``) to the first order request the core hands to that
  market's connector after it (a place or a modify, right after its rate
  limit let it go): for a strategy that requotes on the book, its reaction;
  for one that requotes on a timer, the age of the book it quoted on. One
  sample per change at most (the second order of a requote has none).
- **Unanswered book**, per market: from the *first* book change since the
  market's previous request to the next request: a timer's delay shows here
  (a strategy on a 500 ms tick: up to 500 ms), and so do changes a strategy
  chose not to answer (its quotes were still good).

  A change older than ``T2T_WINDOW_S`` is no trigger of either (a paused
  strategy's next order is no reaction to it).
- **Loop lag**: a small task asks to wake every ``LAG_INTERVAL_S`` and records
  how late it woke (a paint, a garbage collection, any callback that runs
  long delays every timer and I/O callback of the loop the same way).

Both are kept as fixed-bucket histograms (what the metrics exporter serves)
plus the latest samples (the quantiles a view shows). Timed by
``time.perf_counter``, never the session clock: in the sim that clock is
virtual, and these measure the process.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

TICK_TO_TRADE_BUCKETS_S = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
LOOP_LAG_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
LAG_INTERVAL_S = 0.05
T2T_WINDOW_S = 10.0
SAMPLES_KEPT = 1000

Market = tuple[str, str]


class Histogram:
    """Counts per bucket (upper bounds in seconds, then +Inf), their sum, and the
    latest ``SAMPLES_KEPT`` samples."""

    __slots__ = ("bounds", "count", "counts", "recent", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0
        self.recent: deque[float] = deque(maxlen=SAMPLES_KEPT)

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds
        self.count += 1
        self.recent.append(seconds)

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, samples at or below it), ending with "+Inf" (Prometheus' form)."""
        out, total = [], 0
        for bound, n in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out

    def quantile(self, q: float) -> float | None:
        """Of the latest samples; None before the first."""
        if not self.recent:
            return None
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True, slots=True)
class LatencyStat:
    """Quantiles of the latest samples, in milliseconds (None: no sample yet)."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True, slots=True)
class LatencyView:
    tick_to_trade: tuple[tuple[Market, LatencyStat], ...]
    unanswered: tuple[tuple[Market, LatencyStat], ...]
    loop_lag: LatencyStat


def _stat(h: Histogram) -> LatencyStat:
    def ms(v: float | None) -> float | None:
        return None if v is None else v * 1000

    top = max(h.recent) if h.recent else None
    return LatencyStat(h.count, ms(h.quantile(0.5)), ms(h.quantile(0.99)), ms(top))


class Latency:
    """The engine's latency record: fed by its event intake, the order path's sends
    and its own loop monitor; read by the metrics exporter and the views."""

    def __init__(self, perf: Callable[[], float] = time.perf_counter) -> None:
        self._perf = perf
        self._first_seen: dict[Market, float] = {}
        self._last_seen: dict[Market, float] = {}
        self.tick_to_trade: dict[Market, Histogram] = {}
        self.unanswered: dict[Market, Histogram] = {}
        self.loop_lag = Histogram(LOOP_LAG_BUCKETS_S)

    def book_seen(self, venue: str, symbol: str) -> None:
        """A book change came in (the engine's event intake)."""
        key = (venue, symbol)
        now = self._last_seen[key] = self._perf()
        if key not in self._first_seen:
            self._first_seen[key] = now

    def request_sent(self, venue: str, symbol: str) -> None:
        """An order request for the market is handed to its connector."""
        key = (venue, symbol)
        last = self._last_seen.pop(key, None)
        first = self._first_seen.pop(key, None)
        if last is None or first is None:
            return
        now = self._perf()
        _observe(self.tick_to_trade, key, now - last)
        _observe(self.unanswered, key, now - first)

    async def watch_loop(self, interval_s: float = LAG_INTERVAL_S) -> None:
        """Record how late the loop wakes this task (a background task of the engine)."""
        while True:
            due = self._perf() + interval_s
            await asyncio.sleep(interval_s)
            self.loop_lag.observe(max(0.0, self._perf() - due))

    def view(self) -> LatencyView:
        return LatencyView(
            tick_to_trade=_stats(self.tick_to_trade),
            unanswered=_stats(self.unanswered),
            loop_lag=_stat(self.loop_lag),
        )


def _observe(by_market: dict[Market, Histogram], key: Market, elapsed: float) -> None:
    if elapsed > T2T_WINDOW_S:
        return
    hist = by_market.get(key)
    if hist is None:
        hist = by_market[key] = Histogram(TICK_TO_TRADE_BUCKETS_S)
    hist.observe(elapsed)


def _stats(by_market: dict[Market, Histogram]) -> tuple[tuple[Market, LatencyStat], ...]:
    return tuple((market, _stat(h)) for market, h in sorted(by_market.items()))


__all__ = [
    "LOOP_LAG_BUCKETS_S",
    "TICK_TO_TRADE_BUCKETS_S",
    "Histogram",
    "Latency",
    "LatencyStat",
    "LatencyView",
]
