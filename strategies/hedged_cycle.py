"""Hedged open/close cycle: offsetting positions on two venues, opened with a
maker order on one and hedged on the other only after a confirmed fill, held,
closed, cooled down; over and over.

One cycle::

    idle -> opening maker -> hedging -> holding -> closing maker -> closing hedge -> cooldown

- **idle**: checks the limits (``max_cycles``, ``loss_cap``,
  ``max_notional_per_cycle``) and picks a direction (seeded random, or fixed).
- **opening maker**: a limit order on the maker venue (the strategy's
  ``venue``/``symbol``) one tick inside the far touch (a buy at ask - 1 tick,
  never below the bid; a sell at bid + 1 tick, never above the ask). An
  attempt lives ``reprice_after_seconds``; then it is cancelled and re-priced
  for what is still unfilled, at most ``max_reprice_attempts`` times and
  within ``maker_fill_timeout``. Nothing filled by then: the cycle is
  abandoned (nothing to undo). Partly filled: the cycle goes on with that size.
- **hedging**: every confirmed maker fill (a fill event, never an accepted
  submit) is matched at once on the hedge venue with an immediate-or-cancel
  market order of the opposite side, rounded to the hedge venue's step. A
  hedge that is rejected or does not fill is retried ``hedge_retries`` times;
  if the legs are still unmatched after that, or after ``hedge_fill_timeout``,
  the maker leg is **unwound** (reduce-only market) down to what is hedged:
  the strategy never keeps a one-sided position.
- **holding**: a seeded random time in [``hold_seconds_min``, ``hold_seconds_max``].
- **closing maker**: a reduce-only limit inside the far touch, re-priced the
  same way; after ``maker_fill_timeout`` (or the last re-price) the rest is
  closed with a reduce-only market order, so no close is ever left resting.
  Each close fill is matched at once by a reduce-only buy-back of the hedge.
- **closing hedge**: waits until the hedge is flat too.
- **cooldown**: a seeded random time in [``cooldown_seconds_min``,
  ``cooldown_seconds_max``]; then the cycle's volume, fees and PnL ("cost")
  are published.

The hedge follower works in every phase: whenever the two legs (this
strategy's own positions, built from its fills) are unmatched and no hedge
order is live, it sends the hedge order that matches them. A restarted
strategy (or one resumed after a pause or an operator's flatten) therefore
picks up from its positions and its adopted orders.

Sizes are base units on both venues: the cycle size is the smallest size at or
above ``size`` that both venues' step grids and minimums accept
(``strategies.pairing.common_size``).

Tags: ``open`` / ``close`` (maker limits), ``close_mkt`` (maker close
fallback), ``hedge`` (hedge venue, increasing the hedge), ``unhedge`` (hedge
venue, reduce-only), ``unwind`` (reduce-only, either venue: the larger leg
down to the smaller one), ``trim`` (maker dust below the hedge venue's minimum).
"""

from __future__ import annotations

import random

from connectors.base import Fill, OrderStatus, Side
from strategies.base import OrderView, PlannedOrder
from strategies.hedged_cycle_hedge import HedgeFollower
from strategies.hedged_cycle_legs import (
    HEDGE,
    HEDGE_RETRY_DELAY_MS,
    UNHEDGE,
    CycleStart,
    Phase,
    inside_far_touch,
    resolve_hedge_market,
    round_down,
)
from strategies.hedged_cycle_params import HedgedCycleParams
from strategies.hedged_cycle_restart import CycleRestart

__all__ = [
    "CycleStart",
    "HedgedCycle",
    "HedgedCycleParams",
    "Phase",
    "inside_far_touch",
    "resolve_hedge_market",
    "round_down",
]


class HedgedCycle(HedgeFollower, CycleRestart):
    kind = "hedged_cycle"
    title = "Hedged open/close cycle"
    Params = HedgedCycleParams

    # -- callbacks ------------------------------------------------------------

    def on_start(self) -> None:
        now = self.ctx.now_ms()
        self._rebuild(now)
        self._step(now)

    def on_resume(self) -> None:
        self.hedge_failures = 0
        self.hedge_retry_ms = 0
        self.backoff.reset()
        now = self.ctx.now_ms()
        if self.unmatched_since_ms is not None:
            self.unmatched_since_ms = now  # the pause is not the hedge's fault
        if self.phase in (Phase.OPENING, Phase.CLOSING_MAKER):
            self.attempt_deadline_ms = now  # pause cancelled the maker order: re-price now
        self._step(now)

    def on_pause(self) -> None:
        self.ctx.telemetry.set("state", f"paused ({self.phase.value})")

    def on_stop(self) -> None:
        self.ctx.telemetry.set("state", f"stopped ({self.phase.value})")

    def on_tick(self, now_ms: int) -> None:
        self._step(now_ms)

    def on_order(self, order: OrderView) -> None:
        if not order.status.is_terminal:
            return
        tel = self.ctx.telemetry
        if order.status is OrderStatus.REJECTED:
            tel.count("rejects")
            tel.set("last_reject", f"{order.tag}: {order.reason}")
            self.ctx.log.info("%s order %s rejected: %s", order.tag, order.client_id, order.reason)
        if order.tag in (HEDGE, UNHEDGE):
            if order.filled > 0:
                self.hedge_failures = 0
            else:
                self.hedge_failures += 1
                tel.count("hedge_failures")
                delay = HEDGE_RETRY_DELAY_MS * self.hedge_failures
                self.hedge_retry_ms = self.ctx.now_ms() + delay
        elif order.status is OrderStatus.REJECTED:
            self.backoff.rejected("maker", self.ctx.now_ms(), order.client_id)
        elif order.filled > 0:
            self.backoff.accepted("maker")
        self._react()

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        self.ctx.telemetry.count(f"fills_{'maker' if fill.venue == self.venue else 'hedge'}")
        self._react()

    def _react(self) -> None:
        """Act on an event at once (a fill is hedged without waiting for a tick);
        never re-entrantly from inside our own ``place``."""
        if not self._in_step:
            self._step(self.ctx.now_ms())

    # -- the state machine's step --------------------------------------------

    def _step(self, now: int) -> None:
        if self._in_step:
            return
        self._in_step = True
        try:
            if self.ctx.running:
                self._follow_hedge(now)
                handler = getattr(self, f"_on_{self.phase.name.lower()}")
                handler(now)
                if self.ctx.running and not self.matched() and self.phase is not Phase.UNWINDING:
                    self._follow_hedge(now)  # a phase change may allow the hedge now
        finally:
            self._in_step = False
        self._publish(now)

    # -- preview --------------------------------------------------------------

    def preview(self) -> list[PlannedOrder]:
        """The first cycle's orders: the maker open and, after its fill, the hedge."""
        bid, ask = self._touch()
        if bid is None or ask is None:
            return []
        if self.p.direction == "random":
            peek = random.Random()
            peek.setstate(self.rng.getstate())
            side = Side.BUY if peek.random() < 0.5 else Side.SELL
            why = "random (seeded) direction"
        else:
            side = Side.BUY if self.p.direction == "long" else Side.SELL
            why = f"{self.p.direction} every cycle"
        price = inside_far_touch(side, bid, ask, self.inst.tick_size)
        p = self.p
        return [
            PlannedOrder(
                self.venue,
                self.symbol,
                side,
                price,
                self.size,
                post_only=p.maker_post_only,
                note=f"open maker leg, {why}; re-priced every {p.reprice_after_seconds} s",
            ),
            PlannedOrder(
                self.hedge_venue,
                self.hedge_symbol,
                side.opposite,
                None,
                self.size,
                note="market hedge, only after each confirmed maker fill",
            ),
            PlannedOrder(
                self.venue,
                self.symbol,
                side.opposite,
                None,
                self.size,
                reduce_only=True,
                note=f"close after {p.hold_seconds_min}-{p.hold_seconds_max} s hold, "
                "then the hedge buy-back",
            ),
        ]
