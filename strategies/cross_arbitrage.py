"""Cross-venue arbitrage: buy where it is cheap, sell where it is rich.

Two markets of one base asset: leg A is the strategy's own ``venue``/``symbol``,
leg B is ``other_venue``/``other_symbol`` (found by pairing on the base asset
when not given). All prices are each venue's own ``Decimal`` prices; sizes are
base units on a grid both venues accept (``pairing.common_size``).

Entry. For each direction the strategy prices its size through the books (the
worst price a sweep of ``size`` reaches in the top levels, so thin books count):

    gross = sell_price(rich venue, bids) / buy_price(cheap venue, asks) - 1
    net   = gross - 2 * (taker_fee_A + taker_fee_B) - expected_funding_pct / 100

(entry and exit, both venues, all taker). It enters when ``net`` reaches
``entry_threshold_pct`` %: it **buys the cheap venue and sells the rich one**.
The first leg runs on venue A as a tracking limit; the second (the hedge) is
sized from A's *confirmed* fills and runs on B as a crossing tracking limit
with market fallback. If the hedge fails, whatever was filled on either venue
is unwound and a delta failure is counted.

Exit. ``cur`` is the same gross edge in the entry direction now (rich bid over
cheap ask). Take profit when ``cur <= (1 - tp_ratio) * entry``, stop when
``cur >= (1 + sl_ratio) * entry``, time stop after ``max_hold_secs``, and close
before a maintenance window. Both legs close at once with crossing tracking
limits that always fall back to market; a pair is removed only when both
closes are confirmed filled (a failed close is retried, never dropped).

Delta guard. A pair whose legs differ by more than ``delta_tolerance`` of its
size is unwound and counts a failure; so does a drift between the pairs' books
and this strategy's positions (then the pairs are rebuilt from the positions).
At ``max_delta_failures`` in a row it closes every pair and suspends entries
until the operator pauses and resumes it. A clean entry resets the count.

Tags: ``p<n>:open`` / ``p<n>:hedge`` / ``p<n>:close`` / ``p<n>:fix``. On restart
the tracking orders of the earlier run are cancelled (a tracking limit is not
worth keeping without its timers) and, once they are confirmed gone, the
pairs are rebuilt from the strategy's journaled positions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from connectors.base import Fill, Instrument, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import (
    OrderView,
    PlannedOrder,
    Strategy,
    StrategyContext,
    StrategyParams,
)
from strategies.leg_execution import LegConfig, LegStatus, TrackingLeg
from strategies.pairing import common_size, counterpart

ZERO = Decimal(0)
HUNDRED = Decimal(100)
SWEEP_DEPTH = 20
CLOSE_RETRY_MS = 1_000

_RENAMED = {
    "poll_interval_ms": "poll_interval_ms is now tick_interval_ms",
    "debug_run_once": "debug_run_once is now max_round_trips (1 = stop entering after one)",
    "lighter_market_execution": "lighter_market_execution is gone: the first leg is a tracking "
    "limit (passive_first_leg: true joins the touch, false crosses it)",
    "symbol_filters": "symbol_filters is gone: one strategy trades one market pair "
    "(venue/symbol and other_venue/other_symbol)",
    "latency_circuit_ms": "latency_circuit_ms is gone: the core's stale-book guard "
    "(risk.stale_book_ms) stops orders on a stale feed",
}


class CrossArbitrageParams(StrategyParams):
    tick_interval_ms: int = Field(default=250, ge=10, description="decision cycle, ms")
    other_venue: str | None = Field(
        default=None, description="venue of leg B (required; leg A is the strategy's venue)"
    )
    other_symbol: str | None = Field(
        default=None, description="symbol of leg B; None = same base asset, found by pairing"
    )
    entry_threshold_pct: Decimal = Field(
        default=Decimal("0.20"), gt=0, le=50, description="minimum edge after fees, %"
    )
    size: Decimal | None = Field(
        default=None, gt=0, description="pair size, base units; None = smallest common size"
    )
    max_concurrent_positions: int = Field(default=3, ge=1, le=50, description="open pairs")
    cooldown_secs: float = Field(
        default=3.0, ge=0, description="minimum time between entries, and after an exit"
    )
    tp_ratio: Decimal = Field(
        default=Decimal(1), gt=0, le=2, description="exit when edge <= (1 - tp_ratio) x entry"
    )
    sl_ratio: Decimal = Field(
        default=Decimal(1), gt=0, description="stop when edge >= (1 + sl_ratio) x entry"
    )
    max_hold_secs: float | None = Field(
        default=600.0, gt=0, description="time stop; None = no time stop"
    )
    maintenance_hour_utc: int | None = Field(
        default=None, ge=0, le=23, description="no entries in this UTC hour; None = off"
    )
    maintenance_local_hour: int | None = Field(
        default=None, ge=0, le=23, description="no entries in this local hour; None = off"
    )
    pre_maint_close_minutes: int = Field(
        default=10, ge=0, le=59, description="close pairs this many minutes before maintenance"
    )
    delta_tolerance: Decimal = Field(
        default=Decimal("0.01"), ge=0, lt=1, description="allowed leg mismatch, fraction of size"
    )
    max_delta_failures: int = Field(
        default=3, ge=1, le=100, description="delta failures in a row before suspending"
    )
    tracking_wait_secs: float = Field(
        default=10.0, gt=0, le=3600, description="one tracking-limit attempt, s"
    )
    tracking_max_retries: int = Field(
        default=3, ge=1, le=20, description="tracking-limit attempts per leg"
    )
    allow_market_fallback: bool = Field(
        default=True, description="entry legs: market IOC for the rest after the attempts"
    )
    passive_first_leg: bool = Field(
        default=False, description="first leg joins its own touch (maker) instead of crossing"
    )
    requote_ticks: int = Field(
        default=0, ge=0, le=10_000, description="follow the touch when it moves more than this"
    )
    expected_funding_pct: Decimal = Field(
        default=ZERO, ge=-10, le=10, description="expected funding cost over a hold, %"
    )
    max_round_trips: int | None = Field(
        default=None, ge=1, description="stop entering after this many closed pairs; None = no"
    )

    RENAMED: ClassVar[dict[str, str]] = _RENAMED

    @model_validator(mode="after")
    def _consistent(self) -> CrossArbitrageParams:
        if self.other_venue is not None and not self.other_venue.strip():
            raise ValueError("other_venue must name a configured venue")
        if self.max_hold_secs is not None and self.max_hold_secs * 1000 < self.tick_interval_ms:
            raise ValueError(
                f"max_hold_secs ({self.max_hold_secs}) is shorter than one tick "
                f"({self.tick_interval_ms} ms)"
            )
        return self


# -- pure helpers ----------------------------------------------------------------


def sweep_price(levels: list[tuple[Decimal, Decimal]], size: Decimal) -> Decimal | None:
    """The worst price a sweep of ``size`` reaches through ``levels`` (best first);
    None if the levels do not hold that much."""
    left = size
    for price, qty in levels:
        left -= qty
        if left <= 0:
            return price
    return None


def gross_edge(buy_price: Decimal, sell_price: Decimal) -> Decimal:
    """Relative edge of buying at ``buy_price`` and selling at ``sell_price``."""
    return sell_price / buy_price - 1


def round_trip_fees(a: Instrument, b: Instrument) -> Decimal:
    """Taker fees of entering and exiting on both venues, as a fraction of notional."""
    return 2 * (a.taker_fee + b.taker_fee)


@dataclass(frozen=True, slots=True)
class Opportunity:
    buy: Instrument  # the cheap market: we buy here
    sell: Instrument  # the rich market: we sell here
    buy_price: Decimal
    sell_price: Decimal
    gross: Decimal
    net: Decimal


def best_opportunity(
    a: Instrument,
    book_a: OrderBook,
    b: Instrument,
    book_b: OrderBook,
    size: Decimal,
    cost: Decimal,
) -> Opportunity | None:
    """The better direction for ``size`` on these books (None if a book is too thin)."""
    best: Opportunity | None = None
    for buy, bbook, sell, sbook in ((a, book_a, b, book_b), (b, book_b, a, book_a)):
        ask = sweep_price(bbook.asks(SWEEP_DEPTH), size)
        bid = sweep_price(sbook.bids(SWEEP_DEPTH), size)
        if ask is None or bid is None or ask <= 0:
            continue
        gross = gross_edge(ask, bid)
        opp = Opportunity(buy, sell, ask, bid, gross, gross - cost)
        if best is None or opp.net > best.net:
            best = opp
    return best


def in_window(now_ms: int, hour: int, local: bool, before_minutes: int) -> tuple[bool, bool]:
    """(inside the maintenance hour, inside the ``before_minutes`` just before it)."""
    t = time.localtime(now_ms / 1000) if local else time.gmtime(now_ms / 1000)
    inside = t.tm_hour == hour
    before = before_minutes > 0 and (t.tm_hour + 1) % 24 == hour and t.tm_min >= 60 - before_minutes
    return inside, before


# -- pairs ----------------------------------------------------------------------

Role = Literal["open", "hedge", "close", "fix"]


@dataclass(slots=True)
class LegRef:
    role: Role
    long_side: bool  # on the market we bought (True) or the one we sold (False)
    leg: TrackingLeg

    @property
    def opening(self) -> bool:
        return self.role in ("open", "hedge")


@dataclass(slots=True)
class Pair:
    id: int
    buy: Instrument
    sell: Instrument
    size: Decimal
    entry_gross: Decimal
    opened_ms: int
    state: str = "entering"  # entering | open | closing | closed
    exit_reason: str = ""
    legs: list[LegRef] = field(default_factory=list)
    close_retry_ms: int = 0
    close_failures: int = 0

    def held(self, long_side: bool) -> Decimal:
        """Base held on one side (positive): opened minus closed, confirmed fills only."""
        total = ZERO
        for ref in self.legs:
            if ref.long_side is long_side:
                total += ref.leg.filled if ref.opening else -ref.leg.filled
        return total

    def working(self) -> list[TrackingLeg]:
        return [r.leg for r in self.legs if not r.leg.finished]

    def signed(self, venue: str, symbol: str) -> Decimal:
        """This pair's signed position on one market."""
        out = ZERO
        if (self.buy.venue, self.buy.symbol) == (venue, symbol):
            out += self.held(True)
        if (self.sell.venue, self.sell.symbol) == (venue, symbol):
            out -= self.held(False)
        return out

    def entry_edge(self) -> Decimal | None:
        """The edge actually captured by the opening fills."""
        buys = [r.leg for r in self.legs if r.opening and r.long_side and r.leg.filled]
        sells = [r.leg for r in self.legs if r.opening and not r.long_side and r.leg.filled]
        if not buys or not sells:
            return None
        bq = sum((x.filled for x in buys), ZERO)
        sq = sum((x.filled for x in sells), ZERO)
        bp = sum((x.cost for x in buys), ZERO) / bq
        sp = sum((x.cost for x in sells), ZERO) / sq
        return gross_edge(bp, sp)


class CrossArbitrage(Strategy):
    kind = "cross_arbitrage"
    title = "Cross-venue arbitrage"
    Params = CrossArbitrageParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p = self.p
        if p.other_venue is None:
            raise ValueError("cross_arbitrage: params.other_venue is required (the venue of leg B)")
        self.other_inst = self._find_other(p.other_venue, p.other_symbol)
        self.other_venue = self.other_inst.venue
        self.other_symbol = self.other_inst.symbol
        if (self.other_venue, self.other_symbol) == (venue, symbol):
            raise ValueError("cross_arbitrage: leg B is the same market as leg A")
        self.unit = common_size(self.inst, self.other_inst, p.size)
        if p.size is not None and self.unit != p.size:
            ctx.log.info("size %s raised to %s (on both venues' grids)", p.size, self.unit)
        self.cost = round_trip_fees(self.inst, self.other_inst) + p.expected_funding_pct / HUNDRED
        self.threshold = p.entry_threshold_pct / HUNDRED
        self.pairs: list[Pair] = []
        self._next_id = 1
        self._last_entry_ms: int | None = None
        self.delta_failures = 0
        self.suspended = False
        self.round_trips = 0
        self._rebuild_pending = False
        self._recovering: list[OrderView] = []
        self._drift_ticks = 0

    @property
    def p(self) -> CrossArbitrageParams:
        return self.params  # type: ignore[return-value]

    def _find_other(self, venue: str, symbol: str | None) -> Instrument:
        return counterpart(self.ctx, self.inst, venue, symbol, "other_symbol")

    def markets(self) -> list[tuple[str, str]]:
        return [(self.venue, self.symbol), (self.other_venue, self.other_symbol)]

    # -- lifecycle --------------------------------------------------------------

    def on_start(self) -> None:
        tel = self.ctx.telemetry
        tel.set("pair", f"{self.venue}/{self.symbol} ~ {self.other_venue}/{self.other_symbol}")
        tel.set("size", self.unit)
        tel.set("fees_pct", round(float(self.cost * HUNDRED), 4))
        adopted = self.ctx.orders(self.venue, self.symbol) + self.ctx.orders(
            self.other_venue, self.other_symbol
        )
        tel.set("adopted", len(adopted))
        held = any(self._position(v, s) != 0 for v, s in self.markets())
        if adopted or held:
            self.ctx.log.info(
                "restart: cancelling %d earlier tracking orders (%s), then rebuilding pairs "
                "from positions",
                len(adopted),
                ", ".join(sorted(o.tag or "?" for o in adopted)),
            )
            for order in adopted:
                self.ctx.cancel(order.client_id)
            self._recovering = adopted
            self._rebuild_pending = True
        self._cycle(self.ctx.now_ms())

    def on_pause(self) -> None:
        self.ctx.telemetry.set("state", "paused")

    def on_resume(self) -> None:
        if self.suspended:
            self.ctx.log.warning("resumed by the operator: delta-guard suspension cleared")
            self.suspended = False
            self.delta_failures = 0
        if not self._books_match():
            # Positions moved while paused (a flatten, a kill switch): start over
            # from what is really held.
            for pair in self.pairs:
                for leg in pair.working():
                    leg.abort("positions changed while paused")
            self._rebuild_pending = True
        self._cycle(self.ctx.now_ms())

    def on_stop(self) -> None:
        for pair in self.pairs:
            for leg in pair.working():
                leg.abort("strategy stopped")
        self.ctx.telemetry.set("state", "stopped")
        held = [p for p in self.pairs if p.state != "closed"]
        if held:
            self.ctx.log.warning(
                "stopped with %d pairs still held (flatten the strategy to close them)", len(held)
            )

    # -- events -----------------------------------------------------------------

    def on_tick(self, now_ms: int) -> None:
        self._cycle(now_ms)

    def on_order(self, order: OrderView) -> None:
        if order.status is OrderStatus.REJECTED:
            self.ctx.telemetry.count("rejects")
            self.ctx.telemetry.set("last_reject", order.reason)
        for pair in self.pairs:
            for ref in pair.legs:
                if ref.leg.on_order(order):
                    self._drive(pair, self.ctx.now_ms())
                    return

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        self.ctx.telemetry.count("fills")
        self.ctx.telemetry.count(f"fills_{fill.venue}")
        for pair in self.pairs:
            for ref in pair.legs:
                if ref.leg.on_fill(fill, order):
                    self._drive(pair, self.ctx.now_ms())
                    return

    # -- the cycle --------------------------------------------------------------

    def _cycle(self, now_ms: int) -> None:
        for pair in list(self.pairs):
            for ref in pair.legs:
                ref.leg.on_tick(now_ms)
            self._drive(pair, now_ms)
        if self._rebuild_pending:
            self._try_rebuild()
        self._guard_drift()
        self._check_exits(now_ms)
        self._maybe_enter(now_ms)
        self._publish(now_ms)

    def _drive(self, pair: Pair, now_ms: int) -> None:
        """Move one pair along its state machine (idempotent; any event may call it)."""
        if pair.state == "entering":
            self._drive_entering(pair, now_ms)
        if pair.state == "open":
            self._check_balance(pair)
        if pair.state == "closing":
            self._drive_closing(pair, now_ms)
        if pair.state == "closed" and pair in self.pairs:
            self.pairs.remove(pair)

    def _drive_entering(self, pair: Pair, now_ms: int) -> None:
        first = next(r.leg for r in pair.legs if r.role == "open")
        hedge = next((r.leg for r in pair.legs if r.role == "hedge"), None)
        if not first.finished:
            if first.filled == 0 and self.ctx.running:
                opp = self._opportunity()
                if opp is None or opp.buy is not pair.buy or opp.net < self.threshold:
                    first.abort("edge gone before the first leg filled")
            return
        if hedge is None:
            if first.filled == 0:
                pair.state = "closed"  # nothing traded
                self.ctx.telemetry.count("entries_abandoned")
                return
            long_first = first.side is Side.BUY
            target = pair.sell if long_first else pair.buy
            size = target.round_size(first.filled)
            if size < target.min_size:
                self._delta_failure(f"pair {pair.id}: first leg {first.filled} cannot be hedged")
                self._begin_close(pair, "unhedgeable partial fill")
                return
            if not self.ctx.running:
                return  # paused: hedge once resumed
            leg = self._leg(pair, target, first.side.opposite, size, "hedge", cross=True)
            pair.legs.append(LegRef("hedge", not long_first, leg))
            leg.start(now_ms)
            return
        if not hedge.finished:
            return
        mismatch = abs(pair.held(True) - pair.held(False))
        if hedge.status is LegStatus.DONE and mismatch <= self.p.delta_tolerance * pair.size:
            pair.state = "open"
            self.delta_failures = 0
            self.ctx.telemetry.count("entries")
            edge = pair.entry_edge()
            self.ctx.log.info(
                "pair %d open: bought %s %s, sold %s %s, size %s, edge %.4f%%",
                pair.id,
                pair.buy.venue,
                pair.held(True),
                pair.sell.venue,
                pair.held(False),
                pair.size,
                float((edge or ZERO) * HUNDRED),
            )
            return
        self.ctx.telemetry.count("hedge_failures")
        self._delta_failure(
            f"pair {pair.id}: hedge {hedge.status.value} ({hedge.reason}); "
            f"long {pair.held(True)} vs short {pair.held(False)}"
        )
        self._begin_close(pair, "hedge failed: unwinding")

    def _check_balance(self, pair: Pair) -> None:
        """An open pair whose legs drifted apart (a late fill) is unwound."""
        mismatch = abs(pair.held(True) - pair.held(False))
        if mismatch > self.p.delta_tolerance * pair.size:
            self._delta_failure(
                f"pair {pair.id}: legs differ (long {pair.held(True)}, short {pair.held(False)})"
            )
            self._begin_close(pair, "legs out of balance")

    def _begin_close(self, pair: Pair, reason: str) -> None:
        if pair.state in ("closing", "closed"):
            return
        pair.state = "closing"
        pair.exit_reason = reason
        for leg in pair.working():
            leg.abort(f"pair closing: {reason}")
        self.ctx.telemetry.count("exits")
        self.ctx.log.info("pair %d closing: %s", pair.id, reason)
        self._drive_closing(pair, self.ctx.now_ms())

    def _drive_closing(self, pair: Pair, now_ms: int) -> None:
        if any(r.opening for r in pair.legs if not r.leg.finished):
            return  # wait for the opening legs' confirmed end (they may still fill)
        for long_side in (True, False):
            held = pair.held(long_side)
            busy = any(
                not r.leg.finished for r in pair.legs if r.long_side is long_side and not r.opening
            )
            if held <= 0 or busy:
                continue
            if not self.ctx.running or now_ms < pair.close_retry_ms:
                continue
            failed = [
                r.leg
                for r in pair.legs
                if r.long_side is long_side
                and not r.opening
                and r.leg.status in (LegStatus.FAILED, LegStatus.ABORTED)
            ]
            if len(failed) > pair.close_failures:
                pair.close_failures = len(failed)
                self.ctx.telemetry.count("close_failures")
                self.ctx.log.warning(
                    "pair %d: close on %s failed (%s); retrying, the pair stays on the books",
                    pair.id,
                    (pair.buy if long_side else pair.sell).venue,
                    failed[-1].reason,
                )
                pair.close_retry_ms = now_ms + CLOSE_RETRY_MS
                continue
            inst = pair.buy if long_side else pair.sell
            side = Side.SELL if long_side else Side.BUY
            leg = self._leg(
                pair, inst, side, held, "close", cross=True, closing=True, fallback=True
            )
            pair.legs.append(LegRef("close", long_side, leg))
            leg.start(now_ms)
        if pair.held(True) == 0 and pair.held(False) == 0 and not pair.working():
            pair.state = "closed"
            self._last_entry_ms = now_ms  # the cooldown also runs after an exit
            self.round_trips += 1
            self.ctx.telemetry.count("round_trips")
            self.ctx.log.info("pair %d closed (%s)", pair.id, pair.exit_reason)

    # -- exits, entries, guards --------------------------------------------------

    def _check_exits(self, now_ms: int) -> None:
        p = self.p
        _, before = self._maintenance(now_ms)
        for pair in self.pairs:
            if pair.state != "open":
                continue
            cur = self._current_edge(pair)
            reason = ""
            if before:
                reason = "maintenance window ahead"
            elif p.max_hold_secs is not None and now_ms - pair.opened_ms >= p.max_hold_secs * 1000:
                reason = "time stop"
            elif cur is not None and cur <= (1 - p.tp_ratio) * pair.entry_gross:
                reason = "converged (take profit)"
            elif cur is not None and cur >= (1 + p.sl_ratio) * pair.entry_gross:
                reason = "widened (stop)"
            if reason:
                self._begin_close(pair, reason)

    def _current_edge(self, pair: Pair) -> Decimal | None:
        """The gross edge in the entry direction now: rich bid over cheap ask."""
        buy_book = self.ctx.book(pair.buy.venue, pair.buy.symbol)
        sell_book = self.ctx.book(pair.sell.venue, pair.sell.symbol)
        if buy_book is None or sell_book is None:
            return None
        if not buy_book.is_valid() or not sell_book.is_valid():
            return None
        ask = sweep_price(buy_book.asks(SWEEP_DEPTH), pair.size)
        bid = sweep_price(sell_book.bids(SWEEP_DEPTH), pair.size)
        if ask is None or bid is None:
            return None
        return gross_edge(ask, bid)

    def _opportunity(self) -> Opportunity | None:
        a = self.ctx.book(self.venue, self.symbol)
        b = self.ctx.book(self.other_venue, self.other_symbol)
        if a is None or b is None or not a.is_valid() or not b.is_valid():
            return None
        return best_opportunity(self.inst, a, self.other_inst, b, self.unit, self.cost)

    def _entry_block(self, now_ms: int) -> str:
        p = self.p
        if self.suspended:
            return "suspended (delta guard)"
        if self._rebuild_pending:
            return "rebuilding"
        inside, before = self._maintenance(now_ms)
        if inside or before:
            return "maintenance"
        if p.max_round_trips is not None and self.round_trips >= p.max_round_trips:
            return "round-trip limit reached"
        if any(pair.state == "entering" for pair in self.pairs):
            return "entering"
        if any(pair.state == "closing" for pair in self.pairs):
            return "closing"
        if len(self.pairs) >= p.max_concurrent_positions:
            return "at max positions"
        if (
            self._last_entry_ms is not None
            and now_ms - self._last_entry_ms < p.cooldown_secs * 1000
        ):
            return "cooldown"
        if abs(self._net_exposure()) > p.delta_tolerance * self.unit:
            return "net exposure off"
        return ""

    def _maybe_enter(self, now_ms: int) -> None:
        tel = self.ctx.telemetry
        opp = self._opportunity()
        if opp is not None:
            tel.sample("edge_bps", now_ms, round(float(opp.net * 10_000), 2))
        if not self.ctx.running:
            return
        block = self._entry_block(now_ms)
        tel.set("state", block or "watching")
        if block or opp is None or opp.net < self.threshold:
            return
        self._enter(opp, now_ms)

    def _enter(self, opp: Opportunity, now_ms: int) -> None:
        pair = Pair(self._next_id, opp.buy, opp.sell, self.unit, opp.gross, now_ms)
        self._next_id += 1
        self._last_entry_ms = now_ms
        # The first leg always runs on leg A (this strategy's venue).
        a_is_buy = opp.buy.venue == self.venue and opp.buy.symbol == self.symbol
        side = Side.BUY if a_is_buy else Side.SELL
        leg = self._leg(
            pair, self.inst, side, self.unit, "open", cross=not self.p.passive_first_leg
        )
        pair.legs.append(LegRef("open", a_is_buy, leg))
        self.pairs.append(pair)
        self.ctx.log.info(
            "pair %d: buy %s @ %s, sell %s @ %s, edge %.4f%% gross, %.4f%% net",
            pair.id,
            opp.buy.venue,
            opp.buy_price,
            opp.sell.venue,
            opp.sell_price,
            float(opp.gross * HUNDRED),
            float(opp.net * HUNDRED),
        )
        leg.start(now_ms)
        self._drive(pair, now_ms)

    def _leg(
        self,
        pair: Pair,
        inst: Instrument,
        side: Side,
        size: Decimal,
        role: Role,
        *,
        cross: bool,
        closing: bool = False,
        fallback: bool | None = None,
    ) -> TrackingLeg:
        p = self.p
        config = LegConfig(
            wait_ms=int(p.tracking_wait_secs * 1000),
            max_retries=p.tracking_max_retries,
            market_fallback=p.allow_market_fallback if fallback is None else fallback,
            cross=cross,
            requote_ticks=p.requote_ticks,
            reject_backoff_ms=p.tick_interval_ms,
        )
        reduce_only = False
        if closing:
            account = self.ctx.account_position(inst.venue, inst.symbol)
            reduce_only = account != 0 and Side.closing(account) is side and abs(account) >= size
        return TrackingLeg(
            self.ctx,
            inst.venue,
            inst.symbol,
            side,
            size,
            config,
            tag=f"p{pair.id}:{role}",
            reduce_only=reduce_only,
        )

    def _delta_failure(self, what: str) -> None:
        self.delta_failures += 1
        self.ctx.telemetry.count("delta_failures_total")
        self.ctx.log.warning(
            "delta failure %d/%d: %s", self.delta_failures, self.p.max_delta_failures, what
        )
        if self.delta_failures >= self.p.max_delta_failures and not self.suspended:
            self.suspended = True
            self.ctx.log.error(
                "delta guard: %d failures in a row; closing every pair and suspending entries "
                "(pause and resume the strategy to clear)",
                self.delta_failures,
            )
            for pair in list(self.pairs):
                self._begin_close(pair, "delta guard")

    def _maintenance(self, now_ms: int) -> tuple[bool, bool]:
        p = self.p
        inside = before = False
        for hour, local in ((p.maintenance_hour_utc, False), (p.maintenance_local_hour, True)):
            if hour is not None:
                i, b = in_window(now_ms, hour, local, p.pre_maint_close_minutes)
                inside, before = inside or i, before or b
        return inside, before

    # -- positions: drift guard and rebuild --------------------------------------

    def _position(self, venue: str, symbol: str) -> Decimal:
        return self.ctx.position(venue, symbol).size

    def _net_exposure(self) -> Decimal:
        """Net base-asset delta across both venues (this strategy's own fills)."""
        return sum((self._position(v, s) for v, s in self.markets()), ZERO)

    def _books_match(self) -> bool:
        """Do the pairs' confirmed fills add up to the strategy's positions?"""
        for venue, symbol in self.markets():
            implied = sum((pair.signed(venue, symbol) for pair in self.pairs), ZERO)
            if implied != self._position(venue, symbol):
                return False
        return True

    def _guard_drift(self) -> None:
        """Positions moved without our legs (a flatten, an outside fill): rebuild."""
        if self._rebuild_pending or any(pair.working() for pair in self.pairs):
            self._drift_ticks = 0
            return
        if self._books_match():
            self._drift_ticks = 0
            return
        self._drift_ticks += 1
        if self._drift_ticks >= 2:  # give a late fill one tick to land
            self._drift_ticks = 0
            self.ctx.telemetry.count("drift_rebuilds")
            self.ctx.log.warning("pairs and positions disagree: rebuilding from positions")
            self._rebuild_pending = True
            self._try_rebuild()

    def _try_rebuild(self) -> None:
        if any(o.is_live for o in self._recovering):
            return
        if any(pair.working() for pair in self.pairs):
            return
        self._recovering = []
        self._rebuild_pending = False
        self.pairs = []
        pa = self._position(self.venue, self.symbol)
        pb = self._position(self.other_venue, self.other_symbol)
        now = self.ctx.now_ms()
        if pa == 0 and pb == 0:
            return
        a, b = self.inst, self.other_inst
        matched = min(abs(pa), abs(pb)) if (pa > 0) != (pb > 0) else ZERO
        if matched > 0:
            buy, sell = (a, b) if pa > 0 else (b, a)
            pair = self._recovered(buy, sell, matched, matched, now)
            pair.entry_gross = self._recovered_edge(buy, sell)
            pair.state = "open"
            self.pairs.append(pair)
        for inst, pos in ((a, pa), (b, pb)):
            excess = abs(pos) - matched
            if excess > 0:
                # One-sided remainder: a delta failure, closed at once.
                long_side = pos > 0
                other = b if inst is a else a
                buy, sell = (inst, other) if long_side else (other, inst)
                pair = self._recovered(
                    buy, sell, excess if long_side else ZERO, ZERO if long_side else excess, now
                )
                self.pairs.append(pair)
                self._delta_failure(f"{inst.venue}/{inst.symbol}: {pos} held one-sided")
                self._begin_close(pair, "one-sided remainder after rebuild")
        self.ctx.log.info(
            "rebuilt %d pairs from positions (%s %s, %s %s)",
            len(self.pairs),
            self.venue,
            pa,
            self.other_venue,
            pb,
        )

    def _recovered(
        self, buy: Instrument, sell: Instrument, long: Decimal, short: Decimal, now: int
    ) -> Pair:
        pair = Pair(self._next_id, buy, sell, max(long, short), ZERO, now, state="open")
        self._next_id += 1
        for long_side, qty, inst, side in (
            (True, long, buy, Side.BUY),
            (False, short, sell, Side.SELL),
        ):
            if qty > 0:
                pair.legs.append(LegRef("open", long_side, _Filled(self.ctx, inst, side, qty)))
        return pair

    def _recovered_edge(self, buy: Instrument, sell: Instrument) -> Decimal:
        bp = self.ctx.position(buy.venue, buy.symbol).entry_price
        sp = self.ctx.position(sell.venue, sell.symbol).entry_price
        return gross_edge(bp, sp) if bp > 0 and sp > 0 else ZERO

    # -- telemetry and preview ------------------------------------------------

    def _publish(self, now_ms: int) -> None:
        tel = self.ctx.telemetry
        net = self._net_exposure()
        tel.sample("net_exposure", now_ms, net)
        tel.set(f"net_exposure_{self.inst.base}", net)
        tel.set(f"pos_{self.venue}", self._position(self.venue, self.symbol))
        tel.set(f"pos_{self.other_venue}", self._position(self.other_venue, self.other_symbol))
        tel.set("pairs", len(self.pairs))
        tel.set("pairs_open", sum(1 for p in self.pairs if p.state == "open"))
        tel.set("delta_failures", self.delta_failures)
        tel.set("suspended", self.suspended)
        pnl = sum(
            (self.ctx.position(v, s).net_pnl(self._mid(v, s)) for v, s in self.markets()),
            ZERO,
        )
        tel.sample("pnl", now_ms, pnl)

    def _mid(self, venue: str, symbol: str) -> Decimal | None:
        book = self.ctx.book(venue, symbol)
        return book.mid() if book is not None and book.is_valid() else None

    def preview(self) -> list[PlannedOrder]:
        """The two legs it would send now (empty when the edge is below the threshold)."""
        opp = self._opportunity()
        if opp is None or opp.net < self.threshold:
            return []
        note = f"edge {float(opp.net * HUNDRED):.3f}% net"
        return [
            PlannedOrder(
                opp.buy.venue, opp.buy.symbol, Side.BUY, opp.buy_price, self.unit, note=note
            ),
            PlannedOrder(
                opp.sell.venue, opp.sell.symbol, Side.SELL, opp.sell_price, self.unit, note=note
            ),
        ]


class _Filled(TrackingLeg):
    """A leg rebuilt from a position after a restart: already filled, never placed."""

    def __init__(self, ctx: StrategyContext, inst: Instrument, side: Side, size: Decimal) -> None:
        super().__init__(ctx, inst.venue, inst.symbol, side, size, LegConfig(), tag="rebuilt")
        self.filled = self.size
        self.status = LegStatus.DONE
        self.reason = "rebuilt from position"
