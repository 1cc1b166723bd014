"""The hedged cycle's state machine, phase by phase (see ``strategies.hedged_cycle``)::

    idle -> opening maker -> hedging -> holding -> closing maker -> closing hedge -> cooldown

The hedge follower and the unwinding phase are in ``strategies.hedged_cycle_hedge``.
"""

from __future__ import annotations

from connectors.base import Side
from strategies.hedged_cycle_legs import CLOSE, CLOSE_MKT, MAKER_TAGS, OPEN, CycleStart, Phase
from strategies.hedged_cycle_telemetry import CycleTelemetry


class CyclePhases(CycleTelemetry):
    """One handler a phase (``_on_<phase>``), run by ``HedgedCycle._step``."""

    def _enter(self, phase: Phase, now: int) -> None:
        if phase is not self.phase:
            self.ctx.log.debug("%s -> %s", self.phase.value, phase.value)
        self.phase = phase
        self.phase_since_ms = now

    # idle -> opening

    def _on_idle(self, now: int) -> None:
        p = self.p
        if p.max_cycles and self.cycles_started >= p.max_cycles:
            self._finish(now, f"max_cycles reached ({p.max_cycles})")
            return
        if self._loss_capped():
            self._finish(now, f"loss cap {p.loss_cap} reached")
            return
        if not (self.matched() and self.maker_position() == 0 and self.hedge_position() == 0):
            # a position without a cycle (an operator's order, a restart): close it first
            self._begin_cycle(now, resumed=True)
            self.target = abs(self.maker_position())
            self.side = Side.closing(-self.maker_position()) if self.maker_position() else None
            self._enter(Phase.CLOSING_MAKER, now)
            return
        book = self.ctx.book(self.venue, self.symbol)
        hbook = self.ctx.book(self.hedge_venue, self.hedge_symbol)
        if book is None or not book.is_valid() or hbook is None or not hbook.is_valid():
            self.ctx.telemetry.set("blocked", "waiting for both books")
            return
        mid = book.mid()
        if mid is None:
            return
        notional = self.size * mid
        if notional > p.max_notional_per_cycle:
            self.ctx.telemetry.set(
                "blocked", f"cycle notional {notional:.2f} > max {p.max_notional_per_cycle}"
            )
            return
        self.ctx.telemetry.set("blocked", "")
        self.side = self._draw_side()
        self.target = self.size
        self.attempts = 0
        self._begin_cycle(now)
        self._enter(Phase.OPENING, now)
        self.ctx.log.info(
            "cycle %d: %s %s %s on %s, hedge on %s/%s",
            self.cycles_started,
            self.side.value,
            self.size,
            self.symbol,
            self.venue,
            self.hedge_venue,
            self.hedge_symbol,
        )
        self._on_opening(now)

    def _draw_side(self) -> Side:
        if self.p.direction == "long":
            return Side.BUY
        if self.p.direction == "short":
            return Side.SELL
        return Side.BUY if self.rng.random() < 0.5 else Side.SELL

    def _begin_cycle(self, now: int, resumed: bool = False) -> None:
        volume, fees = self._totals()
        if not resumed or self.cycle is None:
            self.cycles_started += 1
        self.cycle = CycleStart(self.cycles_started, now, volume, fees, self.pnl())
        self.abort_reason = ""
        self.hedge_failures = 0
        self.ctx.telemetry.set("cycle", self.cycles_started)

    # opening

    def _on_opening(self, now: int) -> None:
        assert self.side is not None
        p = self.p
        filled = abs(self.maker_position())
        remaining = self.target - filled
        live = [o for o in self._maker_orders() if o.tag == OPEN]
        timed_out = now - self.phase_since_ms >= p.maker_fill_timeout * 1000
        if live:
            if now >= self.attempt_deadline_ms or timed_out or self._loss_capped():
                self._cancel_maker(live)
            return
        exhausted = self.attempts >= 1 + p.max_reprice_attempts
        if remaining < self.inst.min_size or timed_out or exhausted or self._loss_capped():
            if filled == 0:
                self._abort(now, "maker leg not filled")
            else:
                if remaining > 0:
                    self.ctx.telemetry.count("partial_opens")
                self._enter(Phase.HEDGING, now)
                self._on_hedging(now)
            return
        if not self.backoff.ready("maker", now):
            return
        self._place_maker(self.side, remaining, OPEN, now, reduce_only=False)

    # hedging -> holding

    def _on_hedging(self, now: int) -> None:
        if self.matched() and not self._hedge_orders():
            if self.maker_position() == 0:
                self._end_cycle(now)  # e.g. a maker dust trim took it all back
            else:
                self._start_hold(now)

    def _start_hold(self, now: int) -> None:
        hold = self.rng.uniform(self.p.hold_seconds_min, self.p.hold_seconds_max)
        self.hold_until_ms = now + int(hold * 1000)
        self._enter(Phase.HOLDING, now)
        self.ctx.log.info(
            "cycle %d hedged (maker %s, hedge %s): holding %.1f s",
            self.cycles_started,
            self.maker_position(),
            self.hedge_position(),
            hold,
        )

    # holding -> closing

    def _on_holding(self, now: int) -> None:
        if self.maker_position() == 0 and self.hedge_position() == 0:
            self._abort(now, "both legs closed outside the cycle (flatten)")
            return
        if now >= self.hold_until_ms or self._loss_capped():
            self.attempts = 0
            self._enter(Phase.CLOSING_MAKER, now)
            self._on_closing_maker(now)

    def _on_closing_maker(self, now: int) -> None:
        p = self.p
        m = self.maker_position()
        live = [o for o in self._maker_orders() if o.tag in MAKER_TAGS]
        if m == 0:
            if live:
                self._cancel_maker(live)
                return
            self._enter(Phase.CLOSING_HEDGE, now)
            self._on_closing_hedge(now)
            return
        timed_out = now - self.phase_since_ms >= p.maker_fill_timeout * 1000
        if live:
            if any(o.tag == CLOSE for o in live) and (now >= self.attempt_deadline_ms or timed_out):
                self._cancel_maker(live)
            return
        if not self.backoff.ready("maker", now):
            return
        side = Side.closing(m)
        if timed_out or self.attempts >= 1 + p.max_reprice_attempts:
            # never leave a reduce-only close resting: take the rest
            self.ctx.telemetry.count("market_closes")
            self._place_market(self.venue, self.symbol, side, abs(m), CLOSE_MKT, reduce_only=True)
            return
        self._place_maker(side, abs(m), CLOSE, now, reduce_only=True)

    def _on_closing_hedge(self, now: int) -> None:
        if self.hedge_position() == 0 and self.maker_position() == 0 and not self.ctx.orders():
            self._end_cycle(now)

    # cooldown -> idle

    def _on_cooldown(self, now: int) -> None:
        if now >= self.cooldown_until_ms:
            self._enter(Phase.IDLE, now)
            self._on_idle(now)

    def _on_done(self, now: int) -> None:
        if not self.matched() or self.maker_position() != 0 or self.hedge_position() != 0:
            self._begin_cycle(now, resumed=True)
            self.attempts = 0
            self._enter(Phase.CLOSING_MAKER, now)  # something reopened (a restart): close it

    def _abort(self, now: int, reason: str) -> None:
        self.abort_reason = reason
        self.ctx.log.info("cycle %d abandoned: %s", self.cycles_started, reason)
        self._end_cycle(now)

    def _end_cycle(self, now: int) -> None:
        self._report_cycle(now)
        self.cycle = None
        self.side = None
        self.attempts = 0
        wait = self.rng.uniform(self.p.cooldown_seconds_min, self.p.cooldown_seconds_max)
        self.cooldown_until_ms = now + int(wait * 1000)
        self._enter(Phase.COOLDOWN, now)

    def _finish(self, now: int, reason: str) -> None:
        if self.stop_reason != reason:
            self.ctx.log.info("no new cycles: %s", reason)
        self.stop_reason = reason
        self._enter(Phase.DONE, now)

    def _loss_capped(self) -> bool:
        return self.pnl() <= -self.p.loss_cap
