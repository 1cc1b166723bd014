"""The hedge ladder's entries: a post-only bid joining everyone else's best bid
every ``entry_interval_secs``, while the lot, resting-entry and net delta caps
leave room, and re-posted when the market left it behind or it grew too old."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import OrderView
from strategies.external_book import external_best
from strategies.hedge_ladder_state import HedgeLadderState
from strategies.ladder_lots import ENTRY


class HedgeLadderEntries(HedgeLadderState):
    """Placing entry bids and requoting them (a part of ``HedgeLadder``)."""

    def _entries(self) -> list[OrderView]:
        return [o for o in self.ctx.orders(self.venue, self.symbol) if o.tag == ENTRY]

    def _requote(self, book: OrderBook, now_ms: int) -> None:
        best = external_best(book, self.inst, Side.BUY, self._entries())
        if best is None:
            return
        gap = self.p.requote_ticks * self.inst.tick_size
        max_age = self.p.entry_max_age_secs
        for o in self._entries():
            if o.cancel_requested or o.status is OrderStatus.PENDING or o.price is None:
                continue
            stale = best - o.price >= gap
            old = max_age is not None and now_ms - o.created_ms >= max_age * 1000
            if (stale or old) and self.ctx.cancel(o.client_id):
                self.ctx.telemetry.count("requotes")
                self.repost = True

    def entry_room(self) -> bool:
        """May one more entry of ``self.size`` rest now (position and bound)?"""
        entries = self._entries()
        p = self.p
        if len(entries) >= p.max_resting_entries:
            return False
        lots = sum(1 for lot in self.lots.values() if lot.open > 0)
        if lots + len(entries) >= p.max_concurrent_positions:
            return False
        resting = sum((o.remaining for o in entries), ZERO)
        entry = self.ctx.position(self.venue, self.symbol).size
        # If every resting bid and this one filled now, before any hedge moved.
        return entry + resting + self.size - self._hedge_held() <= self.bound

    def entry_price(self, book: OrderBook) -> Decimal | None:
        """Joins everyone else's best bid (``entry_offset_ticks`` under it), a tick
        under the best ask at most."""
        best = external_best(book, self.inst, Side.BUY, self.ctx.orders(self.venue, self.symbol))
        if best is None:
            return None
        price = best - self.p.entry_offset_ticks * self.inst.tick_size
        ask = book.best_ask()
        if ask is not None:
            price = min(price, ask - self.inst.tick_size)
        return price if price > 0 else None

    def _maybe_enter(self, book: OrderBook, now_ms: int) -> None:
        if not self.backoff.ready(ENTRY, now_ms) or not self.entry_room():
            return
        interval = round(self.p.entry_interval_secs * 1000)
        if (
            not self.repost
            and self.last_entry_ms is not None
            and now_ms - self.last_entry_ms < interval
        ):
            return
        price = self.entry_price(book)
        if price is None:
            return
        self.repost = False
        self.last_entry_ms = now_ms
        self.ctx.telemetry.count("entries")
        self.ctx.place(
            self.venue, self.symbol, Side.BUY, self.size, price, post_only=True, tag=ENTRY
        )


__all__ = ["HedgeLadderEntries"]
