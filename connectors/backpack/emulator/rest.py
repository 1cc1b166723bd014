"""The Backpack emulator's REST API: public market data and the signed account,
order and history endpoints, each a plain handler behind the kit's ``Routes``
(refusals -> the venue's ``{"code", "message"}`` answers; ``place`` is a named
route, so the harness can make the venue take an order and lose the answer)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from connectors.backpack.emulator.auth import Auth
from connectors.backpack.emulator.events import AccountEvents
from connectors.backpack.emulator.state import Order, State, Terms
from connectors.backpack.emulator.wire import (
    BackpackError,
    bad,
    client_id,
    decimal,
    flag,
    int_param,
    not_found,
    page,
    plain,
    reject_error,
)
from connectors.backpack.signing import INSTRUCTIONS
from connectors.base import (
    ZERO,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from connectors.emulation.accounts import sim_mid
from connectors.emulation.rest import Routes
from connectors.sim.venue import DROPPED, SimVenue

log = logging.getLogger("connectors.backpack.emulator")

Private = Callable[[str, Any], Any]


class RestApi:
    def __init__(
        self, venue: SimVenue, state: State, auth: Auth, events: AccountEvents, routes: Routes
    ) -> None:
        self.venue = venue
        self.state = state
        self.auth = auth
        self.events = events
        self.routes = routes
        self.defer_cancels = 0
        """Fault: the next cancels are answered 202 with no body ("accepted but not yet
        executed", docs) and carried out on the next loop turn."""

    def install(self, app: web.Application) -> None:
        r = app.router
        public: dict[str, Callable[[web.Request], Any]] = {
            "/api/v1/markets": lambda rq: [self.state.market_json(m) for m in self._markets()],
            "/api/v1/market": lambda rq: self.state.market_json(self._market(rq.query)),
            "/api/v1/depth": self._depth,
            "/api/v1/ticker": lambda rq: self._ticker(self._market(rq.query)),
            "/api/v1/tickers": lambda rq: [self._ticker(m) for m in self._markets()],
            "/api/v1/markPrices": self._mark_prices,
            "/api/v1/trades": self._trades,
            "/api/v1/status": lambda rq: {"message": None, "status": "Ok"},
            "/api/v1/time": lambda rq: _text(str(int(time.time() * 1000))),
            "/api/v1/ping": lambda rq: _text("pong"),
        }
        for path, fn in public.items():
            r.add_get(path, self.routes.wrap(fn))
        private: dict[tuple[str, str], Private] = {
            ("GET", "/api/v1/account"): self._account,
            ("GET", "/api/v1/capital"): self._capital,
            ("GET", "/api/v1/capital/collateral"): self._collateral,
            ("GET", "/api/v1/position"): self._positions,
            ("GET", "/api/v1/order"): lambda a, p: self.state.order_json(
                self.state.find_live(a, p)
            ),
            ("GET", "/api/v1/orders"): self._open_orders,
            ("POST", "/api/v1/order"): lambda a, p: self._order_answer(self._submit(a, p)),
            ("POST", "/api/v1/orders"): self._place_batch,
            ("DELETE", "/api/v1/order"): self._cancel,
            ("DELETE", "/api/v1/orders"): self._cancel_all,
            ("GET", "/wapi/v1/history/fills"): self._fill_history,
            ("GET", "/wapi/v1/history/orders"): self._order_history,
            ("GET", "/wapi/v1/history/funding"): lambda a, p: [],
        }
        names = {("POST", "/api/v1/order"): "place", ("DELETE", "/api/v1/order"): "cancel"}
        for (method, path), fn in private.items():
            handler = self._signed(method, path, fn)
            r.add_route(method, path, self.routes.wrap(handler, name=names.get((method, path))))

    def _signed(self, method: str, path: str, fn: Private) -> Callable[[web.Request], Any]:
        instruction = INSTRUCTIONS[(method, path)]
        batch = (method, path) == ("POST", "/api/v1/orders")

        async def handler(request: web.Request) -> Any:
            account, params = self.auth.request(request, instruction, await request.text(), batch)
            return fn(account, params)

        return handler

    # -- public -----------------------------------------------------------------------

    def _markets(self) -> list[Any]:
        return list(self.state.markets.values())

    def _market(self, params: Mapping[str, Any]) -> Any:
        m = self.state.market(params)
        assert m is not None
        return m

    def _depth(self, request: web.Request) -> dict[str, Any]:
        """Both sides ascending by price (the best bid last), ``lastUpdateId`` a string
        and ``timestamp`` in µs (recorded)."""
        m = self._market(request.query)
        limit = max(1, min(int_param(request.query, "limit") or 100, 1000))
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, limit)
        inst = m.inst

        def level(p: int, q: int) -> list[str]:
            return [m.price(inst.ticks_to_price(p)), m.size(inst.lots_to_size(q))]

        return {
            "asks": [level(p, q) for p, q in asks],
            "bids": [level(p, q) for p, q in reversed(bids)],
            "lastUpdateId": str(m.update_id),
            "timestamp": self.venue.now_ms * 1000,
        }

    def _trades(self, request: web.Request) -> list[Any]:
        self._market(request.query)
        return []  # no public trade tape is kept: the trade.<symbol> stream has them

    def _ticker(self, m: Any) -> dict[str, Any]:
        s = m.stats
        last = s.last if s.last is not None else (sim_mid(self.venue, m.inst.symbol) or ZERO)
        first = s.first if s.first is not None else last
        return {
            "firstPrice": plain(first),
            "high": plain(s.high if s.high is not None else last),
            "lastPrice": plain(last),
            "low": plain(s.low if s.low is not None else last),
            "priceChange": plain(last - first),
            "priceChangePercent": plain((last - first) / first if first else ZERO, 6),
            "quoteVolume": plain(s.quote_volume, 6),
            "symbol": m.wire,
            "trades": str(s.trades),
            "volume": plain(s.volume),
        }

    def _mark_prices(self, request: web.Request) -> list[dict[str, Any]]:
        chosen = self.state.market(request.query, required=False)
        out = []
        for m in [chosen] if chosen else self._markets():
            mark = sim_mid(self.venue, m.inst.symbol) or ZERO
            funding = self.venue.funding
            nxt = funding.next_ms
            if nxt is None:  # before the sim's first step
                nxt = (self.venue.now_ms // funding.interval_ms + 1) * funding.interval_ms
            out.append(
                {
                    "fundingRate": plain(funding.rate),
                    "indexPrice": plain(mark),
                    "markPrice": plain(mark),
                    "nextFundingTimestamp": nxt,
                    "symbol": m.wire,
                }
            )
        return out

    # -- account ------------------------------------------------------------------------

    def _account(self, account: str, params: Any) -> dict[str, Any]:
        insts = list(self.venue.instruments.values())
        maker = insts[0].maker_fee if insts else ZERO
        taker = insts[0].taker_fee if insts else ZERO
        return {
            "autoBorrowSettlements": True,
            "autoLend": False,
            "autoRealizePnl": True,
            "autoRepayBorrows": True,
            "borrowLimit": "0",
            "futuresMakerFee": plain(maker * 10_000, 4),
            "futuresTakerFee": plain(taker * 10_000, 4),
            "leverageLimit": "20",
            "limitOrders": 500,
            "liquidating": False,
            "positionLimit": "0",
            "spotMakerFee": plain(maker * 10_000, 4),
            "spotTakerFee": plain(taker * 10_000, 4),
            "triggerOrders": 100,
        }

    def _capital(self, account: str, params: Any) -> dict[str, Any]:
        return {
            b.asset: {"available": plain(b.available, 6), "locked": "0", "staked": "0"}
            for b in self.venue.balances(account)
        }

    def _collateral(self, account: str, params: Any) -> dict[str, Any]:
        bal = self.venue.balances(account)[0]
        total, available = plain(bal.total, 6), plain(bal.available, 6)
        margin = self.venue.account(account, [])
        return {
            "assetsValue": total,
            "borrowLiability": "0",
            "collateral": [
                {
                    "assetMarkPrice": "1",
                    "availableQuantity": available,
                    "balanceNotional": available,
                    "collateralValue": available,
                    "collateralWeight": "1",
                    "lendQuantity": "0",
                    "openOrderQuantity": "0",
                    "symbol": bal.asset,
                    "totalQuantity": available,
                }
            ],
            "imf": "0.02",
            "liabilitiesValue": "0",
            "marginFraction": None,
            "mmf": "0.0125",
            "netEquity": total,
            "netEquityAvailable": plain(margin.available or ZERO, 6),
            "netEquityLocked": plain(margin.margin_used or ZERO, 6),
            "netExposureFutures": plain((margin.leverage or ZERO) * bal.total, 6),
            "pnlUnrealized": plain(bal.total - bal.available, 6),
            "unsettledEquity": "0",
        }

    def _positions(self, account: str, params: Any) -> list[dict[str, Any]]:
        margin = {m.symbol: m for m in self.venue.account(account, []).markets}
        out = []
        for p in self.venue.positions(account):
            if p.size == 0:
                continue
            row = self.state.position_rest(
                account, p, sim_mid(self.venue, p.symbol) or p.entry_price
            )
            liq = margin[p.symbol].liquidation_price if p.symbol in margin else None
            row["estLiquidationPrice"] = plain(liq) if liq is not None else "0"
            row["cumulativeFundingPayment"] = plain(self.venue.accounts.funding(account, p.symbol))
            out.append(row)
        return out

    # -- orders -----------------------------------------------------------------------

    def _open_orders(self, account: str, params: Any) -> list[dict[str, Any]]:
        m = self.state.market(params, required=False)
        if params.get("marketType") not in (None, "PERP"):
            return []
        return [
            self.state.order_json(o)
            for o in self.state.orders.values()
            if o.account == account and o.live and (m is None or o.market is m)
        ]

    def _order_answer(self, order: Order) -> dict[str, Any]:
        return self.state.order_json(order)

    def _place_batch(self, account: str, params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in params:
            try:
                out.append({"operation": "Ok"} | self.state.order_json(self._submit(account, item)))
            except BackpackError as err:
                out.append({"code": err.code, "message": err.message, "operation": "Error"})
        return out

    def _submit(self, account: str, params: Mapping[str, Any]) -> Order:
        m = self._market(params)
        inst = m.inst
        side = {"Bid": Side.BUY, "Ask": Side.SELL}.get(str(params.get("side")))
        if side is None:
            raise bad("side must be Bid or Ask")
        order_type = params.get("orderType")
        if order_type not in ("Limit", "Market"):
            raise bad("orderType must be Limit or Market")
        tif = params.get("timeInForce") or "GTC"
        if tif not in ("GTC", "IOC", "FOK"):
            raise bad("timeInForce must be GTC, IOC or FOK")
        post_only = flag(params, "postOnly")
        reduce_only = flag(params, "reduceOnly")
        cid = client_id(params["clientId"]) if params.get("clientId") is not None else None
        if params.get("triggerPrice") is not None or params.get("quoteQuantity") is not None:
            raise bad("trigger and quote-quantity orders are not supported by the emulator")
        if params.get("quantity") is None:
            raise bad("Market orders must specify a `quantity` or `quoteQuantity`")
        quantity = decimal(params["quantity"], "INVALID_QUANTITY", "quantity")
        if quantity <= 0 or not inst.is_on_step(quantity):
            raise bad(
                f"Quantity must be a positive multiple of {inst.step_size}", "INVALID_QUANTITY"
            )
        if quantity < inst.min_size and not reduce_only:
            raise bad(f"Quantity is below the minimum {inst.min_size}", "INVALID_QUANTITY")
        price: Decimal | None = None
        if order_type == "Limit":
            if params.get("price") is None:
                raise bad("price is required for limit orders", "INVALID_PRICE")
            price = decimal(params["price"], "INVALID_PRICE", "price")
            if price <= 0 or not inst.is_on_tick(price) or price > inst.tick_size * 10**9:
                raise bad(f"Price must be a positive multiple of {inst.tick_size}", "INVALID_PRICE")
        if post_only and (order_type == "Market" or tif != "GTC"):
            raise bad("postOnly needs a GTC limit order", "INVALID_ORDER")
        stp = str(params.get("selfTradePrevention") or "RejectTaker")
        if cid is not None:
            sim_cid = str(cid)
        else:
            self.state.anon += 1
            sim_cid = f"~bp{self.state.anon}"
        request = OrderRequest(
            client_id=sim_cid,
            symbol=inst.symbol,
            side=side,
            size=quantity,
            type=OrderType.LIMIT if order_type == "Limit" else OrderType.MARKET,
            price=price,
            time_in_force=TimeInForce[tif],
            post_only=post_only,
            reduce_only=reduce_only,
        )
        terms = Terms(cid, m, side, order_type, tif, post_only, reduce_only, price, quantity, stp)
        key = (account, sim_cid)
        self.state.pending[key] = terms
        try:
            ack = self.venue.submit(account, request)
        finally:
            self.state.pending.pop(key, None)
        if ack.status is OrderStatus.REJECTED or ack.venue_order_id is None:
            raise reject_error(ack.reason, cid)
        if ack.reason == DROPPED:
            # taken, answered as accepted, then lost: no record, nothing pushed
            return Order.of(terms, int(ack.venue_order_id), sim_cid, account, self.venue.now_ms)
        order = self.state.orders.get(int(ack.venue_order_id))
        if order is None:
            raise BackpackError(500, "SERVER_ERROR", "order accepted but not recorded")
        return order

    def _cancel(self, account: str, params: Any) -> Any:
        order = self.state.find_live(account, params)
        if self.defer_cancels > 0:
            self.defer_cancels -= 1
            asyncio.get_running_loop().call_soon(self._cancel_order, order)
            return web.Response(status=202)
        if not self._cancel_order(order):
            raise not_found()
        return self.state.order_json(order)

    def _cancel_order(self, order: Order) -> bool:
        return self.venue.cancel_order(order.account, order.market.inst.symbol, order.id)

    def _cancel_all(self, account: str, params: Any) -> Any:
        m = self._market(params)
        if params.get("orderType") not in (None, "RestingLimitOrder"):
            return []
        targets = [
            o
            for o in self.state.orders.values()
            if o.account == account and o.live and o.market is m
        ]
        if self.defer_cancels > 0:
            self.defer_cancels -= 1
            loop = asyncio.get_running_loop()
            loop.call_soon(self.venue.cancel_all, account, m.inst.symbol)
            return web.Response(status=202)
        self.venue.cancel_all(account, m.inst.symbol)
        return [self.state.order_json(o) for o in targets]

    # -- history ------------------------------------------------------------------------

    def _fill_history(self, account: str, params: Any) -> web.Response:
        m = self.state.market(params, required=False)
        lo, hi = int_param(params, "from"), int_param(params, "to")
        order_id = params.get("orderId")
        fill_type = params.get("fillType")
        chosen = [
            {k: v for k, v in f.items() if k != "_ms"}
            for f in self.state.fills.get(account, [])
            if (m is None or f["symbol"] == m.wire)
            and (order_id is None or f["orderId"] == str(order_id))
            and (lo is None or f["_ms"] >= lo)
            and (hi is None or f["_ms"] <= hi)
            and (fill_type is None or (fill_type == "User") == ("systemOrderType" not in f))
        ]
        return page(chosen, params)

    def _order_history(self, account: str, params: Any) -> web.Response:
        m = self.state.market(params, required=False)
        order_id = params.get("orderId")
        chosen = [
            self.state.order_json(o, history=True)
            for o in sorted(self.state.orders.values(), key=lambda o: o.id)
            if o.account == account
            and not o.live
            and (m is None or o.market is m)
            and (order_id is None or str(o.id) == str(order_id))
        ]
        return page(chosen, params)


def _text(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/plain")


__all__ = ["RestApi"]
