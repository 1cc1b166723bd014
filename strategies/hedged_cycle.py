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

import enum
import random
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from connectors.base import ZERO, Fill, Instrument, OrderStatus, OrderType, Side, TimeInForce
from strategies.backoff import RejectBackoff
from strategies.base import (
    OrderView,
    PlannedOrder,
    Strategy,
    StrategyContext,
    StrategyParams,
)
from strategies.external_book import external_bbo
from strategies.pairing import common_size, counterpart

OPEN, CLOSE, CLOSE_MKT = "open", "close", "close_mkt"
HEDGE, UNHEDGE, UNWIND, TRIM = "hedge", "unhedge", "unwind", "trim"
MAKER_TAGS = frozenset({OPEN, CLOSE, CLOSE_MKT})
MAX_BACKOFF_MS = 10_000
HEDGE_RETRY_DELAY_MS = 200

_RENAMED = {
    "backpack_fill_timeout": "backpack_fill_timeout is now maker_fill_timeout (seconds)",
    "lighter_fill_timeout": "lighter_fill_timeout is now hedge_fill_timeout (seconds)",
    "lighter_symbol": "lighter_symbol is now hedge_symbol (with hedge_venue)",
    "symbol": "symbol is set on the strategy entry (the maker market), not in params",
}


class HedgedCycleParams(StrategyParams):
    tick_interval_ms: int = Field(default=500, ge=10, description="state machine step, ms")
    hedge_venue: str | None = Field(
        default=None, description="venue of the hedge leg (required; not the maker venue)"
    )
    hedge_symbol: str | None = Field(
        default=None, description="hedge market; None = the market with the same base asset"
    )
    size: Decimal | None = Field(
        default=None, gt=0, description="base units per cycle; None = smallest common size"
    )
    direction: Literal["random", "long", "short"] = Field(
        default="random", description="maker leg direction each cycle"
    )
    seed: int = Field(default=1, description="seed of direction, hold and cool-down draws")
    hold_seconds_min: float = Field(default=600.0, ge=0, description="hold, s (random in range)")
    hold_seconds_max: float = Field(default=900.0, ge=0)
    cooldown_seconds_min: float = Field(default=0.0, ge=0, description="cool-down, s (random)")
    cooldown_seconds_max: float = Field(default=300.0, ge=0)
    maker_fill_timeout: float = Field(
        default=180.0, gt=0, description="s to open (or close) the maker leg, all attempts"
    )
    hedge_fill_timeout: float = Field(
        default=90.0, gt=0, description="s the legs may stay unmatched before the unwind"
    )
    reprice_after_seconds: float = Field(
        default=5.0, gt=0, description="life of one maker attempt before it is re-priced"
    )
    max_reprice_attempts: int = Field(
        default=1, ge=0, le=1000, description="re-prices after the first maker attempt"
    )
    hedge_retries: int = Field(
        default=1, ge=0, le=20, description="hedge orders retried before the unwind"
    )
    maker_post_only: bool = Field(default=True, description="maker limits are post-only")
    max_notional_per_cycle: Decimal = Field(
        default=Decimal(1000), gt=0, description="quote ccy; a bigger cycle is not started"
    )
    max_cycles: int = Field(default=0, ge=0, description="cycles to start; 0 = no limit")
    loss_cap: Decimal = Field(
        default=Decimal(50),
        gt=0,
        description="quote ccy; at this net loss the open cycle closes and no new one starts",
    )

    RENAMED: ClassVar[dict[str, str]] = _RENAMED

    @model_validator(mode="after")
    def _consistent(self) -> HedgedCycleParams:
        if self.hold_seconds_min > self.hold_seconds_max:
            raise ValueError(
                f"hold_seconds_min ({self.hold_seconds_min}) must not exceed "
                f"hold_seconds_max ({self.hold_seconds_max})"
            )
        if self.cooldown_seconds_min > self.cooldown_seconds_max:
            raise ValueError(
                f"cooldown_seconds_min ({self.cooldown_seconds_min}) must not exceed "
                f"cooldown_seconds_max ({self.cooldown_seconds_max})"
            )
        if self.reprice_after_seconds > self.maker_fill_timeout:
            raise ValueError(
                f"reprice_after_seconds ({self.reprice_after_seconds}) must not exceed "
                f"maker_fill_timeout ({self.maker_fill_timeout})"
            )
        return self


class Phase(enum.Enum):
    IDLE = "idle"
    OPENING = "opening maker"
    HEDGING = "hedging"
    HOLDING = "holding"
    CLOSING_MAKER = "closing maker"
    CLOSING_HEDGE = "closing hedge"
    UNWINDING = "unwinding"
    COOLDOWN = "cooldown"
    DONE = "done"


@dataclass(slots=True)
class CycleStart:
    """What the legs had done when a cycle began (to report the cycle alone)."""

    number: int
    started_ms: int
    volume: Decimal
    fees: Decimal
    pnl: Decimal


# -- pure helpers ---------------------------------------------------------------


def inside_far_touch(side: Side, bid: Decimal, ask: Decimal, tick: Decimal) -> Decimal:
    """One tick inside the far touch, never past the near one: a buy at
    ask - tick but at least the bid, a sell at bid + tick but at most the ask."""
    if side is Side.BUY:
        return max(bid, ask - tick)
    return min(ask, bid + tick)


def round_down(size: Decimal, inst: Instrument) -> Decimal:
    """``size`` rounded down to the market's step (never up: never over-hedge)."""
    steps = (size / inst.step_size).to_integral_value(ROUND_DOWN)
    return steps * inst.step_size


def resolve_hedge_market(
    ctx: StrategyContext, inst: Instrument, hedge_venue: str, hedge_symbol: str | None
) -> Instrument:
    """The configured hedge market, or the one on ``hedge_venue`` with the same assets."""
    return counterpart(ctx, inst, hedge_venue, hedge_symbol, "hedge_symbol")


class HedgedCycle(Strategy):
    kind = "hedged_cycle"
    title = "Hedged open/close cycle"
    Params = HedgedCycleParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p: HedgedCycleParams = self.params  # type: ignore[assignment]
        self.p = p
        if p.hedge_venue is None:
            raise ValueError(
                "hedged_cycle: params.hedge_venue is required (the venue of the hedge leg, "
                "another venue than the maker venue)"
            )
        if p.hedge_venue == venue:
            raise ValueError(
                f"hedged_cycle: params.hedge_venue ({p.hedge_venue!r}) must differ from the "
                f"maker venue ({venue!r})"
            )
        self.hedge_inst = resolve_hedge_market(ctx, self.inst, p.hedge_venue, p.hedge_symbol)
        self.hedge_venue = p.hedge_venue
        self.hedge_symbol = self.hedge_inst.symbol
        self.size = common_size(self.inst, self.hedge_inst, p.size)
        self.rng = random.Random(p.seed)

        self.phase = Phase.IDLE
        self.phase_since_ms = 0
        self.side: Side | None = None  # the maker leg's opening side this cycle
        self.target = ZERO  # maker size this cycle
        self.attempts = 0
        self.attempt_deadline_ms = 0
        self.maker_cancelled: set[str] = set()
        self.backoff = RejectBackoff(p.tick_interval_ms, max(MAX_BACKOFF_MS, p.tick_interval_ms))
        """Maker and unwind refusals back off (key ``maker``); hedges retry on their own
        schedule (``hedge_retries``, then the unwind)."""
        self.hedge_failures = 0
        self.hedge_retry_ms = 0
        self.unmatched_since_ms: int | None = None
        self.hold_until_ms = 0
        self.cooldown_until_ms = 0
        self.stop_reason = ""
        self.abort_reason = ""
        self.cycles_started = 0
        self.cycles_completed = 0
        self.cycles_aborted = 0
        self.unwinds = 0
        self.cycle: CycleStart | None = None
        self._in_step = False

    def markets(self) -> list[tuple[str, str]]:
        return [(self.venue, self.symbol), (self.hedge_venue, self.hedge_symbol)]

    # -- state reads ----------------------------------------------------------

    def maker_position(self) -> Decimal:
        return self.ctx.position(self.venue, self.symbol).size

    def hedge_position(self) -> Decimal:
        return self.ctx.position(self.hedge_venue, self.hedge_symbol).size

    def net_exposure(self) -> Decimal:
        """This strategy's net delta in the base asset across both venues."""
        return self.maker_position() + self.hedge_position()

    def matched(self, net: Decimal | None = None) -> bool:
        """Nothing tradeable is left between the legs (less than a step on either)."""
        net = self.net_exposure() if net is None else net
        return round_down(abs(net), self.inst) == 0 and round_down(abs(net), self.hedge_inst) == 0

    def _maker_orders(self) -> list[OrderView]:
        return self.ctx.orders(self.venue, self.symbol)

    def _hedge_orders(self) -> list[OrderView]:
        return self.ctx.orders(self.hedge_venue, self.hedge_symbol)

    def _mids(self) -> tuple[Decimal | None, Decimal | None]:
        out: list[Decimal | None] = []
        for venue, symbol in self.markets():
            book = self.ctx.book(venue, symbol)
            out.append(book.mid() if book is not None and book.is_valid() else None)
        return out[0], out[1]

    def pnl(self) -> Decimal:
        """Net PnL of both legs (realized + unrealized - fees), quote ccy."""
        mid, hmid = self._mids()
        maker = self.ctx.position(self.venue, self.symbol)
        hedge = self.ctx.position(self.hedge_venue, self.hedge_symbol)
        return maker.net_pnl(mid) + hedge.net_pnl(hmid if hmid is not None else mid)

    def _totals(self) -> tuple[Decimal, Decimal]:
        maker = self.ctx.position(self.venue, self.symbol)
        hedge = self.ctx.position(self.hedge_venue, self.hedge_symbol)
        return maker.volume + hedge.volume, maker.fees + hedge.fees

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

    # -- restart --------------------------------------------------------------

    def _rebuild(self, now: int) -> None:
        """Pick up from adopted orders and the rebuilt positions."""
        orders = self.ctx.orders()
        tel = self.ctx.telemetry
        tel.set("adopted", len(orders))
        m, h = self.maker_position(), self.hedge_position()
        maker = [o for o in orders if o.venue == self.venue and o.tag in MAKER_TAGS]
        if orders:
            tags = ", ".join(sorted(o.tag or "?" for o in orders))
            self.ctx.log.info(
                "rebuilding from %d live orders (%s), maker %s, hedge %s", len(orders), tags, m, h
            )
        for o in orders:  # anything but a maker limit is stale by now
            if o not in maker or o.tag == CLOSE_MKT:
                self.ctx.cancel(o.client_id)
        opening = next((o for o in maker if o.tag == OPEN), None)
        closing = next((o for o in maker if o.tag == CLOSE), None)
        if m == 0 and h == 0 and closing is None and opening is None:
            return
        self._begin_cycle(now, resumed=True)
        self.target = self.size
        if opening is not None:
            self.side = opening.side
            self.attempts = 1
            self.attempt_deadline_ms = now + int(self.p.reprice_after_seconds * 1000)
            self._enter(Phase.OPENING, now)
        elif closing is not None or m != 0:
            self.side = closing.side.opposite if closing is not None else Side.closing(-m)
            if closing is not None:
                self.attempts = 1
                self.attempt_deadline_ms = now + int(self.p.reprice_after_seconds * 1000)
                self._enter(Phase.CLOSING_MAKER, now)
            else:
                self._start_hold(now)
        else:
            self._enter(Phase.CLOSING_HEDGE, now)
        self.ctx.log.info("rebuilt: %s, side %s", self.phase.value, self.side)

    # -- the state machine ----------------------------------------------------

    def _enter(self, phase: Phase, now: int) -> None:
        if phase is not self.phase:
            self.ctx.log.debug("%s -> %s", self.phase.value, phase.value)
        self.phase = phase
        self.phase_since_ms = now

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

    def _place_maker(
        self, side: Side, size: Decimal, tag: str, now: int, reduce_only: bool
    ) -> None:
        bid, ask = self._touch()
        if bid is None or ask is None:
            return
        price = inside_far_touch(side, bid, ask, self.inst.tick_size)
        self.attempts += 1
        self.attempt_deadline_ms = now + int(self.p.reprice_after_seconds * 1000)
        if self.attempts > 1:
            self.ctx.telemetry.count("reprices")
        self.ctx.place(
            self.venue,
            self.symbol,
            side,
            size,
            price,
            post_only=self.p.maker_post_only,
            reduce_only=reduce_only,
            tag=tag,
        )

    def _touch(self) -> tuple[Decimal | None, Decimal | None]:
        """The maker market's best bid and ask without our own orders (a side with
        nothing else on it: the plain touch)."""
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            return None, None
        bid, ask = external_bbo(book, self.inst, self._maker_orders())
        return bid or book.best_bid(), ask or book.best_ask()

    def _cancel_maker(self, live: list[OrderView]) -> None:
        for o in live:
            if not o.cancel_requested and self.ctx.cancel(o.client_id):
                self.ctx.telemetry.count("cancels")

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
        tel = self.ctx.telemetry
        start = self.cycle
        volume, fees = self._totals()
        pnl = self.pnl()
        if start is not None:
            c_volume, c_fees, c_pnl = volume - start.volume, fees - start.fees, pnl - start.pnl
            secs = (now - start.started_ms) / 1000
        else:
            c_volume = c_fees = c_pnl = ZERO
            secs = 0.0
        ok = not self.abort_reason
        if ok:
            self.cycles_completed += 1
        else:
            self.cycles_aborted += 1
            tel.set("last_abort", self.abort_reason)
        tel.set("last_cycle_volume", c_volume)
        tel.set("last_cycle_fees", c_fees)
        tel.set("last_cycle_pnl", c_pnl)
        tel.set("last_cycle_cost", -c_pnl)
        tel.set("last_cycle_seconds", round(secs, 1))
        tel.sample("cycle_pnl", now, c_pnl)
        tel.sample("cycle_volume", now, c_volume)
        self.ctx.log.info(
            "cycle %d %s in %.1f s: volume %s, fees %s, pnl %s",
            start.number if start is not None else self.cycles_started,
            "done" if ok else f"abandoned ({self.abort_reason})",
            secs,
            c_volume,
            c_fees,
            c_pnl,
        )
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

    # -- the hedge follower ---------------------------------------------------

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

    def _place_market(
        self, venue: str, symbol: str, side: Side, size: Decimal, tag: str, reduce_only: bool
    ) -> None:
        self.ctx.place(
            venue,
            symbol,
            side,
            size,
            None,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
            reduce_only=reduce_only,
            tag=tag,
        )

    # -- telemetry and preview ------------------------------------------------

    def _publish(self, now: int) -> None:
        tel = self.ctx.telemetry
        m, h = self.maker_position(), self.hedge_position()
        net = m + h
        mid, hmid = self._mids()
        volume, fees = self._totals()
        state = self.phase.value
        if self.phase is Phase.DONE and self.stop_reason:
            state = f"done: {self.stop_reason}"
        elif self.phase is Phase.HOLDING:
            state = f"holding ({max(0, self.hold_until_ms - now) / 1000:.0f} s left)"
        elif self.phase is Phase.COOLDOWN:
            state = f"cooldown ({max(0, self.cooldown_until_ms - now) / 1000:.0f} s left)"
        if not self.ctx.running:
            state = f"paused ({state})"
        tel.set("state", state)
        tel.set("phase", self.phase.value)
        tel.set("base", self.inst.base)
        tel.set("hedge_market", f"{self.hedge_venue}/{self.hedge_symbol}")
        tel.set("size", self.size)
        tel.set("direction", self.side.value if self.side is not None else "-")
        tel.set("maker_position", m)
        tel.set("hedge_position", h)
        tel.sample("net_exposure", now, net)
        tel.set(f"net_exposure_{self.inst.base.upper()}", net)
        tel.set(
            "account_net_exposure",
            self.ctx.account_position(self.venue, self.symbol)
            + self.ctx.account_position(self.hedge_venue, self.hedge_symbol),
        )
        tel.set("one_sided", not self.matched(net))
        tel.set("cycles_started", self.cycles_started)
        tel.set("cycles_completed", self.cycles_completed)
        tel.set("cycles_aborted", self.cycles_aborted)
        tel.set("volume", volume)
        tel.set("fees", fees)
        pnl = self.pnl()
        tel.sample("pnl", now, pnl)
        tel.set("cost", -pnl)
        done = self.cycles_completed
        tel.set("cost_per_cycle", (-pnl / done).quantize(Decimal("0.0001")) if done else None)
        tel.set("volume_per_cycle", (volume / done).quantize(Decimal("0.01")) if done else None)
        if mid is not None:
            tel.sample("mid", now, mid)
            if hmid is not None:
                tel.set("basis_bps", round(float((hmid - mid) / mid * 10_000), 2))

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
