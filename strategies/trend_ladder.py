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

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from connectors.base import ZERO, Fill, Instrument, OrderStatus, OrderType, Side, TimeInForce
from connectors.book import OrderBook
from strategies.backoff import RejectBackoff
from strategies.base import (
    OrderView,
    PlannedOrder,
    Strategy,
    StrategyContext,
    StrategyParams,
)
from strategies.external_book import external_bbo
from strategies.ladder_lots import (
    ENTRY,
    TP_PREFIX,
    LadderLot,
    entry_ended,
    entry_filled,
    passive_limit,
    take_profit_filled,
    take_profit_price,
    trim_lots,
)
from strategies.trend_detector import Direction, TrendDetector

COVER = "cov"
FLUSH = "flush"
STOP = "stop"

_CORRECTION_WINDOW_MS = 600_000

_REMOVED = {
    "partial_tp_enabled": "every fill of an entry now gets its take-profit",
    "imb_threshold_mult": "the coverage check tops up any deficit of at least the minimum size",
    "requote_mode": "requotes are always cancel-first, confirmed by the order manager",
    "max_requote_dupes": "requotes are always cancel-first (no duplicates)",
    "requote_force_forget_after_retries": "the order manager reconciles stuck orders",
    "requote_force_forget_after_secs": "the order manager reconciles stuck orders",
    "telemetry_enabled": "telemetry is always published to the console",
    "telemetry_url": "telemetry is published by the core",
    "telemetry_interval": "telemetry is published by the core",
}


class TrendLadderParams(StrategyParams):
    # -- ladder ----------------------------------------------------------------
    quantity_base: Decimal = Field(
        default=Decimal("0.001"), gt=0, description="entry size, base units (at least venue min)"
    )
    take_profit_abs: Decimal = Field(
        default=Decimal(5), gt=0, description="take-profit distance from the entry, quote ccy"
    )
    entry_offset_ticks: int = Field(
        default=1, ge=0, description="entries this many ticks outside the touch (0 = join it)"
    )
    max_orders: int = Field(
        default=40, ge=1, description="cap on filled entries awaiting exit plus open entries"
    )
    max_open_entries: int = Field(default=1, ge=1, description="cap on resting entry orders")
    max_position: Decimal | None = Field(
        default=None, gt=0, description="base units; default max_orders x quantity_base"
    )
    # -- pacing ----------------------------------------------------------------
    base_wait: float = Field(default=450.0, ge=0, description="base cool-down between entries, s")
    min_wait: float = Field(default=60.0, ge=0, description="floor of the cool-down, s")
    max_wait: float = Field(default=900.0, ge=0, description="ceiling of the cool-down, s")
    idle_wait: float = Field(
        default=60.0, ge=0, description="cool-down while fewer than max_orders/6 exits wait, s"
    )
    pace_ignore_imbalance_tp: bool = Field(
        default=False, description="leave coverage exits out of the pacing count"
    )
    # -- direction -------------------------------------------------------------
    fixed_direction: Literal["long", "short"] = Field(
        default="long", description="direction when the detector is off (its start otherwise)"
    )
    detector_enabled: bool = Field(default=False, description="switch direction on EMA/ATR slope")
    bar_secs: float = Field(default=60.0, gt=0, description="detector bar length, s")
    ema_len: int = Field(default=50, ge=1, description="EMA length, bars")
    atr_len: int = Field(default=14, ge=1, description="ATR length, bars")
    slope_up: float = Field(default=0.2, description="slope (ATR per bar) above which: long")
    slope_down: float = Field(default=-0.2, description="slope (ATR per bar) below which: short")
    warmup_minutes: int = Field(default=50, ge=0, description="bars needed before a slope exists")
    hysteresis_bars: int = Field(
        default=2, ge=1, description="bars the opposite signal must hold before a switch"
    )
    hysteresis_margin: float | None = Field(
        default=None, gt=0, description="slope this far beyond a threshold switches at once"
    )
    flip_flush: Literal["passive", "market"] = Field(
        default="passive", description="how the old position closes on a switch"
    )
    flush_ticks: int = Field(default=0, ge=0, description="passive flush: ticks outside the touch")
    flush_timeout_secs: float = Field(
        default=60.0, gt=0, description="passive flush gives way to a market close after this"
    )
    # -- risk ------------------------------------------------------------------
    stop_loss_abs: Decimal | None = Field(
        default=None, gt=0, description="close all when unrealized loss reaches this, quote ccy"
    )
    stop_loss_pct: Decimal | None = Field(
        default=None, gt=0, lt=100, description="close all when the mid is this % against entry"
    )
    stop_cooldown_secs: float = Field(default=300.0, ge=0, description="no entries after a stop")
    imb_max_corr_in_10m: int = Field(
        default=3, ge=0, description="coverage top-ups per 10 minutes (0 = unlimited)"
    )
    # -- requotes --------------------------------------------------------------
    requote_ticks: int = Field(
        default=5, ge=0, description="requote an entry this many ticks off target (0 = off)"
    )
    requote_abs: Decimal = Field(
        default=Decimal(0), ge=0, description="alternative threshold, quote ccy (the larger wins)"
    )
    max_requotes_per_tick: int = Field(default=2, ge=1)
    requote_wait_confirm_secs: float = Field(
        default=5.0, gt=0, description="a requote cancel not confirmed by then backs off"
    )
    requote_skip_backoff_secs: float = Field(default=15.0, gt=0, description="first back-off, s")
    requote_skip_backoff_max_secs: float = Field(default=120.0, gt=0, description="back-off cap, s")

    RENAMED: ClassVar[dict[str, str]] = {
        key: f"{key} is no longer a parameter: {why}" for key, why in _REMOVED.items()
    }

    @model_validator(mode="after")
    def _consistent(self) -> TrendLadderParams:
        if not self.min_wait <= self.base_wait <= self.max_wait:
            raise ValueError(
                f"need min_wait <= base_wait <= max_wait, got {self.min_wait} / "
                f"{self.base_wait} / {self.max_wait}"
            )
        if self.slope_up <= self.slope_down:
            raise ValueError(
                f"slope_up ({self.slope_up}) must be above slope_down ({self.slope_down})"
            )
        if self.requote_skip_backoff_secs > self.requote_skip_backoff_max_secs:
            raise ValueError(
                f"requote_skip_backoff_secs ({self.requote_skip_backoff_secs}) must not exceed "
                f"requote_skip_backoff_max_secs ({self.requote_skip_backoff_max_secs})"
            )
        if self.max_position is not None and self.max_position < self.quantity_base:
            raise ValueError(
                f"max_position ({self.max_position}) is below quantity_base "
                f"({self.quantity_base}): no entry could ever be placed"
            )
        return self


# -- pure helpers ---------------------------------------------------------------


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


# -- state ----------------------------------------------------------------------


class Mode(enum.Enum):
    TRADING = "trading"
    FLUSHING = "flushing"
    STOPPING = "stopping"
    COOLDOWN = "cool-down"


@dataclass(slots=True)
class Lot(LadderLot):
    """A trend ladder's lot: its take-profit is tagged ``tp:<entry client id>``."""

    side: Side = field(kw_only=True)  # the entry's side


class TrendLadder(Strategy):
    kind = "trend_ladder"
    title = "Trend-adaptive ladder"
    Params = TrendLadderParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p: TrendLadderParams = self.params  # type: ignore[assignment]
        self.p = p
        self.size = max(self.inst.min_size, self.inst.round_size(p.quantity_base))
        self.max_position = (
            p.max_position if p.max_position is not None else p.max_orders * self.size
        )
        self.direction = Direction(p.fixed_direction)
        self.detector = self._new_detector(self.direction)
        self.mode = Mode.TRADING
        self.flush_target = self.direction
        self.flush_started_ms = 0
        self.cooldown_until_ms = 0
        self.stop_reason = ""
        self.stop_chunk = self.max_position
        self.lots: dict[str, Lot] = {}
        self.active = False
        self.last_entry_ms: int | None = None
        self.immediate = False
        self.requoting: dict[str, int] = {}
        self.requote_credit = 0
        self.backoff = RejectBackoff(
            round(p.requote_skip_backoff_secs * 1000), round(p.requote_skip_backoff_max_secs * 1000)
        )
        """Refusals back off per kind: ``entry``, each lot's take-profit (its tag), and
        ``requote`` (a requote cancel the venue did not confirm in time)."""
        self.corrections: deque[int] = deque()

    def _new_detector(self, initial: Direction) -> TrendDetector:
        p = self.p
        return TrendDetector(
            bar_ms=max(1, round(p.bar_secs * 1000)),
            ema_len=p.ema_len,
            atr_len=p.atr_len,
            slope_up=p.slope_up,
            slope_down=p.slope_down,
            warmup_bars=p.warmup_minutes,
            confirm_bars=p.hysteresis_bars,
            margin=p.hysteresis_margin,
            min_atr=float(self.inst.tick_size),
            initial=initial,
        )

    def _new_lot(self, entry_side: Side) -> Callable[[str, Decimal], Lot]:
        """Opens the lot of a fill of an entry on ``entry_side`` at its price."""

        def new(entry_id: str, price: Decimal) -> Lot:
            tp = take_profit_price(entry_side, price, self.p.take_profit_abs, self.inst)
            return Lot(entry_id, price, tp, side=entry_side)

        return new

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
        order = self.ctx.place(
            self.venue,
            self.symbol,
            exit_side,
            size,
            price,
            post_only=True,
            reduce_only=True,
            tag=lot.tag,
        )
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
        order = self.ctx.place(
            self.venue,
            self.symbol,
            exit_side,
            size,
            price,
            post_only=True,
            reduce_only=True,
            tag=COVER,
        )
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
            self.ctx.place(
                self.venue,
                self.symbol,
                closing,
                qty,
                None,
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.IOC,
                reduce_only=True,
                tag=FLUSH,
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
        self.ctx.place(
            self.venue,
            self.symbol,
            closing,
            qty,
            desired,
            post_only=True,
            reduce_only=True,
            tag=FLUSH,
        )

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
        qty = self.inst.round_size(min(abs(size), self.stop_chunk))
        self.ctx.place(
            self.venue,
            self.symbol,
            Side.closing(size),
            max(qty, self.inst.min_size),
            None,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
            reduce_only=True,
            tag=STOP,
        )

    # -- reading --------------------------------------------------------------

    def _orders(self) -> list[OrderView]:
        return self.ctx.orders(self.venue, self.symbol)

    def _position(self) -> Decimal:
        return self.ctx.position(self.venue, self.symbol).size

    def _held(self) -> Decimal:
        """This strategy's position, clipped to what the account holds on that side:
        reduce-only orders can close no more than that (and an account-wide flatten
        closes the account without booking it to the strategy)."""
        own = self._position()
        account = self.ctx.account_position(self.venue, self.symbol)
        if own == 0 or account == 0 or (own > 0) != (account > 0):
            return ZERO
        return own if abs(own) <= abs(account) else account

    def _entry_side(self) -> Side:
        return Side.BUY if self.direction is Direction.LONG else Side.SELL

    def _touch(self, book: OrderBook) -> tuple[Decimal | None, Decimal | None]:
        """Best bid and ask of everyone else (our own resting size taken out)."""
        return external_bbo(book, self.inst, self._orders())

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
