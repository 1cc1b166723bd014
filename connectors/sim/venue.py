"""A simulated exchange for one venue: its matching engines, what accounts can do
(place, cancel, list, look up), settlement of every match, and its feeds (book
changes, trades, heartbeats).

``SimVenue`` is the exchange itself. The in-process ``SimConnector`` talks to
it directly; the venue emulators put a real REST/WS dialect in front of it.
It composes ``background`` (the crowd's liquidity and the takers' flow that move
its market), ``orders`` (its records of the accounts' orders) and ``accounts``
(positions, collateral, account events, fill history).
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from connectors.base import (
    ZERO,
    AccountState,
    Fill,
    Instrument,
    Liquidity,
    OpenOrder,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from connectors.sim.accounts import SimAccounts
from connectors.sim.background import BACKGROUND, BackgroundMarket, FlowParams
from connectors.sim.desk import VenueDesk
from connectors.sim.funding import FundingSchedule, FundingSpec
from connectors.sim.market import SyntheticMarket, stable_seed
from connectors.sim.matching import Kind, Match, MatchingEngine, Outcome, SubmitResult
from connectors.sim.orders import OrderRecord, OrderRecords

log = logging.getLogger("connectors.sim.venue")

DROPPED = "dropped without a report (fault)"
"""The reason on the ack of an order the venue took and then silently dropped
(``SimVenue.drop_next``): a dialect answers as its venue would for an accepted
order, then keeps no record of it and pushes nothing."""

LevelChanges = list[tuple[Side, int, int]]
BookListener = Callable[[str, LevelChanges, int, int], None]
"""(symbol, [(side, price_ticks, lots)], seq, ts_ms) — seq increases by one per call."""
TradeListener = Callable[[Trade], None]


@dataclass(slots=True)
class _Market:
    instrument: Instrument
    engine: MatchingEngine = field(default_factory=MatchingEngine)
    seq: int = 0
    last_trade_ms: int = 0


HISTORY_SIZE = 2_000
"""Finished orders a sim venue remembers for lookups by client id (the oldest
forgotten first): what asks looks seconds back (a pending order's status, one a
list no longer shows); 2,000 is ~2.5 minutes of the example config's orders
(10,000 took two sim-hours to fill: the RSS of a soak grew all that time)."""
FILL_HISTORY_SIZE = 500
"""Fills per account a sim venue remembers for fill-history reads: a recovery
reads from where a stream dropped less 30 s, seconds to a minute back; 500 is
~4 minutes of the example config's fills (~300 KB). 2,000 took 15 minutes to fill
and was most of what a 10-minute console run's core grew by."""


class SimVenue(VenueDesk):
    def __init__(
        self,
        name: str,
        instruments: list[Instrument],
        market: SyntheticMarket,
        *,
        flow: FlowParams | None = None,
        seed: int = 1,
        starting_collateral: Decimal = Decimal(100_000),
        collateral_asset: str = "USDC",
        history_size: int = HISTORY_SIZE,
        fill_history_size: int = FILL_HISTORY_SIZE,
        funding: FundingSpec | None = None,
    ) -> None:
        self.name = name
        self.funding = FundingSchedule(funding or FundingSpec())
        self.market = market
        self._markets = {inst.symbol: _Market(inst) for inst in instruments}
        self._next_order_id = 1
        self.background = BackgroundMarket(
            flow or FlowParams(),
            random.Random(stable_seed(seed, name, "flow")),
            self._new_order_id,
        )
        self._orders = OrderRecords(history_size)
        self.accounts = SimAccounts(
            name,
            starting_collateral=starting_collateral,
            collateral_asset=collateral_asset,
            history_size=fill_history_size,
            mark=self._mark,
            now_ms=lambda: self.now_ms,
        )
        self._book_listeners: list[BookListener] = []
        self._trade_listeners: list[TradeListener] = []
        self._heartbeat_listeners: list[Callable[[int], None]] = []
        self._trade_seq = 0
        self.now_ms = 0
        self.reject_next: dict[str, str] = {}
        """Fault hook: account -> reason; the account's next order is rejected."""
        self.drop_next: dict[str, int] = {}
        """Fault hook: account -> count; the account's next orders are answered as
        accepted but never booked and never reported (as Lighter drops some orders)."""
        self.duplicate_client_ids: set[str] = set()
        """Fault hook: accounts whose repeated client id books a second live order
        instead of being refused (no venue promises to refuse one)."""
        self._forced = 0

    # -- wiring ---------------------------------------------------------------

    @property
    def flow(self) -> FlowParams:
        return self.background.flow

    def on_book(self, listener: BookListener) -> None:
        self._book_listeners.append(listener)

    def remove_book_listener(self, listener: BookListener) -> None:
        if listener in self._book_listeners:
            self._book_listeners.remove(listener)

    def on_heartbeat(self, listener: Callable[[int], None]) -> None:
        """Called after every step, changed or not: the feed is alive at ``now_ms``."""
        self._heartbeat_listeners.append(listener)

    def remove_heartbeat_listener(self, listener: Callable[[int], None]) -> None:
        if listener in self._heartbeat_listeners:
            self._heartbeat_listeners.remove(listener)

    def on_trade(self, listener: TradeListener) -> None:
        self._trade_listeners.append(listener)

    def remove_trade_listener(self, listener: TradeListener) -> None:
        if listener in self._trade_listeners:
            self._trade_listeners.remove(listener)

    def snapshot(
        self, symbol: str, depth: int = 1000
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
        """(bids, asks, seq): levels best-first in ticks/lots, and the feed position."""
        m = self._market(symbol)
        bids, asks = m.engine.depth(depth)
        return bids, asks, m.seq

    def mid_ticks(self, symbol: str) -> int:
        m = self._market(symbol)
        return round(self.market.mid(self.name, m.instrument.base) / float(m.instrument.tick_size))

    # -- trading API (what an account can do) ---------------------------------

    def submit(self, account: str, req: OrderRequest) -> OrderAck:
        m = self._markets.get(req.symbol)
        if m is None:
            return self._reject(req, f"unknown symbol {req.symbol}")
        inst = m.instrument
        forced = self.reject_next.pop(account, None)
        if forced is not None:
            return self._reject(req, forced)
        if (
            self._orders.live_id(account, req.client_id) is not None
            and account not in self.duplicate_client_ids
        ):
            return self._reject(req, f"duplicate client id {req.client_id}")
        if req.size <= 0 or not inst.is_on_step(req.size):
            return self._reject(req, f"size {req.size} not a positive multiple of {inst.step_size}")
        if req.size < inst.min_size and not req.reduce_only:
            return self._reject(req, f"size {req.size} below min size {inst.min_size}")
        if req.price is not None and (req.price <= 0 or not inst.is_on_tick(req.price)):
            return self._reject(
                req, f"price {req.price} not a positive multiple of {inst.tick_size}"
            )
        if req.type is OrderType.LIMIT and req.price is None:
            return self._reject(req, "limit order without a price")
        lots = inst.size_to_lots(req.size)
        if self.drop_next.get(account, 0) > 0:
            self.drop_next[account] -= 1
            order_id = self._new_order_id()
            log.info("%s: dropping %s without a report (fault)", self.name, req.client_id)
            return OrderAck(req.client_id, str(order_id), OrderStatus.OPEN, DROPPED)
        if req.reduce_only:
            position = self.accounts.position(account, req.symbol).size
            if position == 0 or Side.closing(position) is not req.side:
                return self._reject(req, "reduce-only order would not reduce the position")
            lots = min(lots, inst.size_to_lots(abs(position)))
        if req.type is OrderType.MARKET:
            kind = Kind.MARKET
        elif req.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            kind = Kind.IOC
        else:
            kind = Kind.LIMIT
        price = inst.price_to_ticks(req.price) if req.price is not None else None
        order_id = self._new_order_id()
        if req.time_in_force is TimeInForce.FOK and not self._fok_fillable(
            m, req.side, lots, price
        ):
            return self._reject(req, "fill-or-kill could not fill in full")
        result = m.engine.submit(
            order_id, account, req.side, lots, price, kind, req.post_only and kind is Kind.LIMIT
        )
        if result.outcome is Outcome.REJECTED_POST_ONLY:
            return self._reject(req, "post-only order would cross the book")
        if result.outcome is Outcome.REJECTED_INVALID:
            return self._reject(req, "invalid order")
        record = OrderRecord(
            account,
            req.client_id,
            req.symbol,
            req.side,
            lots,
            req.post_only,
            req.reduce_only,
            price=req.price,
        )
        self._orders.add(order_id, record)
        ack = OrderAck(req.client_id, str(order_id), OrderStatus.OPEN)
        self.accounts.emit(account, self._update(record, order_id, OrderStatus.OPEN))
        self._settle(m, result.matches, result.stp_cancelled)
        if result.outcome is Outcome.CANCELLED:
            reason = "immediate-or-cancel remainder" if result.filled_qty else "no liquidity"
            self._finish(order_id, OrderStatus.CANCELLED, reason)
        elif result.outcome is Outcome.FILLED:
            self._finish(order_id, OrderStatus.FILLED, "")
        self._publish_book(m)
        return ack

    def cancel(self, account: str, symbol: str, client_id: str) -> bool:
        order_id = self._orders.live_id(account, client_id)
        m = self._markets.get(symbol)
        if order_id is None or m is None or m.engine.order(order_id) is None:
            return False
        m.engine.cancel(order_id)
        self._finish(order_id, OrderStatus.CANCELLED, "cancelled by user")
        self._publish_book(m)
        return True

    def cancel_order(self, account: str, symbol: str, order_id: int) -> bool:
        """Cancel one of the account's resting orders by the venue's order id (an order
        a client id no longer reaches: the older of two with one client id)."""
        rec = self._orders.live.get(order_id)
        m = self._markets.get(symbol)
        if rec is None or rec.account != account or m is None or m.engine.order(order_id) is None:
            return False
        m.engine.cancel(order_id)
        self._finish(order_id, OrderStatus.CANCELLED, "cancelled by user")
        self._publish_book(m)
        return True

    def cancel_all(
        self, account: str, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        count = 0
        for sym, m in self._markets.items():
            if symbol is not None and sym != symbol:
                continue
            for resting in m.engine.orders_of(account):
                cid = self._orders.live[resting.order_id].client_id
                if client_id_prefix is not None and not cid.startswith(client_id_prefix):
                    continue
                m.engine.cancel(resting.order_id)
                self._finish(resting.order_id, OrderStatus.CANCELLED, "cancelled by user")
                count += 1
            self._publish_book(m)
        return count

    def open_orders(self, account: str, symbol: str | None = None) -> list[OpenOrder]:
        out = []
        for sym, m in self._markets.items():
            if symbol is not None and sym != symbol:
                continue
            for resting in m.engine.orders_of(account):
                record = self._orders.live[resting.order_id]
                out.append(
                    record.open_order(
                        self.name, resting.order_id, m.instrument, resting.price, resting.qty
                    )
                )
        return out

    def force_fill(
        self,
        account: str,
        symbol: str,
        side: Side,
        size: Decimal,
        price: Decimal,
        *,
        fee: Decimal = ZERO,
        kind: str = "liquidation",
    ) -> Fill:
        """A fill of no order of the account's (a liquidation, an ADL, a trade made
        elsewhere): no client id, no order id; the position moves."""
        self._forced += 1
        fill = Fill(
            venue=self.name,
            symbol=symbol,
            client_id=None,
            venue_order_id=None,
            side=side,
            price=price,
            size=size,
            fee=fee,
            liquidity=Liquidity.TAKER,
            trade_id=f"{self.name}-{kind}-{self._forced}",
            ts_ms=self.now_ms,
        )
        state = self.accounts.position(account, symbol)
        state.apply_fill(side, price, size, fee)
        self.accounts.emit(account, fill)
        self.accounts.emit(account, self.accounts.position_event(account, symbol, state))
        return fill

    def account(self, account: str, symbols: list[str]) -> AccountState:
        return self.accounts.account(
            account, self.instruments, symbols, self.funding.rate, self.funding.next_ms
        )

    # -- the background market ------------------------------------------------

    def step(self, now_ms: int, dt_ms: int) -> None:
        """Advance the venue by ``dt_ms``: crowd liquidity follows the mid, takers arrive."""
        self.now_ms = now_ms
        for m in self._markets.values():
            mid = self.market.mid(self.name, m.instrument.base)
            self.background.refresh_crowd(m.engine, m.instrument, mid)
            self.background.taker_flow(
                m.engine, m.instrument, mid, dt_ms, functools.partial(self._settle_result, m)
            )
            self._publish_book(m)
        if self.funding.due(now_ms):
            for symbol in self._markets:
                self.accounts.settle_funding(symbol, self.funding.rate)
        for listener in list(self._heartbeat_listeners):
            listener(now_ms)

    # -- settlement -----------------------------------------------------------

    def _settle_result(self, m: _Market, result: SubmitResult) -> None:
        self._settle(m, result.matches, result.stp_cancelled)

    def _settle(self, m: _Market, matches: list[Match], stp_cancelled: list) -> None:
        inst = m.instrument
        touched: set[str] = set()
        for match in matches:
            price = inst.ticks_to_price(match.price)
            size = inst.lots_to_size(match.qty)
            self._trade_seq += 1
            trade_id = f"{self.name}-{self._trade_seq}"
            for owner, order_id, side, liquidity in (
                (
                    match.maker_owner,
                    match.maker_order_id,
                    match.taker_side.opposite,
                    Liquidity.MAKER,
                ),
                (match.taker_owner, match.taker_order_id, match.taker_side, Liquidity.TAKER),
            ):
                if owner in BACKGROUND:
                    continue
                record = self._orders.live[order_id]
                self.accounts.book_fill(
                    inst,
                    record,
                    order_id,
                    side,
                    match.price,
                    match.qty,
                    liquidity,
                    trade_id,
                    self.now_ms,
                )
                touched.add(owner)
                if owner == match.maker_owner and match.maker_remaining == 0:
                    self._finish(order_id, OrderStatus.FILLED, "")
            m.last_trade_ms = self.now_ms
            trade = Trade(
                self.name, inst.symbol, match.taker_side, price, size, self.now_ms, trade_id
            )
            for listener in self._trade_listeners:
                listener(trade)
        for resting in stp_cancelled:
            if resting.owner not in BACKGROUND:
                self._finish(resting.order_id, OrderStatus.CANCELLED, "self-trade prevention")
        for owner in touched:
            state = self.accounts.position(owner, inst.symbol)
            self.accounts.emit(owner, self.accounts.position_event(owner, inst.symbol, state))
            self._clamp_reduce_only(owner, m, state.size)

    def _clamp_reduce_only(self, account: str, m: _Market, position: Decimal) -> None:
        """Reduce-only orders may never exceed what they can close."""
        inst = m.instrument
        closable = inst.size_to_lots(abs(position))
        closing = Side.closing(position) if position != 0 else None
        for resting in m.engine.orders_of(account):
            record = self._orders.live[resting.order_id]
            if not record.reduce_only:
                continue
            if resting.side is not closing or closable == 0:
                m.engine.cancel(resting.order_id)
                self._finish(
                    resting.order_id, OrderStatus.CANCELLED, "reduce-only: nothing to reduce"
                )
            elif resting.qty > closable:
                m.engine.reduce(resting.order_id, closable)
                record.size_lots = record.filled_lots + closable
                status = OrderStatus.PARTIALLY_FILLED if record.filled_lots else OrderStatus.OPEN
                self.accounts.emit(
                    account,
                    self._update(
                        record, resting.order_id, status, "reduce-only: trimmed to the position"
                    ),
                )
                closable = 0
            else:
                closable -= resting.qty

    def _finish(self, order_id: int, status: OrderStatus, reason: str) -> None:
        record = self._orders.finish(order_id, status, reason)
        if record is not None:
            self.accounts.emit(record.account, self._update(record, order_id, status, reason))

    def _reject(self, req: OrderRequest, reason: str) -> OrderAck:
        return OrderAck(req.client_id, None, OrderStatus.REJECTED, reason)

    def _fok_fillable(self, m: _Market, side: Side, lots: int, price: int | None) -> bool:
        bids, asks = m.engine.depth(10_000)
        available = 0
        for level_price, qty in asks if side is Side.BUY else bids:
            if price is not None and (
                level_price > price if side is Side.BUY else level_price < price
            ):
                break
            available += qty
            if available >= lots:
                return True
        return False

    def _publish_book(self, m: _Market) -> None:
        changes = m.engine.drain_changes()
        if not changes:
            return
        m.seq += 1
        for listener in list(self._book_listeners):
            listener(m.instrument.symbol, changes, m.seq, self.now_ms)

    def _mark(self, symbol: str) -> Decimal | None:
        m = self._markets[symbol]
        bid, ask = m.engine.best_bid(), m.engine.best_ask()
        if bid is None or ask is None:
            return None
        return m.instrument.ticks_to_price(bid + ask) / 2
