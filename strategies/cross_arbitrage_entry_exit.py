"""When a pair opens and when it closes: the entry gate (threshold, limits, cooldown,
maintenance), the exits (take profit, stop, time stop, maintenance ahead), and the
maintenance windows."""

from __future__ import annotations

import time

from connectors.base import Side
from strategies.cross_arbitrage_edge import HUNDRED, Opportunity
from strategies.cross_arbitrage_pair_machine import PairMachine
from strategies.cross_arbitrage_pairs import LegRef, Pair


def in_window(now_ms: int, hour: int, local: bool, before_minutes: int) -> tuple[bool, bool]:
    """(inside the maintenance hour, inside the ``before_minutes`` just before it)."""
    t = time.localtime(now_ms / 1000) if local else time.gmtime(now_ms / 1000)
    inside = t.tm_hour == hour
    before = before_minutes > 0 and (t.tm_hour + 1) % 24 == hour and t.tm_min >= 60 - before_minutes
    return inside, before


class EntriesExits(PairMachine):
    """The pair machine, and the decisions that open and close pairs."""

    def _check_exits(self, now_ms: int) -> None:
        p = self.p
        _, before = self._maintenance(now_ms)
        for pair in self.pairs:
            if pair.state != "open":
                continue
            cur = self._current_edge(pair)
            reason = ""
            if before:
                reason = "maintenance window ahead"
            elif p.max_hold_secs is not None and now_ms - pair.opened_ms >= p.max_hold_secs * 1000:
                reason = "time stop"
            elif cur is not None and cur <= (1 - p.tp_ratio) * pair.entry_gross:
                reason = "converged (take profit)"
            elif cur is not None and cur >= (1 + p.sl_ratio) * pair.entry_gross:
                reason = "widened (stop)"
            if reason:
                self._begin_close(pair, reason)

    def _entry_block(self, now_ms: int) -> str:
        p = self.p
        if self.suspended:
            return "suspended (delta guard)"
        if self._rebuild_pending:
            return "rebuilding"
        inside, before = self._maintenance(now_ms)
        if inside or before:
            return "maintenance"
        if p.max_round_trips is not None and self.round_trips >= p.max_round_trips:
            return "round-trip limit reached"
        if any(pair.state == "entering" for pair in self.pairs):
            return "entering"
        if any(pair.state == "closing" for pair in self.pairs):
            return "closing"
        if len(self.pairs) >= p.max_concurrent_positions:
            return "at max positions"
        if (
            self._last_entry_ms is not None
            and now_ms - self._last_entry_ms < p.cooldown_secs * 1000
        ):
            return "cooldown"
        if abs(self._net_exposure()) > p.delta_tolerance * self.unit:
            return "net exposure off"
        return ""

    def _maybe_enter(self, now_ms: int) -> None:
        tel = self.ctx.telemetry
        opp = self._opportunity()
        if opp is not None:
            tel.sample("edge_bps", now_ms, round(float(opp.net * 10_000), 2))
        if not self.ctx.running:
            return
        block = self._entry_block(now_ms)
        tel.set("state", block or "watching")
        if block or opp is None or opp.net < self.threshold:
            return
        self._enter(opp, now_ms)

    def _enter(self, opp: Opportunity, now_ms: int) -> None:
        pair = Pair(self._next_id, opp.buy, opp.sell, self.unit, opp.gross, now_ms)
        self._next_id += 1
        self._last_entry_ms = now_ms
        # The first leg always runs on leg A (this strategy's venue).
        a_is_buy = opp.buy.venue == self.venue and opp.buy.symbol == self.symbol
        side = Side.BUY if a_is_buy else Side.SELL
        leg = self._leg(
            pair, self.inst, side, self.unit, "open", cross=not self.p.passive_first_leg
        )
        pair.legs.append(LegRef("open", a_is_buy, leg))
        self.pairs.append(pair)
        self.ctx.log.info(
            "pair %d: buy %s @ %s, sell %s @ %s, edge %.4f%% gross, %.4f%% net",
            pair.id,
            opp.buy.venue,
            opp.buy_price,
            opp.sell.venue,
            opp.sell_price,
            float(opp.gross * HUNDRED),
            float(opp.net * HUNDRED),
        )
        leg.start(now_ms)
        self._drive(pair, now_ms)

    def _maintenance(self, now_ms: int) -> tuple[bool, bool]:
        p = self.p
        inside = before = False
        for hour, local in ((p.maintenance_hour_utc, False), (p.maintenance_local_hour, True)):
            if hour is not None:
                i, b = in_window(now_ms, hour, local, p.pre_maint_close_minutes)
                inside, before = inside or i, before or b
        return inside, before
