"""Cross-venue arbitrage: buy where it is cheap, sell where it is rich.

Two markets of one base asset: leg A is the strategy's own ``venue``/``symbol``,
leg B is ``other_venue``/``other_symbol`` (found by pairing on the base asset
when not given). All prices are each venue's own ``Decimal`` prices; sizes are
base units on a grid both venues accept (``pairing.common_size``).

Entry. For each direction the strategy prices its size through the books (the
worst price a sweep of ``size`` reaches in the top levels, so thin books count):

    gross = sell_price(rich venue, bids) / buy_price(cheap venue, asks) - 1
    net   = gross - 2 * (taker_fee_A + taker_fee_B) - expected_funding_pct / 100

(entry and exit, both venues, all taker). It enters when ``net`` reaches
``entry_threshold_pct`` %: it **buys the cheap venue and sells the rich one**.
The first leg runs on venue A as a tracking limit; the second (the hedge) is
sized from A's *confirmed* fills and runs on B as a crossing tracking limit
with market fallback. If the hedge fails, whatever was filled on either venue
is unwound and a delta failure is counted.

Exit. ``cur`` is the same gross edge in the entry direction now (rich bid over
cheap ask). Take profit when ``cur <= (1 - tp_ratio) * entry``, stop when
``cur >= (1 + sl_ratio) * entry``, time stop after ``max_hold_secs``, and close
before a maintenance window. Both legs close at once with crossing tracking
limits that always fall back to market; a pair is removed only when both
closes are confirmed filled (a failed close is retried, never dropped).

Delta guard. A pair whose legs differ by more than ``delta_tolerance`` of its
size is unwound and counts a failure; so does a drift between the pairs' books
and this strategy's positions (then the pairs are rebuilt from the positions).
At ``max_delta_failures`` in a row it closes every pair and suspends entries
until the operator pauses and resumes it. A clean entry resets the count.

Tags: ``p<n>:open`` / ``p<n>:hedge`` / ``p<n>:close`` / ``p<n>:fix``. On restart
the tracking orders of the earlier run are cancelled (a tracking limit is not
worth keeping without its timers) and, once they are confirmed gone, the
pairs are rebuilt from the strategy's journaled positions.
"""

from __future__ import annotations

from connectors.base import ZERO, Fill, OrderStatus, Side
from strategies.base import OrderView, PlannedOrder
from strategies.cross_arbitrage_edge import (
    HUNDRED,
    Opportunity,
    best_opportunity,
    gross_edge,
    round_trip_fees,
    sweep_price,
)
from strategies.cross_arbitrage_entry_exit import EntriesExits, in_window
from strategies.cross_arbitrage_pairs import LegRef, Pair
from strategies.cross_arbitrage_params import CrossArbitrageParams
from strategies.cross_arbitrage_rebuild import PairRebuild
from strategies.pairing import market_mid

__all__ = [
    "CrossArbitrage",
    "CrossArbitrageParams",
    "LegRef",
    "Opportunity",
    "Pair",
    "best_opportunity",
    "gross_edge",
    "in_window",
    "round_trip_fees",
    "sweep_price",
]


class CrossArbitrage(EntriesExits, PairRebuild):
    kind = "cross_arbitrage"
    title = "Cross-venue arbitrage"
    Params = CrossArbitrageParams

    # -- lifecycle --------------------------------------------------------------

    def on_start(self) -> None:
        tel = self.ctx.telemetry
        tel.set("pair", f"{self.venue}/{self.symbol} ~ {self.other_venue}/{self.other_symbol}")
        tel.set("size", self.unit)
        tel.set("fees_pct", round(float(self.cost * HUNDRED), 4))
        self._cancel_earlier_orders()
        self._cycle(self.ctx.now_ms())

    def on_pause(self) -> None:
        self.ctx.telemetry.set("state", "paused")

    def on_resume(self) -> None:
        if self.suspended:
            self.ctx.log.warning("resumed by the operator: delta-guard suspension cleared")
            self.suspended = False
            self.delta_failures = 0
        if not self._books_match():
            # Positions moved while paused (a flatten, a kill switch): start over
            # from what is really held.
            for pair in self.pairs:
                for leg in pair.working():
                    leg.abort("positions changed while paused")
            self._rebuild_pending = True
        self._cycle(self.ctx.now_ms())

    def on_stop(self) -> None:
        for pair in self.pairs:
            for leg in pair.working():
                leg.abort("strategy stopped")
        self.ctx.telemetry.set("state", "stopped")
        held = [p for p in self.pairs if p.state != "closed"]
        if held:
            self.ctx.log.warning(
                "stopped with %d pairs still held (flatten the strategy to close them)", len(held)
            )

    # -- events -----------------------------------------------------------------

    def on_tick(self, now_ms: int) -> None:
        self._cycle(now_ms)

    def on_order(self, order: OrderView) -> None:
        if order.status is OrderStatus.REJECTED:
            self.ctx.telemetry.count("rejects")
            self.ctx.telemetry.set("last_reject", order.reason)
        for pair in self.pairs:
            for ref in pair.legs:
                if ref.leg.on_order(order):
                    self._drive(pair, self.ctx.now_ms())
                    return

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        self.ctx.telemetry.count("fills")
        self.ctx.telemetry.count(f"fills_{fill.venue}")
        for pair in self.pairs:
            for ref in pair.legs:
                if ref.leg.on_fill(fill, order):
                    self._drive(pair, self.ctx.now_ms())
                    return

    # -- the cycle --------------------------------------------------------------

    def _cycle(self, now_ms: int) -> None:
        for pair in list(self.pairs):
            for ref in pair.legs:
                ref.leg.on_tick(now_ms)
            self._drive(pair, now_ms)
        if self._rebuild_pending:
            self._try_rebuild()
        self._guard_drift()
        self._check_exits(now_ms)
        self._maybe_enter(now_ms)
        self._publish(now_ms)

    # -- telemetry and preview ------------------------------------------------

    def _publish(self, now_ms: int) -> None:
        tel = self.ctx.telemetry
        net = self._net_exposure()
        tel.sample("net_exposure", now_ms, net)
        tel.set(f"net_exposure_{self.inst.base}", net)
        tel.set(f"pos_{self.venue}", self._position(self.venue, self.symbol))
        tel.set(f"pos_{self.other_venue}", self._position(self.other_venue, self.other_symbol))
        tel.set("pairs", len(self.pairs))
        tel.set("pairs_open", sum(1 for p in self.pairs if p.state == "open"))
        tel.set("delta_failures", self.delta_failures)
        tel.set("suspended", self.suspended)
        pnl = sum(
            (
                self.ctx.position(v, s).net_pnl(market_mid(self.ctx, v, s))
                for v, s in self.markets()
            ),
            ZERO,
        )
        tel.sample("pnl", now_ms, pnl)

    def preview(self) -> list[PlannedOrder]:
        """The two legs it would send now (empty when the edge is below the threshold)."""
        opp = self._opportunity()
        if opp is None or opp.net < self.threshold:
            return []
        note = f"edge {float(opp.net * HUNDRED):.3f}% net"
        return [
            PlannedOrder(
                opp.buy.venue, opp.buy.symbol, Side.BUY, opp.buy_price, self.unit, note=note
            ),
            PlannedOrder(
                opp.sell.venue, opp.sell.symbol, Side.SELL, opp.sell_price, self.unit, note=note
            ),
        ]
