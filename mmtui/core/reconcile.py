"""Making our view match the venues': fills the stream missed, our orders against
the venues' open orders (periodically and after every reconnect), and a run's
starting point — the positions the venues hold, earlier-run orders handed back
or cancelled, each strategy's inventory checked against the account.

Kept outside the engine (as NautilusTrader keeps reconciliation outside its
execution engine): the ``Reconciler`` is handed what it reads and the order
path's transition hook, and changes order states only through that hook.

What it never does: decide an order is gone because a list did not show it (it
asks the venue about that order: ``InflightChecker``), or touch an order it
cannot prove is ours (``ownership``): other tools' orders are counted and shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from connectors.base import ZERO, Connector, OpenOrder, Position
from connectors.common.errors import VenueError
from mmtui.core.clock import Clock
from mmtui.core.gateway import VenueGateway
from mmtui.core.inflight import InflightChecker
from mmtui.core.inventory import (
    Holding,
    InventoryPolicy,
    Mismatch,
    journal_claims,
    starting_inventory,
)
from mmtui.core.journal import Journal
from mmtui.core.markets import VenueStatus
from mmtui.core.orders import Order, OrderManager
from mmtui.core.ownership import EarlierOrder, sort_listing
from mmtui.core.position_guard import PositionGuard
from mmtui.core.positions import PositionBook
from mmtui.core.ratelimit import Priority
from mmtui.core.recovery import FillRecovery

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

log = logging.getLogger("mmtui.reconcile")

RECENT_MS = 1_000
"""An order updated this recently is not looked up yet: the venue's list may lag."""


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
        inflight: InflightChecker,
        recovery: FillRecovery,
        guard: PositionGuard,
        inventory_policy: InventoryPolicy = InventoryPolicy.START_FLAT,
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
        self.inflight = inflight
        self.recovery = recovery
        self.inventory_policy = inventory_policy
        self.guard = guard
        self._earlier_orders: dict[str, list[EarlierOrder]] = {}
        self.foreign_orders: dict[str, list[OpenOrder]] = {}
        """Per venue, the resting orders of other tools on the account (never touched)."""
        self.inventory_mismatches: list[Mismatch] = []

    # -- our orders against the venue's ---------------------------------------

    async def reconcile(self, venue: str, *, recent_ms: int = RECENT_MS) -> int:
        """Check our order states against the venue's open orders; returns corrections.

        One of ours the venue no longer lists is looked up by client id (it may
        have filled, been cancelled, or never have existed) unless it changed in
        the last ``recent_ms``; one it lists that we hold as done is cancelled;
        nothing of anybody else's is touched."""
        conn = self._connectors[venue]
        gateway = self._gateways[venue]
        listed = await gateway.call("open_orders", Priority.QUERY, conn.open_orders)
        listing = await sort_listing(venue, listed, self._orders, self._journal)
        self._note_foreign(venue, listing.foreign)
        on_venue = {order.client_id for _, order in listing.this_run}
        for _, order in listing.this_run:
            order.reported = True  # the venue lists it: not a phantom
        now = self._clock.now_ms()
        fixes = 0
        for order in list(self._orders.live(venue=venue)):
            if order.client_id in on_venue or not order.reported:
                continue  # listed; or not yet reported: the in-flight checks own it
            if now - order.updated_ms < recent_ms:
                continue  # the venue's list may not show it yet
            log.info("%s: %s is not listed as open: looking it up", venue, order.client_id)
            self.inflight.request_check(order)
        for o, order in listing.this_run:
            if not order.is_live:
                log.warning(
                    "%s: our order %s is %s here but still resting on the venue: cancelling",
                    venue,
                    order.client_id,
                    order.status.value,
                )
                fixes += await self._cancel_listed(venue, o, order.client_id)
        for earlier in listing.earlier:
            if self._orders.get(earlier.client_id) is None:
                fixes += await self._cancel_listed(venue, earlier.listed, earlier.client_id)
        if fixes:
            self._note_event("reconcile", f"{venue}: {fixes} corrections")
        return fixes

    async def _cancel_listed(self, venue: str, o: OpenOrder, client_id: str) -> int:
        conn = self._connectors[venue]
        try:
            await self._gateways[venue].call(
                "cancel", Priority.CANCEL, lambda: conn.cancel(o.symbol, client_id)
            )
        except Exception:
            log.exception(
                "%s: cancelling %s (venue order %s) failed", venue, client_id, o.venue_order_id
            )
            return 0
        return 1

    def _note_foreign(self, venue: str, foreign: list[OpenOrder]) -> None:
        before = {o.venue_order_id for o in self.foreign_orders.get(venue, [])}
        self.foreign_orders[venue] = list(foreign)
        new = [o for o in foreign if o.venue_order_id not in before]
        if new:
            self._note_event(
                "foreign_orders",
                f"{venue}: {len(foreign)} resting order(s) of other tools on the account "
                f"(never touched), e.g. {new[0].symbol} {new[0].side.value} {new[0].size} "
                f"@ {new[0].price} id {new[0].venue_client_id or new[0].venue_order_id}",
            )

    async def run_periodically(self, interval_s: float) -> None:
        """Recover missed fills and reconcile every venue every ``interval_s``."""
        while True:
            await self._clock.sleep(interval_s)
            for name in self._connectors:
                try:
                    await self.recovery.recover(name, "periodic check")
                    await self.reconcile(name)
                    if self.guard.holding(name):
                        await self.recheck_positions(name)
                except Exception:
                    log.exception("%s: reconcile failed", name)

    async def check_inflight(self, interval_s: float) -> None:
        """Look up unsettled orders every ``interval_s`` (a background task)."""
        while True:
            await self._clock.sleep(interval_s)
            try:
                await self.inflight.check(self._clock.now_ms())
            except Exception:
                log.exception("in-flight order check failed")

    def stream_down(self, venue: str) -> None:
        self.recovery.stream_down(venue)

    async def after_reconnect(self, venue: str) -> None:
        """Events may have been lost while away: recover the fills, reconcile the
        orders, compare the positions (a market that differs is held by the guard:
        its strategies paused until venue and fills agree)."""
        try:
            await self.recovery.recover(venue, "after reconnect")
            await self.reconcile(venue, recent_ms=0)  # updates may have been lost: ask
            positions = await self._gateways[venue].call(
                "positions", Priority.QUERY, self._connectors[venue].positions
            )
        except Exception:
            log.exception("%s: reconcile after reconnect failed", venue)
            return
        held = {p.symbol: p for p in positions}
        for p in positions:
            self._venues[venue].venue_positions[p.symbol] = p
        self.guard.after_reconnect(venue, {p.symbol: p.size for p in positions})
        for key, state in self._positions.items():
            v, symbol = key  # type: ignore[misc]
            if v != venue:
                continue
            theirs = held[symbol].size if symbol in held else ZERO
            if state.size != theirs:
                log.warning(
                    "%s %s: the venue holds %s, our fills say %s (off by %s) after reconnect",
                    venue,
                    symbol,
                    theirs,
                    state.size,
                    theirs - state.size,
                )
                self._note_event(
                    "position_mismatch",
                    f"{venue} {symbol}: venue {theirs}, ours {state.size}",
                )

    async def recheck_positions(self, venue: str) -> None:
        """Read the venue's positions again for the markets the guard holds."""
        positions = await self._gateways[venue].call(
            "positions", Priority.QUERY, self._connectors[venue].positions
        )
        held = {p.symbol: p.size for p in positions}
        for v, symbol in list(self.guard.mismatches):
            if v == venue:
                self.guard.recheck(venue, symbol, held.get(symbol, ZERO))

    # -- a run's starting point -------------------------------------------------

    async def read_start_positions(self) -> dict[str, list[Position]]:
        """What every venue holds, read at start (the gateway retries transient errors):
        a venue whose positions cannot be read fails the start (``VenueError``) -- trading
        on a position taken for 0 would be trading blind. First the venues' recent fill
        history is marked as already counted in them."""
        held: dict[str, list[Position]] = {}
        for name, conn in self._connectors.items():
            await self.recovery.prime(name)
            try:  # the gateway retries a transient error (a 503, a 429, a timeout)
                held[name] = await self._gateways[name].call(
                    "positions", Priority.QUERY, conn.positions
                )
            except VenueError as exc:
                raise VenueError(
                    f"{name}: could not read the account's positions at start: {exc}",
                    code=exc.code,
                    retryable=exc.retryable,
                ) from exc
            except Exception as exc:  # a bug or an unreadable answer: say which venue
                log.exception("%s: reading positions at start failed", name)
                raise VenueError(
                    f"{name}: could not read the account's positions at start: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        return held

    def seed_positions(self, held: Mapping[str, list[Position]]) -> None:
        """Start from the positions the venues hold (a restart must not read them as 0)."""
        for name, positions in held.items():
            for p in positions:
                self._venues[name].venue_positions[p.symbol] = p
                if p.size != 0:
                    state = self._positions.get((name, p.symbol))
                    state.size, state.entry_price = p.size, p.entry_price
                    self._note_event(
                        "startup", f"{name}: holding {p.symbol} {p.size} @ {p.entry_price}"
                    )

    async def collect_earlier_orders(self) -> None:
        """Sort the resting orders found at start: an earlier run's of ours (proven
        by the journal) are settled once strategies are added; other tools' are left."""
        for name, conn in self._connectors.items():
            try:
                listed = await self._gateways[name].call(
                    "open_orders", Priority.QUERY, conn.open_orders
                )
            except Exception:
                log.exception("%s: listing open orders at start failed", name)
                continue
            listing = await sort_listing(name, listed, self._orders, self._journal)
            self._note_foreign(name, listing.foreign)
            if listing.earlier:
                self._earlier_orders[name] = listing.earlier

    async def settle_earlier_orders(self) -> tuple[int, int]:
        """Hand earlier-run orders back to the strategy that placed them, if it is
        configured again on the same market; cancel the rest. Returns (adopted, cancelled).

        Call after adding strategies and before starting them, so ``on_start``
        sees its orders and rebuilds from them; each strategy's inventory is set
        here too (``seed_inventory``).
        """
        await self.seed_inventory()
        pending, self._earlier_orders = self._earlier_orders, {}
        if not pending:
            return 0, 0
        adopted = cancelled = 0
        now = self._clock.now_ms()
        for venue, earlier in pending.items():
            for e in earlier:
                o = e.listed
                runner = self._strategies.get(e.strategy) if e.strategy else None
                if runner is not None and (venue, o.symbol) in runner.markets:
                    order = self._orders.adopt(
                        venue=venue,
                        symbol=o.symbol,
                        client_id=e.client_id,
                        venue_order_id=o.venue_order_id,
                        side=o.side,
                        price=o.price,
                        size=o.size,
                        remaining=o.remaining_size,
                        post_only=o.post_only,
                        reduce_only=o.reduce_only,
                        strategy=runner.name,
                        tag=e.tag,
                        now_ms=now,
                    )
                    order.venue_client_id = o.venue_client_id
                    order.reported = True
                    adopted += 1
                    continue
                cancelled += await self._cancel_listed(venue, o, e.client_id)
        self._note_event(
            "startup",
            f"earlier-run orders: {adopted} handed back to their strategies, {cancelled} cancelled",
        )
        return adopted, cancelled

    async def seed_inventory(self) -> list[Mismatch]:
        """Each strategy's inventory at start: its journaled fills where they agree
        with the account, else ``inventory_policy`` (see ``mmtui.core.inventory``).
        Size and entry only: the session's PnL starts at zero."""
        names = [n for n, r in self._strategies.items() if not self._trading(n, r)]
        claims: dict[tuple[str, str, str], Holding] = {}
        if self._journal is not None:
            for name in names:
                fills = await asyncio.to_thread(self._journal.strategy_fills, name)
                claims.update(journal_claims(fills, name))
        account = {
            key: Holding(state.size, state.entry_price)
            for key, state in self._positions.items()  # type: ignore[misc]
        }
        start, mismatches = starting_inventory(
            {n: self._strategies[n].markets for n in names},
            claims,
            account,  # type: ignore[arg-type]
            self.inventory_policy,
        )
        for name in names:
            for venue, symbol in self._strategies[name].markets:
                held = start.get((name, venue, symbol))
                if held is None:
                    continue
                state = self._strategy_positions.get((name, venue, symbol))
                state.size, state.entry_price = held.size, held.entry_price
        for m in mismatches:
            log.warning("inventory at start: %s", m.describe())
            self._note_event("inventory_mismatch", m.describe())
        self.inventory_mismatches.extend(mismatches)
        return mismatches

    def _trading(self, name: str, runner: StrategyRunner) -> bool:
        """Already trading in this run (its inventory is its own by now)."""
        return any(
            (state := self._strategy_positions.peek((name, v, s))) is not None and state.fills
            for v, s in runner.markets
        )
