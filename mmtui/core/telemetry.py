"""Strategy telemetry, published by the core.

A strategy writes its figures through its context (``ctx.telemetry``: a
``strategies.telemetry.Telemetry`` store the core creates and owns, one per
strategy). The core is the one publisher: every reader -- the console through
the read model, any exporter -- gets the same immutable ``TelemetryView`` built
from the same store, so no two readers can disagree on a value.

Exporters are plain callables registered with ``add_exporter``; every
``interval_s`` (and once more at shutdown) each is handed a ``TelemetryFrame``:
every strategy's view at one time. They run on the event loop and must not
block (hand the frame to a thread to write it). One that raises is logged and
dropped: telemetry never stops trading.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from strategies.telemetry import Telemetry, Value

log = logging.getLogger("mmtui.telemetry")


@dataclass(frozen=True, slots=True)
class TelemetryView:
    """One strategy's telemetry at one time."""

    strategy: str
    values: tuple[tuple[str, Value], ...]
    counters: tuple[tuple[str, int], ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    ts_ms: int = 0
    """When the view was taken (the session's clock)."""

    def items(self) -> list[tuple[str, Value]]:
        """Values, then counters (a counter wins over a value of the same name)."""
        merged: dict[str, Value] = dict(self.values)
        merged.update(self.counters)
        return list(merged.items())

    def value(self, key: str) -> Value:
        return dict(self.values).get(key)

    def points(self, key: str) -> tuple[float, ...]:
        return dict(self.series).get(key, ())


@dataclass(frozen=True, slots=True)
class TelemetryFrame:
    """Every strategy's telemetry at one time: what exporters receive."""

    ts_ms: int
    views: tuple[TelemetryView, ...]

    def view(self, strategy: str) -> TelemetryView | None:
        return next((v for v in self.views if v.strategy == strategy), None)


Exporter = Callable[[TelemetryFrame], None]


class TelemetryHub:
    """The strategies' telemetry stores and the one place every reader reads them."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self._stores: dict[str, Telemetry] = {}
        self._exporters: list[Exporter] = []
        self.frames_published = 0

    def store(self, strategy: str) -> Telemetry:
        """The store a strategy writes to (created on first use)."""
        tel = self._stores.get(strategy)
        if tel is None:
            tel = self._stores[strategy] = Telemetry()
        return tel

    def discard(self, strategy: str) -> None:
        """Forget a strategy's store (one that could not be added)."""
        self._stores.pop(strategy, None)

    def view(self, strategy: str) -> TelemetryView | None:
        tel = self._stores.get(strategy)
        return None if tel is None else self._view(strategy, tel, self._now_ms())

    def frame(self) -> TelemetryFrame:
        now = self._now_ms()
        return TelemetryFrame(
            now, tuple(self._view(name, tel, now) for name, tel in self._stores.items())
        )

    @staticmethod
    def _view(strategy: str, tel: Telemetry, now_ms: int) -> TelemetryView:
        return TelemetryView(
            strategy=strategy,
            values=tuple(tel.values.items()),
            counters=tuple(tel.counters.items()),
            series=tuple((k, tuple(v for _, v in points)) for k, points in tel.series.items()),
            ts_ms=now_ms,
        )

    # -- exporters ------------------------------------------------------------

    def add_exporter(self, exporter: Exporter) -> Callable[[], None]:
        """Register ``exporter``; returns the call that removes it."""
        self._exporters.append(exporter)

        def remove() -> None:
            if exporter in self._exporters:
                self._exporters.remove(exporter)

        return remove

    def publish(self) -> TelemetryFrame | None:
        """Hand every exporter the current frame (None when there is none to hand it to)."""
        if not self._exporters:
            return None
        frame = self.frame()
        for exporter in list(self._exporters):
            try:
                exporter(frame)
            except Exception:
                log.exception("telemetry exporter %r failed: removed", exporter)
                self._exporters.remove(exporter)
        self.frames_published += 1
        return frame

    async def run(self, sleep: Callable[[float], Awaitable[None]], interval_s: float) -> None:
        """Publish every ``interval_s`` (a background task of the engine)."""
        while True:
            await sleep(interval_s)
            self.publish()
