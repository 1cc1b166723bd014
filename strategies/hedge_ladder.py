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

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

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
from strategies.external_book import external_best, external_mid
from strategies.ladder_lots import (
    ENTRY,
    TP_PREFIX,
    LadderLot,
    entry_ended,
    entry_filled,
    passive_limit,
    place_exit,
    take_profit_filled,
    take_profit_price,
    trim_lots,
)
from strategies.pairing import common_size, counterpart
from strategies.param_checks import require_at_most, require_room_for_an_entry

HEDGE = "hedge"
UNHEDGE = "unhedge"
HEDGE_TAGS = frozenset({HEDGE, UNHEDGE})
MAX_BACKOFF_MS = 30_000

_RENAMED = {
    "backpack_symbol": "backpack_symbol is the strategy entry's venue/symbol now",
    "lighter_symbol": "lighter_symbol is now hedge_symbol (with hedge_venue)",
    "lighter_reduce_only_close": "lighter_reduce_only_close is now hedge_reduce_only_close",
    "poll_interval_ms": "poll_interval_ms is now tick_interval_ms",
    "debug": "debug is gone: set logging.level (hedge orders are journaled)",
}


class HedgeLadderParams(StrategyParams):
    # -- markets ---------------------------------------------------------------
    hedge_venue: str | None = Field(
        default=None, description="venue of the protective hedge (required; not the entry venue)"
    )
    hedge_symbol: str | None = Field(
        default=None, description="hedge market; None = the market with the same base asset"
    )
    # -- ladder ----------------------------------------------------------------
    quantity_base: Decimal = Field(
        default=Decimal("0.001"), gt=0, description="entry size, base units (on both venues' grids)"
    )
    take_profit_abs: Decimal = Field(
        default=Decimal(30), gt=0, description="take-profit distance above the entry, quote ccy"
    )
    max_concurrent_positions: int = Field(
        default=10, ge=1, le=200, description="filled lots awaiting take-profit + resting entries"
    )
    max_resting_entries: int = Field(default=1, ge=1, le=20, description="entry bids at a time")
    entry_interval_secs: float = Field(
        default=10.0, ge=0, description="minimum time between new entry bids, s"
    )
    entry_offset_ticks: int = Field(default=0, ge=0, description="ticks below the best bid")
    requote_ticks: int = Field(
        default=10, ge=1, description="re-post an entry bid this many ticks under the best bid"
    )
    entry_max_age_secs: float | None = Field(
        default=120.0, gt=0, description="re-post an entry bid this old, s; None = never"
    )
    # -- hedge -----------------------------------------------------------------
    hedge_trigger_ratio: Decimal = Field(
        default=Decimal("0.99"), gt=0, lt=1, description="hedge a lot at mid <= entry x this"
    )
    hedge_release_ratio: Decimal = Field(
        default=Decimal("0.995"), gt=0, description="release it at mid >= entry x this (> trigger)"
    )
    hedge_min_hold_secs: float = Field(
        default=5.0, ge=0, description="a lot's hedge state is held at least this long, s"
    )
    net_delta_bound: Decimal | None = Field(
        default=None,
        gt=0,
        description="|entry + hedge position| bound, base; None = max_concurrent_positions x size",
    )
    hedge_rate_limit_per_sec: int = Field(
        default=10, ge=1, le=100, description="hedge orders per second (sliding window)"
    )
    hedge_retry: int = Field(default=3, ge=0, le=100, description="retries before a cool-down")
    hedge_retry_delay: float = Field(
        default=0.2, ge=0, description="retry back-off, s x attempt number"
    )
    hedge_retry_cooldown_secs: float = Field(
        default=10.0, ge=0, description="wait after hedge_retry failures in a row, s"
    )
    hedge_reduce_only_close: bool = Field(
        default=True, description="buying the hedge back is reduce-only"
    )

    RENAMED: ClassVar[dict[str, str]] = _RENAMED

    @model_validator(mode="after")
    def _consistent(self) -> HedgeLadderParams:
        if self.hedge_release_ratio <= self.hedge_trigger_ratio:
            raise ValueError(
                f"hedge_release_ratio ({self.hedge_release_ratio}) must be above "
                f"hedge_trigger_ratio ({self.hedge_trigger_ratio}): that gap is the hysteresis"
            )
        require_at_most(
            "max_resting_entries",
            self.max_resting_entries,
            "max_concurrent_positions",
            self.max_concurrent_positions,
        )
        require_room_for_an_entry("net_delta_bound", self.net_delta_bound, self.quantity_base)
        return self


# -- pure helpers ------------------------------------------------------------------


def next_hedge_state(hedged: bool, mid: Decimal, trigger: Decimal, release: Decimal) -> bool:
    """Hysteresis: hedge at ``mid <= trigger``, release only at ``mid >= release``."""
    if not hedged and mid <= trigger:
        return True
    if hedged and mid >= release:
        return False
    return hedged


def hedge_target(
    triggered: Decimal, entry_position: Decimal, bound: Decimal, hedge_inst: Instrument
) -> Decimal:
    """The short hedge wanted (base units, on the hedge venue's step): the triggered
    lots, and at least the part of the long entry position past ``bound``; never
    more than the entry position."""
    long = max(ZERO, entry_position)
    wanted = min(long, max(triggered, long - bound, ZERO))
    # Round the forced part up (the bound holds), the rest down (never over-hedge).
    step = hedge_inst.step_size
    floor = hedge_inst.round_size(wanted)
    forced = long - bound
    if forced > floor and floor + step <= long:
        floor += step
    return floor


def resolve_hedge_instrument(
    ctx: StrategyContext, inst: Instrument, hedge_venue: str, hedge_symbol: str | None
) -> Instrument:
    """The hedge market: the configured one, else the one with the same assets."""
    return counterpart(ctx, inst, hedge_venue, hedge_symbol, "hedge_symbol")


def tp_tag(entry_id: str, entry_price: Decimal) -> str:
    return f"{TP_PREFIX}{entry_id}@{entry_price}"


def parse_tp_tag(tag: str) -> tuple[str, Decimal] | None:
    if not tag.startswith(TP_PREFIX) or "@" not in tag:
        return None
    entry_id, _, price = tag[len(TP_PREFIX) :].rpartition("@")
    try:
        return entry_id, Decimal(price)
    except ArithmeticError:
        return None


@dataclass(slots=True)
class Lot(LadderLot):
    """A hedge ladder's lot: hedged between its trigger and release prices; its
    take-profit's tag carries the entry price (``tp_tag``)."""

    trigger: Decimal = field(kw_only=True)
    release: Decimal = field(kw_only=True)
    hedged: bool = False
    flipped_ms: int | None = None
    flips: int = 0

    @property
    def tag(self) -> str:
        return tp_tag(self.entry_id, self.entry_price)


class HedgeLadder(Strategy):
    kind = "hedge_ladder"
    title = "Hedge ladder"
    Params = HedgeLadderParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p: HedgeLadderParams = self.params  # type: ignore[assignment]
        self.p = p
        if p.hedge_venue is None:
            raise ValueError(
                "hedge_ladder: params.hedge_venue is required (the venue of the protective "
                "hedge, another venue than the entry venue)"
            )
        self.hedge_inst = resolve_hedge_instrument(ctx, self.inst, p.hedge_venue, p.hedge_symbol)
        self.hedge_venue = p.hedge_venue
        self.hedge_symbol = self.hedge_inst.symbol
        if (self.hedge_venue, self.hedge_symbol) == (venue, symbol):
            raise ValueError("hedge_venue: the hedge market must differ from the entry market")
        self.size = common_size(self.inst, self.hedge_inst, p.quantity_base)
        self.bound = (
            p.net_delta_bound
            if p.net_delta_bound is not None
            else self.size * p.max_concurrent_positions
        )
        self.lots: dict[str, Lot] = {}
        self.last_entry_ms: int | None = None
        self.repost = False  # a requoted entry may be re-posted without the interval
        self.backoff = RejectBackoff(p.tick_interval_ms, max(MAX_BACKOFF_MS, p.tick_interval_ms))
        """Refusals back off per kind: ``entry`` and each lot's take-profit (its tag)."""
        self.hedge_failures = 0
        self.hedge_retry_ms = 0
        self.hedge_sent: deque[int] = deque()
        self._pos_lots = 0

    def markets(self) -> list[tuple[str, str]]:
        return [(self.venue, self.symbol), (self.hedge_venue, self.hedge_symbol)]

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

    def _update_triggers(self, book: OrderBook, now_ms: int) -> None:
        mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
        if mid is None:
            return
        hold_ms = round(self.p.hedge_min_hold_secs * 1000)
        for lot in self.lots.values():
            if lot.open <= 0:
                continue
            if lot.flipped_ms is not None and now_ms - lot.flipped_ms < hold_ms:
                continue
            state = next_hedge_state(lot.hedged, mid, lot.trigger, lot.release)
            if state is not lot.hedged:
                lot.hedged, lot.flipped_ms = state, now_ms
                lot.flips += 1
                self.ctx.telemetry.count("hedge_triggers" if state else "hedge_releases")

    def _adopt_hedge_state(self, now_ms: int) -> None:
        """After a restart: the held hedge covers the lots nearest their trigger."""
        held = self._hedge_held()
        for lot in sorted(self.lots.values(), key=lambda x: x.trigger, reverse=True):
            if held <= 0:
                break
            lot.hedged, lot.flipped_ms = True, now_ms
            held -= lot.open

    # -- hedge ----------------------------------------------------------------

    def _hedge_held(self) -> Decimal:
        """The short hedge this strategy holds, from its own fills (positive = short)."""
        return -self.ctx.position(self.hedge_venue, self.hedge_symbol).size

    def wanted_hedge(self) -> Decimal:
        triggered = sum((lot.open for lot in self.lots.values() if lot.hedged), ZERO)
        entry = self.ctx.position(self.venue, self.symbol).size
        return hedge_target(triggered, entry, self.bound, self.hedge_inst)

    def _work_hedge(self, now_ms: int) -> None:
        if not self.ctx.running:
            return
        if any(o.tag in HEDGE_TAGS for o in self.ctx.orders(self.hedge_venue, self.hedge_symbol)):
            return  # one hedge order at a time: its fills decide the next one
        if now_ms < self.hedge_retry_ms:
            return
        diff = self.wanted_hedge() - self._hedge_held()
        inst = self.hedge_inst
        size = inst.round_size(abs(diff))
        if size <= 0:
            return
        if diff > 0:
            side, tag, reduce_only = Side.SELL, HEDGE, False
        else:
            side, tag = Side.BUY, UNHEDGE
            reduce_only = self.p.hedge_reduce_only_close
        if size < inst.min_size and not reduce_only:
            self.ctx.telemetry.set("hedge_note", f"{side.value} {size} below venue minimum")
            return
        while self.hedge_sent and now_ms - self.hedge_sent[0] >= 1000:
            self.hedge_sent.popleft()
        if len(self.hedge_sent) >= self.p.hedge_rate_limit_per_sec:
            self.ctx.telemetry.count("hedge_rate_limited")
            return
        self.hedge_sent.append(now_ms)
        self.ctx.telemetry.count("hedge_orders")
        self.ctx.place(
            self.hedge_venue,
            self.hedge_symbol,
            side,
            size,
            None,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
            reduce_only=reduce_only,
            tag=tag,
        )

    def _hedge_failed(self, order: OrderView, now_ms: int) -> None:
        tel = self.ctx.telemetry
        tel.count("hedge_failures")
        self.hedge_failures += 1
        p = self.p
        if self.hedge_failures > p.hedge_retry:
            self.ctx.log.error(
                "%s: %s of %s on %s/%s failed %d times (%s); retrying in %ss",
                self.ctx.name,
                order.tag,
                order.size - order.filled,
                self.hedge_venue,
                self.hedge_symbol,
                self.hedge_failures,
                order.reason or "not filled",
                p.hedge_retry_cooldown_secs,
            )
            tel.count("hedge_cooldowns")
            self.hedge_failures = 0
            self.hedge_retry_ms = now_ms + round(p.hedge_retry_cooldown_secs * 1000)
        else:
            self.hedge_retry_ms = now_ms + round(p.hedge_retry_delay * 1000 * self.hedge_failures)

    # -- entries and take-profits ---------------------------------------------

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

    # -- telemetry and preview ------------------------------------------------

    def net_exposure(self) -> Decimal:
        """This strategy's net delta in base units: entry position + hedge position."""
        entry = self.ctx.position(self.venue, self.symbol).size
        return entry + self.ctx.position(self.hedge_venue, self.hedge_symbol).size

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
