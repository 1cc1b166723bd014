"""Getting out: cancel and wait, flatten (a strategy, a venue, or all), the kill
switch, and the shutdown's cancel-everything-and-verify step."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import (
    ZERO,
    OpenOrder,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
)
from mmtui.core.clock import Clock
from mmtui.core.flat_report import describe_market
from mmtui.core.gateway import VenueGateway
from mmtui.core.markets import Markets, abandon
from mmtui.core.order_path import OrderPath
from mmtui.core.orders import Order, OrderManager
from mmtui.core.ownership import this_runs
from mmtui.core.positions import PositionBook
from mmtui.core.ratelimit import Priority
from mmtui.core.risk import RiskEngine, RiskState
from mmtui.core.summary import FlattenLine, FlattenReport

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

log = logging.getLogger("mmtui.engine")


class Flattener:
    def __init__(
        self,
        *,
        clock: Clock,
        markets: Markets,
        order_path: OrderPath,
        orders: OrderManager,
        strategy_positions: PositionBook,
        positions: PositionBook,
        risk: RiskEngine,
        strategies: Mapping[str, StrategyRunner],
        runner: Callable[[str], StrategyRunner],
        note_event: Callable[[str, str], None],
    ) -> None:
        self._clock = clock
        self._markets = markets
        self._path = order_path
        self._gateways = order_path.gateways
        self._orders = orders
        self._strategy_positions = strategy_positions
        self._positions = positions
        self._risk = risk
        self._strategies = strategies
        self._runner = runner
        self._note_event = note_event

    async def wait_terminal(self, orders: Iterable[Order], timeout: float) -> list[Order]:
        """Wait until every order is terminal; returns those still live at the timeout."""
        live = [o for o in orders if o.is_live]
        futures = [self._path.terminal(order) for order in live]
        if futures:
            await asyncio.wait(futures, timeout=timeout)
        return [o for o in live if o.is_live]

    async def cancel_orders(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        timeout: float = 5.0,
        keep: Collection[str] = (),
    ) -> list[Order]:
        """Cancel our live orders in scope (but those in ``keep``, by client id) and
        wait; returns the ones still live."""
        targets = [
            o
            for o in self._orders.live(venue=venue, symbol=symbol, strategy=strategy)
            if o.client_id not in keep
        ]
        for order in targets:
            self._path.request_cancel(order)
        return await self.wait_terminal(targets, timeout)

    async def flatten(
        self,
        *,
        venue: str | None = None,
        strategy: str | None = None,
        attempts: int = 3,
        timeout: float = 5.0,
    ) -> FlattenReport:
        """Cancel, close with reduce-only market orders, re-read the venue, report."""
        scope = f"strategy {strategy}" if strategy else f"venue {venue}" if venue else "all"
        report = FlattenReport(action=f"flatten {scope}")
        self._note_event("flatten", f"{scope}: started")
        for runner in self._runners_in_scope(venue, strategy):
            if runner.running:
                runner.pause(f"paused for flatten ({scope})")
        if venue is not None:
            venues = [venue]
        elif strategy is not None:
            venues = sorted({v for v, _ in self._runner(strategy).markets})
        else:
            venues = sorted(self._markets.connectors)
        for name in venues:
            report.lines.append(await self._flatten_venue(name, strategy, attempts, timeout))
        failed = "".join(f"; {line}" for line in report.lines if not line.ok)
        self._note_event("flatten", f"{scope}: {report.headline()}{failed}")
        return report

    async def kill_switch(self) -> FlattenReport:
        """Halt risk, pause every strategy, cancel everything, flatten every venue."""
        self._risk.set_state(RiskState.HALTED, "kill switch")
        self._note_event("kill_switch", "engaged")
        for runner in self._strategies.values():
            if runner.running:
                runner.pause("kill switch")
        report = await self.flatten()
        report.action = "kill switch"
        return report

    def _runners_in_scope(self, venue: str | None, strategy: str | None) -> list[StrategyRunner]:
        if strategy is not None:
            return [self._runner(strategy)]
        return [
            r
            for r in self._strategies.values()
            if venue is None or any(v == venue for v, _ in r.markets)
        ]

    async def _flatten_venue(
        self, venue: str, strategy: str | None, attempts: int, timeout: float
    ) -> FlattenLine:
        if venue not in self._markets.connectors:
            return FlattenLine(venue, False, "unknown venue")
        gateway = self._gateways[venue]
        leftover = await self.cancel_orders(venue=venue, strategy=strategy, timeout=timeout)
        if leftover:
            return FlattenLine(venue, False, f"{len(leftover)} orders could not be cancelled")
        all_closing: list[Order] = []
        for _attempt in range(attempts):
            targets = await self._flatten_targets(venue, strategy, gateway)
            if targets is None:
                return FlattenLine(venue, False, "could not read positions from the venue")
            if not targets:
                break
            closing = []
            for symbol, size in targets:
                inst = self._markets.instrument(venue, symbol)
                qty = inst.round_size(abs(size))
                if qty <= 0:
                    continue
                closing.append(
                    self._path.submit_order(
                        venue=venue,
                        symbol=symbol,
                        side=Side.closing(size),
                        size=qty,
                        price=None,
                        order_type=OrderType.MARKET,
                        time_in_force=TimeInForce.IOC,
                        reduce_only=True,
                        strategy=strategy,
                        tag="flatten",
                        bypass_risk=True,
                    )
                )
            all_closing.extend(closing)
            await self.wait_terminal(closing, timeout)
        account = await self._venue_sizes(venue, gateway)
        if account is None:
            return FlattenLine(venue, False, "could not read positions from the venue")
        closed = self._close_phantom_books(venue, account, all_closing, paused=strategy is None)
        books = self._books(venue)
        symbols = self._symbols_in_scope(venue, strategy, account, books)
        markets = [describe_market(venue, s, account, books, strategy) for s in symbols]
        markets += [f"books closed (the account is flat): {c}" for c in closed]
        if strategy is None:
            residual = sorted((s, size) for s, size in account.items() if size != 0)
        else:
            residual = sorted(
                (s, size) for (name, s), size in books.items() if name == strategy and size != 0
            )
        if not residual:
            what = "flat" if strategy is None else f"strategy {strategy}'s share flat"
            return FlattenLine(venue, True, what, markets)
        detail = ", ".join(f"{symbol} {size:+}" for symbol, size in residual)
        whose = "" if strategy is None else f"strategy {strategy}'s share "
        log.error("FLATTEN FAILED on %s: %sstill open %s", venue, whose, detail)
        return FlattenLine(venue, False, f"NOT FLAT: {whose}still open {detail}", markets)

    def _books(self, venue: str) -> dict[tuple[str, str], Decimal]:
        """Every strategy's signed share per (strategy, symbol) on ``venue``."""
        out: dict[tuple[str, str], Decimal] = {}
        for key, state in self._strategy_positions.items():
            name, v, symbol = key  # type: ignore[misc]
            if v == venue:
                out[(name, symbol)] = state.size
        return out

    def _symbols_in_scope(
        self,
        venue: str,
        strategy: str | None,
        account: Mapping[str, Decimal],
        books: Mapping[tuple[str, str], Decimal],
    ) -> list[str]:
        """The markets a report line speaks of: the strategy's on this venue (or every
        market a strategy or the account has held there), and every one the account
        holds."""
        if strategy is not None:
            mine = {s for v, s in self._runner(strategy).markets if v == venue}
        else:
            mine = {s for _, s in books} | set(account)
        return sorted(mine | {s for s, size in account.items() if size != 0})

    def _close_phantom_books(
        self,
        venue: str,
        account: Mapping[str, Decimal],
        closing: list[Order],
        *,
        paused: bool,
    ) -> list[str]:
        """Where the venue says a market is flat, no strategy can hold anything there:
        close every strategy's book that still does (at the flatten's average price,
        else the mark). Returns what was closed. Unless every strategy on the venue is
        paused (``paused``: a venue flatten), our own account book must say flat too:
        another strategy's fill may still be on its way."""
        closed = []
        for key, state in self._strategy_positions.items():
            name, v, symbol = key  # type: ignore[misc]
            if v != venue or state.size == 0 or account.get(symbol, ZERO) != 0:
                continue
            ours = self._positions.peek((venue, symbol))
            if not paused and ours is not None and ours.size != 0:
                continue  # our fills say otherwise: leave it to the report
            filled = [o for o in closing if o.symbol == symbol and o.filled > 0]
            qty = sum((o.filled for o in filled), ZERO)
            price = (
                sum((o.notional_filled for o in filled), ZERO) / qty
                if qty
                else self._markets.mark(venue, symbol) or state.entry_price
            )
            size = state.size
            state.apply_fill(Side.closing(size), price, abs(size), ZERO)
            log.warning(
                "%s %s: the account is flat; strategy %s's book of %s closed @ %s",
                venue,
                symbol,
                name,
                f"{size:+}",
                price,
            )
            closed.append(f"{name} {symbol} {size:+}")
        return closed

    async def _venue_sizes(self, venue: str, gateway: VenueGateway) -> dict[str, Decimal] | None:
        """The venue's signed size per symbol as it reports them now (None: unread)."""
        try:
            positions = await gateway.call(
                "positions", Priority.CANCEL, self._markets.connectors[venue].positions
            )
        except Exception:
            log.exception("%s: reading positions for flatten failed", venue)
            return None
        self._markets.status[venue].venue_positions.update({p.symbol: p for p in positions})
        return {p.symbol: p.size for p in positions}

    async def _flatten_targets(
        self, venue: str, strategy: str | None, gateway: VenueGateway
    ) -> list[tuple[str, Decimal]] | None:
        """What is left to close: the venue's positions (or the strategy's own)."""
        sizes = await self._venue_sizes(venue, gateway)
        if sizes is None:
            return None
        venue_sizes = {s: size for s, size in sizes.items() if size != 0}
        if strategy is None:
            return sorted(venue_sizes.items())
        out = []
        for (name, symbol), share in self._books(venue).items():
            if name == strategy and share != 0:
                account = venue_sizes.get(symbol, ZERO)
                # Never close more than the account holds on that side.
                if account == 0 or (account > 0) != (share > 0):
                    continue
                size = share if abs(share) <= abs(account) else account
                out.append((symbol, size))
        return out

    async def cancel_everything(
        self, why: str, timeout: float = 10.0, keep: Collection[str] = ()
    ) -> FlattenReport:
        """Cancel our orders on every venue and wait, cancel any order of ours the venue
        still lists (one a lost answer or a dropped update left behind), then list what
        is still open (the shutdown's last step). Orders we cannot prove are ours —
        other tools' on the same account — are never touched; nor are ours in ``keep``
        (client ids: exits a strategy keeps at quit, ``on_quit: keep_exits``): the
        venue's listing of those is reported in ``kept``, not as left open.

        Every venue at once, all within ``timeout`` seconds: a venue that has not
        answered by then (frozen, or its listing failed) leaves its live orders of
        ours *unverified* — they may rest — counted in ``orders_unverified`` and in
        ``open_orders_left``, never as gone."""
        report = FlattenReport(action=why)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        names = list(self._markets.connectors)
        tasks = [
            loop.create_task(
                self._cancel_venue(name, why, deadline, frozenset(keep)), name=f"{why}: {name}"
            )
            for name in names
        ]
        _, late = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
        for name, task in zip(names, tasks, strict=True):
            if task in late:
                abandon(task)
                end = self._unverified(name, f"no answer within {timeout:g}s")
            elif task.cancelled():
                end = self._unverified(name, "cancelled")
            elif (exc := task.exception()) is not None:
                log.error("%s: %s failed: %r", name, why, exc, exc_info=exc)
                end = self._unverified(name, f"failed: {exc!r}")
            else:
                end, kept = task.result()
                report.kept.extend(kept)
            line, still_open, unverified = end
            report.lines.append(line)
            report.open_orders_left += still_open + unverified
            report.orders_unverified += unverified
        return report

    def _unverified(self, venue: str, why: str) -> tuple[FlattenLine, int, int]:
        """Our orders on ``venue`` still live in our books: their state is unknown."""
        live = list(self._orders.live(venue=venue))
        if live:
            log.error(
                "%s: %s; %d order(s) of ours unverified (may rest): %s",
                venue,
                why,
                len(live),
                ", ".join(f"{o.client_id} {o.symbol} {o.side.value} @ {o.price}" for o in live),
            )
        detail = f"could not verify ({why}): {len(live)} order(s) of ours unverified"
        return FlattenLine(venue, False, detail), 0, len(live)

    async def _cancel_venue(
        self, name: str, why: str, deadline: float, keep: frozenset[str]
    ) -> tuple[tuple[FlattenLine, int, int], list[Order]]:
        """One venue's part of ``cancel_everything``: ((line, open, unverified), kept)."""
        loop = asyncio.get_running_loop()

        def left() -> float:
            return max(0.0, min(5.0, deadline - loop.time()))

        conn = self._markets.connectors[name]
        leftover = await self.cancel_orders(venue=name, timeout=left(), keep=keep)
        gateway = self._gateways[name]
        await gateway.drain(left())
        try:
            for o in await self._ours_listed(name):
                if o.client_id in keep:
                    continue
                await gateway.call(
                    "cancel",
                    Priority.CANCEL,
                    lambda o=o, conn=conn: conn.cancel(o.symbol, o.client_id or ""),
                )
            listed = await self._ours_listed(name)
        except Exception as exc:
            log.exception("%s: final cancel check failed", name)
            return self._unverified(name, f"final cancel check failed: {exc!r}"), []
        remaining = [o for o in listed if o.client_id not in keep]
        kept_ids = {o.client_id for o in listed if o.client_id in keep}
        kept = [o for o in self._orders.live(venue=name) if o.client_id in kept_ids]
        for order in leftover:
            if not any(o.client_id == order.client_id for o in remaining):
                before = order.status
                self._orders.apply_update(
                    OrderUpdate(
                        name,
                        order.symbol,
                        order.client_id,
                        None,
                        OrderStatus.CANCELLED,
                        reason=f"cancelled at {why}",
                    ),
                    self._clock.now_ms(),
                )
                if order.status is not before:
                    self._path.order_changed(order)
        if remaining:
            log.error(
                "%s: our orders still open after %s: %s",
                name,
                why,
                ", ".join(
                    f"{o.client_id} {o.symbol} {o.side.value} @ {o.price}" for o in remaining
                ),
            )
        await self._read_positions(name, left())
        ok = not remaining
        detail = "0 open orders" if ok else f"{len(remaining)} orders still open"
        if kept:
            detail += f"; {len(kept)} reduce-only exit(s) kept resting (on_quit: keep_exits)"
        return (FlattenLine(name, ok, detail), len(remaining), 0), kept

    async def _read_positions(self, venue: str, timeout: float) -> None:
        """The venue's positions as it reports them now (its marks value what is left
        open in the run summary); a failure, or no answer within ``timeout`` (a venue
        budget spent), only costs that -- the cancels are verified already."""
        try:
            positions = await asyncio.wait_for(
                self._gateways[venue].call(
                    "positions", Priority.QUERY, self._markets.connectors[venue].positions
                ),
                timeout,
            )
        except Exception as exc:
            log.warning("%s: reading positions at the end failed: %r", venue, exc)
            return
        self._markets.status[venue].venue_positions.update({p.symbol: p for p in positions})

    async def _ours_listed(self, venue: str) -> list[OpenOrder]:
        """The venue's open orders that are provably this run's (what we sent)."""
        conn = self._markets.connectors[venue]
        listed = await self._gateways[venue].call("open_orders", Priority.CANCEL, conn.open_orders)
        ours = []
        for o in listed:
            order = this_runs(self._orders, venue, o)
            if order is not None:
                ours.append(replace(o, client_id=order.client_id))
        return ours
