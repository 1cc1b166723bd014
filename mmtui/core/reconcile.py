"""Making our view match the venues': order states against the venues' open
orders (periodically and after a reconnect), and a restart's starting point —
the positions the venues hold, earlier-run orders adopted or cancelled, each
strategy's inventory rebuilt from its journaled fills.

Kept outside the engine (as NautilusTrader keeps reconciliation outside its
execution engine): the ``Reconciler`` is handed what it reads and the order
path's transition hook, and changes order states only through that hook.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from connectors.base import ZERO, Connector, OpenOrder, OrderStatus, OrderUpdate, Side
from mmtui.core.clock import Clock
from mmtui.core.gateway import VenueGateway
from mmtui.core.journal import Journal
from mmtui.core.markets import VenueStatus
from mmtui.core.orders import CLIENT_ID_MARK, Order, OrderManager
from mmtui.core.positions import PositionBook
from mmtui.core.ratelimit import Priority

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

log = logging.getLogger("mmtui.engine")

RECENT_MS = 5_000
"""An order updated this recently is left alone: its update may still be on its way."""


class Reconciler:
    def __init__(
        self,
        *,
        clock: Clock,
        connectors: Mapping[str, Connector],
        gateways: Mapping[str, VenueGateway],
        venues: Mapping[str, VenueStatus],
        orders: OrderManager,
        positions: PositionBook,
        strategy_positions: PositionBook,
        strategies: Mapping[str, StrategyRunner],
        journal: Journal | None,
        order_changed: Callable[[Order], None],
        note_event: Callable[[str, str], None],
    ) -> None:
        self._clock = clock
        self._connectors = connectors
        self._gateways = gateways
        self._venues = venues
        self._orders = orders
        self._positions = positions
        self._strategy_positions = strategy_positions
        self._strategies = strategies
        self._journal = journal
        self._order_changed = order_changed
        self._note_event = note_event
        self._earlier_orders: dict[str, list[OpenOrder]] = {}

    # -- our orders against the venue's ---------------------------------------

    async def reconcile(self, venue: str) -> int:
        """Make our order states match the venue's open orders; returns corrections."""
        conn = self._connectors[venue]
        gateway = self._gateways[venue]
        listed = await gateway.call("open_orders", Priority.QUERY, conn.open_orders)
        on_venue = {o.client_id for o in listed if o.client_id}
        now = self._clock.now_ms()
        fixes = 0
        for order in list(self._orders.live(venue=venue)):
            if order.client_id in on_venue or order.status is OrderStatus.PENDING:
                continue
            if now - order.updated_ms < RECENT_MS:
                continue  # an update may still be on its way
            self._orders.apply_update(
                OrderUpdate(
                    venue,
                    order.symbol,
                    order.client_id,
                    order.venue_order_id,
                    OrderStatus.CANCELLED,
                    reason="reconcile: not open on venue",
                ),
                now,
            )
            self._order_changed(order)
            fixes += 1
        prefix = self._orders.run_prefix + "-"
        for listed_order in listed:
            cid = listed_order.client_id
            if cid and cid.startswith(prefix) and not self._orders.is_ours(cid):
                await gateway.call(
                    "cancel",
                    Priority.CANCEL,
                    lambda o=listed_order: conn.cancel(o.symbol, o.client_id or ""),
                )
                fixes += 1
        if fixes:
            self._note_event("reconcile", f"{venue}: {fixes} corrections")
        return fixes

    async def run_periodically(self, interval_s: float) -> None:
        """Reconcile every venue every ``interval_s`` (a background task)."""
        while True:
            await self._clock.sleep(interval_s)
            for name in self._connectors:
                try:
                    await self.reconcile(name)
                except Exception:
                    log.exception("%s: reconcile failed", name)

    async def after_reconnect(self, venue: str) -> None:
        """Events may have been lost while away: reconcile, re-read the positions."""
        try:
            await self.reconcile(venue)
            positions = await self._gateways[venue].call(
                "positions", Priority.QUERY, self._connectors[venue].positions
            )
        except Exception:
            log.exception("%s: reconcile after reconnect failed", venue)
            return
        for p in positions:
            self._venues[venue].venue_positions[p.symbol] = p
            ours = self._positions.get((venue, p.symbol)).size
            if ours != p.size:
                log.warning(
                    "%s %s: position %s on the venue, %s from our fills (fills missed while "
                    "disconnected?)",
                    venue,
                    p.symbol,
                    p.size,
                    ours,
                )

    # -- a restart's starting point -------------------------------------------

    async def seed_positions(self) -> None:
        """Start from the positions the venues hold (a restart must not read them as 0)."""
        for name, conn in self._connectors.items():
            try:
                held = await self._gateways[name].call("positions", Priority.QUERY, conn.positions)
            except Exception:
                log.exception("%s: reading positions at start failed", name)
                continue
            for p in held:
                self._venues[name].venue_positions[p.symbol] = p
                if p.size != 0:
                    state = self._positions.get((name, p.symbol))
                    state.size, state.entry_price = p.size, p.entry_price
                    self._note_event(
                        "startup", f"{name}: holding {p.symbol} {p.size} @ {p.entry_price}"
                    )

    async def collect_earlier_orders(self) -> None:
        """Find resting orders an earlier mmtui run left (our mark, another prefix)."""
        prefix = self._orders.run_prefix + "-"
        for name, conn in self._connectors.items():
            try:
                listed = await self._gateways[name].call(
                    "open_orders", Priority.QUERY, conn.open_orders
                )
            except Exception:
                log.exception("%s: listing open orders at start failed", name)
                continue
            earlier = [
                o
                for o in listed
                if o.client_id
                and o.client_id.startswith(CLIENT_ID_MARK)
                and not o.client_id.startswith(prefix)
            ]
            if earlier:
                self._earlier_orders[name] = earlier

    async def settle_earlier_orders(self) -> tuple[int, int]:
        """Hand earlier-run orders back to the strategy that placed them, if it is
        configured again on the same market; cancel the rest. Returns (adopted, cancelled).

        Call after adding strategies and before starting them, so ``on_start``
        sees its orders and rebuilds from them.
        """
        pending, self._earlier_orders = self._earlier_orders, {}
        for name, runner in self._strategies.items():
            await self._seed_strategy_position(name, runner)
        if not pending:
            return 0, 0
        ids = [o.client_id or "" for orders in pending.values() for o in orders]
        owners = await asyncio.to_thread(self._journal.owners, ids) if self._journal else {}
        adopted = cancelled = 0
        now = self._clock.now_ms()
        for venue, orders in pending.items():
            for o in orders:
                strategy, tag = owners.get(o.client_id or "", (None, ""))
                runner = self._strategies.get(strategy) if strategy else None
                if runner is not None and (venue, o.symbol) in runner.markets:
                    self._orders.adopt(
                        venue=venue,
                        symbol=o.symbol,
                        client_id=o.client_id or "",
                        venue_order_id=o.venue_order_id,
                        side=o.side,
                        price=o.price,
                        size=o.size,
                        remaining=o.remaining_size,
                        post_only=o.post_only,
                        reduce_only=o.reduce_only,
                        strategy=runner.name,
                        tag=tag,
                        now_ms=now,
                    )
                    adopted += 1
                    continue
                conn = self._connectors[venue]
                try:
                    await self._gateways[venue].call(
                        "cancel",
                        Priority.CANCEL,
                        lambda o=o, c=conn: c.cancel(o.symbol, o.client_id or ""),
                    )
                    cancelled += 1
                except Exception:
                    log.exception("%s: cancelling earlier-run order %s failed", venue, o.client_id)
        self._note_event(
            "startup",
            f"earlier-run orders: {adopted} handed back to their strategies, {cancelled} cancelled",
        )
        return adopted, cancelled

    async def _seed_strategy_position(self, name: str, runner: StrategyRunner) -> None:
        """Rebuild a strategy's inventory from its journaled fills (size and entry only:
        the session's PnL starts at zero)."""
        if self._journal is None:
            return
        fills = await asyncio.to_thread(self._journal.strategy_fills, name)
        for venue, symbol in runner.markets:
            state = self._strategy_positions.get((name, venue, symbol))
            if state.fills:
                continue  # already trading in this run
            for f in fills:
                if f["venue"] == venue and f["symbol"] == symbol:
                    state.apply_fill(Side(f["side"]), f["price"], f["size"], f["fee"])  # type: ignore[arg-type]
            state.realized_pnl = state.fees = state.volume = ZERO
            state.fills = 0
