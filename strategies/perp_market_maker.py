"""Perp market maker: a symmetric multi-level ladder around mid, diffed, not reposted.

Every cycle (``tick_interval_ms``) it computes the ladder it wants and compares
it with its live orders:

- a live quote whose price is within ``requote_bps`` of a wanted level is
  kept (it keeps its place in the queue), whatever level it was placed for;
- live quotes that fit no wanted level are cancelled; wanted levels nobody
  holds are placed. A still mid means no cancels and no new orders.

Prices. ``mid`` is the median over ``mid_window_ms`` of the book's mid with
this strategy's own orders taken out (``strategies.external_book``: its own
quotes never move the reference); the median keeps a taker sweeping one level
for a moment from walking the ladder. With ``d = position - target_position`` and
``s = clamp(d / max_position, -1, 1)``:

    centre  = mid * (1 - inventory_skew_bps * s / 10_000)
    bid_j   = centre * (1 - base_spread_pct / 200 - j * level_spacing_bps / 10_000)
    ask_j   = centre * (1 + base_spread_pct / 200 + j * level_spacing_bps / 10_000)

for ``j = 0 .. max_orders - 1``, rounded passively to the tick (bids down,
asks up), at least one tick behind the opposite touch and one tick apart.

Position. ``max_position`` bounds |position| counting every live order on the
same side (a side's orders all filling never takes it past the limit). When
``|d| > position_threshold`` the strategy works back to the signed target: the
side that would move away from it is pulled, and one control order for |d|
(at most a full side of the ladder) joins the touch on the other side, post
only. The control order is reduce-only when it closes the position (tag
``reduce``), a plain order when the target needs a bigger position on the
other side of zero (tag ``target``). If the deviation is still past the
threshold after ``reduce_escalate_secs``, the reduce-only part is sent as an
immediate-or-cancel limit at the opposite touch (tag ``escalate``).

Tags: ``L<j>`` is the level a quote was placed for; ``reduce`` / ``target`` /
``escalate`` are control orders. A restarted strategy is handed its earlier
orders with their tags and keeps the ones that still fit.
"""

from __future__ import annotations

import statistics
from collections import deque
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field, model_validator

from connectors.base import Fill, OrderStatus, OrderType, Side, TimeInForce
from connectors.book import OrderBook
from strategies.backoff import RejectBackoff
from strategies.base import (
    OrderView,
    PlannedOrder,
    Strategy,
    StrategyContext,
    StrategyParams,
)
from strategies.external_book import external_best, external_mid
from strategies.pmm_ladder import (
    Control,
    Plan,
    ladder_prices,
    match_levels,
    normalized_inventory,
)
from strategies.requote import QuotingParams, RequoteGate

__all__ = [
    "Control",
    "PerpMarketMaker",
    "PerpMarketMakerParams",
    "Plan",
    "ladder_prices",
    "match_levels",
    "normalized_inventory",
]

BPS = Decimal(10_000)
CONTROL_TAGS = frozenset({"reduce", "target"})
ESCALATE_TAG = "escalate"
MAX_BACKOFF_MS = 10_000  # longest pause in placing after rejects in a row

_RENAMED = {
    "inventory_skew": "inventory_skew was a fraction of mid; use inventory_skew_bps "
    "(bps of mid at |position - target| = max_position)",
    "tick_interval_secs": "tick_interval_secs is now tick_interval_ms (milliseconds)",
    "cancel_before_place": "cancel_before_place is gone: the ladder is diffed against "
    "the live orders, never cancelled wholesale",
    "symbol": "symbol is set on the strategy entry, not in params",
}


class PerpMarketMakerParams(QuotingParams):
    tick_interval_ms: int = Field(default=1000, ge=10, description="quoting cycle, ms")
    base_spread_pct: Decimal = Field(
        default=Decimal("0.2"), gt=0, le=20, description="total spread of level 0, % of mid"
    )
    level_spacing_bps: Decimal = Field(
        default=Decimal(5), gt=0, le=1000, description="distance between levels, bps of mid"
    )
    order_quantity: Decimal | None = Field(
        default=None, gt=0, description="size per order, base; None = max(max_position/4, min)"
    )
    max_orders: int = Field(default=3, ge=1, le=50, description="levels per side")
    target_position: Decimal = Field(default=Decimal(0), description="signed target, base")
    max_position: Decimal = Field(
        default=Decimal(1), gt=0, description="|position| limit incl. same-side orders, base"
    )
    position_threshold: Decimal | None = Field(
        default=None,
        ge=0,
        description="|position - target| that triggers control, base; None = max_position/10",
    )
    inventory_skew_bps: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=1000,
        description="centre shift, bps of mid, at |position - target| = max_position",
    )
    requote_bps: Decimal = Field(
        default=Decimal(2), ge=0, description="a live quote this close to its level is kept"
    )
    mid_window_ms: int = Field(
        default=2000, ge=0, le=60_000, description="median window of the reference mid"
    )
    post_only: bool = True
    reduce_escalate_secs: float | None = Field(
        default=30.0, gt=0, description="then cross the spread reduce-only; None = never"
    )

    RENAMED: ClassVar[dict[str, str]] = _RENAMED
    LIVE: ClassVar[frozenset[str]] = frozenset(
        {
            "base_spread_pct",
            "level_spacing_bps",
            "order_quantity",
            "max_orders",
            "inventory_skew_bps",
            "requote_bps",
        }
    )
    SIZES: ClassVar[frozenset[str]] = frozenset({"order_quantity"})

    @model_validator(mode="after")
    def _consistent(self) -> PerpMarketMakerParams:
        m = self.max_position
        if abs(self.target_position) >= m:
            raise ValueError(
                f"|target_position| ({abs(self.target_position)}) must be below max_position ({m})"
            )
        if self.position_threshold is not None and self.position_threshold >= m:
            raise ValueError(
                f"position_threshold ({self.position_threshold}) must be below max_position ({m})"
            )
        if self.order_quantity is not None and self.order_quantity > m:
            raise ValueError(
                f"order_quantity ({self.order_quantity}) must not exceed max_position ({m}): "
                "no level could ever be placed"
            )
        if self.max_orders > 1 and self.requote_bps * 2 >= self.level_spacing_bps:
            raise ValueError(
                f"requote_bps ({self.requote_bps}) must be below half of level_spacing_bps "
                f"({self.level_spacing_bps}) so a quote can only fit one level"
            )
        return self


class PerpMarketMaker(Strategy):
    kind = "perp_market_maker"
    title = "Perp market maker"
    Params = PerpMarketMakerParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p = self.p
        self.size = self._order_size()
        self._mids: deque[tuple[int, Decimal]] = deque()
        self._control_since_ms: int | None = None
        self._last_ref: Decimal | None = None
        self._held = False
        self.backoff = RejectBackoff(p.tick_interval_ms, max(MAX_BACKOFF_MS, p.tick_interval_ms))
        self.gate = RequoteGate.of(ctx, self._cycle, self.inst.tick_size, p)

    @property
    def p(self) -> PerpMarketMakerParams:
        return self.params  # type: ignore[return-value]

    def _order_size(self) -> Decimal:
        wanted = self.p.order_quantity or max(self.p.max_position / 4, self.inst.min_size)
        return max(self.inst.min_size, self.inst.round_size(wanted))

    def apply_params(self, params: StrategyParams) -> None:
        super().apply_params(params)
        self.size = self._order_size()

    @property
    def threshold(self) -> Decimal:
        t = self.p.position_threshold
        return self.p.max_position / 10 if t is None else t

    # -- callbacks ------------------------------------------------------------

    def on_start(self) -> None:
        adopted = self.ctx.orders(self.venue, self.symbol)
        self.ctx.telemetry.set("adopted", len(adopted))
        if adopted:
            tags = ", ".join(sorted(o.tag or "?" for o in adopted))
            self.ctx.log.info("rebuilding from %d live orders (%s)", len(adopted), tags)
        if self.size > self.p.max_position:
            self.ctx.log.warning(
                "order size %s (venue minimum) exceeds max_position %s: nothing will be quoted",
                self.size,
                self.p.max_position,
            )
        self._cycle(self.ctx.now_ms())

    def on_resume(self) -> None:
        self._control_since_ms = None
        self._last_ref = None
        self._cycle(self.ctx.now_ms())

    def on_pause(self) -> None:
        self._control_since_ms = None
        self.ctx.telemetry.set("state", "paused")

    def on_stop(self) -> None:
        self.ctx.telemetry.set("state", "stopped")

    def on_tick(self, now_ms: int) -> None:
        self._cycle(now_ms)

    def on_book(self, venue: str, symbol: str) -> None:
        book = self.ctx.book(venue, symbol)
        if book is None or not book.is_valid():
            return
        mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
        if mid is not None:
            now_ms = self.ctx.now_ms()
            self._add_mid(now_ms, mid)
            # requote now if the reference (the window's median) moved enough
            self.gate.on_book(now_ms, self._reference_mid(now_ms))

    def on_order(self, order: OrderView) -> None:
        kind = "ladder" if order.tag.startswith("L") else "control"
        if order.status is OrderStatus.REJECTED:
            self._note_reject(order, kind)
        elif order.status is OrderStatus.OPEN:
            self.backoff.accepted(kind)

    def _note_reject(self, order: OrderView, kind: str) -> None:
        """Back off once per rejected order, whether the refusal came back from
        ``place`` itself (risk) or later from the venue."""
        if self.backoff.rejected(kind, self.ctx.now_ms(), order.client_id) is None:
            return
        tel = self.ctx.telemetry
        tel.count("rejects")
        tel.set("last_reject", order.reason)
        if self.backoff.streak(kind) > 1:
            tel.count("backoffs")
        self.ctx.log.debug("%s %s rejected: %s", kind, order.client_id, order.reason)

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        self.ctx.telemetry.count("fills")

    # -- the cycle ------------------------------------------------------------

    def _cycle(self, now_ms: int) -> None:
        tel = self.ctx.telemetry
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            tel.set("state", "no book")
            return
        mine = self.ctx.orders(self.venue, self.symbol)
        mid = external_mid(book, self.inst, mine)
        if mid is None:
            tel.set("state", "no book")
            return
        self._add_mid(now_ms, mid)
        ref = self._reference_mid(now_ms)
        self.gate.cycled(now_ms, ref)
        position = self.ctx.position(self.venue, self.symbol)
        plan = self.plan(book, ref, position.size)
        # After a jump of the reference, cancel what no longer fits but place
        # one cycle later, on a settled price (never two cycles in a row).
        jumped = self._last_ref is not None and abs(ref - self._last_ref) > self._tolerance(ref)
        hold = jumped and not self._held
        self._held, self._last_ref = hold, ref
        if hold:
            tel.count("holds")
            self.gate.later()  # the settled price is looked at after the minimum interval
        self._track_control(plan, now_ms)
        if not self._escalate(plan, book, mine, now_ms):
            self._work_control(plan, now_ms)
        for side, prices in ((Side.BUY, plan.bids), (Side.SELL, plan.asks)):
            self._work_ladder(side, prices, plan, position.size, now_ms, hold)
        self._publish(plan, position, now_ms)

    def plan(self, book: OrderBook, mid: Decimal, position: Decimal) -> Plan:
        """The wanted ladder and control order for ``position`` (no capacity trim)."""
        p = self.p
        deviation = position - p.target_position
        s = normalized_inventory(position, p.target_position, p.max_position)
        skew_bps = p.inventory_skew_bps * s
        centre = mid * (1 - skew_bps / BPS)
        best_bid, best_ask = book.best_bid(), book.best_ask()
        bids, asks = ladder_prices(
            centre,
            p.max_orders,
            p.base_spread_pct / 200,
            p.level_spacing_bps / BPS,
            self.inst,
            best_bid,
            best_ask,
        )
        full_bids, full_asks = bids, asks
        control: Control | None = None
        mode = "quoting"
        if abs(deviation) > self.threshold:
            side = Side.SELL if deviation > 0 else Side.BUY
            control = self._control_order(side, abs(deviation), book)
            if side is Side.SELL:
                bids = []  # buying would move further from target
                asks = asks[: p.max_orders - 1] if control is not None else asks
            else:
                asks = []
                bids = bids[: p.max_orders - 1] if control is not None else bids
            if control is None:
                mode = "off target (deviation below min size)"
            else:
                mode = "reducing to target" if control.reduce_only else "building to target"
        return Plan(
            mid, centre, skew_bps, deviation, bids, asks, control, mode, full_bids, full_asks
        )

    def _control_order(self, side: Side, deviation: Decimal, book: OrderBook) -> Control | None:
        inst = self.inst
        size = min(deviation, self.size * self.p.max_orders)
        account = self.ctx.account_position(self.venue, self.symbol)
        own = self.ctx.position(self.venue, self.symbol).size
        reduce_only = (
            own != 0
            and account != 0
            and Side.closing(own) is side
            and Side.closing(account) is side
        )
        if reduce_only:
            size = min(size, abs(own), abs(account))
        size = inst.round_size(size)
        if size < inst.min_size:
            return None
        # Join the touch on our own side, never crossing the opposite one.
        mine = self.ctx.orders(self.venue, self.symbol)
        touch = external_best(book, self.inst, side, mine)
        if touch is None:
            touch = book.best_bid() if side is Side.BUY else book.best_ask()
        if touch is None:
            return None
        opposite = book.best_ask() if side is Side.BUY else book.best_bid()
        if opposite is not None:
            tick = inst.tick_size
            touch = min(touch, opposite - tick) if side is Side.BUY else max(touch, opposite + tick)
        return Control(side, touch, size, reduce_only)

    def _track_control(self, plan: Plan, now_ms: int) -> None:
        if plan.control is None:
            self._control_since_ms = None
        elif self._control_since_ms is None:
            self._control_since_ms = now_ms

    def _escalate(self, plan: Plan, book: OrderBook, mine: list[OrderView], now_ms: int) -> bool:
        """Cross the spread reduce-only when the passive control order took too long."""
        c, limit = plan.control, self.p.reduce_escalate_secs
        if c is None or not c.reduce_only or limit is None or self._control_since_ms is None:
            return False
        if now_ms - self._control_since_ms < limit * 1000:
            return False
        price = external_best(book, self.inst, c.side.opposite, mine)
        if price is None:
            return False
        for order in mine:
            if order.tag in CONTROL_TAGS and not order.cancel_requested:
                self._cancel(order, "control")
        self.ctx.log.info("control order unfilled for %ss: crossing %s %s", limit, c.side, c.size)
        self.ctx.telemetry.count("escalations")
        self._place(
            c.side,
            price,
            c.size,
            tag=ESCALATE_TAG,
            reduce_only=True,
            post_only=False,
            tif=TimeInForce.IOC,
        )
        self._control_since_ms = now_ms
        return True

    def _work_control(self, plan: Plan, now_ms: int) -> None:
        c = plan.control
        tolerance = self._tolerance(plan.mid)
        keep: OrderView | None = None
        for order in self._live(tags=CONTROL_TAGS):
            fits = (
                c is not None
                and keep is None
                and order.side is c.side
                and order.reduce_only is c.reduce_only
                and order.price is not None
                and abs(order.price - c.price) <= tolerance
                and order.remaining <= c.size
            )
            if fits:
                keep = order
            else:
                self._cancel(order, "control")
        if c is None or keep is not None or not self.backoff.ready("control", now_ms):
            return
        self._place(c.side, c.price, c.size, tag=c.tag, reduce_only=c.reduce_only)

    def _work_ladder(
        self,
        side: Side,
        prices: list[Decimal],
        plan: Plan,
        position: Decimal,
        now_ms: int,
        hold: bool = False,
    ) -> None:
        p = self.p
        live = [o for o in self._live() if o.side is side and not _is_control(o)]
        # Levels allowed by the limit, counting the control order and orders
        # already on their way out (they may still fill).
        committed = side.sign * position + sum(
            (
                o.remaining
                for o in self.ctx.orders(self.venue, self.symbol)
                if o.side is side and (o.cancel_requested or _is_control(o))
            ),
            Decimal(0),
        )
        room = p.max_position - committed
        allowed = max(0, min(len(prices), int(room / self.size))) if room > 0 else 0
        wanted = prices[:allowed]
        tolerance = self._tolerance(plan.mid)
        kept, leftovers = match_levels(wanted, live, tolerance)
        if leftovers:
            # A leftover that still fits the untrimmed ladder goes for position
            # reasons (limit or control mode); any other one because prices moved.
            full = plan.full_bids if side is Side.BUY else plan.full_asks
            _, moved = match_levels(full, leftovers, tolerance)
            for order in leftovers:
                self._cancel(order, "requote" if order in moved else "limit")
        if hold or not self.backoff.ready("ladder", now_ms):
            return
        for j, price in enumerate(wanted):
            if j in kept:
                continue
            # Strict: everything live on this side, including what was just
            # cancelled, plus this order, stays within max_position.
            exposure = side.sign * position + sum(
                (o.remaining for o in self.ctx.orders(self.venue, self.symbol) if o.side is side),
                Decimal(0),
            )
            if exposure + self.size > p.max_position:
                self.ctx.telemetry.count("deferred")
                break
            self._place(side, price, self.size, tag=f"L{j}")
            if not self.backoff.ready("ladder", now_ms):
                break

    # -- order helpers --------------------------------------------------------

    def _live(self, tags: frozenset[str] | None = None) -> list[OrderView]:
        return [
            o
            for o in self.ctx.orders(self.venue, self.symbol)
            if not o.cancel_requested and (tags is None or o.tag in tags)
        ]

    def _place(
        self,
        side: Side,
        price: Decimal,
        size: Decimal,
        *,
        tag: str,
        reduce_only: bool = False,
        post_only: bool | None = None,
        tif: TimeInForce = TimeInForce.GTC,
    ) -> OrderView:
        self.ctx.telemetry.count("places")
        order = self.ctx.place(
            self.venue,
            self.symbol,
            side,
            size,
            price,
            order_type=OrderType.LIMIT,
            time_in_force=tif,
            post_only=self.p.post_only if post_only is None else post_only,
            reduce_only=reduce_only,
            tag=tag,
        )
        if order.status is OrderStatus.REJECTED:  # refused before it left (risk)
            self._note_reject(order, "ladder" if tag.startswith("L") else "control")
        return order

    def _cancel(self, order: OrderView, reason: str) -> None:
        """Cancel and count it: ``requote`` (prices moved), ``limit`` (position
        limit or control mode pulled a fitting quote), ``control``."""
        if self.ctx.cancel(order.client_id):
            self.ctx.telemetry.count("cancels")
            self.ctx.telemetry.count(f"cancels_{reason}")

    # -- prices ---------------------------------------------------------------

    def _tolerance(self, mid: Decimal) -> Decimal:
        return mid * self.p.requote_bps / BPS

    def _add_mid(self, now_ms: int, mid: Decimal) -> None:
        self._mids.append((now_ms, mid))
        horizon = now_ms - self.p.mid_window_ms
        while len(self._mids) > 1 and self._mids[0][0] < horizon:
            self._mids.popleft()

    def _reference_mid(self, now_ms: int) -> Decimal:
        horizon = now_ms - self.p.mid_window_ms
        values = [m for t, m in self._mids if t >= horizon] or [self._mids[-1][1]]
        return statistics.median_low(values)

    # -- telemetry and preview ------------------------------------------------

    def _publish(self, plan: Plan, position: Any, now_ms: int) -> None:
        tel = self.ctx.telemetry
        live = self._live()
        bids = [o for o in live if o.side is Side.BUY and not _is_control(o)]
        asks = [o for o in live if o.side is Side.SELL and not _is_control(o)]
        tel.sample("mid", now_ms, plan.mid)
        tel.sample("reservation", now_ms, plan.centre)
        tel.sample("inventory", now_ms, position.size)
        tel.sample("pnl", now_ms, position.net_pnl(plan.mid))
        tel.set("target", self.p.target_position)
        tel.set("deviation", plan.deviation)
        tel.set("skew_bps", round(float(plan.skew_bps), 2))
        if plan.bids and plan.asks:
            tel.set("spread_bps", round(float((plan.asks[0] - plan.bids[0]) / plan.mid * BPS), 2))
        tel.set("levels", f"{len(bids)} bid / {len(asks)} ask")
        tel.set("control", plan.control.tag if plan.control is not None else "-")
        tel.set("backoff_s", round(self.backoff.waiting_ms(now_ms) / 1000, 1))
        state = plan.mode
        if plan.mode == "quoting" and (not bids or not asks) and (plan.bids or plan.asks):
            state = "quoting (one side at limit)"
        tel.set("state", state)

    def preview(self) -> list[PlannedOrder]:
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            return []
        mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
        if mid is None:
            return []
        position = self.ctx.position(self.venue, self.symbol).size
        plan = self.plan(book, mid, position)
        out: list[PlannedOrder] = []
        post_only = self.p.post_only
        if plan.control is not None:
            c = plan.control
            out.append(
                PlannedOrder(
                    self.venue,
                    self.symbol,
                    c.side,
                    c.price,
                    c.size,
                    post_only=post_only,
                    reduce_only=c.reduce_only,
                    note=c.tag,
                )
            )
        for side, prices in ((Side.BUY, plan.bids), (Side.SELL, plan.asks)):
            room = self.p.max_position - side.sign * position
            if plan.control is not None and plan.control.side is side:
                room -= plan.control.size
            for j, price in enumerate(prices):
                if room < self.size:
                    break
                room -= self.size
                out.append(
                    PlannedOrder(
                        self.venue, self.symbol, side, price, self.size, post_only, note=f"L{j}"
                    )
                )
        return out


def _is_control(order: OrderView) -> bool:
    return order.tag in CONTROL_TAGS or order.tag == ESCALATE_TAG or order.reduce_only
