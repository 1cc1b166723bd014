"""Fills in: every fill from any path (the stream, the fill history after a
reconnect, a late fill found in the journal) is checked (``fill_check``: an
impossible fill is refused — journaled as refused, alerted, never applied) and
passes one gate (``first_sight``): nothing is applied twice, and a refused fill
counts as seen. A fill of one of our orders moves the account, the strategy's
share, the journal and the strategy; a fill of no order of ours (a liquidation,
an ADL, a trade another tool made on the account) still moves the account's
position: it is logged at WARNING, journaled, and shown; a fill of an order of
ours whose record was pruned is booked once the journal names it
(``late_fills``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import Fill, OrderStatus
from mmtui.core import fill_check, numbers
from mmtui.core.clock import Clock
from mmtui.core.journal import Journal, writable
from mmtui.core.late_fills import LateFills
from mmtui.core.markets import Markets
from mmtui.core.orders import Order, OrderManager
from mmtui.core.positions import PositionBook
from mmtui.core.risk import RiskEngine

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

log = logging.getLogger("mmtui.engine")
fills_log = logging.getLogger("mmtui.fills")


class FillIntake:
    """Books each fill once: to its order and strategy, or to the account only."""

    def __init__(
        self,
        *,
        clock: Clock,
        markets: Markets,
        orders: OrderManager,
        positions: PositionBook,
        strategy_positions: PositionBook,
        risk: RiskEngine,
        journal: Journal | None,
        note_event: Callable[[str, str], None],
        first_sight: Callable[[Fill, bool], bool],
        runner_of: Callable[[Order], StrategyRunner | None],
        order_changed: Callable[[Order], None],
        journal_order: Callable[[Order], None],
    ) -> None:
        self._clock = clock
        self._markets = markets
        self._orders = orders
        self._positions = positions
        self._strategy_positions = strategy_positions
        self._risk = risk
        self._journal = journal
        self._note_event = note_event
        self._first_sight = first_sight
        self._runner_of = runner_of
        self._order_changed = order_changed
        self._journal_order = journal_order
        self.foreign = 0
        """Fills of no order of ours that moved the account (liquidations, other tools)."""
        self.refused = 0
        """Fills refused as impossible (``fill_check``): journaled, alerted, not applied."""
        self.late = LateFills(
            orders=orders, journal=journal, now_ms=clock.now_ms, book=self._book_late
        )
        """Fills of orders of ours whose records were pruned: found in the journal."""

    def on_fill(self, fill: Fill) -> None:
        order = self._orders.resolve(fill.venue, fill.client_id, fill.venue_order_id)
        refused = fill_check.refusal(
            fill,
            order=order,
            instrument=self._markets.instruments.get((fill.venue, fill.symbol)),
            mark=self._markets.mark(fill.venue, fill.symbol),
            band_pct=self._risk.limits.fill_price_band_pct,
        )
        # Seen either way (a history re-read must not apply a refused fill later); a
        # refused fill's timestamp does not move the history's watermark.
        if not self._first_sight(fill, refused is None):
            return  # delivered before (the stream and the history overlap)
        now = self._clock.now_ms()
        if refused is not None:
            self._refuse(fill, order, refused, now)
            return
        before = order.status if order is not None else None
        order = self._orders.apply_fill(fill, now)
        if order is None:
            if before is not None:
                return  # its order had this trade already (a duplicate delivery)
            if self.late.wants(fill):
                self._account_fill(fill)  # the account's either way; its order is looked up
                self.late.find(fill)
            else:
                self._foreign_fill(fill, now)
            return
        self._account_fill(fill)
        self._book(fill, order, before, now)

    def _account_fill(self, fill: Fill) -> None:
        self._positions.get((fill.venue, fill.symbol)).apply_fill(
            fill.side, fill.price, fill.size, fill.fee
        )

    def _book_late(self, fill: Fill, order: Order | None, why: str) -> None:
        """A late fill, its account share applied: book it to ``order`` (rebuilt from
        the journal) or, when None, as a fill of no order of ours."""
        now = self._clock.now_ms()
        if order is None:
            self._foreign_fill(fill, now, account=False, why=why)
            return
        before = order.status
        if self._orders.apply_fill(fill, now) is not order:
            detail = (
                f"{fill.venue} {fill.symbol} trade {fill.trade_id} of {order.client_id} was "
                "journaled before: the account's position counted it twice"
            )
            log.error("late fill delivered again: %s", detail)
            self._note_event("fill_twice", detail)
            return
        log.warning(
            "late fill of order %s (%s, ended %s; record pruned, rebuilt from the journal): "
            "%s %s %s %s @ %s",
            order.client_id,
            order.strategy or "-",
            before.value,
            fill.venue,
            fill.symbol,
            fill.side.value,
            fill.size,
            fill.price,
        )
        self._book(fill, order, before, now)

    def _book(self, fill: Fill, order: Order, before: OrderStatus | None, now: int) -> None:
        """A fill of ``order`` (the account's share applied): the strategy's share, the
        journal, the strategy, the order's new state."""
        fills_log.info(
            "%s %s %s %s %s @ %s (%s%s)",
            order.strategy or "-",
            fill.venue,
            fill.symbol,
            fill.side.value,
            fill.size,
            fill.price,
            fill.liquidity.value,
            ", partial" if order.remaining > 0 else "",
        )
        if order.strategy is not None:
            self._strategy_positions.get((order.strategy, fill.venue, fill.symbol)).apply_fill(
                fill.side, fill.price, fill.size, fill.fee
            )
        self._journal_fill(fill, order.client_id, order.strategy, now)
        runner = self._runner_of(order)
        if runner is not None:
            runner.deliver_fill(fill, order)
        if order.status is not before:
            self._order_changed(order)
        elif order.status.is_terminal:
            self._journal_order(order)  # a late fill: the ended order's filled moved

    def _refuse(self, fill: Fill, order: Order | None, reason: str, now: int) -> None:
        """An impossible fill: journaled as refused with the reason, alerted, never
        applied to orders, positions or strategies."""
        self.refused += 1
        side = _text(getattr(fill.side, "value", fill.side))
        whose = order.client_id if order is not None else f"client id {_text(fill.client_id)}"
        detail = (
            f"{_text(fill.venue)} {_text(fill.symbol)} {side} {_text(fill.size)} @ "
            f"{_text(fill.price)} ({whose}, trade {_text(fill.trade_id)}): {reason}"
        )
        log.error("fill REFUSED, not applied: %s", detail)
        self._note_event("fill_refused", detail)
        if writable(self._journal):
            ts = fill.ts_ms if type(fill.ts_ms) is int and fill.ts_ms > 0 else now
            self._journal.record_refused_fill(
                ts_ms=ts,
                venue=_text(fill.venue),
                symbol=_text(fill.symbol),
                side=side,
                price=_text(fill.price),
                size=_text(fill.size),
                fee=_text(fill.fee),
                trade_id=_text(fill.trade_id),
                client_id=None if fill.client_id is None else _text(fill.client_id),
                venue_order_id=None if fill.venue_order_id is None else _text(fill.venue_order_id),
                strategy=order.strategy if order is not None else None,
                reason=reason,
            )

    def _foreign_fill(self, fill: Fill, now: int, *, account: bool = True, why: str = "") -> None:
        """A fill of no order of ours: the account's position moved all the same."""
        self.foreign += 1
        state = self._positions.get((fill.venue, fill.symbol))
        if account:
            state.apply_fill(fill.side, fill.price, fill.size, fill.fee)
        what = "liquidation/ADL?" if fill.client_id is None else f"client id {fill.client_id}"
        if why:
            what = f"{what}: {why}"
        detail = (
            f"{fill.venue} {fill.symbol} {fill.side.value} {fill.size} @ {fill.price} "
            f"not ours ({what}, trade {fill.trade_id}); account position now {state.size}"
        )
        log.warning("fill of no order of ours: %s", detail)
        self._note_event("foreign_fill", detail)
        self._journal_fill(fill, fill.client_id, None, now)

    def _journal_fill(
        self, fill: Fill, client_id: str | None, strategy: str | None, now: int
    ) -> None:
        if writable(self._journal):
            self._journal.record_fill(
                ts_ms=fill.ts_ms or now,
                client_id=client_id,
                venue=fill.venue,
                symbol=fill.symbol,
                side=fill.side.value,
                price=fill.price,
                size=fill.size,
                fee=fill.fee,
                liquidity=fill.liquidity.value,
                trade_id=fill.trade_id,
                strategy=strategy,
            )


def _text(value: object) -> str:
    """A refused fill's field as text for the log and the journal: a string or a
    Decimal as it reads, anything else as its repr; cut to 200 characters (a refused
    fill is kept, not trusted)."""
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, Decimal):
        return str(value)[:200]
    return numbers.shown(value)
