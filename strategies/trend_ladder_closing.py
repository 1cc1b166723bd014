"""Closing the trend ladder's position on purpose: the flush before it trades
the other way (the detector switched; passive, then a market close after
``flush_timeout_secs``), and the stop loss (reduce-only IOC market closes,
halved on a reject) with its cool-down."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import Side
from connectors.book import OrderBook
from strategies.ladder_lots import passive_limit
from strategies.order_forms import place_exit, place_market_ioc
from strategies.trend_detector import Direction
from strategies.trend_ladder_state import FLUSH, STOP, Mode, TrendLadderState


class TrendLadderClosing(TrendLadderState):
    """The direction switch's flush and the stop loss (a part of ``TrendLadder``)."""

    # -- direction switch -----------------------------------------------------

    def _switch(self, new: Direction, now_ms: int) -> None:
        self.ctx.telemetry.count("flips")
        self.ctx.log.info(
            "%s: trend detector switched to %s (slope %.3f)",
            self.ctx.name,
            new.value,
            self.detector.slope or 0.0,
        )
        if self.mode in (Mode.STOPPING, Mode.COOLDOWN):
            self.direction = new  # flat or being closed: just trade the new way afterwards
            self.lots.clear()
            return
        self._begin_flush(new, now_ms)

    def _begin_flush(self, target: Direction, now_ms: int) -> None:
        if self.mode is not Mode.FLUSHING:
            self.flush_started_ms = now_ms
        self.mode = Mode.FLUSHING
        self.flush_target = target
        self.requoting.clear()
        self.requote_credit = 0
        for o in self._orders():
            if o.tag != FLUSH and not o.cancel_requested:
                self.ctx.cancel(o.client_id)

    def _work_flush(self, book: OrderBook, size: Decimal, now_ms: int) -> None:
        """Close any position against the target direction, then trade the target way."""
        target = self.flush_target
        orders = self._orders()
        against = -size * target.sign  # > 0: a position against the target
        if against < self.inst.min_size:
            for o in orders:
                if o.tag == FLUSH and not o.cancel_requested:
                    self.ctx.cancel(o.client_id)
            if target is not self.direction:
                self.lots.clear()
            self.direction = target
            self.mode = Mode.COOLDOWN if now_ms < self.cooldown_until_ms else Mode.TRADING
            self.immediate = True
            self.ctx.log.info("%s: now trading %s", self.ctx.name, target.value)
            return
        for o in orders:
            if o.tag != FLUSH and not o.cancel_requested:
                self.ctx.cancel(o.client_id)
        flush = [o for o in orders if o.tag == FLUSH]
        closing = Side.closing(size)
        qty = self.inst.round_size(against)
        timed_out = now_ms - self.flush_started_ms >= self.p.flush_timeout_secs * 1000
        # A reduce-only IOC can never close more than is held, so it need not wait for the
        # other exits' cancels; a resting flush could, so it waits until they are gone.
        if self.p.flip_flush == "market" or timed_out:
            if flush:
                for o in flush:
                    if o.post_only and not o.cancel_requested:
                        self.ctx.cancel(o.client_id)  # the passive flush gives way
                return
            place_market_ioc(
                self.ctx, self.venue, self.symbol, closing, qty, FLUSH, reduce_only=True
            )
            return
        if any(o.tag != FLUSH and o.reduce_only for o in orders):
            return
        tick = self.inst.tick_size
        bid, ask = self._touch(book)
        if closing is Side.SELL:
            desired = ask + self.p.flush_ticks * tick if ask is not None else None
        else:
            desired = bid - self.p.flush_ticks * tick if bid is not None else None
        if desired is None:
            return
        desired = passive_limit(closing, desired, book, tick)
        if flush:
            for o in flush:
                if not o.cancel_requested and (o.price != desired or o.remaining != qty):
                    self.ctx.cancel(o.client_id)
            return
        place_exit(self.ctx, self.venue, self.symbol, closing, qty, desired, FLUSH)

    # -- stop loss ------------------------------------------------------------

    def _stop_hit(self, size: Decimal, entry: Decimal, mid: Decimal) -> str:
        if size == 0 or abs(size) < self.inst.min_size or entry <= 0:
            return ""
        loss = (entry - mid) * size  # > 0 when losing
        p = self.p
        if p.stop_loss_abs is not None and loss >= p.stop_loss_abs:
            return f"unrealized loss {loss:.2f} >= stop_loss_abs {p.stop_loss_abs}"
        if p.stop_loss_pct is not None:
            adverse = (entry - mid) / entry * 100 * (1 if size > 0 else -1)
            if adverse >= p.stop_loss_pct:
                return f"mid {adverse:.3f}% against entry >= stop_loss_pct {p.stop_loss_pct}"
        return ""

    def _begin_stop(self, reason: str, now_ms: int) -> None:
        if self.mode is Mode.FLUSHING:
            self.direction = self.flush_target  # the position goes anyway
        self.mode = Mode.STOPPING
        self.stop_reason = reason
        self.stop_chunk = max(self.max_position, abs(self._position()))
        self.ctx.telemetry.count("stops")
        self.ctx.telemetry.set("last_stop", reason)
        self.ctx.log.warning("%s: STOP LOSS: %s; closing the position", self.ctx.name, reason)
        for o in self._orders():
            if o.tag != STOP and not o.cancel_requested:
                self.ctx.cancel(o.client_id)

    def _work_stop(self, size: Decimal, now_ms: int) -> None:
        orders = self._orders()
        for o in orders:
            if o.tag != STOP and not o.cancel_requested:
                self.ctx.cancel(o.client_id)
        if abs(size) < self.inst.min_size:
            self.mode = Mode.COOLDOWN
            self.cooldown_until_ms = now_ms + round(self.p.stop_cooldown_secs * 1000)
            self.lots.clear()
            self.ctx.log.warning(
                "%s: stopped out; no entries for %.0f s", self.ctx.name, self.p.stop_cooldown_secs
            )
            return
        if any(o.tag == STOP for o in orders):
            return
        closing = Side.closing(size)
        qty = max(self.inst.round_size(min(abs(size), self.stop_chunk)), self.inst.min_size)
        place_market_ioc(self.ctx, self.venue, self.symbol, closing, qty, STOP, reduce_only=True)


__all__ = ["TrendLadderClosing"]
