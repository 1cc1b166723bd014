"""Hedge ladder: a long ladder of maker entries on one venue, each filled entry
with its take-profit, protected by a short hedge on a second venue while the
price is down.

Entry venue (the strategy's ``venue`` / ``symbol``):

- every ``entry_interval_secs`` a post-only bid joins the best bid
  (``entry_offset_ticks`` below it), at most ``max_resting_entries`` at a time;
- a resting entry that the market left behind by more than ``requote_ticks``,
  or older than ``entry_max_age_secs``, is cancelled and posted again;
- every fill of an entry (partial fills too) opens a *lot*; each lot gets a
  reduce-only post-only take-profit at entry + ``take_profit_abs``. A lot's
  take-profit that disappears (cancelled, rejected, pulled by a pause) is
  placed again on the next cycle; lots are reconciled against the position.

Hedge venue (``hedge_venue`` / ``hedge_symbol``):

- a lot is *triggered* when the entry venue's mid falls to
  entry x ``hedge_trigger_ratio`` and stays triggered until the mid is back at
  entry x ``hedge_release_ratio`` (higher): noise between the two prices does
  not flip the hedge. ``hedge_min_hold_secs`` also holds each state that long;
- the wanted hedge is the open size of the triggered lots, and at least what
  keeps the net delta (entry position + hedge position) inside
  ``net_delta_bound``. It is worked with one immediate-or-cancel market order at
  a time; buying it back is reduce-only when ``hedge_reduce_only_close``;
- only fills count: the hedge held is this strategy's own position on the hedge
  venue, built from fills, never from an accepted submit. An order that ends
  without its full fill is retried after ``hedge_retry_delay`` x attempt, at
  most ``hedge_rate_limit_per_sec`` orders a second; after ``hedge_retry``
  failures in a row it waits ``hedge_retry_cooldown_secs`` and starts again.

Sizes are base units on both venues: the entry size is the smallest size at or
above ``quantity_base`` that both venues' step grids and minimums accept, and
hedge sizes are rounded to the hedge venue's step.

Tags: ``entry``; ``tp:<entry client id>@<entry price>``; ``hedge`` (sell) and
``unhedge`` (buy back). A restarted strategy rebuilds its lots from the
adopted take-profits and its position, and the hedge state from its hedge
position.
"""

from __future__ import annotations

from connectors.base import Fill, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import OrderView, PlannedOrder
from strategies.hedge_ladder_entries import HedgeLadderEntries
from strategies.hedge_ladder_exits import HedgeLadderExits
from strategies.hedge_ladder_hedging import HedgeLadderHedging, hedge_target, next_hedge_state
from strategies.hedge_ladder_params import HedgeLadderParams
from strategies.hedge_ladder_state import (
    HEDGE_TAGS,
    Lot,
    parse_tp_tag,
    resolve_hedge_instrument,
    tp_tag,
)
from strategies.ladder_lots import (
    ENTRY,
    TP_PREFIX,
    entry_ended,
    entry_filled,
    take_profit_filled,
    take_profit_price,
)


class HedgeLadder(HedgeLadderEntries, HedgeLadderExits, HedgeLadderHedging):
    """The strategy: its lifecycle, its events, the cycle that runs its parts
    (``hedge_ladder_entries``, ``_exits``, ``_hedging``), its telemetry and preview."""

    kind = "hedge_ladder"
    title = "Hedge ladder"
    Params = HedgeLadderParams

    # -- lifecycle ------------------------------------------------------------

    def on_start(self) -> None:
        """Rebuild from the orders an earlier run left (handed back by the core)."""
        adopted = self.ctx.orders()
        for o in adopted:
            parsed = parse_tp_tag(o.tag)
            if parsed is not None and o.venue == self.venue:
                entry_id, price = parsed
                lot = self.lots.get(entry_id) or self._new_lot(entry_id, price)
                lot.filled += o.remaining
                lot.entry_done = True
            elif o.tag in HEDGE_TAGS:
                self.ctx.cancel(o.client_id)  # re-derived from the hedge position
        live_entries = {o.client_id for o in adopted if o.tag == ENTRY}
        for entry_id in live_entries & set(self.lots):
            self.lots[entry_id].entry_done = False
        self._adopt_hedge_state(self.ctx.now_ms())
        if adopted:
            self.ctx.telemetry.set("adopted_orders", len(adopted))
            self.ctx.log.info(
                "%s: adopted %d orders (%d entries, %d lots), hedge %s",
                self.ctx.name,
                len(adopted),
                len(live_entries),
                len(self.lots),
                self._hedge_held(),
            )
        self._cycle(self.ctx.now_ms())

    def on_pause(self) -> None:
        self.ctx.telemetry.set("state", "paused (hedges held)")

    def on_resume(self) -> None:
        self._cycle(self.ctx.now_ms())

    def on_stop(self) -> None:
        self.ctx.telemetry.set("state", "stopped")

    def on_tick(self, now_ms: int) -> None:
        self._cycle(now_ms)

    # -- events ---------------------------------------------------------------

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        tel = self.ctx.telemetry
        tag = order.tag
        now = self.ctx.now_ms()
        if tag == ENTRY:
            tel.count("entry_fills")
            lot = entry_filled(self.lots, order, fill, self._new_lot)
            if self.ctx.running:
                self._cover(lot, now)
        elif tag.startswith(TP_PREFIX):
            tel.count("tp_fills")
            parsed = parse_tp_tag(tag)
            take_profit_filled(self.lots, parsed[0] if parsed is not None else None, fill.size)
        elif tag in HEDGE_TAGS:
            tel.count(f"{tag}_fills")
            self.hedge_failures = 0
        if self.ctx.running:
            self._work_hedge(now)

    def on_order(self, order: OrderView) -> None:
        tag, status, now = order.tag, order.status, self.ctx.now_ms()
        tel = self.ctx.telemetry
        if status is OrderStatus.REJECTED:
            tel.count("rejects")
            tel.set("last_reject", f"{tag}: {order.reason}")
            self.ctx.log.debug("%s order %s rejected: %s", tag, order.client_id, order.reason)
        if tag == ENTRY or tag.startswith(TP_PREFIX):
            if status is OrderStatus.REJECTED:
                self.backoff.rejected(tag, now, order.client_id)
            elif status is OrderStatus.OPEN:
                self.backoff.accepted(tag)
        if tag == ENTRY:
            if status.is_terminal:
                entry_ended(self.lots, order.client_id)
        elif tag.startswith(TP_PREFIX):
            if status in (OrderStatus.CANCELLED, OrderStatus.LOST) and not order.cancel_requested:
                tel.count("tp_lost")  # not ours: placed again on the next cycle
        elif tag in HEDGE_TAGS and status.is_terminal:
            if order.filled < order.size:
                self._hedge_failed(order, now)
            if self.ctx.running:
                self._work_hedge(now)

    # -- the cycle ------------------------------------------------------------

    def _cycle(self, now_ms: int) -> None:
        tel = self.ctx.telemetry
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            tel.set("state", "no book")
            return
        self._reconcile_lots(now_ms)
        self._update_triggers(book, now_ms)
        if self.ctx.running:
            self._work_hedge(now_ms)
            for lot in list(self.lots.values()):
                self._cover(lot, now_ms, book)
            self._requote(book, now_ms)
            self._maybe_enter(book, now_ms)
        self._publish(book, now_ms)

    # -- telemetry and preview ------------------------------------------------

    def _publish(self, book: OrderBook, now_ms: int) -> None:
        tel = self.ctx.telemetry
        mid = book.mid()
        entry = self.ctx.position(self.venue, self.symbol)
        hedge = self.ctx.position(self.hedge_venue, self.hedge_symbol)
        hbook = self.ctx.book(self.hedge_venue, self.hedge_symbol)
        hmid = hbook.mid() if hbook is not None and hbook.is_valid() else None
        net = entry.size + hedge.size
        account_net = self.ctx.account_position(
            self.venue, self.symbol
        ) + self.ctx.account_position(self.hedge_venue, self.hedge_symbol)
        wanted = self.wanted_hedge()
        open_lots = [lot for lot in self.lots.values() if lot.open > 0]
        hedged = sum(1 for lot in open_lots if lot.hedged)
        if not self.ctx.running:
            state = "paused (hedges held)"
        elif hedged:
            state = f"hedging {hedged}/{len(open_lots)} lots"
        else:
            state = f"laddering ({len(open_lots)} lots)"
        tel.set("state", state)
        tel.set("base", self.inst.base)
        tel.set("hedge_market", f"{self.hedge_venue}/{self.hedge_symbol}")
        tel.set("size", self.size)
        tel.set("lots", len(open_lots))
        tel.set("hedged_lots", hedged)
        tel.set("resting_entries", len(self._entries()))
        tel.set(
            "tp_orders",
            sum(1 for o in self.ctx.orders(self.venue, self.symbol) if o.tag.startswith(TP_PREFIX)),
        )
        tel.set("entry_position", entry.size)
        tel.set("hedge_position", hedge.size)
        tel.set("hedge_wanted", -wanted)
        tel.set("hedge_deficit", wanted - self._hedge_held())
        tel.set("net_delta_bound", self.bound)
        tel.set("account_net_exposure", account_net)
        tel.sample("net_exposure", now_ms, net)
        if mid is not None:
            tel.sample("mid", now_ms, mid)
            pnl = entry.net_pnl(mid) + hedge.net_pnl(hmid if hmid is not None else mid)
            tel.sample("pnl", now_ms, pnl)
        if hmid is not None:
            tel.set("hedge_mid", hmid)
            if mid is not None:
                tel.set("basis_bps", round(float((hmid - mid) / mid * 10_000), 2))
        nearest = max((lot.trigger for lot in open_lots if not lot.hedged), default=None)
        tel.set("next_trigger", self.inst.round_price(nearest) if nearest is not None else None)

    def preview(self) -> list[PlannedOrder]:
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            return []
        price = self.entry_price(book)
        if price is None:
            return []
        p = self.p
        tp = take_profit_price(Side.BUY, price, p.take_profit_abs, self.inst)
        trigger = self.inst.round_price(price * p.hedge_trigger_ratio)
        release = self.inst.round_price(price * p.hedge_release_ratio)
        return [
            PlannedOrder(self.venue, self.symbol, Side.BUY, price, self.size, True, note=ENTRY),
            PlannedOrder(
                self.venue,
                self.symbol,
                Side.SELL,
                tp,
                self.size,
                True,
                True,
                note="take-profit, per fill of the entry",
            ),
            PlannedOrder(
                self.hedge_venue,
                self.hedge_symbol,
                Side.SELL,
                None,
                self.hedge_inst.round_size(self.size),
                note=f"hedge (IOC market) if mid <= {trigger}; bought back at >= {release}",
            ),
        ]


__all__ = [
    "HedgeLadder",
    "HedgeLadderParams",
    "Lot",
    "hedge_target",
    "next_hedge_state",
    "parse_tp_tag",
    "resolve_hedge_instrument",
    "tp_tag",
]
