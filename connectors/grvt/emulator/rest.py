"""The GRVT emulator's REST routes: login, market data, trading, histories.

Every route is a ``POST`` under ``/full/v1/`` (one port serves the edge, trade-data
and market-data hosts) wrapped by the kit's ``Routes``: a ``GrvtErr`` becomes
GRVT's envelope, anything else its 1002 internal error; ``create_order`` is the
route named ``"place"`` for ``FaultInjector.lose_next_answer``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial
from typing import Any

from aiohttp import web

from connectors.base import ZERO
from connectors.emulation.faults import FaultState
from connectors.emulation.rest import Routes, json_answer
from connectors.grvt.emulator.feed import GrvtFeed
from connectors.grvt.emulator.state import GrvtState, User, as_int
from connectors.grvt.emulator.tx import GrvtExchange
from connectors.grvt.emulator.wire import (
    NOT_AUTHENTICATED,
    WIRE_QUOTE,
    GrvtErr,
    cookie_expiry,
    envelope,
    fmt,
    instrument_json,
    internal_error,
    order_json,
)

PrivateHandler = Callable[[User, dict[str, Any]], Any]


async def read_body(request: web.Request) -> dict[str, Any]:
    try:
        raw = await request.text()
    except ConnectionError:  # the client gave up before we read it
        raise GrvtErr(1003, "Request body lost") from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_float=str)
    except ValueError:
        raise GrvtErr(1003, "Request could not be processed due to malformed syntax") from None
    if not isinstance(body, dict):
        raise GrvtErr(1003, "Request could not be processed due to malformed syntax")
    return body


class GrvtRoutes:
    def __init__(
        self,
        state: GrvtState,
        exchange: GrvtExchange,
        feed: GrvtFeed,
        faults: FaultState,
        *,
        cookie_ttl_s: float,
    ) -> None:
        self.state = state
        self.exchange = exchange
        self.feed = feed
        self.cookie_ttl_s = cookie_ttl_s
        self.routes = Routes(
            "grvt",
            faults,
            refusal=GrvtErr,
            render_refusal=envelope,
            server_error=internal_error,
        )

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/ws", partial(self.feed.handler, rpc=False))
        r.add_get("/ws/full", partial(self.feed.handler, rpc=True))
        r.add_post("/auth/api_key/login", self.routes.wrap(self.login))
        public: dict[str, Callable[[dict[str, Any]], Any]] = {
            "instruments": self.instruments,
            "all_instruments": self.instruments,
            "instrument": lambda body: instrument_json(self.state.market(body)),
            "mini": lambda body: self.feed.mini_feed(self.state.market(body)),
            "ticker": self.ticker,
            "book": self.book,
            "trade": lambda body: list(self.state.market(body).trades),
        }
        for name, fn in public.items():
            r.add_post(f"/full/v1/{name}", self.routes.wrap(self.public(fn)))
        private: dict[str, PrivateHandler] = {
            "create_order": lambda user, body: self.exchange.create(user, body.get("order")),
            "cancel_order": self.cancel_order,
            "cancel_all_orders": self.cancel_all,
            "open_orders": self.open_orders,
            "order": self.get_order,
            "order_history": self.order_history,
            "fill_history": self.fill_history,
            "positions": self.positions,
            "account_summary": self.account_summary,
            "cancel_on_disconnect": self.cancel_on_disconnect,
        }
        for name, handler in private.items():
            route = "place" if name == "create_order" else name
            r.add_post(
                f"/full/v1/{name}", self.routes.wrap(self.private(name, handler), name=route)
            )

    # -- plumbing ------------------------------------------------------------------

    def public(
        self, fn: Callable[[dict[str, Any]], Any]
    ) -> Callable[[web.Request], Awaitable[dict[str, Any]]]:
        async def handler(request: web.Request) -> dict[str, Any]:
            return {"result": fn(await read_body(request))}

        return handler

    def private(
        self, name: str, fn: PrivateHandler
    ) -> Callable[[web.Request], Awaitable[dict[str, Any]]]:
        async def handler(request: web.Request) -> dict[str, Any]:
            user = self.state.session_user(request)
            if user is None:
                raise GrvtErr(
                    1000, "You need to authenticate prior to using this functionality", 401
                )
            body = await read_body(request)
            if name != "create_order" and str(body.get("sub_account_id")) != user.sub_account_id:
                raise GrvtErr(1001, "You are not authorized to access this functionality", 403)
            result = fn(user, body)
            return result if isinstance(result, dict) and "result" in result else {"result": result}

        return handler

    async def login(self, request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = self.state.users.get(str(body.get("api_key") or ""))
        if user is None:
            raise GrvtErr(1000, NOT_AUTHENTICATED, 401)
        token, expires = self.state.login(user, self.cookie_ttl_s)
        resp = json_answer({"status": "success", "location": ""})
        resp.headers["Set-Cookie"] = (
            f"gravity={token}; Path=/; Expires={cookie_expiry(expires)}; HttpOnly; SameSite=Lax"
        )
        resp.headers["X-Grvt-Account-Id"] = user.main_account_id
        return resp

    # -- market data ---------------------------------------------------------------

    def instruments(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return [instrument_json(m) for m in self.state.filtered(body)]

    def book(self, body: dict[str, Any]) -> dict[str, Any]:
        m = self.state.market(body)
        depth = as_int(body.get("depth"), "depth") or 10
        if depth not in (10, 50, 100, 500):
            raise GrvtErr(3031, "Depth is invalid")
        return self.feed.book_feed(m, depth)

    def ticker(self, body: dict[str, Any]) -> dict[str, Any]:
        zero = fmt(ZERO)
        extra = dict.fromkeys(
            (
                "funding_rate_8h_curr",
                "funding_rate_8h_avg",
                "interest_rate",
                "forward_price",
                "buy_volume_24h_b",
                "sell_volume_24h_b",
                "buy_volume_24h_q",
                "sell_volume_24h_q",
                "high_price",
                "low_price",
                "open_price",
                "open_interest",
            ),
            zero,
        )
        funding = self.exchange.venue.funding
        rate = funding.rate * 100  # a percentage, as GRVT states it
        nxt = funding.next_ms or (self.exchange.venue.now_ms // funding.interval_ms + 1) * (
            funding.interval_ms
        )
        return (
            self.feed.mini_feed(self.state.market(body))
            | extra
            | {
                "long_short_ratio": "1.0",
                "funding_rate": fmt(rate),
                "funding_rate_8h_curr": fmt(rate * 8 * 3_600_000 / funding.interval_ms),
                "next_funding_time": str(nxt * 1_000_000),
            }
        )

    # -- trading -------------------------------------------------------------------

    def cancel_order(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        o = self.state.find(user, body)
        if o is None or not o.live:
            raise GrvtErr(1004, "Data Not Found", 404)
        self.exchange.cancel(o, "CLIENT_CANCEL")
        return {"ack": True}

    def cancel_all(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        self.exchange.cancel_all(user, self.state.filtered(body), "CLIENT_BULK_CANCEL")
        return {"ack": True}

    def open_orders(self, user: User, body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            order_json(o, "rest") for o in self.state.live_orders(user, self.state.filtered(body))
        ]

    def get_order(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        o = self.state.find(user, body)
        if o is None:
            raise GrvtErr(1004, "Data Not Found", 404)
        return order_json(o, "rest")

    def order_history(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        rows, nxt = self.state.order_page(user, body, lambda o: order_json(o, "rest"))
        return {"result": rows, "next": nxt}

    def fill_history(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        rows, nxt = self.state.fill_page(user, body)
        return {"result": rows, "next": nxt}

    def positions(self, user: User, body: dict[str, Any]) -> list[dict[str, Any]]:
        chosen = self.state.filtered(body)
        return [
            self.exchange.position(user, p, "rest") for p in self.exchange.positions(user, chosen)
        ]

    def account_summary(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        (bal,) = self.exchange.venue.balances(user.account)
        margin = self.exchange.venue.account(user.account, [])
        open_positions = self.exchange.positions(user)
        unrealized = sum((p.unrealized_pnl for p in open_positions), Decimal(0))
        return {
            "event_time": str(self.exchange.venue.now_ms * 1_000_000),
            "sub_account_id": user.sub_account_id,
            "margin_type": "SIMPLE_CROSS_MARGIN",
            "settle_currency": WIRE_QUOTE,
            "unrealized_pnl": fmt(unrealized),
            "total_equity": fmt(bal.total),
            "initial_margin": fmt(margin.margin_used or ZERO),
            "maintenance_margin": fmt((margin.margin_used or ZERO) / 2),
            "available_balance": fmt(bal.available),
            "spot_balances": [
                {"currency": WIRE_QUOTE, "balance": fmt(bal.available), "index_price": "1.0"}
            ],
            "positions": [self.exchange.position(user, p, "rest") for p in open_positions],
            "settle_index_price": "1.0",
            "derisk_margin": "0.0",
            "derisk_to_maintenance_margin_ratio": "0.0",
        }

    def cancel_on_disconnect(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        countdown = as_int(body.get("countdown_time"), "countdown_time")
        self.exchange.arm(user, 1000 if countdown is None else countdown)
        return {"ack": True}


__all__ = ["GrvtRoutes", "read_body"]
