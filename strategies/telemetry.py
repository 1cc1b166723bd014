"""What a strategy publishes for the console: named values and short series."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

Value = float | int | str | Decimal | None


class Telemetry:
    """Latest values plus bounded time series (``series_len`` points each)."""

    def __init__(self, series_len: int = 300) -> None:
        self.values: dict[str, Value] = {}
        self.series: dict[str, deque[tuple[int, float]]] = {}
        self.counters: dict[str, int] = {}
        self._series_len = series_len

    def set(self, name: str, value: Value) -> None:
        self.values[name] = value

    def sample(self, name: str, ts_ms: int, value: float | Decimal | None) -> None:
        """Append a point to a series (and set the latest value)."""
        self.values[name] = value
        if value is None:
            return
        points = self.series.get(name)
        if points is None:
            points = self.series[name] = deque(maxlen=self._series_len)
        points.append((ts_ms, float(value)))

    def count(self, name: str, n: int = 1) -> int:
        total = self.counters.get(name, 0) + n
        self.counters[name] = total
        return total

    def snapshot(self) -> dict[str, Value]:
        out: dict[str, Value] = dict(self.values)
        out.update(self.counters)
        return out
