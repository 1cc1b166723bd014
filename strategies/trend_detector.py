"""EMA/ATR slope trend detector for the trend-adaptive ladder (pure, no I/O).

Prices are fed with a timestamp; they are grouped into OHLC bars of
``bar_ms``. A bar is finished when a price arrives in a later bar; bars with
no price are simply absent. On every finished bar:

- EMA of the closes over ``ema_len`` bars, k = 2 / (len + 1), seeded with the
  first close;
- true range from the second bar on: max(high - low, |high - prev close|,
  |prev close - low|); ATR is the EMA of the true range over ``atr_len``,
  seeded with the first true range;
- slope = (EMA_now - EMA_prev) / max(ATR_now, min_atr), a trend strength in
  ATRs per bar. ``min_atr`` (e.g. one price tick) keeps a market that stopped
  moving from dividing by an ATR decaying towards zero; with an ATR of 0 the
  slope is 0. The slope exists only once max(ema_len + 1, atr_len + 1,
  warmup_bars) bars are finished.

Direction, with hysteresis:

- slope > ``slope_up`` votes long, slope < ``slope_down`` votes short, in
  between votes nothing (the band between the thresholds keeps the current
  direction);
- the direction switches once the opposite vote holds for ``confirm_bars``
  finished bars in a row, or at once when the slope is beyond the threshold by
  at least ``margin`` (when a margin is set).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass


class Direction(enum.Enum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.LONG else -1

    @property
    def opposite(self) -> Direction:
        return Direction.SHORT if self is Direction.LONG else Direction.LONG


@dataclass(slots=True)
class Bar:
    key: int
    open: float
    high: float
    low: float
    close: float

    def add(self, price: float) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price


class TrendDetector:
    """Feeds bars, keeps EMA/ATR/slope, and decides the direction with hysteresis."""

    def __init__(
        self,
        *,
        bar_ms: int,
        ema_len: int,
        atr_len: int,
        slope_up: float,
        slope_down: float,
        warmup_bars: int = 0,
        confirm_bars: int = 1,
        margin: float | None = None,
        min_atr: float = 0.0,
        initial: Direction = Direction.LONG,
        keep_bars: int = 200,
    ) -> None:
        if bar_ms <= 0 or ema_len < 1 or atr_len < 1 or confirm_bars < 1:
            raise ValueError("bar_ms, ema_len, atr_len and confirm_bars must be positive")
        if slope_up <= slope_down:
            raise ValueError(f"slope_up ({slope_up}) must be above slope_down ({slope_down})")
        self.bar_ms = bar_ms
        self.ema_len = ema_len
        self.atr_len = atr_len
        self.slope_up = slope_up
        self.slope_down = slope_down
        self.min_bars = max(ema_len + 1, atr_len + 1, warmup_bars)
        self.confirm_bars = confirm_bars
        self.margin = margin
        self.min_atr = min_atr
        self.direction = initial
        self.bars: deque[Bar] = deque(maxlen=max(keep_bars, 2))
        self.finished = 0
        self.ema: float | None = None
        self.prev_ema: float | None = None
        self.atr: float | None = None
        self.slope: float | None = None
        self.streak = 0
        self.flips = 0
        self._current: Bar | None = None
        self._ema_k = 2.0 / (ema_len + 1)
        self._atr_k = 2.0 / (atr_len + 1)

    @property
    def ready(self) -> bool:
        return self.slope is not None

    @property
    def bars_to_ready(self) -> int:
        return max(0, self.min_bars - self.finished)

    def update(self, ts_ms: int, price: float) -> Direction | None:
        """Add a price; returns the new direction when this price made it switch."""
        key = ts_ms // self.bar_ms
        bar = self._current
        if bar is None:
            self._current = Bar(key, price, price, price, price)
            return None
        if key <= bar.key:
            bar.add(price)
            return None
        switched = self._finish(bar)
        self._current = Bar(key, price, price, price, price)
        return switched

    def vote(self) -> Direction | None:
        """What the last slope says, before hysteresis."""
        if self.slope is None:
            return None
        if self.slope > self.slope_up:
            return Direction.LONG
        if self.slope < self.slope_down:
            return Direction.SHORT
        return None

    def _finish(self, bar: Bar) -> Direction | None:
        prev = self.bars[-1] if self.bars else None
        self.bars.append(bar)
        self.finished += 1
        self.prev_ema = self.ema
        self.ema = (
            bar.close if self.ema is None else self.ema + self._ema_k * (bar.close - self.ema)
        )
        if prev is not None:
            tr = max(bar.high - bar.low, abs(bar.high - prev.close), abs(prev.close - bar.low))
            self.atr = tr if self.atr is None else self.atr + self._atr_k * (tr - self.atr)
        if self.finished < self.min_bars or self.prev_ema is None or self.atr is None:
            return None
        atr = max(self.atr, self.min_atr)
        self.slope = (self.ema - self.prev_ema) / atr if atr > 0 else 0.0
        return self._decide()

    def _decide(self) -> Direction | None:
        vote = self.vote()
        if vote is None or vote is self.direction:
            self.streak = 0
            return None
        self.streak += 1
        assert self.slope is not None
        beyond = (
            self.slope - self.slope_up if vote is Direction.LONG else self.slope_down - self.slope
        )
        if self.streak >= self.confirm_bars or (self.margin is not None and beyond >= self.margin):
            self.direction = vote
            self.streak = 0
            self.flips += 1
            return vote
        return None


__all__ = ["Bar", "Direction", "TrendDetector"]
