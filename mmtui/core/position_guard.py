"""The stale-position guard: after a reconnect, a market whose position the venue
reports differently from what our fills add up to pauses every strategy trading
it, until the two agree again.

Why: a strategy's inventory, its skew and its limits, are built from the fills
we saw. After a reconnect the core reads back the fills the stream missed; if
the venue's position still differs (a fill its history does not show yet, a
liquidation, another tool), quoting on would trade on an inventory that is not
there. So:

- ``after_reconnect``: each market of the venue whose position differs is held:
  every running strategy that trades it is paused (its orders cancelled), with
  the reason, and the market is shown in the header until it agrees.
- ``recheck``: the next comparisons -- the periodic reconcile (after its fill
  recovery) and every position the venue reports on its stream -- lift the hold
  once venue and fills agree; the strategies it paused resume, unless somebody
  else stopped them since (the operator paused or stopped one, risk halted).
- The operator may resume a held strategy anyway: the guard lets go of it (an
  override, noted) and does not hold it again for the same mismatch. One the
  operator pauses or stops is the operator's: the guard does not resume it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import ZERO
from mmtui.core.positions import PositionBook

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

log = logging.getLogger("mmtui.reconcile")

Market = tuple[str, str]


@dataclass(slots=True)
class Mismatch:
    venue: str
    symbol: str
    venue_size: Decimal
    ours: Decimal
    since_ms: int
    held: set[str] = field(default_factory=set)
    """Strategies this mismatch paused (and resumes when it clears)."""

    @property
    def reason(self) -> str:
        return (
            f"position mismatch after reconnect: {self.venue} {self.symbol} venue "
            f"{self.venue_size}, our fills {self.ours}; paused until they agree"
        )

    def describe(self) -> str:
        return (
            f"position {self.venue} {self.symbol}: venue {self.venue_size}, fills {self.ours}"
            f" ({len(self.held)} strategy(ies) paused)"
        )


class PositionGuard:
    def __init__(
        self,
        *,
        positions: PositionBook,
        strategies: Mapping[str, StrategyRunner],
        now_ms: Callable[[], int],
        may_resume: Callable[[], bool],
        note_event: Callable[[str, str], None],
    ) -> None:
        self._positions = positions
        self._strategies = strategies
        self._now_ms = now_ms
        self._may_resume = may_resume
        self._note_event = note_event
        self.mismatches: dict[Market, Mismatch] = {}
        self._released: dict[Market, set[str]] = {}
        """Strategies the operator resumed over a mismatch (not held again for it)."""
        self._paused: dict[str, str] = {}
        """Strategy -> the reason the guard paused it with (resumed only if unchanged)."""

    def ours(self, venue: str, symbol: str) -> Decimal:
        state = self._positions.peek((venue, symbol))
        return state.size if state is not None else ZERO

    def after_reconnect(self, venue: str, held: Mapping[str, Decimal]) -> None:
        """The venue's positions just read after a reconnect (symbol -> signed size)."""
        symbols = set(held) | {s for (v, s), _ in self._positions.items() if v == venue}  # type: ignore[misc]
        for symbol in sorted(symbols):
            theirs, ours = held.get(symbol, ZERO), self.ours(venue, symbol)
            if theirs == ours:
                self._clear((venue, symbol))
            else:
                self._hold(venue, symbol, theirs, ours)

    def recheck(self, venue: str, symbol: str, theirs: Decimal) -> None:
        """A position the venue reports now: lifts a hold once it agrees with our fills."""
        market = (venue, symbol)
        m = self.mismatches.get(market)
        if m is None:
            return
        ours = self.ours(venue, symbol)
        if theirs == ours:
            self._clear(market)
        else:
            m.venue_size, m.ours = theirs, ours

    def holding(self, venue: str | None = None) -> bool:
        return any(venue is None or v == venue for v, _ in self.mismatches)

    def release(self, strategy: str, resumed: bool) -> None:
        """The operator took over ``strategy``: resumed it over a mismatch (an
        override: not held again for it), or paused or stopped it (not resumed by
        the guard when the mismatch clears)."""
        self._paused.pop(strategy, None)
        for market, m in self.mismatches.items():
            if strategy not in m.held:
                continue
            m.held.discard(strategy)
            if resumed:
                self._released.setdefault(market, set()).add(strategy)
                log.warning("%s resumed by the operator over a %s", strategy, m.describe())
                self._note_event("position_guard", f"{strategy}: resumed over {m.describe()}")

    def notices(self) -> list[str]:
        return [m.describe() for m in self.mismatches.values()]

    # -- internals ------------------------------------------------------------

    def _hold(self, venue: str, symbol: str, theirs: Decimal, ours: Decimal) -> None:
        market = (venue, symbol)
        m = self.mismatches.get(market)
        if m is None:
            m = self.mismatches[market] = Mismatch(venue, symbol, theirs, ours, self._now_ms())
        m.venue_size, m.ours = theirs, ours
        released = self._released.get(market, set())
        for name, runner in self._strategies.items():
            if market not in runner.markets or name in released:
                continue
            if runner.running:
                runner.pause(m.reason)
                self._paused[name] = m.reason
            elif name not in self._paused:
                continue  # paused or stopped by somebody else: theirs to resume
            m.held.add(name)
        log.error("%s", m.reason)
        self._note_event("position_guard", f"holding: {m.describe()}")

    def _clear(self, market: Market) -> None:
        self._released.pop(market, None)
        m = self.mismatches.pop(market, None)
        if m is None:
            return
        resumed = []
        for name in sorted(m.held):
            if any(name in other.held for other in self.mismatches.values()):
                continue  # another market still holds it
            reason = self._paused.pop(name, None)
            runner = self._strategies.get(name)
            if runner is None or runner.running or runner.reason != reason:
                continue  # stopped, paused or resumed by somebody else since
            if not self._may_resume():
                continue  # risk halted: the operator decides
            runner.resume()
            resumed.append(name)
        ours = self.ours(m.venue, m.symbol)
        log.warning("%s %s: venue and fills agree again (%s)", m.venue, m.symbol, ours)
        self._note_event(
            "position_guard",
            f"reconciled: {m.venue} {m.symbol} at {ours}"
            + (f"; resumed {', '.join(resumed)}" if resumed else ""),
        )


__all__ = ["Mismatch", "PositionGuard"]
