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

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, localcontext
from typing import Literal

from pydantic import Field, model_validator

from connectors.base import ZERO, Fill, Instrument, OrderStatus, OrderType, Side, TimeInForce
from connectors.book import OrderBook
from strategies.backoff import RejectBackoff
from strategies.base import OrderView, PlannedOrder, Strategy, StrategyContext, StrategyParams
from strategies.external_book import external_mid

Mode = Literal["neutral", "long", "short"]
SlotKey = tuple[Side, int]
"""A round trip's home: the entry side and the entry level."""

STOP_CLOSE_TAG = "stop-close"
ENTRY_BACKOFF_CAP_MS = 30_000
TP_BACKOFF_CAP_MS = 10_000
_TAG_RE = re.compile(r"^([ET])([bs])(\d+)$")
_SIDE_CHAR = {Side.BUY: "b", Side.SELL: "s"}
_CHAR_SIDE = {"b": Side.BUY, "s": Side.SELL}


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


# -- pure grid math -------------------------------------------------------------


def grid_prices(low: Decimal, high: Decimal, levels: int, inst: Instrument) -> list[Decimal]:
    """n + 1 geometric prices from low to high, rounded to the tick, strictly increasing."""
    with localcontext() as ctx:
        ctx.prec = 40
        ratio = high / low
        raw = [low * ratio ** (Decimal(k) / levels) for k in range(levels + 1)]
    out: list[Decimal] = []
    for price in raw:
        rounded = inst.round_price(price)
        if rounded > 0 and (not out or rounded > out[-1]):
            out.append(rounded)
    return out


def quote_per_order(allocation: Decimal, orders_per_side: int, mode: Mode) -> Decimal:
    """Neutral splits the budget over both sides; long or short uses all of it on one."""
    return allocation / (orders_per_side * (2 if mode == "neutral" else 1))


def order_size(
    price: Decimal, inst: Instrument, allocation: Decimal | None, orders_per_side: int, mode: Mode
) -> Decimal:
    """Base size for an entry at ``price``: the budget share, at least min size and notional."""
    size = inst.min_size
    if allocation is not None:
        size = max(
            size, inst.round_size(quote_per_order(allocation, orders_per_side, mode) / price)
        )
    if inst.min_notional > 0 and size * price < inst.min_notional:
        steps = (inst.min_notional / price / inst.step_size).to_integral_value(ROUND_CEILING)
        size = steps * inst.step_size
    return size


def select_levels(
    prices: list[Decimal], centre: Decimal, orders_per_side: int, mode: Mode
) -> tuple[list[int], list[int]]:
    """(buy levels, sell levels), nearest to ``centre`` first.

    Buys are the highest prices strictly below the centre, sells the lowest
    strictly above. The top level is never a buy and level 0 never a sell:
    their take-profit would be off the grid.
    """
    top = len(prices) - 1
    buys = [i for i in range(top - 1, -1, -1) if prices[i] < centre][:orders_per_side]
    sells = [i for i in range(1, top + 1) if prices[i] > centre][:orders_per_side]
    if mode == "long":
        sells = []
    elif mode == "short":
        buys = []
    return buys, sells


def entry_tag(side: Side, level: int) -> str:
    return f"E{_SIDE_CHAR[side]}{level}"


def tp_tag(entry_side: Side, level: int) -> str:
    return f"T{_SIDE_CHAR[entry_side]}{level}"


def parse_tag(tag: str) -> tuple[str, Side, int] | None:
    """("E" or "T", the entry side, the entry level), or None for a foreign tag."""
    m = _TAG_RE.match(tag)
    if m is None:
        return None
    return m.group(1), _CHAR_SIDE[m.group(2)], int(m.group(3))


@dataclass(slots=True)
class _Slot:
    """Inventory one round trip holds: entry fills not yet closed by its take-profit."""

    held: Decimal = ZERO
    cost: Decimal = ZERO  # quote paid (buy) or received (sell) for ``held``

    def take(self, qty: Decimal) -> Decimal:
        """Remove ``qty`` (at most ``held``); returns its cost."""
        qty = min(qty, self.held)
        if qty <= 0:
            return ZERO
        part = self.cost * qty / self.held
        self.held -= qty
        self.cost -= part
        return part


class GeometricGrid(Strategy):
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
        self.slots: dict[SlotKey, _Slot] = {}
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
                slot = self.slots.setdefault(key, _Slot())
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

    # -- the ladder -----------------------------------------------------------

    def _size(self, price: Decimal) -> Decimal:
        p = self.p
        return order_size(price, self.inst, p.quote_allocation, p.orders_per_side, p.mode)

    def _wanted_entries(
        self, centre: Decimal, live_entries: set[SlotKey]
    ) -> dict[SlotKey, Decimal]:
        """Entry levels to work now: ``orders_per_side`` per side, nearest to the centre
        first, less levels whose round trip waits for its take-profit, and fenced
        behind the resting take-profits (they take the levels next to the price)."""
        top = len(self.prices) - 1
        buys, sells = select_levels(self.prices, centre, top, self.p.mode)
        held = {k for k, s in self.slots.items() if s.held > 0}
        # take-profit levels of open round trips: sells at i + 1, buys at j - 1. An
        # entry stays on its side of every take-profit: a sell entry above the sell
        # take-profits (they fill first) and above the buy ones (it would cross them),
        # a buy entry below both.
        sell_tps = [i + 1 for s, i in held if s is Side.BUY]
        buy_tps = [j - 1 for s, j in held if s is Side.SELL]
        sell_floor = max(sell_tps + buy_tps, default=-1)
        buy_ceiling = min(sell_tps + buy_tps, default=top + 1)
        wanted: dict[SlotKey, Decimal] = {}
        for side, levels in ((Side.BUY, buys), (Side.SELL, sells)):
            busy = sum(1 for k in held if k[0] is side and k not in live_entries)
            room = self.p.orders_per_side - busy
            for level in levels:
                if room <= 0:
                    break
                key = (side, level)
                if key in held and key not in live_entries:
                    continue  # waiting for its take-profit
                if side is Side.BUY and level >= buy_ceiling:
                    continue
                if side is Side.SELL and level <= sell_floor:
                    continue
                wanted[key] = self.prices[level]
                room -= 1
        return wanted

    def _can_rest(self, side: Side, price: Decimal, book: OrderBook | None) -> bool:
        """Post-only orders that would cross the opposite touch are not sent."""
        if not self.p.post_only or book is None:
            return True
        if side is Side.BUY:
            ask = book.best_ask()
            return ask is None or price < ask
        bid = book.best_bid()
        return bid is None or price > bid

    def _reconcile(self, now_ms: int, book: OrderBook | None) -> None:
        """Make the live orders match the wanted ladder and the open round trips."""
        entries: dict[SlotKey, list[OrderView]] = {}
        tps: dict[SlotKey, list[OrderView]] = {}
        stop_close_live = False
        for o in self.ctx.orders(self.venue, self.symbol):
            if o.cancel_requested:
                continue
            if o.tag == STOP_CLOSE_TAG:
                stop_close_live = True
            parsed = parse_tag(o.tag)
            if parsed is None:
                continue
            kind, side, level = parsed
            (entries if kind == "E" else tps).setdefault((side, level), []).append(o)
        self._sync_inventory()
        closing = bool(self.stopped) and self.p.close_on_stop
        self._reconcile_tps(now_ms, book, tps, set(entries), cancel_all=closing)
        if closing and not stop_close_live:
            self._close_position(now_ms)
        self._reconcile_entries(now_ms, book, entries)

    def _reconcile_entries(
        self, now_ms: int, book: OrderBook | None, entries: dict[SlotKey, list[OrderView]]
    ) -> None:
        wanted: dict[SlotKey, Decimal] = {}
        if not self.stopped:
            if self.centre is None:
                return  # no centre yet (before the first tick after a start or resume)
            wanted = self._wanted_entries(self.centre, set(entries))
        for key, live in entries.items():
            keep: OrderView | None = None
            for o in live:
                price_ok = key in wanted and o.price == wanted[key] and o.side is key[0]
                if keep is None and price_ok:
                    keep = o
                else:
                    self.ctx.cancel(o.client_id)
            if keep is not None:
                wanted.pop(key)
        for (side, level), price in wanted.items():
            if self._can_rest(side, price, book):
                self._place(now_ms, side, self._size(price), price, tag=entry_tag(side, level))

    def _reconcile_tps(
        self,
        now_ms: int,
        book: OrderBook | None,
        tps: dict[SlotKey, list[OrderView]],
        live_entries: set[SlotKey],
        *,
        cancel_all: bool,
    ) -> None:
        for key, live in tps.items():
            slot = self.slots.get(key)
            held = ZERO if cancel_all or slot is None else slot.held
            covered = sum((o.remaining for o in live), ZERO)
            for o in sorted(live, key=lambda o: o.created_ms, reverse=True):
                if covered <= held:
                    break
                self.ctx.cancel(o.client_id)  # more cover than inventory
                covered -= o.remaining
        if cancel_all:
            return
        for key, slot in list(self.slots.items()):
            covered = sum((o.remaining for o in tps.get(key, ())), ZERO)
            gap = self.inst.round_size(slot.held - covered)
            if gap <= 0:
                continue
            if gap < self.inst.min_size:
                if key in live_entries:
                    continue  # more partial fills may come: cover them together
                if key in self._dust_refused:
                    # the venue refuses reduce-only dust: free the level, the rest
                    # stays as unassigned inventory (flatten closes it)
                    self._dust_refused.discard(key)
                    slot.take(gap)
                    if slot.held == 0:
                        del self.slots[key]
                    continue
            self._place_tp(now_ms, book, key, gap)

    def _place_tp(self, now_ms: int, book: OrderBook | None, key: SlotKey, size: Decimal) -> None:
        entry_side, level = key
        side = entry_side.opposite
        target = level + (1 if entry_side is Side.BUY else -1)
        account = self.ctx.account_position(self.venue, self.symbol)
        reducible = account < 0 if side is Side.BUY else account > 0
        if not 0 <= target < len(self.prices) or not reducible:
            self.ctx.telemetry.count("tp_blocked")
            return
        price = self.prices[target]
        if self.p.post_only:
            # Price went through the level: rest one tick behind the touch (a better
            # price) -- our own opposite orders count, even before the book shows them
            # (an entry being cancelled for this take-profit may still rest).
            tick = self.inst.tick_size
            mine = [
                o.price
                for o in self.ctx.orders(self.venue, self.symbol)
                if o.side is not side and o.price is not None
            ]
            if side is Side.SELL:
                bids = mine + ([b] if book is not None and (b := book.best_bid()) else [])
                price = max([price] + [b + tick for b in bids])
            else:
                asks = mine + ([a] if book is not None and (a := book.best_ask()) else [])
                price = min([price] + [a - tick for a in asks])
        self._place(now_ms, side, size, price, tag=tp_tag(entry_side, level), reduce_only=True)

    def _place(
        self,
        now_ms: int,
        side: Side,
        size: Decimal,
        price: Decimal | None,
        *,
        tag: str,
        reduce_only: bool = False,
        market: bool = False,
    ) -> OrderView | None:
        if not self._backoff(tag).ready(tag, now_ms):
            return None
        if not self.ctx.running:  # paused or halted: the core would refuse it
            self._active = False
            return None
        try:
            return self.ctx.place(
                self.venue,
                self.symbol,
                side,
                size,
                price,
                order_type=OrderType.MARKET if market else OrderType.LIMIT,
                time_in_force=TimeInForce.IOC if market else TimeInForce.GTC,
                post_only=self.p.post_only and not market,
                reduce_only=reduce_only,
                tag=tag,
            )
        except RuntimeError as exc:  # belt and braces: refused by the core
            self._active = False
            self.ctx.log.debug("grid %s: not placing: %s", self.ctx.name, exc)
            return None

    def _backoff(self, tag: str) -> RejectBackoff:
        return self._tp_backoff if tag.startswith("T") else self._entry_backoff

    # -- inventory ------------------------------------------------------------

    def _sync_inventory(self) -> None:
        """Keep the round trips' inventory equal to what the strategy and the account hold.

        - A long and a short round trip open at once (an entry filled while the
          take-profit in front of it was being re-placed) are flat together on a
          netting venue: they close against each other.
        - Inventory closed outside the grid (a flatten, the kill switch, another
          strategy's fill on the same account) leaves the round trips.
        - Inventory the round trips do not explain (after a restart, or a
          take-profit that filled after its round trip was netted) becomes a
          round trip at the level of the position's entry price.
        """
        self._net_opposite()
        pos = self.ctx.position(self.venue, self.symbol)
        account = self.ctx.account_position(self.venue, self.symbol)
        caps = {
            Side.BUY: max(ZERO, min(pos.size, account)),
            Side.SELL: max(ZERO, min(-pos.size, -account)),
        }
        for side, cap in caps.items():
            # release the round trips farthest from their take-profit first
            keys = sorted(
                (k for k in self.slots if k[0] is side),
                key=lambda k: k[1],
                reverse=side is Side.BUY,
            )
            held = sum((self.slots[k].held for k in keys), ZERO)
            excess = held - cap
            for k in keys:
                if excess <= 0:
                    break
                qty = min(excess, self.slots[k].held)
                self.slots[k].take(qty)
                excess -= qty
                if self.slots[k].held == 0:
                    del self.slots[k]
                self.ctx.telemetry.count("inventory_released")
            unexplained = self.inst.round_size(cap - held)
            if unexplained >= self.inst.min_size and pos.entry_price > 0:
                key = self._level_for(side, pos.entry_price)
                slot = self.slots.setdefault(key, _Slot())
                slot.held += unexplained
                slot.cost += unexplained * pos.entry_price
                self.ctx.telemetry.count("inventory_assigned")

    def _net_opposite(self) -> None:
        while True:
            longs = [k for k in self.slots if k[0] is Side.BUY]
            shorts = [k for k in self.slots if k[0] is Side.SELL]
            if not longs or not shorts:
                return
            # the pair closest to each other: the highest buy against the lowest sell
            b, s = max(longs, key=lambda k: k[1]), min(shorts, key=lambda k: k[1])
            qty = min(self.slots[b].held, self.slots[s].held)
            self.realized += self.slots[s].take(qty) - self.slots[b].take(qty)
            for k in (b, s):
                if self.slots[k].held == 0:
                    del self.slots[k]
            self.round_trips += 1
            self.ctx.telemetry.count("netted")

    def _level_for(self, side: Side, price: Decimal) -> SlotKey:
        """The entry level a position at ``price`` most likely came from."""
        top = len(self.prices) - 1
        if side is Side.BUY:
            below = [i for i, p in enumerate(self.prices) if p <= price]
            return side, min(max(below, default=0), top - 1)
        above = [i for i, p in enumerate(self.prices) if p >= price]
        return side, max(min(above, default=top), 1)

    def _rebuild_from_orders(self) -> int:
        """Rebuild the round trips from the orders an earlier run left (by their tags)."""
        adopted = 0
        orders = [
            (parsed, o)
            for o in self.ctx.orders(self.venue, self.symbol)
            if (parsed := parse_tag(o.tag)) is not None
        ]
        top = len(self.prices) - 1
        for (kind, side, level), o in orders:
            adopted += 1
            if kind == "T" and o.remaining > 0:
                slot = self.slots.setdefault((side, level), _Slot())
                entry_price = self.prices[level] if 0 <= level <= top else o.price or ZERO
                slot.held += o.remaining
                slot.cost += o.remaining * entry_price
        buys: list[int] = []
        sells: list[int] = []
        for (kind, side, level), o in orders:
            if kind != "E":
                continue
            if 0 <= level <= top and o.price == self.prices[level]:
                (buys if side is Side.BUY else sells).append(level)
            # a partly filled entry without a take-profit: cover what it filled
            if o.filled > 0 and (side, level) not in self.slots:
                slot = self.slots.setdefault((side, level), _Slot())
                slot.held += o.filled
                slot.cost += o.filled * (o.price or ZERO)
        # Keep the earlier run's centre, so its entries stay selected: between the
        # highest buy entry and the lowest sell entry.
        lo = max(buys) if buys else None
        hi = min(sells) if sells else None
        if lo is not None and (hi is None or hi <= lo):
            hi = lo + 1
        elif hi is not None and lo is None:
            lo = hi - 1
        if lo is not None and hi is not None and 0 <= lo < hi <= top:
            self.centre = (self.prices[lo] + self.prices[hi]) / 2
        return adopted

    def _close_position(self, now_ms: int) -> None:
        pos = self.ctx.position(self.venue, self.symbol).size
        account = self.ctx.account_position(self.venue, self.symbol)
        if pos == 0 or account == 0 or (pos > 0) != (account > 0):
            return
        qty = self.inst.round_size(min(abs(pos), abs(account)))
        if qty < self.inst.min_size:
            return
        self._place(
            now_ms, Side.closing(pos), qty, None, tag=STOP_CLOSE_TAG, reduce_only=True, market=True
        )

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
