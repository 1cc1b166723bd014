"""QueueVenue: an exchange driven by market data it is fed (a recording, or a live
venue's public feed), where our orders join the recorded book by a queue model.

It offers what ``SimConnector`` uses on a ``SimVenue`` (so the core's connector path
is the same): feeds (book levels with a sequence, trades, heartbeats, account
events), order entry (``submit`` / ``cancel`` / ``cancel_all``), reads (open orders,
lookups, fill history, positions, balances, the account). Accounts, positions, fill
history and order records are the sim's own (``connectors/sim/accounts.py``,
``connectors/sim/orders.py``).

It is fed with ``apply_book`` (level totals; a snapshot clears first),
``apply_trade`` (a recorded trade) and ``advance`` (time passes: latency-delayed
entries, cancels and feed messages due by then are released; heartbeats). Times
must not go backwards. Listeners see the recorded book plus our resting orders.

How our orders fill (after hftbacktest, see ``connectors/replay/queue.py`` and
docs/replay.md): a resting order waits behind the queue the model estimates; a
recorded trade at its price eats that queue and then fills it; a trade through its
price, or the recorded opposite side reaching its price, fills it in full, at its
price, as maker. A marketable order takes the recorded opposite levels at their
prices as taker without changing the recorded book (no market impact).
"""

from __future__ import annotations

import heapq
import logging
from decimal import Decimal
from typing import Any

from connectors.base import (
    ZERO,
    AccountState,
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
from connectors.replay.entry import crosses, invalid, refusal
from connectors.replay.feed import BookListener, Feed, HeartbeatListener, TradeListener
from connectors.replay.ledger import Ledger
from connectors.replay.market import NO_ASK, Change, ReplayMarket
from connectors.replay.market import Fill as MakerFill
from connectors.replay.queue import QueueSpec, Resting
from connectors.replay.spec import LatencySpec
from connectors.sim.accounts import SimAccounts
from connectors.sim.desk import VenueDesk
from connectors.sim.orders import OrderRecord, OrderRecords

log = logging.getLogger("connectors.replay.venue")


_ENTER = 0
_CANCEL = 1
_BUY = Side.BUY


class QueueVenue(VenueDesk):
    def __init__(
        self,
        name: str,
        instruments: list[Instrument],
        *,
        queue: QueueSpec | None = None,
        latency: LatencySpec | None = None,
        starting_collateral: Decimal = Decimal(100_000),
        collateral_asset: str = "USDC",
        history_size: int = 10_000,
    ) -> None:
        self.name = name
        self.queue = queue or QueueSpec()
        self.latency = latency or LatencySpec()
        self._markets = {
            inst.symbol: ReplayMarket(inst, self.queue.build()) for inst in instruments
        }
        self._orders = OrderRecords(history_size)
        self.accounts = SimAccounts(
            name,
            starting_collateral=starting_collateral,
            collateral_asset=collateral_asset,
            history_size=history_size,
            mark=self._mark,
            now_ms=lambda: self.now_ms,
        )
        self.now_ms = 0
        self._next_order_id = 1
        self.ledger = Ledger(name, self.accounts)
        self.feed = Feed(self.latency.feed_ms)
        self._resting: dict[int, Resting] = {}
        """Order id -> our order on a book."""
        self._actions: list[tuple[int, int, int, int]] = []
        """Heap of (due ms, seq, kind, order id): entries and cancels on their way."""
        self._action_seq = 0
        self._entering: dict[int, tuple[str, OrderRequest]] = {}
        """Order id -> (account, request) of an order not at the book yet."""
        self._cancelling: set[int] = set()
        """Order ids with a cancel on its way."""
        self._cancel_on_arrival: set[int] = set()
        """Order ids whose cancel got there before the order: cancelled as it arrives."""
        self.level_updates = 0
        """Recorded level rows applied (what the benchmark counts)."""

    # -- wiring ----------------------------------------------------------------

    def on_book(self, listener: BookListener) -> None:
        self.feed.book_listeners.append(listener)

    def remove_book_listener(self, listener: BookListener) -> None:
        _remove(self.feed.book_listeners, listener)

    def on_heartbeat(self, listener: HeartbeatListener) -> None:
        """Called on every ``advance``: the feed is alive up to the time given."""
        self.feed.heartbeat_listeners.append(listener)

    def remove_heartbeat_listener(self, listener: HeartbeatListener) -> None:
        _remove(self.feed.heartbeat_listeners, listener)

    def on_trade(self, listener: TradeListener) -> None:
        self.feed.trade_listeners.append(listener)

    def remove_trade_listener(self, listener: TradeListener) -> None:
        _remove(self.feed.trade_listeners, listener)

    def snapshot(
        self, symbol: str, depth: int = 1000
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
        """(bids, asks, seq) as the feed has published them (best first, ticks/lots)."""
        return self.feed.snapshot(self._market(symbol), depth)

    def recorded(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        """The recorded book now (without our orders): bid and ask maps, ticks -> lots."""
        m = self._market(symbol)
        return dict(m.bids), dict(m.asks)

    def queue_ahead(self, account: str, client_id: str) -> float | None:
        """The model's estimate of the lots ahead of a resting order (None: not resting)."""
        order_id = self._orders.live_id(account, client_id)
        order = self._resting.get(order_id) if order_id is not None else None
        return order.front if order is not None else None

    # -- the feed ----------------------------------------------------------------

    def apply_book(
        self, symbol: str, ts_ms: int, changes: list[Change], snapshot: bool = False
    ) -> None:
        """Recorded levels at ``ts_ms``: (side, price ticks, total lots; 0 removes).
        ``snapshot``: the book is replaced by these levels."""
        if self._actions and self._actions[0][0] <= ts_ms:
            self._release(ts_ms)
        self.now_ms = ts_ms
        m = self._markets[symbol]
        out: list[Change] | None = [] if self.feed.wanted else None
        self.level_updates += len(changes)
        if snapshot:
            hit_bid, hit_ask = m.apply_snapshot(changes, out)
        else:
            hit_bid, hit_ask = m.apply(changes, out)
        if hit_bid >= 0 or hit_ask != NO_ASK:
            self._settle_makers(m, m.crossed(hit_bid, hit_ask), out)
        if out:
            self._publish(m, out)

    def apply_trade(
        self,
        symbol: str,
        ts_ms: int,
        taker_side: Side | None,
        price_ticks: int,
        lots: int,
        trade_id: str = "",
    ) -> None:
        """A recorded trade. ``taker_side`` None (unknown): a price at or below the
        recorded best bid was a sell, at or above the best ask a buy; else skipped."""
        if self._actions and self._actions[0][0] <= ts_ms:
            self._release(ts_ms)
        self.now_ms = ts_ms
        m = self._markets[symbol]
        if taker_side is None:
            bid, ask = m.best_bid(), m.best_ask()
            if bid is not None and price_ticks <= bid:
                taker_side = Side.SELL
            elif ask is not None and price_ticks >= ask:
                taker_side = _BUY
            else:
                return
        fills = m.trade_fills(taker_side, price_ticks, lots)
        if fills:
            out: list[Change] | None = [] if self.feed.wanted else None
            self._settle_makers(m, fills, out)
            if out:
                self._publish(m, out)
        if self.feed.trade_listeners or self.feed.lag_ms:
            inst = m.instrument
            self.feed.trade(
                Trade(
                    self.name,
                    symbol,
                    taker_side,
                    inst.ticks_to_price(price_ticks),
                    inst.lots_to_size(lots),
                    ts_ms,
                ),
                ts_ms,
            )

    def advance(self, now_ms: int, *, heartbeat: bool = True) -> None:
        """Time passes to ``now_ms``: what is due is released; a heartbeat goes out (the
        feed is alive; not when the data has ended)."""
        if now_ms < self.now_ms:
            return
        self._release(now_ms)
        self.now_ms = now_ms
        if heartbeat:
            self.feed.heartbeat(now_ms)

    def _release(self, until_ms: int) -> None:
        actions = self._actions
        while actions and actions[0][0] <= until_ms:
            due, _, kind, order_id = heapq.heappop(actions)
            self.now_ms = max(self.now_ms, due)
            if kind == _ENTER:
                self._arrive(order_id)
            else:
                self._cancel_now(order_id, "cancelled by user")
        self.feed.release(until_ms)

    def _publish(self, m: ReplayMarket, changes: list[Change]) -> None:
        self.feed.book(m, changes, self.now_ms)

    def _publish_level(self, m: ReplayMarket, side: Side, price: int) -> None:
        self._publish(m, [m.visible(side, price)])

    # -- trading API (what an account can do) -------------------------------------

    def submit(self, account: str, req: OrderRequest) -> OrderAck:
        m = self._markets.get(req.symbol)
        if m is None:
            return _reject(req, f"unknown symbol {req.symbol}")
        inst = m.instrument
        if self._orders.live_id(account, req.client_id) is not None:
            return _reject(req, f"duplicate client id {req.client_id}")
        reason = invalid(req, inst)
        if not reason and self.latency.entry_ms == 0:
            reason = refusal(self.accounts.position(account, req.symbol).size, req, m)
        if reason:
            return _reject(req, reason)
        order_id = self._new_order_id()
        record = OrderRecord(
            account,
            req.client_id,
            req.symbol,
            req.side,
            inst.size_to_lots(req.size),
            req.post_only,
            req.reduce_only,
            price=req.price,
        )
        self._orders.add(order_id, record)
        self._entering[order_id] = (account, req)
        if self.latency.entry_ms == 0:
            self._arrive(order_id)
            return OrderAck(req.client_id, str(order_id), OrderStatus.OPEN)
        record.status = OrderStatus.PENDING
        self._schedule(self.now_ms + self.latency.entry_ms, _ENTER, order_id)
        return OrderAck(req.client_id, str(order_id), OrderStatus.PENDING)

    def cancel(self, account: str, symbol: str, client_id: str) -> bool:
        order_id = self._orders.live_id(account, client_id)
        if order_id is None or symbol not in self._markets:
            return False
        if self._orders.live[order_id].symbol != symbol:
            return False
        return self._ask_cancel(order_id)

    def cancel_order(self, account: str, symbol: str, order_id: int) -> bool:
        """Cancel one of the account's orders by the venue's order id."""
        rec = self._orders.live.get(order_id)
        if rec is None or rec.account != account or rec.symbol != symbol:
            return False
        return self._ask_cancel(order_id)

    def cancel_all(
        self, account: str, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        count = 0
        for order_id, rec in list(self._orders.live.items()):
            if rec.account != account or (symbol is not None and rec.symbol != symbol):
                continue
            if client_id_prefix is not None and not rec.client_id.startswith(client_id_prefix):
                continue
            if self._ask_cancel(order_id):
                count += 1
        return count

    def open_orders(self, account: str, symbol: str | None = None) -> list[OpenOrder]:
        """The account's orders on a book (not those still on their way to it)."""
        out = []
        for order_id, order in self._resting.items():
            if order.account != account or (symbol is not None and order.symbol != symbol):
                continue
            record = self._orders.live[order_id]
            inst = self._markets[order.symbol].instrument
            out.append(record.open_order(self.name, order_id, inst, order.price, order.lots))
        return out

    def account(self, account: str, symbols: list[str]) -> AccountState:
        """The account reading; no funding is replayed (rate 0, no next settlement)."""
        return self.accounts.account(account, self.instruments, symbols, ZERO, None)

    # -- order entry and cancels ------------------------------------------------------

    def _schedule(self, due_ms: int, kind: int, order_id: int) -> None:
        self._action_seq += 1
        heapq.heappush(self._actions, (due_ms, self._action_seq, kind, order_id))

    def _arrive(self, order_id: int) -> None:
        """An order reaches the book: refused, taken, rested, or what is left cancelled."""
        entry = self._entering.pop(order_id, None)
        record = self._orders.live.get(order_id)
        if entry is None or record is None:
            return
        account, req = entry
        m = self._markets[req.symbol]
        inst = m.instrument
        if order_id in self._cancel_on_arrival:
            self._finish(order_id, OrderStatus.CANCELLED, "cancelled before it reached the book")
            return
        if self.latency.entry_ms:
            reason = refusal(self.accounts.position(account, req.symbol).size, req, m)
            if reason:
                self._finish(order_id, OrderStatus.REJECTED, reason)
                return
        record.status = OrderStatus.OPEN
        lots = record.size_lots
        if req.reduce_only:
            position = self.accounts.position(account, req.symbol).size
            lots = min(lots, inst.size_to_lots(abs(position)))
            record.size_lots = lots
        self.accounts.emit(account, self._update(record, order_id, OrderStatus.OPEN))
        price = inst.price_to_ticks(req.price) if req.price is not None else None
        # Self-trade prevention: the account's own resting orders this one would meet
        # are cancelled first (as the sim's matching engine does).
        self._prevent_self_trade(m, account, req.side, price)
        left = lots
        if req.type is OrderType.MARKET or crosses(m, req.side, price):
            left = self._take(m, order_id, record, req.side, lots, price)
        if left == 0:
            self._finish(order_id, OrderStatus.FILLED, "")
        elif req.type is OrderType.MARKET or req.time_in_force in (
            TimeInForce.IOC,
            TimeInForce.FOK,
        ):
            reason = "immediate-or-cancel remainder" if left < lots else "no liquidity"
            self._finish(order_id, OrderStatus.CANCELLED, reason)
        else:
            assert price is not None
            order = Resting(order_id, account, req.symbol, req.side, price, left)
            m.rest(order)
            self._resting[order_id] = order
            self._publish_level(m, req.side, price)

    def _prevent_self_trade(
        self, m: ReplayMarket, account: str, side: Side, price: int | None
    ) -> None:
        ours = m.our_asks if side is _BUY else m.our_bids
        for p, at in list(ours.items()):
            if price is not None and (p > price if side is _BUY else p < price):
                continue
            for order in [o for o in at if o.account == account]:
                self._remove_resting(m, order, OrderStatus.CANCELLED, "self-trade prevention")

    def _take(
        self,
        m: ReplayMarket,
        order_id: int,
        record: OrderRecord,
        side: Side,
        lots: int,
        limit: int | None,
    ) -> int:
        """Take the recorded opposite levels (they stay as recorded); the lots left."""
        inst = m.instrument
        left = lots
        for price, available in m.takeable(side, limit):
            qty = min(left, available)
            fill = self.ledger.fill(
                inst, record, order_id, side, price, qty, Liquidity.TAKER, self.now_ms
            )
            trade = Trade(self.name, m.symbol, side, fill.price, fill.size, self.now_ms)
            self.feed.trade(trade, self.now_ms)
            left -= qty
            if left == 0:
                break
        if left < lots:
            self._after_fills(m, record.account)
        return left

    def _settle_makers(
        self, m: ReplayMarket, fills: list[MakerFill], out: list[Change] | None
    ) -> None:
        """Our resting orders filled (as makers, at their prices)."""
        inst = m.instrument
        accounts: set[str] = set()
        touched: list[tuple[Side, int]] = []
        for order, lots in fills:
            if lots <= 0 or order.lots <= 0:
                continue
            lots = min(lots, order.lots)
            record = self._orders.live[order.order_id]
            m.reduce(order, lots)
            self.ledger.fill(
                inst,
                record,
                order.order_id,
                order.side,
                order.price,
                lots,
                Liquidity.MAKER,
                self.now_ms,
            )
            touched.append((order.side, order.price))
            accounts.add(order.account)
            if order.lots == 0:
                del self._resting[order.order_id]
                self._finish(order.order_id, OrderStatus.FILLED, "")
        for account in sorted(accounts):
            self._after_fills(m, account, out)
        if out is not None:
            for side, price in touched:
                out.append(m.visible(side, price))

    def _after_fills(self, m: ReplayMarket, account: str, out: list[Change] | None = None) -> None:
        state = self.accounts.position(account, m.symbol)
        self.accounts.emit(account, self.accounts.position_event(account, m.symbol, state))
        self._clamp_reduce_only(m, account, state.size, out)

    def _clamp_reduce_only(
        self, m: ReplayMarket, account: str, position: Decimal, out: list[Change] | None
    ) -> None:
        """Reduce-only orders may never exceed what they can close."""
        inst = m.instrument
        closable = inst.size_to_lots(abs(position))
        closing = Side.closing(position) if position != 0 else None
        for order in sorted(m.our_orders(), key=lambda o: o.order_id):
            record = self._orders.live.get(order.order_id)
            if order.account != account or record is None or not record.reduce_only:
                continue
            if order.side is not closing or closable == 0:
                self._remove_resting(
                    m, order, OrderStatus.CANCELLED, "reduce-only: nothing to reduce", out
                )
            elif order.lots > closable:
                trim = order.lots - closable
                m.reduce(order, trim)
                record.size_lots -= trim
                status = OrderStatus.PARTIALLY_FILLED if record.filled_lots else OrderStatus.OPEN
                self.accounts.emit(
                    account,
                    self._update(record, order.order_id, status, "reduce-only: trimmed"),
                )
                self._level_changed(m, order.side, order.price, out)
                closable = 0
            else:
                closable -= order.lots

    def _ask_cancel(self, order_id: int) -> bool:
        if order_id in self._cancelling:
            return True
        if self.latency.cancel_ms == 0:
            return self._cancel_now(order_id, "cancelled by user")
        self._cancelling.add(order_id)
        self._schedule(self.now_ms + self.latency.cancel_ms, _CANCEL, order_id)
        return True

    def _cancel_now(self, order_id: int, reason: str) -> bool:
        self._cancelling.discard(order_id)
        if order_id in self._entering:
            self._cancel_on_arrival.add(order_id)  # not there yet: cancelled as it arrives
            return True
        order = self._resting.get(order_id)
        if order is None:
            return False  # filled (or cancelled) before the cancel got there
        self._remove_resting(self._markets[order.symbol], order, OrderStatus.CANCELLED, reason)
        return True

    def _remove_resting(
        self,
        m: ReplayMarket,
        order: Resting,
        status: OrderStatus,
        reason: str,
        out: list[Change] | None = None,
    ) -> None:
        m.remove(order)
        self._resting.pop(order.order_id, None)
        self._finish(order.order_id, status, reason)
        self._level_changed(m, order.side, order.price, out)

    def _level_changed(
        self, m: ReplayMarket, side: Side, price: int, out: list[Change] | None
    ) -> None:
        if out is not None:
            out.append(m.visible(side, price))
        else:
            self._publish_level(m, side, price)

    # -- records -------------------------------------------------------------------

    def _finish(self, order_id: int, status: OrderStatus, reason: str) -> None:
        self._entering.pop(order_id, None)
        self._cancel_on_arrival.discard(order_id)
        record = self._orders.finish(order_id, status, reason)
        if record is not None:
            self.accounts.emit(record.account, self._update(record, order_id, status, reason))

    def _mark(self, symbol: str) -> Decimal | None:
        m = self._markets[symbol]
        bid, ask = m.best_bid(), m.best_ask()
        if bid is None or ask is None:
            return None
        return m.instrument.ticks_to_price(bid + ask) / 2


def _remove(listeners: list[Any], listener: object) -> None:
    if listener in listeners:
        listeners.remove(listener)


def _reject(req: OrderRequest, reason: str) -> OrderAck:
    return OrderAck(req.client_id, None, OrderStatus.REJECTED, reason)


__all__ = ["BookListener", "QueueVenue", "TradeListener"]
