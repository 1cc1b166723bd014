"""The hedge ladder's protective hedge: each lot triggered below its trigger
price and released above its (higher) release price, held at least
``hedge_min_hold_secs`` (``next_hedge_state``); the short hedge wanted
(``hedge_target``: the triggered lots, and what keeps the net delta inside the
bound); worked one IOC market order at a time on the hedge venue, counted only
from fills, retried with back-off and a cool-down."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, Instrument, Side
from connectors.book import OrderBook
from strategies.base import OrderView
from strategies.external_book import external_mid
from strategies.hedge_ladder_state import HEDGE, HEDGE_TAGS, UNHEDGE, HedgeLadderState
from strategies.order_forms import place_market_ioc


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


class HedgeLadderHedging(HedgeLadderState):
    """Lot triggers and the hedge orders (a part of ``HedgeLadder``)."""

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
        venue, symbol = self.hedge_venue, self.hedge_symbol
        place_market_ioc(self.ctx, venue, symbol, side, size, tag, reduce_only=reduce_only)

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

    def net_exposure(self) -> Decimal:
        """This strategy's net delta in base units: entry position + hedge position."""
        entry = self.ctx.position(self.venue, self.symbol).size
        return entry + self.ctx.position(self.hedge_venue, self.hedge_symbol).size


__all__ = ["HedgeLadderHedging", "hedge_target", "next_hedge_state"]
