"""The hedged cycle's two legs: the maker market and the hedge market, the cycle's
state, what it reads off the legs (positions, PnL, volume) and the orders it sends
on them (the maker limit one tick inside the far touch, the market IOC). The order
tags are named here; ``strategies.hedged_cycle`` says what each one is for.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from decimal import Decimal

from connectors.base import ZERO, Instrument, Side
from strategies.backoff import RejectBackoff
from strategies.base import OrderView, Strategy, StrategyContext, StrategyParams
from strategies.hedged_cycle_params import HedgedCycleParams
from strategies.leg_execution import touch_price
from strategies.order_forms import place_market_ioc
from strategies.pairing import common_size, counterpart, market_mid

OPEN, CLOSE, CLOSE_MKT = "open", "close", "close_mkt"
HEDGE, UNHEDGE, UNWIND, TRIM = "hedge", "unhedge", "unwind", "trim"
MAKER_TAGS = frozenset({OPEN, CLOSE, CLOSE_MKT})
MAX_BACKOFF_MS = 10_000
HEDGE_RETRY_DELAY_MS = 200


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
    return inst.round_size(size)


def resolve_hedge_market(
    ctx: StrategyContext, inst: Instrument, hedge_venue: str, hedge_symbol: str | None
) -> Instrument:
    """The configured hedge market, or the one on ``hedge_venue`` with the same assets."""
    return counterpart(ctx, inst, hedge_venue, hedge_symbol, "hedge_symbol")


class CycleLegs(Strategy):
    """The state of a hedged cycle and its two legs (``HedgedCycle`` builds on it)."""

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
        mid = market_mid(self.ctx, self.venue, self.symbol)
        return mid, market_mid(self.ctx, self.hedge_venue, self.hedge_symbol)

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

    # -- orders on the legs ---------------------------------------------------

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
        mine = self._maker_orders()
        return (
            touch_price(book, Side.BUY, False, self.inst, mine),
            touch_price(book, Side.SELL, False, self.inst, mine),
        )

    def _cancel_maker(self, live: list[OrderView]) -> None:
        for o in live:
            if not o.cancel_requested and self.ctx.cancel(o.client_id):
                self.ctx.telemetry.count("cancels")

    def _place_market(
        self, venue: str, symbol: str, side: Side, size: Decimal, tag: str, reduce_only: bool
    ) -> None:
        place_market_ioc(self.ctx, venue, symbol, side, size, tag, reduce_only=reduce_only)
