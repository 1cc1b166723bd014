"""The trend ladder's exits while it trades: a reduce-only post-only take-profit
for every fill of an entry (its lot's), lots trimmed to the position the
strategy holds, and coverage exits when the position outgrows what the resting
exits would close (at most ``imb_max_corr_in_10m`` in ten minutes)."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import OrderView
from strategies.ladder_lots import TP_PREFIX, passive_limit, take_profit_price, trim_lots
from strategies.order_forms import place_exit
from strategies.trend_ladder_state import COVER, Lot, TrendLadderState

_CORRECTION_WINDOW_MS = 600_000


class TrendLadderExits(TrendLadderState):
    """Take-profits and coverage exits (a part of ``TrendLadder``)."""

    def _reconcile_lots(self) -> None:
        """Lots may not hold more than the position (a flatten or a coverage exit closed
        some): forget the ones whose take-profits are farthest from the market first."""
        held = max(ZERO, self._held() * self.direction.sign)
        side = self._entry_side()
        for lot in list(self.lots.values()):
            if lot.side is not side:
                lot.closed = lot.filled
        excess = sum((lot.open for lot in self.lots.values()), ZERO) - held
        trim_lots(sorted(self.lots.values(), key=self._lot_distance, reverse=True), excess)
        tp_orders = [o for o in self._orders() if o.tag.startswith(TP_PREFIX)]
        for lot in list(self.lots.values()):
            if lot.open > 0:
                continue
            for o in tp_orders:
                if o.tag == lot.tag and not o.cancel_requested:
                    self.ctx.cancel(o.client_id)
            if lot.entry_done:
                del self.lots[lot.entry_id]

    def _lot_distance(self, lot: Lot) -> Decimal:
        """Farther take-profits sort later (a long's highest exit is the farthest)."""
        return lot.tp_price * lot.side.sign

    def _cover_lot(self, lot: Lot, now_ms: int) -> None:
        """Give a lot take-profits for its uncovered amount (never beyond the position)."""
        orders = self._orders()
        live_tp = sum(
            (o.remaining for o in orders if o.tag == lot.tag and not o.cancel_requested), ZERO
        )
        size = self.inst.round_size(min(lot.open - live_tp, self._uncovered(orders)))
        if size < self.inst.min_size:
            return
        exit_side = lot.side.opposite
        book = self.ctx.book(self.venue, self.symbol)
        price = passive_limit(exit_side, lot.tp_price, book, self.inst.tick_size)
        order = place_exit(self.ctx, self.venue, self.symbol, exit_side, size, price, lot.tag)
        if order.status is not OrderStatus.REJECTED:  # rejects back off in on_order
            self.ctx.telemetry.count("tp_placed")

    def _uncovered(self, orders: list[OrderView]) -> Decimal:
        """Position in the direction minus the remaining size of live reduce-only exits."""
        held = self._held() * self.direction.sign
        if held <= 0:
            return ZERO
        closing = self._entry_side().opposite
        covered = sum(
            (
                o.remaining
                for o in orders
                if o.reduce_only and o.side is closing and not o.cancel_requested
            ),
            ZERO,
        )
        return held - covered

    def _top_up_coverage(self, book: OrderBook, now_ms: int) -> None:
        deficit = self._uncovered(self._orders())
        self.ctx.telemetry.sample("coverage_deficit", now_ms, max(ZERO, deficit))
        size = self.inst.round_size(deficit)
        if size < self.inst.min_size:
            self.ctx.telemetry.set("coverage", "ok")
            return
        cap = self.p.imb_max_corr_in_10m
        while self.corrections and self.corrections[0] <= now_ms - _CORRECTION_WINDOW_MS:
            self.corrections.popleft()
        if cap and len(self.corrections) >= cap:
            self.ctx.telemetry.set("coverage", f"deficit {deficit}: top-up rate cap reached")
            return
        exit_side = self._entry_side().opposite
        entry = self.ctx.position(self.venue, self.symbol).entry_price
        if entry > 0:
            target = take_profit_price(exit_side.opposite, entry, self.p.take_profit_abs, self.inst)
        else:
            touch = book.best_ask() if exit_side is Side.SELL else book.best_bid()
            assert touch is not None
            target = touch
        price = passive_limit(exit_side, target, book, self.inst.tick_size)
        self.corrections.append(now_ms)
        order = place_exit(self.ctx, self.venue, self.symbol, exit_side, size, price, COVER)
        self.ctx.telemetry.count("coverage_topups")
        self.ctx.telemetry.set("coverage", f"deficit {deficit}: topped up")
        self.ctx.log.info(
            "%s: position exceeds resting exits by %s: coverage exit %s %s @ %s (%s)",
            self.ctx.name,
            deficit,
            exit_side.value,
            size,
            price,
            order.status.value,
        )


__all__ = ["TrendLadderExits"]
