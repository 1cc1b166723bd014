"""The trend ladder's entries: where an entry rests (``entry_price``), how long
the next one waits (``entry_cooldown_secs``: longer as more filled entries wait
for their exit), what blocks one (caps, back-off, cool-down), and requoting an
entry the market left behind (cancel first, confirmed, backing off)."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, Instrument, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import OrderView
from strategies.ladder_lots import ENTRY
from strategies.trend_ladder_params import TrendLadderParams
from strategies.trend_ladder_state import COVER, TrendLadderState


def entry_cooldown_secs(count: int, p: TrendLadderParams) -> float:
    """Wait between entries given ``count`` filled entries awaiting their exit."""
    ratio = count / p.max_orders
    if ratio >= 2 / 3:
        wait = 2 * p.base_wait
    elif ratio >= 1 / 3:
        wait = p.base_wait
    elif ratio >= 1 / 6:
        wait = p.base_wait / 2
    else:
        wait = p.idle_wait
    return min(max(wait, p.min_wait), p.max_wait)


def entry_price(
    side: Side, bid: Decimal | None, ask: Decimal | None, inst: Instrument, offset_ticks: int
) -> Decimal | None:
    """Post-only entry ``offset_ticks`` outside the touch, never crossing."""
    tick = inst.tick_size
    if side is Side.BUY:
        if bid is None:
            return None
        price = min(bid, ask - tick) if ask is not None else bid
        price -= offset_ticks * tick
    else:
        if ask is None:
            return None
        price = max(ask, bid + tick) if bid is not None else ask
        price += offset_ticks * tick
    return price if price > 0 else None


class TrendLadderEntries(TrendLadderState):
    """Placing entries and requoting them (a part of ``TrendLadder``)."""

    def _requote(self, book: OrderBook, now_ms: int) -> None:
        p = self.p
        tel = self.ctx.telemetry
        wait_ms = round(p.requote_wait_confirm_secs * 1000)
        for cid, asked_ms in list(self.requoting.items()):
            if asked_ms >= 0 and now_ms - asked_ms >= wait_ms:
                self.requoting[cid] = -1  # counted once; its terminal update still clears it
                self.backoff.rejected("requote", now_ms)
                tel.count("requote_backoffs")
                self.ctx.log.info(
                    "%s: cancel of %s not confirmed in %.1f s; requotes back off %.0f s",
                    self.ctx.name,
                    cid,
                    p.requote_wait_confirm_secs,
                    (self.backoff.until_ms["requote"] - now_ms) / 1000,
                )
        threshold = max(p.requote_ticks * self.inst.tick_size, p.requote_abs)
        if threshold <= 0 or not self.backoff.ready("requote", now_ms):
            return
        side = self._entry_side()
        bid, ask = self._touch(book)
        desired = entry_price(side, bid, ask, self.inst, p.entry_offset_ticks)
        if desired is None:
            return
        stale = [
            o
            for o in self._orders()
            if o.tag == ENTRY
            and o.side is side
            and not o.cancel_requested
            and o.status is not OrderStatus.PENDING
            and o.price is not None
            and abs(o.price - desired) >= threshold
        ]
        stale.sort(key=lambda o: abs((o.price or ZERO) - desired), reverse=True)
        for o in stale[: p.max_requotes_per_tick]:
            if self.ctx.cancel(o.client_id):
                self.requoting[o.client_id] = now_ms

    def _maybe_enter(self, book: OrderBook, now_ms: int) -> None:
        p = self.p
        tel = self.ctx.telemetry
        orders = self._orders()
        entries = [o for o in orders if o.tag == ENTRY]
        count = self._pacing_count(orders)
        wait = entry_cooldown_secs(count, p)
        since = (now_ms - self.last_entry_ms) / 1000 if self.last_entry_ms is not None else None
        tel.set("entry_wait_s", round(wait, 1))
        tel.set("next_entry_in_s", round(max(0.0, wait - since), 1) if since is not None else 0.0)
        if len(entries) >= p.max_open_entries:
            tel.set("entry_block", "max_open_entries")
            return
        if count + len(entries) >= p.max_orders:
            tel.set("entry_block", "max_orders")
            return
        pending = sum((o.remaining for o in entries), ZERO)
        if abs(self._position()) + pending + self.size > self.max_position:
            tel.set("entry_block", "max_position")
            return
        if not self.backoff.ready(ENTRY, now_ms):
            tel.set("entry_block", "reject back-off")
            return
        requote = self.requote_credit > 0
        if not (requote or self.immediate or since is None or since >= wait):
            tel.set("entry_block", "cool-down")
            return
        side = self._entry_side()
        bid, ask = self._touch(book)
        price = entry_price(side, bid, ask, self.inst, p.entry_offset_ticks)
        if price is None:
            tel.set("entry_block", "no touch")
            return
        tel.set("entry_block", "")
        order = self.ctx.place(
            self.venue, self.symbol, side, self.size, price, post_only=True, tag=ENTRY
        )
        if requote:
            self.requote_credit -= 1
        else:
            self.last_entry_ms = now_ms
            self.immediate = False
        if order.status is OrderStatus.REJECTED:
            return
        tel.count("entries")

    def _pacing_count(self, orders: list[OrderView]) -> int:
        """Filled entries waiting for their exit (and coverage exits unless ignored)."""
        count = sum(1 for lot in self.lots.values() if lot.open > 0)
        if not self.p.pace_ignore_imbalance_tp:
            count += sum(1 for o in orders if o.tag == COVER)
        return count


__all__ = ["TrendLadderEntries", "entry_cooldown_secs", "entry_price"]
