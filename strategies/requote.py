"""When a book change should requote: event-driven quoting for the quoting strategies.

A quoting strategy prices off a reference (the external mid, a median of it). Its
tick (``tick_interval_ms``) stays for housekeeping; between ticks a book change
requotes at once when the reference moved at least ``move_ticks`` ticks since the
last quote cycle (tick or book). Book-driven cycles are at least ``min_interval_ms``
apart (the requote rate they can cost); a move inside the interval is not dropped
but put off to its end (one timer at a time, ``StrategyContext.call_later``). A tick
does not hold a book change back: it runs on its own clock.

The connector already coalesces its book changes to one per symbol per loop turn
(``connectors.common.delivery``), so a burst of deltas costs one look here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from pydantic import Field

from strategies.base import StrategyContext, StrategyParams


class QuotingParams(StrategyParams):
    """The event-driven quoting knobs AS and the perp market maker share."""

    requote_on_book: bool = Field(
        default=True,
        description="requote on a book change that moves the reference (else on ticks only)",
    )
    requote_min_interval_ms: int = Field(
        default=100, ge=0, le=60_000, description="quote cycles at least this far apart, ms"
    )
    requote_move_ticks: int = Field(
        default=1, ge=1, le=1_000_000, description="reference move (ticks) that requotes"
    )


class RequoteGate:
    """Decides, per book change, whether to run the quote cycle now, later or not."""

    def __init__(
        self,
        ctx: StrategyContext,
        cycle: Callable[[int], None],
        *,
        tick_size: Decimal,
        min_interval_ms: int,
        move_ticks: int,
        enabled: bool = True,
    ) -> None:
        self.ctx = ctx
        self._cycle = cycle
        self.tick_size = tick_size
        self.min_interval_ms = min_interval_ms
        self.move = tick_size * move_ticks
        self.enabled = enabled
        self.last_ms: int | None = None
        """When the last book-driven cycle ran."""
        self.last_ref: Decimal | None = None
        self.pending = False
        self.book_cycles = 0
        """Cycles a book change started (now or at the end of the interval)."""

    @classmethod
    def of(
        cls, ctx: StrategyContext, cycle: Callable[[int], None], tick: Decimal, p: QuotingParams
    ) -> RequoteGate:
        return cls(
            ctx,
            cycle,
            tick_size=tick,
            min_interval_ms=p.requote_min_interval_ms,
            move_ticks=p.requote_move_ticks,
            enabled=p.requote_on_book,
        )

    def cycled(self, now_ms: int, ref: Decimal | None) -> None:
        """A quote cycle ran at ``now_ms`` on ``ref`` (the strategy calls this from
        every cycle, the tick's too): moves are measured from there."""
        if ref is not None:
            self.last_ref = ref

    def moved(self, ref: Decimal) -> bool:
        return self.last_ref is None or abs(ref - self.last_ref) >= self.move

    def on_book(self, now_ms: int, ref: Decimal | None) -> None:
        """A book change left the reference at ``ref``: cycle now, at the end of the
        minimum interval, or not at all (it did not move enough)."""
        if self.enabled and ref is not None and self.moved(ref):
            self.request(now_ms)

    def request(self, now_ms: int) -> None:
        """Cycle now, or at the end of the minimum interval (one timer at a time)."""
        if not self.enabled or self.pending or not self.ctx.running:
            return
        wait = 0 if self.last_ms is None else self.last_ms + self.min_interval_ms - now_ms
        if wait <= 0:
            self._run(now_ms)
            return
        self.pending = True
        self.ctx.call_later(wait, self._due)

    def later(self) -> None:
        """Cycle again at the end of the minimum interval (a cycle that held back)."""
        if self.enabled and not self.pending and self.ctx.running:
            self.pending = True
            self.ctx.call_later(max(1, self.min_interval_ms), self._due)

    def _due(self) -> None:
        """The minimum interval is over: cycle (on the book as it is now; a cycle that
        finds its quotes still fit sends nothing)."""
        self.pending = False
        self._run(self.ctx.now_ms())

    def _run(self, now_ms: int) -> None:
        self.last_ms = now_ms
        self.book_cycles += 1
        self.ctx.telemetry.count("book_requotes")
        self._cycle(now_ms)
