"""Trend-adaptive ladder.

Keeps opening small same-direction positions with post-only entries one tick
outside the touch (below the best bid when long, above the best ask when
short). Every fill of an entry, partial fills included, gets a reduce-only
post-only take-profit for exactly the filled amount at the entry price plus
(long) or minus (short) ``take_profit_abs``. New entries slow down as more
filled entries wait for their exit.

Orders carry tags, so the pairing survives a restart:

- ``entry``: a resting entry;
- ``tp:<entry client id>``: a take-profit for fills of that entry;
- ``cov``: a coverage exit, when the position exceeds what the resting
  reduce-only exits cover (their *remaining* sizes);
- ``flush``: closes the position before a direction change;
- ``stop``: the stop-loss close (reduce-only IOC market).

Modes: ``trading`` -> (detector flip) ``flushing`` -> ``trading`` in the new
direction; (stop loss) ``stopping`` -> ``cool-down`` -> ``trading``.

Units: prices and ``take_profit_abs`` / ``requote_abs`` / ``stop_loss_abs`` in
quote currency; sizes in base units; ``*_ticks`` in the instrument's real tick
size; waits in seconds; detector bars of ``bar_secs`` seconds.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, Fill, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import OrderView, PlannedOrder
from strategies.ladder_lots import (
    ENTRY,
    TP_PREFIX,
    entry_ended,
    entry_filled,
    passive_limit,
    take_profit_filled,
    take_profit_price,
)
from strategies.trend_detector import Direction
from strategies.trend_ladder_closing import TrendLadderClosing
from strategies.trend_ladder_entries import (
    TrendLadderEntries,
    entry_cooldown_secs,
    entry_price,
)
from strategies.trend_ladder_exits import TrendLadderExits
from strategies.trend_ladder_params import TrendLadderParams
from strategies.trend_ladder_state import COVER, FLUSH, STOP, Lot, Mode


class TrendLadder(TrendLadderEntries, TrendLadderExits, TrendLadderClosing):
    """The strategy: its lifecycle, its events, the tick that runs its parts
    (``trend_ladder_entries``, ``_exits``, ``_closing``), its telemetry and preview."""

    kind = "trend_ladder"
    title = "Trend-adaptive ladder"
    Params = TrendLadderParams

    # -- lifecycle ------------------------------------------------------------

    def on_start(self) -> None:
        """Rebuild from the orders an earlier run left (handed back by the core)."""
        self.active = True
        adopted = self._orders()
        entries = [o for o in adopted if o.tag == ENTRY]
        live_entry_ids = {o.client_id for o in entries}
        for o in adopted:
            if o.tag.startswith(TP_PREFIX) and o.price is not None:
                entry_id = o.tag[len(TP_PREFIX) :]
                lot = self.lots.get(entry_id)
                if lot is None:
                    entry_side = o.side.opposite
                    delta = self.p.take_profit_abs * entry_side.sign
                    lot = self.lots[entry_id] = Lot(
                        entry_id,
                        o.price - delta,
                        o.price,
                        entry_done=entry_id not in live_entry_ids,
                        side=entry_side,
                    )
                lot.filled += o.remaining
            elif o.tag in (FLUSH, STOP) or (
                o.tag not in (ENTRY, COVER)
                and not o.tag.startswith(TP_PREFIX)
                and not o.reduce_only
            ):
                self.ctx.cancel(o.client_id)  # re-derived from the position below
        if self.p.detector_enabled:
            held = self._position()
            if held != 0:
                self.direction = Direction.LONG if held > 0 else Direction.SHORT
            elif entries:
                self.direction = Direction.LONG if entries[0].side is Side.BUY else Direction.SHORT
            self.detector = self._new_detector(self.direction)
        self.flush_target = self.direction
        if adopted:
            self.ctx.telemetry.set("adopted_orders", len(adopted))
            self.ctx.log.info(
                "%s: adopted %d orders (%d entries, %d take-profit lots), position %s",
                self.ctx.name,
                len(adopted),
                len(entries),
                len(self.lots),
                self._position(),
            )

    def on_pause(self) -> None:
        self.active = False
        self.requoting.clear()
        self.requote_credit = 0

    def on_resume(self) -> None:
        self.active = True

    def on_stop(self) -> None:
        self.active = False
        self.requoting.clear()
        self.requote_credit = 0

    # -- events ---------------------------------------------------------------

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        tel = self.ctx.telemetry
        tag = order.tag
        now = self.ctx.now_ms()
        if tag == ENTRY:
            tel.count("entry_fills")
            lot = entry_filled(self.lots, order, fill, self._new_lot(order.side))
            self.last_entry_ms = now
            if (
                self.active
                and self.ctx.running  # paused or halted: the next tick after resume re-pairs
                and self.mode in (Mode.TRADING, Mode.COOLDOWN)
                and order.side is self._entry_side()
            ):
                self._cover_lot(lot, now)
        elif tag.startswith(TP_PREFIX):
            tel.count("tp_fills")
            lot = take_profit_filled(self.lots, tag[len(TP_PREFIX) :], fill.size)
            if lot is not None and lot.open <= 0:
                self.immediate = True  # an exit closed: the next entry need not wait
        else:
            tel.count(f"{tag or 'untagged'}_fills")

    def on_order(self, order: OrderView) -> None:
        tag = order.tag
        status = order.status
        now = self.ctx.now_ms()
        if status is OrderStatus.REJECTED:
            self.ctx.telemetry.count("rejects")
            self.ctx.telemetry.set("last_reject", f"{tag}: {order.reason}")
            self.ctx.log.debug("%s order %s rejected: %s", tag, order.client_id, order.reason)
            if tag == ENTRY or tag.startswith(TP_PREFIX):
                self.backoff.rejected(tag, now, order.client_id)
            elif tag == STOP:
                self.stop_chunk = max(self.inst.min_size, self.inst.round_size(self.stop_chunk / 2))
        if tag == ENTRY:
            if status is OrderStatus.OPEN:
                self.backoff.accepted(ENTRY)
            if status.is_terminal:
                entry_ended(self.lots, order.client_id)
                requoted = self.requoting.pop(order.client_id, None) is not None
                if (
                    requoted
                    and status is OrderStatus.CANCELLED
                    and self.active
                    and self.mode is Mode.TRADING
                ):
                    self.requote_credit = min(self.requote_credit + 1, self.p.max_open_entries)
                    self.backoff.accepted("requote")
                    self.ctx.telemetry.count("requotes")
        elif tag.startswith(TP_PREFIX) and status is OrderStatus.OPEN:
            self.backoff.accepted(tag)

    # -- the tick -------------------------------------------------------------

    def on_tick(self, now_ms: int) -> None:
        self.active = True
        tel = self.ctx.telemetry
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            tel.set("state", "no book")
            return
        mid = book.mid()
        assert mid is not None
        if self.p.detector_enabled:
            switched = self.detector.update(now_ms, float(mid))
            if switched is not None:
                self._switch(switched, now_ms)
        entry = self.ctx.position(self.venue, self.symbol).entry_price
        held = self._held()
        if self.mode is not Mode.STOPPING:
            reason = self._stop_hit(held, entry, mid)
            if reason:
                self._begin_stop(reason, now_ms)
        if self.mode is Mode.STOPPING:
            self._work_stop(held, now_ms)
        elif self.mode is Mode.FLUSHING:
            self._work_flush(book, held, now_ms)
        else:
            if self.mode is Mode.COOLDOWN and now_ms >= self.cooldown_until_ms:
                self.mode = Mode.TRADING
                self.ctx.log.info("%s: stop cool-down over, trading again", self.ctx.name)
            if held * self.direction.sign < 0 and abs(held) >= self.inst.min_size:
                # A position against the direction (a restart, a late fill): close it first.
                self._begin_flush(self.direction, now_ms)
                self._work_flush(book, held, now_ms)
            else:
                self._work_ladder(book, now_ms)
        self._publish(book, mid, now_ms)

    # -- trading --------------------------------------------------------------

    def _work_ladder(self, book: OrderBook, now_ms: int) -> None:
        side = self._entry_side()
        for o in self._orders():
            if o.tag == ENTRY and o.side is not side and not o.cancel_requested:
                self.ctx.cancel(o.client_id)
        self._reconcile_lots()
        for lot in sorted(self.lots.values(), key=self._lot_distance):
            if self.backoff.ready(lot.tag, now_ms):
                self._cover_lot(lot, now_ms)
        self._top_up_coverage(book, now_ms)
        self._requote(book, now_ms)
        if self.mode is Mode.TRADING:
            self._maybe_enter(book, now_ms)

    # -- telemetry and preview -------------------------------------------------

    def _publish(self, book: OrderBook, mid: Decimal, now_ms: int) -> None:
        tel = self.ctx.telemetry
        position = self.ctx.position(self.venue, self.symbol)
        orders = self._orders()
        closing = self._entry_side().opposite
        cover = sum((o.remaining for o in orders if o.reduce_only and o.side is closing), ZERO)
        if self.mode is Mode.COOLDOWN:
            left = max(0, self.cooldown_until_ms - now_ms) / 1000
            state = f"stopped out, cool-down {left:.0f} s ({self.stop_reason})"
        elif self.mode is Mode.STOPPING:
            state = f"stop loss: closing ({self.stop_reason})"
        elif self.mode is Mode.FLUSHING:
            state = f"flushing before trading {self.flush_target.value}"
        else:
            state = f"trading {self.direction.value}"
        tel.set("state", state)
        tel.set("mode", self.mode.value)
        tel.set("direction", self.direction.value)
        tel.set("position_base", position.size)
        tel.set("max_position_base", self.max_position)
        tel.set("tp_active", sum(1 for lot in self.lots.values() if lot.open > 0))
        tel.set("tp_orders", sum(1 for o in orders if o.tag.startswith(TP_PREFIX)))
        tel.set("open_entries", sum(1 for o in orders if o.tag == ENTRY))
        tel.set("exit_cover", cover)
        tel.set("pnl_unrealized", position.unrealized_pnl(mid))
        tel.set("size", self.size)
        tel.sample("mid", now_ms, mid)
        tel.sample("inventory", now_ms, position.size)
        tel.sample("pnl", now_ms, position.net_pnl(mid))
        if self.p.detector_enabled:
            det = self.detector
            tel.set("bars_to_ready", det.bars_to_ready)
            tel.set("atr", det.atr)
            tel.sample("slope", now_ms, det.slope)

    def preview(self) -> list[PlannedOrder]:
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            return []
        side = self._entry_side()
        bid, ask = self._touch(book)
        price = entry_price(side, bid, ask, self.inst, self.p.entry_offset_ticks)
        if price is None:
            return []
        note = f"entry ({self.direction.value})"
        if self.p.detector_enabled:
            warm = self.detector.bars_to_ready * self.p.bar_secs
            note += f"; detector decides after ~{warm:.0f} s of bars"
        tp = take_profit_price(side, price, self.p.take_profit_abs, self.inst)
        return [
            PlannedOrder(self.venue, self.symbol, side, price, self.size, True, note=note),
            PlannedOrder(
                self.venue,
                self.symbol,
                side.opposite,
                tp,
                self.size,
                True,
                True,
                note="take-profit, once per fill of the entry (size = the fill)",
            ),
        ]


__all__ = [
    "Lot",
    "Mode",
    "TrendLadder",
    "TrendLadderParams",
    "entry_cooldown_secs",
    "entry_price",
    "passive_limit",
    "take_profit_price",
]
