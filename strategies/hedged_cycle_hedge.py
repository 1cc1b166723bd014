"""The hedged cycle's legs kept matched: the hedge follower, in every phase, sends the
hedge order that matches the legs; a hedge that cannot be done (``hedge_retries``
failures, or ``hedge_fill_timeout``) unwinds the larger leg down to the smaller one,
so the strategy never keeps a one-sided position."""

from __future__ import annotations

from connectors.base import Side
from strategies.hedged_cycle_legs import (
    CLOSE,
    HEDGE,
    OPEN,
    TRIM,
    UNHEDGE,
    UNWIND,
    Phase,
    round_down,
)
from strategies.hedged_cycle_phases import CyclePhases


class HedgeFollower(CyclePhases):
    """The phases, and the follower that keeps the legs matched in every one."""

    def _follow_hedge(self, now: int) -> None:
        """Keep the hedge leg matched to the maker leg (its negative)."""
        m, h = self.maker_position(), self.hedge_position()
        net = m + h
        if self.matched(net):
            self.unmatched_since_ms = None
            return
        if self.unmatched_since_ms is None:
            self.unmatched_since_ms = now
        if self.phase is Phase.UNWINDING or self._hedge_orders():
            return
        p = self.p
        late = now - self.unmatched_since_ms >= p.hedge_fill_timeout * 1000
        if self.hedge_failures > p.hedge_retries or late:
            why = "hedge timed out" if late else f"hedge failed {self.hedge_failures} times"
            self._start_unwind(now, why)
            return
        if now < self.hedge_retry_ms:
            return
        side = Side.SELL if net > 0 else Side.BUY
        reduce = h != 0 and Side.closing(h) is side
        size = round_down(abs(net), self.hedge_inst)
        if reduce:
            size = min(size, abs(h)) or min(abs(net), abs(h))  # dust may close a hedge
            self._place_market(
                self.hedge_venue, self.hedge_symbol, side, size, UNHEDGE, reduce_only=True
            )
            return
        if size >= self.hedge_inst.min_size:
            self._place_market(
                self.hedge_venue, self.hedge_symbol, side, size, HEDGE, reduce_only=False
            )
            return
        # below what the hedge venue accepts: once the maker leg is done moving,
        # take the dust back on the maker venue instead
        if m != 0 and (net > 0) == (m > 0) and not self._maker_orders():
            dust = min(abs(net), abs(m))
            self.ctx.telemetry.count("trims")
            self._place_market(self.venue, self.symbol, Side.closing(m), dust, TRIM, True)

    # unwinding (a hedge that cannot be done)

    def _start_unwind(self, now: int, reason: str) -> None:
        self.unwinds += 1
        self.abort_reason = reason
        self.ctx.telemetry.count("unwinds")
        self.ctx.log.warning(
            "cycle %d: %s; unwinding (maker %s, hedge %s)",
            self.cycles_started,
            reason,
            self.maker_position(),
            self.hedge_position(),
        )
        self._cancel_maker([o for o in self._maker_orders() if o.tag in (OPEN, CLOSE)])
        self._enter(Phase.UNWINDING, now)

    def _on_unwinding(self, now: int) -> None:
        live = self.ctx.orders()
        if live:
            self._cancel_maker([o for o in live if o.tag in (OPEN, CLOSE)])
            return
        m, h = self.maker_position(), self.hedge_position()
        net = m + h
        if self.matched(net):
            self.unmatched_since_ms = None
            self.hedge_failures = 0
            if m == 0 and h == 0:
                self._end_cycle(now)
            else:
                self.attempts = 0
                self._enter(Phase.CLOSING_MAKER, now)  # matched again: close both normally
            return
        if not self.backoff.ready("maker", now):
            return
        # the leg on the side of the excess comes down to the other one
        if m != 0 and (net > 0) == (m > 0):
            venue, symbol, inst, leg = self.venue, self.symbol, self.inst, m
        else:
            venue, symbol, inst, leg = self.hedge_venue, self.hedge_symbol, self.hedge_inst, h
        size = min(abs(net), abs(leg))
        size = round_down(size, inst) or size
        if leg == 0 or size <= 0:
            return
        self._place_market(venue, symbol, Side.closing(leg), size, UNWIND, reduce_only=True)
