"""The geometric grid's orders: the live orders made to match the wanted ladder and the
open round trips (``geometric_grid``). A mixin of ``GeometricGrid``.

Every tick (and after every fill) entries no longer wanted (deselected by a re-centre,
wrong price, duplicates) are cancelled, missing ones (post-only rejects, external
cancels) are placed again after ``retry_ms``, take-profits are re-sized to the inventory
they cover. While a level holds inventory it carries no new entry, and no sell entry
rests at or below a resting take-profit (no buy entry at or above one), so a take-profit
always fills before an opposite entry could open inventory against it. With
``close_on_stop``, a stop cancels the take-profits and closes the position at market.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import ZERO, Instrument, OrderType, Side, TimeInForce
from connectors.book import OrderBook
from strategies.backoff import RejectBackoff
from strategies.base import OrderView, StrategyContext
from strategies.grid_inventory import Slot
from strategies.grid_ladder import (
    STOP_CLOSE_TAG,
    SlotKey,
    entry_tag,
    order_size,
    parse_tag,
    select_levels,
    tp_tag,
)

if TYPE_CHECKING:
    from strategies.geometric_grid import GeometricGridParams


class GridOrders:
    """The order side of ``GeometricGrid``; its round trips (``_sync_inventory``) are
    ``GridInventory``'s."""

    ctx: StrategyContext
    venue: str
    symbol: str
    inst: Instrument
    p: GeometricGridParams
    prices: list[Decimal]
    slots: dict[SlotKey, Slot]
    centre: Decimal | None
    stopped: str
    _active: bool
    _entry_backoff: RejectBackoff
    _tp_backoff: RejectBackoff
    _dust_refused: set[SlotKey]

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


__all__ = ["GridOrders"]
