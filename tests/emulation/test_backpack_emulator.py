"""The Backpack loopback emulator, driven by a tiny signed client written from the spec."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest
import websockets
from nacl.signing import SigningKey

from connectors.backpack.emulator import BackpackDialect, backpack_emulator
from connectors.base import Side
from connectors.emulation import EmulatorHarness
from connectors.sim.venue import FlowParams

# -- the test client's own signing (spec 1.2), checked against the spec's vectors ---------


def sign_string(instruction: str, params: dict[str, Any], ts: int, window: int) -> str:
    def text(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    pairs = "&".join(f"{k}={text(params[k])}" for k in sorted(params))
    head = f"instruction={instruction}" + (f"&{pairs}" if pairs else "")
    return f"{head}&timestamp={ts}&window={window}"


def sign(secret: str, message: str) -> str:
    key = SigningKey(base64.b64decode(secret)[:32])
    return base64.b64encode(key.sign(message.encode()).signature).decode()


def make_key(seed_byte: int) -> tuple[str, str]:
    key = SigningKey(bytes([seed_byte]) * 32)
    return (
        base64.b64encode(bytes(key.verify_key)).decode(),
        base64.b64encode(bytes(key)).decode(),
    )


VECTOR_SECRET = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="


def test_signing_helper_matches_spec_vectors() -> None:
    key = SigningKey(base64.b64decode(VECTOR_SECRET))
    assert base64.b64encode(bytes(key.verify_key)).decode() == (
        "ebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ="
    )
    order = {
        "clientId": 42,
        "orderType": "Limit",
        "postOnly": True,
        "price": "150.25",
        "quantity": "0.10",
        "side": "Bid",
        "symbol": "SOL_USDC_PERP",
        "timeInForce": "GTC",
    }
    cases = [
        (
            ("orderExecute", order),
            "kUygIRsoWsDbFB0L6pvxaVBj2XfE6+J60x10fRpGol0HLkpeZY62cRuDI+yc3DfDwjc9B1MyI5ilywAOTwlwCg==",
        ),
        (
            ("orderQueryAll", {"symbol": "SOL_USDC_PERP"}),
            "dJsdUvogA+zUY1hYnZG1WttZy9+1/9/Ph/M1NGo4WZ7JCbak2FfyG+dlGWrdNDPrQ+jTE3n/71h7h/15I/B8Aw==",
        ),
        (
            ("subscribe", {}),
            "EeEAJsW9FNiogaoFQLJmoscjmBj+PRss9pqMot4aJ/2nfF2GFF/577QvAIipKndFDzj+Hh+1DLdOiP9UchcvCA==",
        ),
    ]
    for (instruction, params), expected in cases:
        message = sign_string(instruction, params, 1730000000000, 5000)
        assert sign(VECTOR_SECRET, message) == expected


# -- fixtures -----------------------------------------------------------------------------

ALICE = make_key(7)
BOB = make_key(9)
QUIET = FlowParams(taker_rate=0.0, levels=5, half_spread_bps=3.0)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHarness]:
    with backpack_emulator(
        {ALICE[0]: "alice", BOB[0]: "bob"}, flow=QUIET, step_ms=50, ping_interval_s=5.0
    ) as harness:
        yield harness


class Client:
    def __init__(self, emu: EmulatorHarness, creds: tuple[str, str]) -> None:
        self.emu = emu
        self.key, self.secret = creds
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    async def public(self, path: str, **query: Any) -> Any:
        async with self.session.get(self.emu.base_url + path, params=query) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def signed(
        self,
        method: str,
        path: str,
        instruction: str,
        params: dict[str, Any] | None = None,
        *,
        ts: int | None = None,
        window: int = 5000,
        tamper: bool = False,
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        params = params or {}
        ts = ts if ts is not None else int(time.time() * 1000)
        message = sign_string(instruction, params, ts, window)
        sig = sign(self.secret, message + ("x" if tamper else ""))
        headers = {
            "X-API-Key": self.key,
            "X-Signature": sig,
            "X-Timestamp": str(ts),
            "X-Window": str(window),
        }
        kwargs: dict[str, Any] = {"headers": headers}
        if method == "GET":
            kwargs["params"] = {k: str(v) for k, v in params.items()}
        else:
            kwargs["json"] = params
        async with self.session.request(method, self.emu.base_url + path, **kwargs) as resp:
            body = await resp.json(content_type=None)
            return resp.status, body, resp.headers

    async def place(self, **order: Any) -> tuple[int, Any]:
        status, body, _ = await self.signed("POST", "/api/v1/order", "orderExecute", order)
        return status, body

    def subscribe_signature(self) -> list[str]:
        ts = int(time.time() * 1000)
        return [
            self.key,
            sign(self.secret, sign_string("subscribe", {}, ts, 5000)),
            str(ts),
            "5000",
        ]


@pytest.fixture
async def alice(emu: EmulatorHarness) -> Any:
    client = Client(emu, ALICE)
    yield client
    await client.signed("DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": "BTC_USDC_PERP"})
    await client.signed("DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": "ETH_USDC_PERP"})
    await client.close()


@pytest.fixture
async def bob(emu: EmulatorHarness) -> Any:
    client = Client(emu, BOB)
    yield client
    await client.close()


async def recv(ws: Any, timeout: float = 3.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: Any, pred: Any, timeout: float = 3.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = await recv(ws, max(0.05, deadline - time.monotonic()))
        if pred(msg):
            return msg


# -- REST ---------------------------------------------------------------------------------


async def test_markets_and_ascending_depth(alice: Client) -> None:
    markets = await alice.public("/api/v1/markets")
    by = {m["symbol"]: m for m in markets}
    assert set(by) == {"BTC_USDC_PERP", "ETH_USDC_PERP", "SOL_USDC_PERP"}
    btc = by["BTC_USDC_PERP"]
    assert btc["filters"]["price"]["tickSize"] == "0.1"
    assert btc["filters"]["quantity"]["stepSize"] == "0.001"
    assert btc["marketType"] == "PERP"
    depth = await alice.public("/api/v1/depth", symbol="BTC_USDC_PERP", limit=3)
    bids = [D(p) for p, _ in depth["bids"]]
    asks = [D(p) for p, _ in depth["asks"]]
    assert len(bids) == 3 and len(asks) == 3
    assert bids == sorted(bids) and asks == sorted(asks)  # both ascending: best bid is last
    assert bids[-1] < asks[0]
    assert all(len(p.split(".")[1]) == 1 for p, _ in depth["bids"])  # market decimals
    assert isinstance(depth["lastUpdateId"], str)
    assert await alice.public("/api/v1/status") == {"status": "Ok", "message": None}


async def test_place_partial_fill_cancel(alice: Client, bob: Client) -> None:
    depth = await alice.public("/api/v1/depth", symbol="BTC_USDC_PERP")
    best_bid, best_ask = D(depth["bids"][-1][0]), D(depth["asks"][0][0])
    price = best_bid + D("0.1")
    assert price < best_ask
    status, order = await alice.place(
        symbol="BTC_USDC_PERP",
        side="Bid",
        orderType="Limit",
        quantity="0.010",
        price=str(price),
        postOnly=True,
        clientId=1001,
    )
    assert status == 200, order
    assert order["status"] == "New" and order["clientId"] == 1001 and order["side"] == "Bid"
    assert order["quantity"] == "0.01"  # order objects carry plain decimals (recorded)
    # duplicate live client id
    status, err = await alice.place(
        symbol="BTC_USDC_PERP",
        side="Bid",
        orderType="Limit",
        quantity="0.010",
        price=str(price - 1),
        clientId=1001,
    )
    assert status == 400 and err["code"] == "INVALID_ORDER"
    # bob takes part of it
    status, taker = await bob.place(
        symbol="BTC_USDC_PERP",
        side="Ask",
        orderType="Limit",
        quantity="0.004",
        price=str(price),
        timeInForce="IOC",
    )
    assert status == 200 and taker["status"] == "Filled", taker
    status, found, _ = await alice.signed(
        "GET", "/api/v1/order", "orderQuery", {"symbol": "BTC_USDC_PERP", "clientId": 1001}
    )
    assert status == 200 and found["status"] == "PartiallyFilled"
    assert found["executedQuantity"] == "0.004"
    status, positions, _ = await alice.signed("GET", "/api/v1/position", "positionQuery")
    assert [(p["symbol"], p["netQuantity"]) for p in positions] == [("BTC_USDC_PERP", "0.004")]
    status, fills, _ = await alice.signed(
        "GET", "/wapi/v1/history/fills", "fillHistoryQueryAll", {"symbol": "BTC_USDC_PERP"}
    )
    assert fills[0]["orderId"] == order["id"] and fills[0]["isMaker"] is True
    # cancel by order id, then it is gone from the resting-order query
    status, cancelled, _ = await alice.signed(
        "DELETE",
        "/api/v1/order",
        "orderCancel",
        {"symbol": "BTC_USDC_PERP", "orderId": order["id"]},
    )
    assert status == 200 and cancelled["status"] == "Cancelled"
    status, err, _ = await alice.signed(
        "GET", "/api/v1/order", "orderQuery", {"symbol": "BTC_USDC_PERP", "orderId": order["id"]}
    )
    assert status == 404 and err["code"] == "RESOURCE_NOT_FOUND"
    # flatten so later tests start flat
    status, _ = await alice.place(
        symbol="BTC_USDC_PERP", side="Ask", orderType="Market", quantity="0.004", reduceOnly=True
    )
    assert status == 200


async def test_cancel_all_is_per_symbol(alice: Client) -> None:
    btc = await alice.public("/api/v1/depth", symbol="BTC_USDC_PERP")
    eth = await alice.public("/api/v1/depth", symbol="ETH_USDC_PERP")
    btc_px = D(btc["bids"][0][0]) - 10
    eth_px = D(eth["bids"][0][0]) - 1
    for i in range(2):
        status, _ = await alice.place(
            symbol="BTC_USDC_PERP",
            side="Bid",
            orderType="Limit",
            quantity="0.001",
            price=str(btc_px - i),
        )
        assert status == 200
    status, eth_order = await alice.place(
        symbol="ETH_USDC_PERP", side="Bid", orderType="Limit", quantity="0.01", price=str(eth_px)
    )
    assert status == 200
    status, cancelled, _ = await alice.signed(
        "DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": "BTC_USDC_PERP"}
    )
    assert status == 200 and len(cancelled) == 2
    assert {o["status"] for o in cancelled} == {"Cancelled"}
    status, open_orders, _ = await alice.signed("GET", "/api/v1/orders", "orderQueryAll")
    assert [o["id"] for o in open_orders] == [eth_order["id"]]


async def test_validation_and_post_only_cross(alice: Client) -> None:
    depth = await alice.public("/api/v1/depth", symbol="BTC_USDC_PERP")
    best_ask = D(depth["asks"][0][0])
    base = {"symbol": "BTC_USDC_PERP", "side": "Bid", "orderType": "Limit"}
    # well through the ask: the crowd may move the touch between the two requests
    through = best_ask + 100
    status, err = await alice.place(**base, quantity="0.001", price=str(through), postOnly=True)
    assert (status, err["code"]) == (400, "INVALID_ORDER")
    status, err = await alice.place(**base, quantity="0.001", price=str(best_ask - D("0.05")))
    assert (status, err["code"]) == (400, "INVALID_PRICE")
    status, err = await alice.place(**base, quantity="0.0015", price=str(best_ask - 100))
    assert (status, err["code"]) == (400, "INVALID_QUANTITY")
    status, orders, _ = await alice.signed("GET", "/api/v1/orders", "orderQueryAll")
    assert orders == []


async def test_auth_failures(alice: Client) -> None:
    status, err, _ = await alice.signed("GET", "/api/v1/capital", "balanceQuery", tamper=True)
    assert (status, err["code"]) == (401, "INVALID_SIGNATURE")
    stale = int(time.time() * 1000) - 10_000
    status, err, _ = await alice.signed("GET", "/api/v1/capital", "balanceQuery", ts=stale)
    assert (status, err["code"]) == (400, "INVALID_CLIENT_REQUEST")
    # a signature made for another instruction is a bad signature
    status, err, _ = await alice.signed("GET", "/api/v1/capital", "positionQuery")
    assert status == 401
    status, capital, _ = await alice.signed("GET", "/api/v1/capital", "balanceQuery")
    assert status == 200 and "USDC" in capital


async def test_batch_signature(alice: Client) -> None:
    depth = await alice.public("/api/v1/depth", symbol="ETH_USDC_PERP")
    px = D(depth["bids"][0][0]) - 2
    orders = [
        {
            "symbol": "ETH_USDC_PERP",
            "side": "Bid",
            "orderType": "Limit",
            "quantity": "0.01",
            "price": str(px - i),
            "postOnly": True,
        }
        for i in range(2)
    ]
    ts = int(time.time() * 1000)
    message = (
        "&".join(
            sign_string("orderExecute", o, ts, 5000).rsplit("&timestamp=", 1)[0] for o in orders
        )
        + f"&timestamp={ts}&window=5000"
    )
    headers = {
        "X-API-Key": alice.key,
        "X-Signature": sign(alice.secret, message),
        "X-Timestamp": str(ts),
        "X-Window": "5000",
    }
    async with alice.session.post(
        alice.emu.base_url + "/api/v1/orders", json=orders, headers=headers
    ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert [o["status"] for o in body] == ["New", "New"]


async def test_injected_429_and_5xx(emu: EmulatorHarness, alice: Client) -> None:
    emu.faults.http_errors(2, status=429, retry_after_s=2)
    for _ in range(2):
        async with alice.session.get(emu.base_url + "/api/v1/markets") as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "2"
            assert (await resp.json())["code"] == "TOO_MANY_REQUESTS"
    emu.faults.http_errors(1, status=503)
    async with alice.session.get(emu.base_url + "/api/v1/markets") as resp:
        body = await resp.json()
        # the overload answer Hummingbot's connector recorded (it treats a place as maybe placed)
        assert resp.status == 503 and body["code"] == "SERVICE_UNAVAILABLE"
    assert len(await alice.public("/api/v1/markets")) == 3


async def test_reject_next_order(emu: EmulatorHarness, alice: Client) -> None:
    emu.faults.reject_next_order(ALICE[0], "INSUFFICIENT_MARGIN")
    status, err = await alice.place(
        symbol="BTC_USDC_PERP", side="Bid", orderType="Limit", quantity="0.001", price="1000.0"
    )
    assert (status, err["code"]) == (400, "INSUFFICIENT_MARGIN")


# -- WebSocket -------------------------------------------------------------------------------


async def test_depth_stream_matches_snapshot_and_shows_skipped_ids(
    emu: EmulatorHarness, alice: Client
) -> None:
    sym = "SOL_USDC_PERP"
    async with websockets.connect(emu.ws_url) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [f"depth.{sym}"]}))
        first = await recv(ws)  # the crowd keeps refreshing levels as the mid moves
        assert first["stream"] == f"depth.{sym}" and first["data"]["e"] == "depth"
        snap = await alice.public("/api/v1/depth", symbol=sym, limit=1000)
        last = int(snap["lastUpdateId"])
        book = {("b", p): q for p, q in snap["bids"]} | {("a", p): q for p, q in snap["asks"]}
        prev_u = first["data"]["u"]
        applied = False
        deltas = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(deltas) < 5:
            d = (await recv(ws))["data"]
            assert d["U"] == prev_u + 1  # contiguous
            prev_u = d["u"]
            deltas.append(d)
        for d in [first["data"], *deltas]:
            if d["u"] <= last:
                continue
            if not applied:
                assert d["U"] <= last + 1 <= d["u"]
                applied = True
            for side in ("a", "b"):
                for p, q in d[side]:
                    if D(q) == 0:
                        book.pop((side, p), None)
                    else:
                        book[(side, p)] = q
        emu.pause()
        try:
            await asyncio.sleep(0.1)
            while True:  # drain what was produced before the pause
                try:
                    d = json.loads(await asyncio.wait_for(ws.recv(), 0.2))["data"]
                except TimeoutError:
                    break
                assert d["U"] == prev_u + 1
                prev_u = d["u"]
                for side in ("a", "b"):
                    for p, q in d[side]:
                        if D(q) == 0:
                            book.pop((side, p), None)
                        else:
                            book[(side, p)] = q
            again = await alice.public("/api/v1/depth", symbol=sym, limit=1000)
            assert int(again["lastUpdateId"]) == prev_u
            rebuilt = {("b", p): q for p, q in again["bids"]} | {
                ("a", p): q for p, q in again["asks"]
            }
            assert book == rebuilt
            emu.faults.skip_book_ids(3, sym)
            emu.step()
        finally:
            emu.resume()
        d = await recv_until(ws, lambda m: m["stream"] == f"depth.{sym}")
        assert d["data"]["U"] == prev_u + 1 + 3  # the gap a connector must detect


async def test_book_ticker_trade_and_private_streams(
    emu: EmulatorHarness, alice: Client, bob: Client
) -> None:
    sym = "ETH_USDC_PERP"
    async with websockets.connect(emu.ws_url) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["account.orderUpdate"]}))
        err = await recv(ws)
        assert err == {"id": None, "error": {"code": 4001, "message": "Missing signature"}}
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["depth.NOPE_USDC_PERP"]}))
        err = await recv(ws)
        assert err["id"] is None and err["error"]["code"] == 4006
        await ws.send(
            json.dumps(
                {
                    "method": "SUBSCRIBE",
                    "params": [
                        f"bookTicker.{sym}",
                        f"trade.{sym}",
                        "account.orderUpdate",
                        f"account.positionUpdate.{sym}",
                    ],
                    "signature": alice.subscribe_signature(),
                }
            )
        )
        await asyncio.sleep(0.1)
        depth = await alice.public("/api/v1/depth", symbol=sym)
        price = D(depth["bids"][-1][0]) + D("0.01")
        status, order = await alice.place(
            symbol=sym,
            side="Bid",
            orderType="Limit",
            quantity="0.05",
            price=str(price),
            clientId=77,
        )
        assert status == 200, order
        accepted = await recv_until(ws, lambda m: m["stream"] == "account.orderUpdate")
        assert accepted["data"]["e"] == "orderAccepted" and accepted["data"]["c"] == 77
        assert accepted["data"]["i"] == order["id"] and accepted["data"]["S"] == "Bid"
        bt = await recv_until(
            ws, lambda m: m["stream"] == f"bookTicker.{sym}" and D(m["data"]["b"]) == price
        )
        assert bt["data"]["B"] == "0.05"
        status, _ = await bob.place(
            symbol=sym,
            side="Ask",
            orderType="Limit",
            quantity="0.02",
            price=str(price),
            timeInForce="IOC",
        )
        assert status == 200
        fill = await recv_until(ws, lambda m: m["data"].get("e") == "orderFill")
        assert fill["data"]["l"] == "0.02" and fill["data"]["X"] == "PartiallyFilled"
        assert fill["data"]["m"] is True
        seen: dict[str, dict[str, Any]] = {}
        want = {f"account.positionUpdate.{sym}", f"trade.{sym}"}
        while not want <= set(seen):
            msg = await recv(ws)
            seen.setdefault(msg["stream"], msg)
        pos = seen[f"account.positionUpdate.{sym}"]
        assert pos["data"]["e"] == "positionOpened" and pos["data"]["q"] == "0.02"
        trade = seen[f"trade.{sym}"]
        assert trade["data"]["p"] == str(price) and trade["data"]["t"] == fill["data"]["t"]
        # a second connection gets the position snapshot without "e"
        async with websockets.connect(emu.ws_url) as ws2:
            await ws2.send(
                json.dumps(
                    {
                        "method": "SUBSCRIBE",
                        "params": ["account.positionUpdate"],
                        "signature": alice.subscribe_signature(),
                    }
                )
            )
            snap = await recv(ws2)
            assert "e" not in snap["data"] and snap["data"]["q"] == "0.02"
        status, _ = await alice.place(
            symbol=sym, side="Ask", orderType="Market", quantity="0.02", reduceOnly=True
        )
        assert status == 200


async def test_close_sockets_drops_clients(emu: EmulatorHarness) -> None:
    async with websockets.connect(emu.ws_url) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["depth.BTC_USDC_PERP"]}))
        await recv(ws)
        assert emu.faults.close_sockets() >= 1
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 3)
    async with websockets.connect(emu.ws_url) as ws:  # the server still accepts new ones
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["depth.BTC_USDC_PERP"]}))
        await recv(ws)
        assert emu.faults.close_sockets(abrupt=True) >= 1
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 3)


# -- the recorded forms, history, and the kit's faults ------------------------------------


async def test_history_pages_with_the_venue_headers(emu: EmulatorHarness, alice: Client) -> None:
    sym = "SOL_USDC_PERP"
    depth = await alice.public("/api/v1/depth", symbol=sym)
    px = D(depth["bids"][0][0]) - 1
    ids = []
    for i in range(3):
        status, order = await alice.place(
            symbol=sym, side="Bid", orderType="Limit", quantity="0.01", price=str(px - i)
        )
        assert status == 200
        ids.append(order["id"])
        await alice.signed(
            "DELETE", "/api/v1/order", "orderCancel", {"symbol": sym, "orderId": order["id"]}
        )
    params = {"symbol": sym, "limit": 2, "offset": 0}
    status, newest, headers = await alice.signed(
        "GET", "/wapi/v1/history/orders", "orderHistoryQueryAll", params
    )
    assert status == 200 and [o["id"] for o in newest] == ids[::-1][:2]  # newest first
    total = int(headers["X-Total"])
    assert total >= 3 and headers["X-Page-Size"] == "2" and headers["X-Current-Page"] == "1"
    assert int(headers["X-Page-Count"]) == (total + 1) // 2
    created = newest[0]["createdAt"]
    assert isinstance(created, str) and len(created) == 23 and "T" in created  # naive, ms
    status, oldest, _ = await alice.signed(
        "GET",
        "/wapi/v1/history/orders",
        "orderHistoryQueryAll",
        params | {"sortDirection": "Asc", "offset": total - 1},
    )
    assert [o["id"] for o in oldest] == [ids[-1]]


async def test_duplicate_client_ids_refused_unless_the_fault_books_them(
    emu: EmulatorHarness, alice: Client
) -> None:
    sym = "ETH_USDC_PERP"
    depth = await alice.public("/api/v1/depth", symbol=sym)
    px = D(depth["bids"][0][0]) - 2
    order = {"symbol": sym, "side": "Bid", "orderType": "Limit", "quantity": "0.01"}
    status, first = await alice.place(**order, price=str(px), clientId=4242)
    assert status == 200
    status, err = await alice.place(**order, price=str(px - 1), clientId=4242)
    assert (status, err) == (
        400,
        {"code": "INVALID_ORDER", "message": "Order with client ID already exists: 4242"},
    )
    emu.faults.book_duplicate_client_ids(ALICE[0])
    try:
        status, second = await alice.place(**order, price=str(px - 1), clientId=4242)
        assert status == 200 and second["id"] != first["id"]
        status, listed, _ = await alice.signed("GET", "/api/v1/orders", "orderQueryAll")
        assert sorted(o["id"] for o in listed if o["clientId"] == 4242) == sorted(
            [first["id"], second["id"]]
        )
        # by order id, the older one goes; by client id, the newer
        status, gone, _ = await alice.signed(
            "DELETE", "/api/v1/order", "orderCancel", {"symbol": sym, "orderId": first["id"]}
        )
        assert status == 200 and gone["id"] == first["id"] and gone["status"] == "Cancelled"
        status, found, _ = await alice.signed(
            "GET", "/api/v1/order", "orderQuery", {"symbol": sym, "clientId": 4242}
        )
        assert found["id"] == second["id"]
    finally:
        emu.faults.book_duplicate_client_ids(ALICE[0], on=False)


async def test_a_dropped_order_is_answered_as_accepted_and_then_unknown(
    emu: EmulatorHarness, alice: Client
) -> None:
    sym = "BTC_USDC_PERP"
    depth = await alice.public("/api/v1/depth", symbol=sym)
    px = D(depth["bids"][0][0]) - 50
    emu.faults.drop_next_order(ALICE[0])
    status, order = await alice.place(
        symbol=sym, side="Bid", orderType="Limit", quantity="0.001", price=str(px), clientId=777
    )
    assert status == 200 and order["status"] == "New" and order["clientId"] == 777
    status, err, _ = await alice.signed(
        "GET", "/api/v1/order", "orderQuery", {"symbol": sym, "clientId": 777}
    )
    assert status == 404 and err["code"] == "RESOURCE_NOT_FOUND"
    status, hist, _ = await alice.signed(
        "GET", "/wapi/v1/history/orders", "orderHistoryQueryAll", {"symbol": sym}
    )
    assert all(o["id"] != order["id"] for o in hist)


async def test_private_frames_raw_pushes_and_a_liquidation_in_the_recorded_form(
    emu: EmulatorHarness, alice: Client
) -> None:
    async with websockets.connect(emu.ws_url) as ws:
        await ws.send(
            json.dumps(
                {
                    "method": "SUBSCRIBE",
                    "params": ["account.orderUpdate"],
                    "signature": alice.subscribe_signature(),
                }
            )
        )
        dialect = emu.dialect
        assert isinstance(dialect, BackpackDialect)
        await asyncio.sleep(0.1)
        assert emu.call(lambda: dialect.push_raw("alice", "{not json")) == 1
        assert await asyncio.wait_for(ws.recv(), 3) == "{not json"
        emu.faults.liquidate(ALICE[0], "SOL-PERP", Side.SELL, D("0.01"), D("120"))
        msg = await recv_until(ws, lambda m: m["data"].get("e") == "orderFill")
        data = msg["data"]
        assert "c" not in data and data["O"] == "LIQUIDATION_AUTOCLOSE"
        assert (data["S"], data["l"], data["L"], data["X"]) == ("Ask", "0.01", "120.00", "Filled")
        assert isinstance(data["E"], int) and isinstance(data["t"], int)
    status, fills, _ = await alice.signed(
        "GET", "/wapi/v1/history/fills", "fillHistoryQueryAll", {"symbol": "SOL_USDC_PERP"}
    )
    (liq,) = [f for f in fills if f.get("systemOrderType")]
    assert "clientId" not in liq and liq["tradeId"] == data["t"] and liq["orderId"] == data["i"]
    status, _ = await alice.place(
        symbol="SOL_USDC_PERP", side="Bid", orderType="Market", quantity="0.01", reduceOnly=True
    )
    assert status == 200


async def test_a_size_below_the_minimum_is_an_invalid_quantity(alice: Client) -> None:
    status, err = await alice.place(
        symbol="BTC_USDC_PERP", side="Bid", orderType="Limit", quantity="0.000", price="1000.0"
    )
    assert (status, err["code"]) == (400, "INVALID_QUANTITY")
