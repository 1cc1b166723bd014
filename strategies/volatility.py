"""Volatility of the mid from timestamped samples.

Realized variance per second over a time window: sum of squared mid changes
divided by the time they span. For a random walk this is unbiased whatever the
sampling intervals, so irregular book-driven samples are fine. Units: price
units per square-root second.
"""

from __future__ import annotations

import math
from collections import deque


class RealizedVolatility:
    def __init__(
        self, window_ms: int, warmup_ms: int, min_samples: int = 10, min_gap_ms: int = 100
    ) -> None:
        if window_ms <= 0 or warmup_ms < 0 or warmup_ms > window_ms:
            raise ValueError(f"need 0 <= warmup ({warmup_ms} ms) <= window ({window_ms} ms)")
        self.window_ms = window_ms
        self.warmup_ms = warmup_ms
        self.min_samples = max(2, min_samples)
        self.min_gap_ms = min_gap_ms
        self._samples: deque[tuple[int, float]] = deque()
        self._sum_sq = 0.0

    def add(self, ts_ms: int, mid: float) -> None:
        samples = self._samples
        if samples:
            last_ts, last_mid = samples[-1]
            if ts_ms - last_ts < self.min_gap_ms:
                return
            self._sum_sq += (mid - last_mid) ** 2
        samples.append((ts_ms, mid))
        while len(samples) > 2 and samples[1][0] <= ts_ms - self.window_ms:
            (_, m0), (_, m1) = samples[0], samples[1]
            self._sum_sq -= (m1 - m0) ** 2
            samples.popleft()

    @property
    def span_ms(self) -> int:
        return self._samples[-1][0] - self._samples[0][0] if len(self._samples) > 1 else 0

    @property
    def ready(self) -> bool:
        return len(self._samples) >= self.min_samples and self.span_ms >= self.warmup_ms

    def sigma(self) -> float | None:
        """Volatility in price units per sqrt(second), or None while warming up."""
        if not self.ready:
            return None
        span_s = self.span_ms / 1000
        return math.sqrt(max(self._sum_sq, 0.0) / span_s) if span_s > 0 else None
