"""Geometric grid.

A fixed ladder of limit orders at geometrically spaced prices inside a range.

Grid: ``levels`` = n geometric steps between ``range_low`` and ``range_high``,
so n + 1 prices p_k = low * (high / low) ** (k / n), k = 0..n, each rounded
to the nearest tick; prices that round onto the same tick are kept once. A
level is an index into that deduplicated list.

Working levels: around a centre (the mid at start, or at the last re-centre)
the ``orders_per_side`` highest prices strictly below it are buy levels and
the lowest strictly above it are sell levels (``long``: buys only, ``short``:
sells only).

Round trips, one per level and side at a time. An entry at level i (tag
``E<b|s><i>``) that fills, partly or fully, opens the round trip; what
actually filled gets a reduce-only take-profit one level away (tag
``T<b|s><i>``: a sell at i + 1 after a buy, a buy at i - 1 after a sell),
sized to the fill. A take-profit fill closes that much of the round trip and
nothing else; when the round trip is closed the entry level is re-armed.
While a level holds inventory it carries no new entry, and in ``neutral``
mode no sell entry rests at or below a resting sell take-profit (no buy entry
at or above a buy take-profit), so a take-profit always fills before an
opposite entry could open inventory against it.

Every tick (and after every fill) the wanted ladder is reconciled against
the live orders: entries no longer wanted (deselected by a re-centre, wrong
price, duplicates) are cancelled, missing ones (post-only rejects, external
cancels) are placed again after ``retry_ms``, take-profits are re-sized to the
inventory they cover. The round trips' inventory is kept equal to the
strategy's position: a long and a short round trip open at once (a race
between a cancel and a fill) are netted against each other, inventory closed
outside the grid (flatten, kill switch) leaves them, inventory they do not
explain (a restart) becomes a round trip at its entry price.

Out of range: once mid is more than ``stop_out_of_range_pct`` beyond a bound
the grid stops (latched until a pause/resume): entries are cancelled, the
take-profits keep working (or, with ``close_on_stop``, are cancelled and the
position is closed with a reduce-only market order).

Restart: the core hands back the earlier run's live orders with their tags;
``on_start`` rebuilds the round trips from them (a take-profit's remaining
size, a partly filled entry's fills) and keeps the earlier centre.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from pydantic import Field, model_validator

from connectors.base import ZERO, Fill, OrderStatus
from strategies.backoff import RejectBackoff
from strategies.base import OrderView, PlannedOrder, Strategy, StrategyContext, StrategyParams
from strategies.external_book import external_mid
from strategies.grid_inventory import GridInventory, Slot
from strategies.grid_ladder import (
    STOP_CLOSE_TAG,
    Mode,
    SlotKey,
    entry_tag,
    grid_prices,
    order_size,
    parse_tag,
    quote_per_order,
    select_levels,
    tp_tag,
)
from strategies.grid_orders import GridOrders

ENTRY_BACKOFF_CAP_MS = 30_000
TP_BACKOFF_CAP_MS = 10_000


class GeometricGridParams(StrategyParams):
    range_low: Decimal = Field(
        default=Decimal(95_000), gt=0, description="lowest grid price (quote ccy)"
    )
    range_high: Decimal = Field(
        default=Decimal(105_000), gt=0, description="highest grid price (quote ccy)"
    )
    levels: int = Field(
        default=20, ge=2, le=1000, description="geometric steps n: the grid has n + 1 prices"
    )
    orders_per_side: int = Field(
        default=5, ge=1, le=200, description="working levels on each side of the centre"
    )
    mode: Mode = Field(default="neutral", description="neutral: both sides; long: buys; short")
    quote_allocation: Decimal | None = Field(
        default=None,
        gt=0,
        description="budget (quote ccy) spread over the working levels; None = venue min size",
    )
    post_only: bool = Field(default=True, description="post-only entries and take-profits")
    recenter_on_move: bool = Field(
        default=False, description="re-select the working levels when the mid moves"
    )
    requote_ticks: int = Field(
        default=1, ge=1, description="re-centre once mid is this many ticks from the last centre"
    )
    stop_out_of_range_pct: Decimal | None = Field(
        default=Decimal(1),
        ge=0,
        description="stop when mid leaves the range by this % of the bound; None = never",
    )
    close_on_stop: bool = Field(
        default=False,
        description="on the out-of-range stop, also cancel take-profits and close at market",
    )
    retry_ms: int = Field(
        default=2_000,
        ge=0,
        description="wait after a rejected entry before placing it again (a TP: one tick); "
        "doubles with each refusal in a row, up to 30 s",
    )

    @model_validator(mode="after")
    def _consistent(self) -> GeometricGridParams:
        if self.range_high <= self.range_low:
            raise ValueError(
                f"range_high ({self.range_high}) must be above range_low ({self.range_low})"
            )
        if self.orders_per_side > self.levels:
            raise ValueError(
                f"orders_per_side ({self.orders_per_side}) cannot exceed levels ({self.levels}):"
                f" the grid has only {self.levels + 1} prices"
            )
        if self.close_on_stop and self.stop_out_of_range_pct is None:
            raise ValueError("close_on_stop needs stop_out_of_range_pct (it never stops without)")
        return self


class GeometricGrid(GridOrders, GridInventory, Strategy):
    kind = "geometric_grid"
    title = "Geometric grid"
    Params = GeometricGridParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p: GeometricGridParams = self.params  # type: ignore[assignment]
        self.p = p
        self.prices = grid_prices(p.range_low, p.range_high, p.levels, self.inst)
        if len(self.prices) < 2:
            raise ValueError(
                f"range {p.range_low}-{p.range_high} holds fewer than 2 distinct prices"
                f" at tick {self.inst.tick_size}"
            )
        self.slots: dict[SlotKey, Slot] = {}
        self.centre: Decimal | None = None
        self.stopped = ""  # why the grid stopped placing entries; "" while it works
        self.round_trips = 0
        self.realized = ZERO  # closed round trips: price gain only
        self.fees = ZERO  # on every grid fill
        self._active = False
        # refusals back off per tag: an entry from retry_ms, a take-profit (inventory
        # at risk) from one tick; doubling with each refusal in a row
        self._entry_backoff = RejectBackoff(p.retry_ms, max(p.retry_ms, ENTRY_BACKOFF_CAP_MS))
        self._tp_backoff = RejectBackoff(
            p.tick_interval_ms, max(p.tick_interval_ms, TP_BACKOFF_CAP_MS)
        )
        self._dust_refused: set[SlotKey] = set()

    # -- callbacks ------------------------------------------------------------

    def on_start(self) -> None:
        self._active = True
        adopted = self._rebuild_from_orders()
        self._sync_inventory()
        self.ctx.telemetry.set("adopted_orders", adopted)
        if adopted:
            self.ctx.log.info(
                "grid %s: adopted %d live orders, %d open round trips",
                self.ctx.name,
                adopted,
                len(self.slots),
            )
        self._publish_static()

    def on_resume(self) -> None:
        self._active = True
        # A resume is a fresh look at the market: new centre, and a stop is cleared
        # (it trips again at the next tick if mid is still out of range).
        self.centre = None
        self.stopped = ""

    def on_pause(self) -> None:
        self._active = False

    def on_stop(self) -> None:
        self._active = False

    def on_tick(self, now_ms: int) -> None:
        tel = self.ctx.telemetry
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            tel.set("state", "no book")
            return
        mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
        assert mid is not None
        position = self.ctx.position(self.venue, self.symbol)
        tel.sample("mid", now_ms, mid)
        tel.sample("position", now_ms, position.size)
        tel.sample("pnl", now_ms, position.net_pnl(mid))
        if not self.stopped and self._beyond_stop(mid):
            self._stop_out_of_range(mid)
        if not self.stopped:
            move = self.p.requote_ticks * self.inst.tick_size
            if self.centre is None:
                self.centre = mid
            elif self.p.recenter_on_move and abs(mid - self.centre) >= move:
                self.centre = mid
                tel.count("recentres")
        self._reconcile(now_ms, book)
        self._publish(mid)

    def on_order(self, order: OrderView) -> None:
        if order.status is OrderStatus.OPEN:
            self._backoff(order.tag).accepted(order.tag)
        if order.status is OrderStatus.REJECTED:
            self.ctx.telemetry.count("rejects")
            self._backoff(order.tag).rejected(order.tag, self.ctx.now_ms(), order.client_id)
            parsed = parse_tag(order.tag)
            if parsed is not None and parsed[0] == "T" and order.size < self.inst.min_size:
                self._dust_refused.add((parsed[1], parsed[2]))
            self.ctx.log.debug(
                "grid order %s (%s) rejected: %s", order.client_id, order.tag, order.reason
            )
        elif order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.LOST) and (
            not order.cancel_requested and parse_tag(order.tag) is not None
        ):
            self.ctx.telemetry.count("lost_orders")  # re-placed by the next reconcile

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        parsed = parse_tag(order.tag)
        if parsed is not None:
            kind, side, level = parsed
            self.fees += fill.fee
            key = (side, level)
            if kind == "E":
                slot = self.slots.setdefault(key, Slot())
                slot.held += fill.size
                slot.cost += fill.price * fill.size
            else:
                slot = self.slots.get(key)
                if slot is not None and slot.held > 0:
                    qty = min(fill.size, slot.held)
                    cost = slot.take(qty)
                    self.realized += (fill.price * qty - cost) * side.sign
                    if slot.held == 0:
                        del self.slots[key]
                        self.round_trips += 1
        if self._active:
            book = self.ctx.book(self.venue, self.symbol)
            self._reconcile(
                self.ctx.now_ms(), book if book is not None and book.is_valid() else None
            )

    def preview(self) -> list[PlannedOrder]:
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            return []
        mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
        assert mid is not None
        if self._beyond_stop(mid):
            return []
        centre = self.centre if self.centre is not None else mid
        top = len(self.prices) - 1
        out = []
        for (side, level), price in self._wanted_entries(centre, set()).items():
            if not self._can_rest(side, price, book):
                continue
            out.append(
                PlannedOrder(
                    self.venue,
                    self.symbol,
                    side,
                    price,
                    self._size(price),
                    self.p.post_only,
                    note=f"level {level}/{top}",
                )
            )
        out.sort(key=lambda o: o.price or ZERO, reverse=True)
        return out

    # -- range stop -----------------------------------------------------------

    def _beyond_stop(self, mid: Decimal) -> bool:
        margin = self.p.stop_out_of_range_pct
        if margin is None:
            return False
        m = margin / 100
        return mid < self.p.range_low * (1 - m) or mid > self.p.range_high * (1 + m)

    def _stop_out_of_range(self, mid: Decimal) -> None:
        self.stopped = (
            f"stopped: out of range (mid {mid} outside {self.p.range_low}-{self.p.range_high}"
            f" by more than {self.p.stop_out_of_range_pct}%)"
        )
        self.ctx.telemetry.count("stops")
        self.ctx.log.warning("grid %s %s", self.ctx.name, self.stopped)

    # -- telemetry ------------------------------------------------------------

    def _publish_static(self) -> None:
        tel = self.ctx.telemetry
        tel.set("range", f"{self.p.range_low}-{self.p.range_high}")
        tel.set("levels", len(self.prices))
        with localcontext() as c:
            c.prec = 12
            step = (self.p.range_high / self.p.range_low) ** (Decimal(1) / self.p.levels) - 1
        tel.set("step_pct", round(float(step) * 100, 4))
        tel.set("mode", self.p.mode)

    def _publish(self, mid: Decimal) -> None:
        tel = self.ctx.telemetry
        live = [o for o in self.ctx.orders(self.venue, self.symbol) if not o.cancel_requested]
        kinds = [parse_tag(o.tag) for o in live]
        entry_levels = {(k[1], k[2]) for k in kinds if k is not None and k[0] == "E"}
        if self.stopped:
            state = "stopped: out of range"
        elif mid < self.p.range_low or mid > self.p.range_high:
            state = "outside range"
        else:
            state = "gridding"
        tel.set("state", state)
        tel.set("stop_reason", self.stopped or None)
        tel.set("centre", self.centre)
        tel.set("levels_live", len(entry_levels))
        tel.set("entries_live", sum(1 for k in kinds if k is not None and k[0] == "E"))
        tel.set("tps_live", sum(1 for k in kinds if k is not None and k[0] == "T"))
        tel.set("open_round_trips", len(self.slots))
        tel.set("round_trips", self.round_trips)
        pos = self.ctx.position(self.venue, self.symbol).size
        net = sum((s.held * k[0].sign for k, s in self.slots.items()), ZERO)
        tel.set("unassigned", pos - net)  # dust no take-profit could close
        tel.sample("grid_pnl", self.ctx.now_ms(), self.realized - self.fees)


__all__ = [
    "STOP_CLOSE_TAG",
    "GeometricGrid",
    "GeometricGridParams",
    "Mode",
    "SlotKey",
    "entry_tag",
    "grid_prices",
    "order_size",
    "parse_tag",
    "quote_per_order",
    "select_levels",
    "tp_tag",
]
