"""REST client against a throw-away aiohttp server on 127.0.0.1: signing, error mapping."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from connectors.backpack.connector import BackpackConnector
from connectors.backpack.keys import BackpackKeys
from connectors.backpack.rest import INSTRUCTIONS, BackpackRest
from connectors.backpack.signing import batch_signing_string, signing_string
from connectors.base import ErrorCode, OrderRequest, OrderStatus, RateLimited, Side, VenueError

from .test_payload import MARKET
from .test_signing import SECRET

KEYS = BackpackKeys(SECRET)


def _verify(request: web.Request, params: Any) -> None:
    instruction = INSTRUCTIONS[(request.method, request.path)]
    ts, window = int(request.headers["X-Timestamp"]), int(request.headers["X-Window"])
    if isinstance(params, list):
        string = batch_signing_string(instruction, params, ts, window)
    else:
        string = signing_string(instruction, params, ts, window)
    try:
        VerifyKey(base64.b64decode(request.headers["X-API-Key"])).verify(
            string.encode(), base64.b64decode(request.headers["X-Signature"])
        )
    except BadSignatureError:
        raise web.HTTPUnauthorized(
            text='{"code":"INVALID_SIGNATURE","message":"bad"}', content_type="application/json"
        ) from None


class Server:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.fail: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = {}
        self.slow = 0.0
        self.time_asked = 0
        self.accept_cancels = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.method} {request.path}"
        if key in self.fail:
            status, body, headers = self.fail[key]
            return web.json_response(body, status=status, headers=headers)
        if self.slow:
            await asyncio.sleep(self.slow)
        if request.path == "/api/v1/markets":
            return web.json_response([MARKET])
        if request.path == "/api/v1/ping":
            return web.Response(text="pong")
        if request.path == "/api/v1/time":
            self.time_asked += 1
            return web.Response(text=str(int(time.time() * 1000) + 3000))  # venue 3 s ahead
        if key == "DELETE /api/v1/order" and self.accept_cancels:
            self.accept_cancels -= 1
            return web.Response(status=202)  # "accepted but not yet executed" (docs)
        if request.method == "GET":
            params: Any = dict(request.query)
        else:
            params = orjson.loads(await request.read())
            # booleans are real JSON booleans, numbers are decimal strings
            items = params if isinstance(params, list) else [params]
            for item in items:
                for k, v in item.items():
                    assert not isinstance(v, float), (k, v)
        _verify(request, params)
        self.seen.append((request.method, request.path, params))
        if key == "POST /api/v1/order":
            return web.json_response(
                {
                    "id": "4228978331",
                    "clientId": params["clientId"],
                    "status": "New",
                    "symbol": params["symbol"],
                }
            )
        if key == "DELETE /api/v1/order":
            return web.json_response(
                {
                    "id": "4228978331",
                    "clientId": params.get("clientId"),
                    "status": "Cancelled",
                    "symbol": params["symbol"],
                    "quantity": "0.10",
                    "executedQuantity": "0",
                }
            )
        if key == "GET /api/v1/orders":
            return web.json_response(
                [
                    {
                        "id": "1",
                        "clientId": 42,
                        "symbol": "SOL_USDC_PERP",
                        "side": "Ask",
                        "orderType": "Limit",
                        "price": "151.00",
                        "quantity": "1.00",
                        "executedQuantity": "0.25",
                        "postOnly": True,
                        "reduceOnly": None,
                        "status": "PartiallyFilled",
                    }
                ]
            )
        if key == "GET /api/v1/position":
            return web.json_response(
                [
                    {
                        "symbol": "SOL_USDC_PERP",
                        "netQuantity": "-0.50",
                        "entryPrice": "150.10",
                        "pnlUnrealized": "0.3",
                        "pnlRealized": "-1",
                    },
                    {"symbol": "BTC_USDC_PERP", "netQuantity": "0", "entryPrice": "0"},
                ]
            )
        if key == "GET /api/v1/capital":
            return web.json_response({"USDC": {"available": "120", "locked": "5", "staked": "0"}})
        return web.json_response({})


@contextlib.asynccontextmanager
async def loopback(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 answering every path with ``handle``; yields its URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    srv = Server()
    async with loopback(srv.handle) as url:
        yield srv, url


async def test_public_and_signed_calls(server: tuple[Server, str]) -> None:
    srv, url = server
    rest = BackpackRest(url, KEYS)
    try:
        assert (await rest.public("/api/v1/markets"))[0]["symbol"] == "SOL_USDC_PERP"
        assert await rest.public("/api/v1/ping") == "pong"
        await rest.signed("GET", "/api/v1/orders", params={"symbol": "SOL_USDC_PERP"})
        await rest.signed("DELETE", "/api/v1/orders", body={"symbol": "SOL_USDC_PERP"})
        await rest.signed("POST", "/api/v1/orders", body=[{"symbol": "S", "postOnly": True}])
        assert [s[:2] for s in srv.seen] == [
            ("GET", "/api/v1/orders"),
            ("DELETE", "/api/v1/orders"),
            ("POST", "/api/v1/orders"),
        ]
        assert rest.latency_ms is not None
        bad = BackpackRest(url, BackpackKeys(base64.b64encode(bytes(range(32))).decode()))
        bad.keys._signing_key = BackpackKeys(SECRET)._signing_key  # type: ignore[union-attr]
        with pytest.raises(VenueError) as info:  # key and signature disagree -> 401
            await bad.signed("GET", "/api/v1/orders")
        assert info.value.code == ErrorCode.AUTH and not info.value.retryable
        assert info.value.venue_code == "INVALID_SIGNATURE"
        await bad.close()
    finally:
        await rest.close()


async def test_error_mapping(server: tuple[Server, str]) -> None:
    srv, url = server
    rest = BackpackRest(url, KEYS, timeout_s=0.3)
    try:
        srv.fail["GET /api/v1/capital"] = (
            429,
            {"code": "TOO_MANY_REQUESTS", "message": "slow down"},
            {"Retry-After": "2"},
        )
        with pytest.raises(RateLimited) as rl:
            await rest.signed("GET", "/api/v1/capital")
        assert rl.value.retry_after == 2.0 and rl.value.retryable
        srv.fail["GET /api/v1/capital"] = (503, {"code": "MAINTENANCE", "message": "m"}, {})
        with pytest.raises(VenueError) as e5:
            await rest.signed("GET", "/api/v1/capital")
        assert e5.value.retryable and e5.value.code == ErrorCode.SERVER_ERROR
        assert e5.value.venue_code == "MAINTENANCE" and not e5.value.outcome_unknown
        # Hummingbot's recorded overload answer to a place: the order may exist
        srv.fail["POST /api/v1/order"] = (
            503,
            {"code": "SERVICE_UNAVAILABLE", "message": "Unknown error, please check ..."},
            {},
        )
        with pytest.raises(VenueError) as e503:
            await rest.signed("POST", "/api/v1/order", body={"symbol": "SOL_USDC_PERP"})
        assert e503.value.outcome_unknown and e503.value.code == ErrorCode.SERVER_ERROR
        # a refused duplicate client id is the generic INVALID_ORDER (recorded in ccxt)
        srv.fail["POST /api/v1/order"] = (
            400,
            {"code": "INVALID_ORDER", "message": "Order with client ID already exists: 42"},
            {},
        )
        with pytest.raises(VenueError) as edup:
            await rest.signed("POST", "/api/v1/order", body={"symbol": "SOL_USDC_PERP"})
        assert edup.value.code == ErrorCode.INVALID_ORDER and not edup.value.outcome_unknown
        srv.fail["GET /api/v1/capital"] = (400, {"code": "INVALID_QUANTITY", "message": "x"}, {})
        with pytest.raises(VenueError) as e4:
            await rest.signed("GET", "/api/v1/capital")
        assert not e4.value.retryable and e4.value.code == ErrorCode.INVALID_SIZE
        del srv.fail["GET /api/v1/capital"]
        srv.slow = 1.0
        with pytest.raises(VenueError) as et:
            await rest.signed("GET", "/api/v1/capital")
        assert et.value.retryable and et.value.code == ErrorCode.TIMEOUT
    finally:
        await rest.close()
    closed = BackpackRest("http://127.0.0.1:1", KEYS)
    with pytest.raises(VenueError) as en:
        await closed.public("/api/v1/markets")
    assert en.value.retryable and en.value.code == ErrorCode.NETWORK
    await closed.close()
    with pytest.raises(VenueError, match="needs API keys"):
        await BackpackRest(url).signed("GET", "/api/v1/capital")


async def test_connector_calls(server: tuple[Server, str]) -> None:
    srv, url = server
    c = BackpackConnector(url, "ws://127.0.0.1:1/", KEYS)
    try:
        insts = await c.instruments()
        assert insts["SOL_USDC_PERP"].tick_size == Decimal("0.01")
        req = OrderRequest(
            "mmab12c-3",
            "SOL_USDC_PERP",
            Side.BUY,
            Decimal("0.1"),
            price=Decimal("150.25"),
            post_only=True,
        )
        ack = await c.place(req)
        assert ack == type(ack)("mmab12c-3", "4228978331", OrderStatus.OPEN)
        sent = srv.seen[-1][2]
        assert sent["quantity"] == "0.10" and sent["postOnly"] is True
        assert c.client_ids.from_venue(sent["clientId"]) == "mmab12c-3"
        assert await c.cancel("SOL_USDC_PERP", "mmab12c-3")
        assert srv.seen[-1][2] == {"symbol": "SOL_USDC_PERP", "clientId": sent["clientId"]}
        srv.fail["DELETE /api/v1/order"] = (
            404,
            {"code": "RESOURCE_NOT_FOUND", "message": "gone"},
            {},
        )
        assert not await c.cancel("SOL_USDC_PERP", "mmab12c-3")
        del srv.fail["DELETE /api/v1/order"]
        srv.accept_cancels = 1
        assert await c.cancel("SOL_USDC_PERP", "mmab12c-3")  # 202, no body: taken
        (o,) = await c.open_orders("SOL_USDC_PERP")
        assert (o.client_id, o.side, o.price, o.remaining_size, o.post_only) == (
            "42",  # another tool's id: reported raw, never claimed
            Side.SELL,
            Decimal("151.00"),
            Decimal("0.75"),
            True,
        )
        assert o.venue_client_id == "42"
        assert srv.time_asked == 1 and 2000 < c.rest.offset_ms < 4000  # signs on venue time
        (p,) = await c.positions()
        assert p.size == Decimal("-0.50") and p.entry_price == Decimal("150.10")
        (b,) = await c.balances()
        assert (b.asset, b.total, b.available) == ("USDC", Decimal(125), Decimal(120))
        with pytest.raises(VenueError) as bad:
            await c.place(
                OrderRequest("weird", "SOL_USDC_PERP", Side.BUY, Decimal("1"), price=Decimal("1"))
            )
        assert bad.value.code == ErrorCode.INVALID_CLIENT_ID
    finally:
        await c.close()
