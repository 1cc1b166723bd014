"""The hedge ladder's lots and their take-profits: a lot per filled entry (its
take-profit price, hedge trigger and release), a reduce-only post-only
take-profit for what no live take-profit covers (placed again when one
disappears), and lots reconciled against the position the fills built."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, Side
from connectors.book import OrderBook
from strategies.hedge_ladder_state import HedgeLadderState, Lot
from strategies.ladder_lots import passive_limit, take_profit_price, trim_lots
from strategies.order_forms import place_exit


class HedgeLadderExits(HedgeLadderState):
    """Lots, their take-profits and their reconciliation (a part of ``HedgeLadder``)."""

    def _new_lot(self, entry_id: str, entry_price: Decimal) -> Lot:
        p = self.p
        lot = Lot(
            entry_id,
            entry_price,
            take_profit_price(Side.BUY, entry_price, p.take_profit_abs, self.inst),
            trigger=entry_price * p.hedge_trigger_ratio,
            release=entry_price * p.hedge_release_ratio,
        )
        self.lots[entry_id] = lot
        return lot

    def _cover(self, lot: Lot, now_ms: int, book: OrderBook | None = None) -> None:
        """Place a take-profit for the part of the lot no live take-profit covers."""
        if lot.open <= 0 or not self.backoff.ready(lot.tag, now_ms):
            return
        covered = sum(
            (o.remaining for o in self.ctx.orders(self.venue, self.symbol) if o.tag == lot.tag),
            ZERO,
        )
        size = self.inst.round_size(lot.open - covered)
        if size <= 0:
            return
        book = book or self.ctx.book(self.venue, self.symbol)
        valid = book if book is not None and book.is_valid() else None
        price = passive_limit(Side.SELL, lot.tp_price, valid, self.inst.tick_size)
        if covered > 0 or self.backoff.streak(lot.tag):
            self.ctx.telemetry.count("tp_replaced")
        place_exit(self.ctx, self.venue, self.symbol, Side.SELL, size, price, lot.tag)

    def _reconcile_lots(self, now_ms: int) -> None:
        """Lots against the position the fills built: shrink lots the position no
        longer holds (flatten, a reduce-only clamp), adopt a position no lot holds."""
        held = max(ZERO, self.ctx.position(self.venue, self.symbol).size)
        total = sum((lot.open for lot in self.lots.values()), ZERO)
        if total > held:
            by_price = sorted(self.lots.values(), key=lambda x: x.entry_price)
            for lot in trim_lots(by_price, total - held):
                if lot.open <= 0 and lot.entry_done:
                    del self.lots[lot.entry_id]
            self.ctx.telemetry.count("lots_trimmed")
        elif held - total >= self.inst.step_size:
            entry = self.ctx.position(self.venue, self.symbol).entry_price
            self._pos_lots += 1
            lot = self._new_lot(f"pos{self._pos_lots}", self.inst.round_price(entry))
            lot.filled = held - total
            lot.entry_done = True
            self.ctx.telemetry.count("lots_adopted")


__all__ = ["HedgeLadderExits"]
