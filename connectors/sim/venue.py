"""A simulated exchange: matching engines, accounts, background liquidity and
taker flow for one venue.

``SimVenue`` is the exchange itself. The in-process ``SimConnector`` talks to
it directly; the venue emulators put a real REST/WS dialect in front of it.

Background market (per symbol, per step):
- a crowd of makers keeps ``levels`` post-only orders each side, starting
  ``half_spread_bps`` from the venue mid, ``level_gap_bps`` apart; levels that
  get eaten come back with probability ``refill_prob`` each step;
- takers arrive as a Poisson process at ``taker_rate`` per second per side.
  Each one sweeps up to a price ``delta`` away from mid with ``delta`` drawn
  exponentially (rate ``taker_k`` per bps), so a quote at distance delta is
  reached with probability exp(-k * delta): the A * exp(-k * delta) fill
  intensity of the Avellaneda–Stoikov model.
"""

from __future__ import annotations

import logging
import math
import random
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from connectors.base import (
    ZERO,
    Balance,
    Event,
    Fill,
    Instrument,
    Liquidity,
    OpenOrder,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
    Trade,
    VenueOrder,
)
from connectors.position_math import PositionState
from connectors.sim.market import SyntheticMarket, stable_seed
from connectors.sim.matching import Kind, Match, MatchingEngine, Outcome

log = logging.getLogger("connectors.sim.venue")

DROPPED = "dropped without a report (fault)"
"""The reason on the ack of an order the venue took and then silently dropped
(``SimVenue.drop_next``): a dialect answers as its venue would for an accepted
order, then keeps no record of it and pushes nothing."""

CROWD = "~crowd"
TAKER = "~taker"
_BACKGROUND = frozenset({CROWD, TAKER})

LevelChanges = list[tuple[Side, int, int]]
BookListener = Callable[[str, LevelChanges, int, int], None]
"""(symbol, [(side, price_ticks, lots)], seq, ts_ms) — seq increases by one per call."""
TradeListener = Callable[[Trade], None]
AccountListener = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class FlowParams:
    """The background market of one venue (same for all its symbols)."""

    half_spread_bps: float = 1.5
    level_gap_bps: float = 1.0
    levels: int = 10
    level_notional: float = 20_000.0
    refill_prob: float = 0.5
    taker_rate: float = 2.0
    taker_k: float = 0.35
    taker_notional: float = 5_000.0


@dataclass(slots=True)
class _OrderMeta:
    account: str
    client_id: str
    symbol: str
    side: Side
    size_lots: int
    post_only: bool
    reduce_only: bool
    filled_lots: int = 0
    price: Decimal | None = None
    status: OrderStatus = OrderStatus.OPEN
    reason: str = ""


@dataclass(slots=True)
class _Market:
    instrument: Instrument
    engine: MatchingEngine = field(default_factory=MatchingEngine)
    seq: int = 0
    last_trade_ms: int = 0


class SimVenue:
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
        history_size: int = 100_000,
    ) -> None:
        self.name = name
        self.market = market
        self.flow = flow or FlowParams()
        self.collateral_asset = collateral_asset
        self.starting_collateral = starting_collateral
        self._markets = {inst.symbol: _Market(inst) for inst in instruments}
        self._rng = random.Random(stable_seed(seed, name, "flow"))
        self._next_order_id = 1
        self._meta: dict[int, _OrderMeta] = {}
        self._by_client: dict[tuple[str, str], int] = {}
        self._positions: dict[tuple[str, str], PositionState] = {}
        self._account_listeners: dict[str, list[AccountListener]] = {}
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
        self.history_size = history_size
        self._done: OrderedDict[tuple[str, str], tuple[int, _OrderMeta]] = OrderedDict()
        """(account, client id) -> the finished order (bounded), for lookups."""
        self._fills: dict[str, deque[Fill]] = {}
        self._forced = 0

    # -- wiring ---------------------------------------------------------------

    @property
    def instruments(self) -> dict[str, Instrument]:
        return {s: m.instrument for s, m in self._markets.items()}

    def on_account(self, account: str, listener: AccountListener) -> None:
        self._account_listeners.setdefault(account, []).append(listener)

    def remove_account_listener(self, account: str, listener: AccountListener) -> None:
        listeners = self._account_listeners.get(account, [])
        if listener in listeners:
            listeners.remove(listener)

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
        if (account, req.client_id) in self._by_client and account not in self.duplicate_client_ids:
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
            order_id = self._next_order_id
            self._next_order_id += 1
            log.info("%s: dropping %s without a report (fault)", self.name, req.client_id)
            return OrderAck(req.client_id, str(order_id), OrderStatus.OPEN, DROPPED)
        if req.reduce_only:
            position = self._position(account, req.symbol).size
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
        order_id = self._next_order_id
        self._next_order_id += 1
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
        meta = _OrderMeta(
            account,
            req.client_id,
            req.symbol,
            req.side,
            lots,
            req.post_only,
            req.reduce_only,
            price=req.price,
        )
        self._meta[order_id] = meta
        self._by_client[(account, req.client_id)] = order_id
        ack = OrderAck(req.client_id, str(order_id), OrderStatus.OPEN)
        self._emit(account, self._update(meta, order_id, OrderStatus.OPEN))
        self._settle(m, result.matches, result.stp_cancelled)
        if result.outcome is Outcome.CANCELLED:
            reason = "immediate-or-cancel remainder" if result.filled_qty else "no liquidity"
            self._finish(order_id, OrderStatus.CANCELLED, reason)
        elif result.outcome is Outcome.FILLED:
            self._finish(order_id, OrderStatus.FILLED, "")
        self._publish_book(m)
        return ack

    def cancel(self, account: str, symbol: str, client_id: str) -> bool:
        order_id = self._by_client.get((account, client_id))
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
        meta = self._meta.get(order_id)
        m = self._markets.get(symbol)
        if meta is None or meta.account != account or m is None or m.engine.order(order_id) is None:
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
                meta = self._meta[resting.order_id]
                if client_id_prefix is not None and not meta.client_id.startswith(client_id_prefix):
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
            inst = m.instrument
            for resting in m.engine.orders_of(account):
                meta = self._meta[resting.order_id]
                out.append(
                    OpenOrder(
                        venue=self.name,
                        symbol=sym,
                        client_id=meta.client_id,
                        venue_order_id=str(resting.order_id),
                        side=resting.side,
                        price=inst.ticks_to_price(resting.price),
                        size=inst.lots_to_size(meta.size_lots),
                        remaining_size=inst.lots_to_size(resting.qty),
                        post_only=meta.post_only,
                        reduce_only=meta.reduce_only,
                        venue_client_id=meta.client_id,
                    )
                )
        return out

    def lookup(self, account: str, client_id: str) -> VenueOrder | None:
        """The account's order with this client id, live or finished (the newest)."""
        order_id = self._by_client.get((account, client_id))
        meta = self._meta.get(order_id) if order_id is not None else None
        if meta is None:
            done = self._done.get((account, client_id))
            if done is None:
                return None
            order_id, meta = done
        inst = self._markets[meta.symbol].instrument
        return VenueOrder(
            venue=self.name,
            symbol=meta.symbol,
            client_id=meta.client_id,
            venue_order_id=str(order_id),
            status=meta.status,
            side=meta.side,
            price=meta.price,
            size=inst.lots_to_size(meta.size_lots),
            filled_size=inst.lots_to_size(meta.filled_lots),
            reason=meta.reason,
        )

    def fills_since(self, account: str, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """The account's fills at or after ``since_ms``, oldest first."""
        return [
            f
            for f in self._fills.get(account, ())
            if f.ts_ms >= since_ms and (symbol is None or f.symbol == symbol)
        ]

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
        state = self._position(account, symbol)
        state.apply_fill(side, price, size, fee)
        self._emit(account, fill)
        self._emit(account, self._position_event(account, symbol, state))
        return fill

    def positions(self, account: str) -> list[Position]:
        out = []
        for (acct, symbol), state in self._positions.items():
            if acct == account:
                out.append(self._position_event(account, symbol, state))
        return out

    def balances(self, account: str) -> list[Balance]:
        total = self.starting_collateral
        unrealized = ZERO
        for (acct, symbol), state in self._positions.items():
            if acct != account:
                continue
            total += state.realized_pnl - state.fees
            unrealized += state.unrealized_pnl(self._mark(symbol))
        return [Balance(self.name, self.collateral_asset, total + unrealized, total)]

    # -- the background market ------------------------------------------------

    def step(self, now_ms: int, dt_ms: int) -> None:
        """Advance the venue by ``dt_ms``: crowd liquidity follows the mid, takers arrive."""
        self.now_ms = now_ms
        for m in self._markets.values():
            mid = self.market.mid(self.name, m.instrument.base)
            self._refresh_crowd(m, mid)
            self._taker_flow(m, mid, dt_ms)
            self._publish_book(m)
        for listener in list(self._heartbeat_listeners):
            listener(now_ms)

    def _refresh_crowd(self, m: _Market, mid: float) -> None:
        inst, flow, engine = m.instrument, self.flow, m.engine
        tick = float(inst.tick_size)
        wanted: dict[Side, set[int]] = {Side.BUY: set(), Side.SELL: set()}
        for i in range(flow.levels):
            offset = mid * (flow.half_spread_bps + i * flow.level_gap_bps) / 10_000
            wanted[Side.BUY].add(math.floor((mid - offset) / tick))
            wanted[Side.SELL].add(math.ceil((mid + offset) / tick))
        have: dict[Side, set[int]] = {Side.BUY: set(), Side.SELL: set()}
        for resting in engine.orders_of(CROWD):
            if resting.price in wanted[resting.side]:
                have[resting.side].add(resting.price)
            else:
                engine.cancel(resting.order_id)
        lot_value = mid * float(inst.step_size)
        mean_lots = max(1.0, flow.level_notional / lot_value)
        min_lots = inst.size_to_lots(inst.min_size)
        for side, prices in wanted.items():
            for price in prices - have[side]:
                if price <= 0 or (have[side] and self._rng.random() > flow.refill_prob):
                    continue
                lots = max(min_lots, round(self._rng.expovariate(1.0 / mean_lots)))
                order_id = self._next_order_id
                self._next_order_id += 1
                engine.submit(order_id, CROWD, side, lots, price, Kind.LIMIT, True)

    def _taker_flow(self, m: _Market, mid: float, dt_ms: int) -> None:
        flow, inst = self.flow, m.instrument
        if flow.taker_rate <= 0:
            return
        tick = float(inst.tick_size)
        lot_value = mid * float(inst.step_size)
        mean_lots = max(1.0, flow.taker_notional / lot_value)
        min_lots = inst.size_to_lots(inst.min_size)
        for side in (Side.BUY, Side.SELL):
            for _ in range(_poisson(self._rng, flow.taker_rate * dt_ms / 1000)):
                reach_bps = self._rng.expovariate(flow.taker_k)
                reach = mid * reach_bps / 10_000
                if side is Side.BUY:
                    price = math.floor((mid + reach) / tick)
                else:
                    price = math.ceil((mid - reach) / tick)
                if price <= 0:
                    continue
                lots = max(min_lots, round(self._rng.expovariate(1.0 / mean_lots)))
                order_id = self._next_order_id
                self._next_order_id += 1
                result = m.engine.submit(order_id, TAKER, side, lots, price, Kind.IOC)
                self._settle(m, result.matches, result.stp_cancelled)

    # -- settlement -----------------------------------------------------------

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
                if owner in _BACKGROUND:
                    continue
                fee_rate = inst.maker_fee if liquidity is Liquidity.MAKER else inst.taker_fee
                fee = price * size * fee_rate
                meta = self._meta[order_id]
                meta.filled_lots += match.qty
                if meta.filled_lots < meta.size_lots:
                    meta.status = OrderStatus.PARTIALLY_FILLED
                self._position(owner, inst.symbol).apply_fill(side, price, size, fee)
                touched.add(owner)
                fill = Fill(
                    venue=self.name,
                    symbol=inst.symbol,
                    client_id=meta.client_id,
                    venue_order_id=str(order_id),
                    side=side,
                    price=price,
                    size=size,
                    fee=fee,
                    liquidity=liquidity,
                    trade_id=trade_id,
                    ts_ms=self.now_ms,
                )
                self._emit(owner, fill)
                if owner == match.maker_owner and match.maker_remaining == 0:
                    self._finish(order_id, OrderStatus.FILLED, "")
            m.last_trade_ms = self.now_ms
            trade = Trade(self.name, inst.symbol, match.taker_side, price, size, self.now_ms)
            for listener in self._trade_listeners:
                listener(trade)
        for resting in stp_cancelled:
            if resting.owner not in _BACKGROUND:
                self._finish(resting.order_id, OrderStatus.CANCELLED, "self-trade prevention")
        for owner in touched:
            state = self._position(owner, inst.symbol)
            self._emit(owner, self._position_event(owner, inst.symbol, state))
            self._clamp_reduce_only(owner, m, state.size)

    def _clamp_reduce_only(self, account: str, m: _Market, position: Decimal) -> None:
        """Reduce-only orders may never exceed what they can close."""
        inst = m.instrument
        closable = inst.size_to_lots(abs(position))
        closing = Side.closing(position) if position != 0 else None
        for resting in m.engine.orders_of(account):
            meta = self._meta[resting.order_id]
            if not meta.reduce_only:
                continue
            if resting.side is not closing or closable == 0:
                m.engine.cancel(resting.order_id)
                self._finish(
                    resting.order_id, OrderStatus.CANCELLED, "reduce-only: nothing to reduce"
                )
            elif resting.qty > closable:
                m.engine.reduce(resting.order_id, closable)
                meta.size_lots = meta.filled_lots + closable
                status = OrderStatus.PARTIALLY_FILLED if meta.filled_lots else OrderStatus.OPEN
                self._emit(
                    account,
                    self._update(
                        meta, resting.order_id, status, "reduce-only: trimmed to the position"
                    ),
                )
                closable = 0
            else:
                closable -= resting.qty

    def _finish(self, order_id: int, status: OrderStatus, reason: str) -> None:
        meta = self._meta.pop(order_id, None)
        if meta is None:
            return
        meta.status, meta.reason = status, reason
        key = (meta.account, meta.client_id)
        if self._by_client.get(key) == order_id:
            del self._by_client[key]
        self._done[key] = (order_id, meta)
        self._done.move_to_end(key)
        while len(self._done) > self.history_size:
            self._done.popitem(last=False)
        self._emit(meta.account, self._update(meta, order_id, status, reason))

    def _update(
        self, meta: _OrderMeta, order_id: int, status: OrderStatus, reason: str = ""
    ) -> OrderUpdate:
        inst = self._markets[meta.symbol].instrument
        return OrderUpdate(
            venue=self.name,
            symbol=meta.symbol,
            client_id=meta.client_id,
            venue_order_id=str(order_id),
            status=status,
            filled_size=inst.lots_to_size(meta.filled_lots),
            remaining_size=inst.lots_to_size(meta.size_lots - meta.filled_lots),
            reason=reason,
            ts_ms=self.now_ms,
        )

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

    def _emit(self, account: str, event: Event) -> None:
        if isinstance(event, Fill):
            history = self._fills.get(account)
            if history is None:
                history = self._fills[account] = deque(maxlen=self.history_size)
            history.append(event)
        for listener in list(self._account_listeners.get(account, ())):
            listener(event)

    def _position(self, account: str, symbol: str) -> PositionState:
        key = (account, symbol)
        state = self._positions.get(key)
        if state is None:
            state = self._positions[key] = PositionState()
        return state

    def _position_event(self, account: str, symbol: str, state: PositionState) -> Position:
        return Position(
            venue=self.name,
            symbol=symbol,
            size=state.size,
            entry_price=state.entry_price,
            unrealized_pnl=state.unrealized_pnl(self._mark(symbol)),
            realized_pnl=state.realized_pnl,
            ts_ms=self.now_ms,
        )

    def _mark(self, symbol: str) -> Decimal | None:
        m = self._markets[symbol]
        bid, ask = m.engine.best_bid(), m.engine.best_ask()
        if bid is None or ask is None:
            return None
        return m.instrument.ticks_to_price(bid + ask) / 2

    def _market(self, symbol: str) -> _Market:
        m = self._markets.get(symbol)
        if m is None:
            raise KeyError(f"{self.name}: unknown symbol {symbol!r}")
        return m


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small rates of one step."""
    if lam <= 0:
        return 0
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
