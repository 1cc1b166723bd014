"""The pair state machine: entering (first leg on leg A, the hedge sized from its
confirmed fills on leg B) -> open -> closing (both legs at once, retried until both
closes are confirmed) -> closed; the delta guard counts the failures."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, Instrument, Side
from strategies.cross_arbitrage_edge import HUNDRED
from strategies.cross_arbitrage_markets import ArbMarkets
from strategies.cross_arbitrage_pairs import LegRef, Pair, Role
from strategies.leg_execution import LegConfig, LegStatus, TrackingLeg

CLOSE_RETRY_MS = 1_000


class PairMachine(ArbMarkets):
    """Each pair moved along its states (``_drive``: idempotent, any event may call it)."""

    def _drive(self, pair: Pair, now_ms: int) -> None:
        """Move one pair along its state machine (idempotent; any event may call it)."""
        if pair.state == "entering":
            self._drive_entering(pair, now_ms)
        if pair.state == "open":
            self._check_balance(pair)
        if pair.state == "closing":
            self._drive_closing(pair, now_ms)
        if pair.state == "closed" and pair in self.pairs:
            self.pairs.remove(pair)

    def _drive_entering(self, pair: Pair, now_ms: int) -> None:
        first = next(r.leg for r in pair.legs if r.role == "open")
        hedge = next((r.leg for r in pair.legs if r.role == "hedge"), None)
        if not first.finished:
            if first.filled == 0 and self.ctx.running:
                opp = self._opportunity()
                if opp is None or opp.buy is not pair.buy or opp.net < self.threshold:
                    first.abort("edge gone before the first leg filled")
            return
        if hedge is None:
            if first.filled == 0:
                pair.state = "closed"  # nothing traded
                self.ctx.telemetry.count("entries_abandoned")
                return
            long_first = first.side is Side.BUY
            target = pair.sell if long_first else pair.buy
            size = target.round_size(first.filled)
            if size < target.min_size:
                self._delta_failure(f"pair {pair.id}: first leg {first.filled} cannot be hedged")
                self._begin_close(pair, "unhedgeable partial fill")
                return
            if not self.ctx.running:
                return  # paused: hedge once resumed
            leg = self._leg(pair, target, first.side.opposite, size, "hedge", cross=True)
            pair.legs.append(LegRef("hedge", not long_first, leg))
            leg.start(now_ms)
            return
        if not hedge.finished:
            return
        mismatch = abs(pair.held(True) - pair.held(False))
        if hedge.status is LegStatus.DONE and mismatch <= self.p.delta_tolerance * pair.size:
            pair.state = "open"
            self.delta_failures = 0
            self.ctx.telemetry.count("entries")
            edge = pair.entry_edge()
            self.ctx.log.info(
                "pair %d open: bought %s %s, sold %s %s, size %s, edge %.4f%%",
                pair.id,
                pair.buy.venue,
                pair.held(True),
                pair.sell.venue,
                pair.held(False),
                pair.size,
                float((edge or ZERO) * HUNDRED),
            )
            return
        self.ctx.telemetry.count("hedge_failures")
        self._delta_failure(
            f"pair {pair.id}: hedge {hedge.status.value} ({hedge.reason}); "
            f"long {pair.held(True)} vs short {pair.held(False)}"
        )
        self._begin_close(pair, "hedge failed: unwinding")

    def _check_balance(self, pair: Pair) -> None:
        """An open pair whose legs drifted apart (a late fill) is unwound."""
        mismatch = abs(pair.held(True) - pair.held(False))
        if mismatch > self.p.delta_tolerance * pair.size:
            self._delta_failure(
                f"pair {pair.id}: legs differ (long {pair.held(True)}, short {pair.held(False)})"
            )
            self._begin_close(pair, "legs out of balance")

    def _begin_close(self, pair: Pair, reason: str) -> None:
        if pair.state in ("closing", "closed"):
            return
        pair.state = "closing"
        pair.exit_reason = reason
        for leg in pair.working():
            leg.abort(f"pair closing: {reason}")
        self.ctx.telemetry.count("exits")
        self.ctx.log.info("pair %d closing: %s", pair.id, reason)
        self._drive_closing(pair, self.ctx.now_ms())

    def _drive_closing(self, pair: Pair, now_ms: int) -> None:
        if any(r.opening for r in pair.legs if not r.leg.finished):
            return  # wait for the opening legs' confirmed end (they may still fill)
        for long_side in (True, False):
            held = pair.held(long_side)
            busy = any(
                not r.leg.finished for r in pair.legs if r.long_side is long_side and not r.opening
            )
            if held <= 0 or busy:
                continue
            if not self.ctx.running or now_ms < pair.close_retry_ms:
                continue
            failed = [
                r.leg
                for r in pair.legs
                if r.long_side is long_side
                and not r.opening
                and r.leg.status in (LegStatus.FAILED, LegStatus.ABORTED)
            ]
            if len(failed) > pair.close_failures:
                pair.close_failures = len(failed)
                self.ctx.telemetry.count("close_failures")
                self.ctx.log.warning(
                    "pair %d: close on %s failed (%s); retrying, the pair stays on the books",
                    pair.id,
                    (pair.buy if long_side else pair.sell).venue,
                    failed[-1].reason,
                )
                pair.close_retry_ms = now_ms + CLOSE_RETRY_MS
                continue
            inst = pair.buy if long_side else pair.sell
            side = Side.SELL if long_side else Side.BUY
            leg = self._leg(
                pair, inst, side, held, "close", cross=True, closing=True, fallback=True
            )
            pair.legs.append(LegRef("close", long_side, leg))
            leg.start(now_ms)
        if pair.held(True) == 0 and pair.held(False) == 0 and not pair.working():
            pair.state = "closed"
            self._last_entry_ms = now_ms  # the cooldown also runs after an exit
            self.round_trips += 1
            self.ctx.telemetry.count("round_trips")
            self.ctx.log.info("pair %d closed (%s)", pair.id, pair.exit_reason)

    def _leg(
        self,
        pair: Pair,
        inst: Instrument,
        side: Side,
        size: Decimal,
        role: Role,
        *,
        cross: bool,
        closing: bool = False,
        fallback: bool | None = None,
    ) -> TrackingLeg:
        p = self.p
        config = LegConfig(
            wait_ms=int(p.tracking_wait_secs * 1000),
            max_retries=p.tracking_max_retries,
            market_fallback=p.allow_market_fallback if fallback is None else fallback,
            cross=cross,
            requote_ticks=p.requote_ticks,
            reject_backoff_ms=p.tick_interval_ms,
        )
        reduce_only = False
        if closing:
            account = self.ctx.account_position(inst.venue, inst.symbol)
            reduce_only = account != 0 and Side.closing(account) is side and abs(account) >= size
        return TrackingLeg(
            self.ctx,
            inst.venue,
            inst.symbol,
            side,
            size,
            config,
            tag=f"p{pair.id}:{role}",
            reduce_only=reduce_only,
        )

    def _delta_failure(self, what: str) -> None:
        self.delta_failures += 1
        self.ctx.telemetry.count("delta_failures_total")
        self.ctx.log.warning(
            "delta failure %d/%d: %s", self.delta_failures, self.p.max_delta_failures, what
        )
        if self.delta_failures >= self.p.max_delta_failures and not self.suspended:
            self.suspended = True
            self.ctx.log.error(
                "delta guard: %d failures in a row; closing every pair and suspending entries "
                "(pause and resume the strategy to clear)",
                self.delta_failures,
            )
            for pair in list(self.pairs):
                self._begin_close(pair, "delta guard")
