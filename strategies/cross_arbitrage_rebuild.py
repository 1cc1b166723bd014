"""Pairs rebuilt from positions: after a restart (the earlier run's tracking orders
cancelled first), after positions moved without our legs (a flatten, an outside fill:
the drift guard), or while paused."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, Instrument, Side
from strategies.base import StrategyContext
from strategies.cross_arbitrage_edge import gross_edge
from strategies.cross_arbitrage_pair_machine import PairMachine
from strategies.cross_arbitrage_pairs import LegRef, Pair
from strategies.leg_execution import LegConfig, LegStatus, TrackingLeg


class PairRebuild(PairMachine):
    """The pair machine, and the pairs rebuilt when they and the positions disagree."""

    def _cancel_earlier_orders(self) -> None:
        """On start: the earlier run's tracking orders are cancelled (not worth keeping
        without their timers); once they are gone the pairs are rebuilt."""
        tel = self.ctx.telemetry
        adopted = self.ctx.orders(self.venue, self.symbol) + self.ctx.orders(
            self.other_venue, self.other_symbol
        )
        tel.set("adopted", len(adopted))
        held = any(self._position(v, s) != 0 for v, s in self.markets())
        if adopted or held:
            self.ctx.log.info(
                "restart: cancelling %d earlier tracking orders (%s), then rebuilding pairs "
                "from positions",
                len(adopted),
                ", ".join(sorted(o.tag or "?" for o in adopted)),
            )
            for order in adopted:
                self.ctx.cancel(order.client_id)
            self._recovering = adopted
            self._rebuild_pending = True

    def _books_match(self) -> bool:
        """Do the pairs' confirmed fills add up to the strategy's positions?"""
        for venue, symbol in self.markets():
            implied = sum((pair.signed(venue, symbol) for pair in self.pairs), ZERO)
            if implied != self._position(venue, symbol):
                return False
        return True

    def _guard_drift(self) -> None:
        """Positions moved without our legs (a flatten, an outside fill): rebuild."""
        if self._rebuild_pending or any(pair.working() for pair in self.pairs):
            self._drift_ticks = 0
            return
        if self._books_match():
            self._drift_ticks = 0
            return
        self._drift_ticks += 1
        if self._drift_ticks >= 2:  # give a late fill one tick to land
            self._drift_ticks = 0
            self.ctx.telemetry.count("drift_rebuilds")
            self.ctx.log.warning("pairs and positions disagree: rebuilding from positions")
            self._rebuild_pending = True
            self._try_rebuild()

    def _try_rebuild(self) -> None:
        if any(o.is_live for o in self._recovering):
            return
        if any(pair.working() for pair in self.pairs):
            return
        self._recovering = []
        self._rebuild_pending = False
        self.pairs = []
        pa = self._position(self.venue, self.symbol)
        pb = self._position(self.other_venue, self.other_symbol)
        now = self.ctx.now_ms()
        if pa == 0 and pb == 0:
            return
        a, b = self.inst, self.other_inst
        matched = min(abs(pa), abs(pb)) if (pa > 0) != (pb > 0) else ZERO
        if matched > 0:
            buy, sell = (a, b) if pa > 0 else (b, a)
            pair = self._recovered(buy, sell, matched, matched, now)
            pair.entry_gross = self._recovered_edge(buy, sell)
            pair.state = "open"
            self.pairs.append(pair)
        for inst, pos in ((a, pa), (b, pb)):
            excess = abs(pos) - matched
            if excess > 0:
                # One-sided remainder: a delta failure, closed at once.
                long_side = pos > 0
                other = b if inst is a else a
                buy, sell = (inst, other) if long_side else (other, inst)
                pair = self._recovered(
                    buy, sell, excess if long_side else ZERO, ZERO if long_side else excess, now
                )
                self.pairs.append(pair)
                self._delta_failure(f"{inst.venue}/{inst.symbol}: {pos} held one-sided")
                self._begin_close(pair, "one-sided remainder after rebuild")
        self.ctx.log.info(
            "rebuilt %d pairs from positions (%s %s, %s %s)",
            len(self.pairs),
            self.venue,
            pa,
            self.other_venue,
            pb,
        )

    def _recovered(
        self, buy: Instrument, sell: Instrument, long: Decimal, short: Decimal, now: int
    ) -> Pair:
        pair = Pair(self._next_id, buy, sell, max(long, short), ZERO, now, state="open")
        self._next_id += 1
        for long_side, qty, inst, side in (
            (True, long, buy, Side.BUY),
            (False, short, sell, Side.SELL),
        ):
            if qty > 0:
                pair.legs.append(LegRef("open", long_side, _Filled(self.ctx, inst, side, qty)))
        return pair

    def _recovered_edge(self, buy: Instrument, sell: Instrument) -> Decimal:
        bp = self.ctx.position(buy.venue, buy.symbol).entry_price
        sp = self.ctx.position(sell.venue, sell.symbol).entry_price
        return gross_edge(bp, sp) if bp > 0 and sp > 0 else ZERO


class _Filled(TrackingLeg):
    """A leg rebuilt from a position after a restart: already filled, never placed."""

    def __init__(self, ctx: StrategyContext, inst: Instrument, side: Side, size: Decimal) -> None:
        super().__init__(ctx, inst.venue, inst.symbol, side, size, LegConfig(), tag="rebuilt")
        self.filled = self.size
        self.status = LegStatus.DONE
        self.reason = "rebuilt from position"
