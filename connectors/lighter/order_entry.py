"""The Lighter connector's order paths: place, cancel, modify, cancel-all, and the
orders that have not left the tx queue yet (withdraw, restate, wind down). A mixin of
``LighterConnector`` (``connector``), which composes the parts they use.

* ``place`` signs and sends a CreateOrder (see ``tx`` for the nonce rules and what a lost
  answer means). ``sendTx`` returns no order index: the ack is PENDING and the order's
  fate arrives on ``account_all_orders``.
* ``cancel`` cancels every live order of ours with the client id, by exchange index, or
  by client index while its create is on its way; ``modify`` sends the new total size.
* A create still waiting in the queue (for the tier's budget) is taken back or re-signed
  with new terms instead: nothing is sent for it.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import (
    ConnectorStats,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from connectors.common.errors import ErrorCode, VenueError
from connectors.common.public import public_only_error
from connectors.common.units import optional_decimal
from connectors.lighter import wire
from connectors.lighter.tx import (
    ORDER_EXPIRY_28_DAYS,
    ORDER_EXPIRY_NONE,
    ORDER_TYPE_LIMIT,
    ORDER_TYPE_MARKET,
    TIF_GOOD_TILL_TIME,
    TIF_IOC,
    TIF_POST_ONLY,
)
from connectors.lighter.txplan import TxKind, TxRequest, Withdrawn

if TYPE_CHECKING:
    from connectors.common.books import BookSet
    from connectors.lighter.clientids import ClientIndexes
    from connectors.lighter.keys import LighterKeys
    from connectors.lighter.markets import LighterMarkets
    from connectors.lighter.order_tracking import OrderTracker
    from connectors.lighter.pacing import RequestPacer
    from connectors.lighter.rest import LighterRest
    from connectors.lighter.tx import LighterTx

log = logging.getLogger("connectors.lighter")

UNSENT = "cancelled before it was sent"


class LighterOrderEntry:
    """The order paths of ``LighterConnector``, on the parts it composes (and its reads:
    ``open_orders``, ``lookup_order``)."""

    name: str
    keys: LighterKeys | None
    stats: ConnectorStats
    pacer: RequestPacer | None
    market_slippage: Decimal
    rest: LighterRest
    tx: LighterTx
    books: BookSet
    markets: LighterMarkets
    ids: ClientIndexes
    orders: OrderTracker

    async def place(self, request: OrderRequest) -> OrderAck:
        self._need_keys(f"place {request.client_id}")
        m = self.markets.market(request.symbol)
        inst = self.markets.instruments[request.symbol]
        index = self.ids.to_index(request.client_id)
        if self.orders.live.get(index):
            # the venue's own stream shows this index live: an earlier try landed
            # (Lighter refuses it too: 21728 "client order index already exists")
            raise VenueError(
                f"{self.name}: client order index {index} of {request.client_id} is already "
                "live on the account",
                code=ErrorCode.DUPLICATE_CLIENT_ID,
            )
        if request.size < inst.min_size:
            raise VenueError(
                f"size {request.size} below the minimum {inst.min_size}",
                code=ErrorCode.INVALID_SIZE,
            )
        size = wire.base_amount(request.size, m)
        if request.type is OrderType.MARKET:
            price = await self._market_bound(request, m)
            order_type, tif, expiry = ORDER_TYPE_MARKET, TIF_IOC, ORDER_EXPIRY_NONE
        else:
            if request.price is None or request.price <= 0:
                raise VenueError(
                    "a limit order needs a positive price", code=ErrorCode.INVALID_PRICE
                )
            price = wire.price_int(request.price, m)
            order_type = ORDER_TYPE_LIMIT
            if request.time_in_force is TimeInForce.FOK:
                raise VenueError("Lighter has no fill-or-kill orders", code=ErrorCode.INVALID_ORDER)
            if request.post_only:
                if request.time_in_force is not TimeInForce.GTC:
                    raise VenueError("post-only needs GTC", code=ErrorCode.INVALID_ORDER)
                tif, expiry = TIF_POST_ONLY, ORDER_EXPIRY_28_DAYS
            elif request.time_in_force is TimeInForce.IOC:
                tif, expiry = TIF_IOC, ORDER_EXPIRY_NONE
            else:
                tif, expiry = TIF_GOOD_TILL_TIME, ORDER_EXPIRY_28_DAYS
            if not request.reduce_only and request.price * request.size < inst.min_notional:
                raise VenueError(
                    f"notional {request.price * request.size} below the minimum "
                    f"{inst.min_notional}",
                    code=ErrorCode.MIN_NOTIONAL,
                )
        started = time.perf_counter()
        self.orders.markets.add(m.market_id)
        self.orders.sent(index)
        try:
            await self.tx.create_order(
                market=m.market_id,
                client_index=index,
                base_amount=size,
                price=price,
                is_ask=request.side is Side.SELL,
                order_type=order_type,
                time_in_force=tif,
                reduce_only=request.reduce_only,
                order_expiry=expiry,
                on_nonce=lambda nonce: self.orders.sent(index, nonce),
            )
        except Withdrawn:
            # cancelled (or dropped at a shutdown) before it left: provably not at the venue
            self.orders.refused(index)
            return OrderAck(request.client_id, None, OrderStatus.CANCELLED, UNSENT)
        except VenueError as exc:
            if not exc.outcome_unknown:
                self.orders.refused(index)  # nothing is on its way
            raise
        self.stats.latency_ms = (time.perf_counter() - started) * 1000
        self._tx_stats()
        return OrderAck(request.client_id, None, OrderStatus.PENDING)

    def _tx_stats(self) -> None:
        extra = self.stats.extra
        if self.tx.volume_quota_remaining is not None:
            extra["volume_quota_remaining"] = self.tx.volume_quota_remaining
        extra["tx_requests"] = self.tx.queue.requests
        extra["tx_batches"] = self.tx.queue.batches
        if self.pacer is not None:
            extra["paced_wait_s"] = round(
                self.pacer.rest.waited_s + (self.pacer.tx.waited_s if self.pacer.tx else 0.0), 3
            )
            extra["rate_limited"] = self.pacer.rate_limited
            if self.pacer.quota is not None:
                extra["quota_held"] = self.pacer.quota.held

    async def cancel(self, symbol: str, client_id: str) -> bool:
        """Cancel every live order of ours with this client id (the venue may hold two:
        a repeated client order index is not something we rely on it refusing). An order
        whose create is still on its way is cancelled by client index: one API key's
        transactions execute in nonce order, so the cancel lands after the create. False
        when the venue has none live."""
        self._need_keys(f"cancel {client_id}")
        m = self.markets.market(symbol)
        index = self.ids.to_index(client_id)
        live = sorted(self.orders.live.get(index, ()))
        if not live:
            if self.tx.queue.withdraw(index):
                return True  # its create had not left: nothing goes out for either
            if self.orders.on_its_way(index):
                await self.tx.cancel_order(market=m.market_id, index=index)
                return True
            found = await self.lookup_order(symbol, client_id)
            if found is None or found.status.is_terminal or found.venue_order_id is None:
                return False
            live = [found.venue_order_id]
        for order_index in live:
            await self.tx.cancel_order(market=m.market_id, index=int(order_index))
        return True

    async def modify(self, symbol: str, client_id: str, size: Decimal, price: Decimal) -> None:
        """Change a resting order's price and *remaining* ``size`` in one transaction
        (no cancel/replace; the order keeps its indexes, loses its queue place).

        Lighter's ``BaseAmount`` is the order's new *total* size (docs/venues/lighter.md,
        "Modify"): we send what it filled so far plus ``size``. A fill racing the modify is
        not added back: the venue leaves ``size`` less that fill."""
        if self.restate(symbol, client_id, size, price):
            return  # its create had not left: it leaves with the new terms
        m = self.markets.market(symbol)
        index = self.ids.to_index(client_id)
        filled = self.orders.filled.get(index)
        if filled is None:
            found = await self.lookup_order(symbol, client_id)
            if found is None or found.status.is_terminal:
                raise VenueError(
                    f"{self.name}: {client_id} is not live on the venue: nothing to modify",
                    code=ErrorCode.NOT_FOUND,
                )
            filled = found.filled_size
        try:
            await self.tx.modify_order(
                market=m.market_id,
                index=index,
                base_amount=wire.base_amount(filled + size, m),
                price=wire.price_int(price, m),
            )
        except Withdrawn:
            raise VenueError(
                f"{self.name}: modify of {client_id} not sent: shutting down",
                code=ErrorCode.VENUE,
            ) from None

    # -- orders that have not left (``connectors.base.Withdrawable``) ----------------

    def withdraw(self, symbol: str, client_id: str) -> bool:
        """Take back our place of ``client_id`` if its create has not left the tx queue
        (waiting for the tier's budget): nothing is sent for it, its ``place`` answers
        CANCELLED. False when it has left (cancel it the usual way)."""
        self.markets.market(symbol)
        return self.tx.queue.withdraw(self.ids.to_index(client_id))

    def restate(self, symbol: str, client_id: str, size: Decimal, price: Decimal) -> bool:
        """Give our place of ``client_id`` that has not left yet a new ``size`` and
        ``price``: its create is signed with them when it leaves. False when it has left,
        or the new terms fail the market's minimums (cancel and place instead)."""
        m = self.markets.market(symbol)
        inst = self.markets.instruments[symbol]
        if size < inst.min_size or price <= 0 or price * size < inst.min_notional:
            return False
        index = self.ids.to_index(client_id)
        return self.tx.restate_create(index, wire.base_amount(size, m), wire.price_int(price, m))

    def wind_down(self) -> None:
        """A shutdown begins (``connectors.base.WindsDown``): every create that has not
        left is taken back (its place answers CANCELLED), and what follows -- cancels, the
        listings that find and verify them, the switch's abort -- may use the budget's
        shutdown reserve, which routine traffic never spends."""
        if self.pacer is not None:
            self.pacer.wind_down()
        dropped = self.tx.queue.withdraw_unsent()
        if dropped:
            log.info(
                "%s: %d order transaction(s) not yet sent dropped at shutdown", self.name, dropped
            )

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        dropped = self._withdraw_unsent(symbol, client_id_prefix)
        orders = await self.open_orders(symbol)
        if client_id_prefix is None:
            # everything on the account (the venue's cancel-all, other tools' orders too)
            market = None if symbol is None else self.markets.market(symbol).market_id
            await self.tx.cancel_all(market)
            return len(orders) + dropped
        count = dropped
        for o in orders:
            if o.client_id and o.client_id.startswith(client_id_prefix):
                m = self.markets.market(o.symbol)
                await self.tx.cancel_order(market=m.market_id, index=int(o.venue_order_id))
                count += 1
        return count

    def _withdraw_unsent(self, symbol: str | None, prefix: str | None) -> int:
        """Take back the creates that have not left (of ``symbol``'s market, or all; with
        ``prefix``, of client ids starting with it): before a cancel-all, nothing new."""
        market = None if symbol is None else self.markets.market(symbol).market_id

        def keep(req: TxRequest) -> bool:
            if market is not None and getattr(req.terms, "market", market) != market:
                return True
            client_id = self.ids.from_index(req.target or 0)
            return prefix is not None and not client_id.startswith(prefix)

        return self.tx.queue.withdraw_unsent(frozenset({TxKind.CREATE}), keep=keep)

    # -- internals ---------------------------------------------------------------------

    def _need_keys(self, what: str) -> None:
        if self.keys is None:
            raise public_only_error(self.name, what)

    async def _market_bound(self, request: OrderRequest, m: wire.Market) -> int:
        """The worst price a market order accepts (Lighter requires one)."""
        if request.price is not None and request.price > 0:
            return wire.price_int(request.price, m)
        book = self.books.get(m.symbol)
        ref: Decimal | None = None
        if book is not None and book.synced:
            ref = book.best_ask() if request.side is Side.BUY else book.best_bid()
        if ref is None:
            resp = await self.rest.get("/api/v1/orderBookDetails", {"market_id": m.market_id})
            details = wire.items(resp, "order_book_details")
            if details and isinstance(details[0], dict):
                last = details[0].get("last_trade_price")
                ref = optional_decimal(last, "last_trade_price") or None
        if ref is None:
            raise VenueError(
                f"{self.name}: no price to bound a market order on {m.symbol}",
                code=ErrorCode.NO_PRICE,
            )
        factor = 1 + self.market_slippage if request.side is Side.BUY else 1 - self.market_slippage
        bound = (ref * factor).quantize(m.tick)
        return wire.price_int(max(bound, m.tick), m)


__all__ = ["UNSENT", "LighterOrderEntry"]
