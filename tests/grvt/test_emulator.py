"""The GRVT emulator's dialect seen raw: login cookie, error envelope and codes,
WebSocket subscribe formats and the private-stream gate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.exceptions import InvalidStatusCode

from connectors.emulation.harness import EmulatorHarness
from connectors.grvt.emulator import Credentials, new_credentials
from tests.grvt.conftest import BTC, start_emulator


@pytest.fixture
async def emu() -> AsyncIterator[tuple[EmulatorHarness, Credentials]]:
    creds = new_credentials()
    harness = await asyncio.to_thread(start_emulator, creds)
    try:
        yield harness, creds
    finally:
        await asyncio.to_thread(harness.stop)


async def _login(s: aiohttp.ClientSession, base: str, api_key: str) -> tuple[int, Any]:
    async with s.post(f"{base}/auth/api_key/login", json={"api_key": api_key}) as r:
        return r.status, r.headers


async def test_login_sets_a_cookie_the_sdk_can_parse(emu: Any) -> None:
    harness, creds = emu
    async with aiohttp.ClientSession() as s:
        status, headers = await _login(s, harness.base_url, creds.api_key)
        assert status == 200 and headers["X-Grvt-Account-Id"].startswith("0x")
        from http.cookies import SimpleCookie

        cookie = SimpleCookie()
        cookie.load(headers["Set-Cookie"])
        # the exact parse grvt-pysdk does
        datetime.strptime(cookie["gravity"]["expires"], "%a, %d %b %Y %H:%M:%S %Z")
        status, _ = await _login(s, harness.base_url, "nope")
        assert status == 401


def _order(creds: Credentials, **kw: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "sub_account_id": creds.sub_account_id,
        "is_market": False,
        "time_in_force": "GOOD_TILL_TIME",
        "post_only": True,
        "reduce_only": False,
        "legs": [
            {"instrument": BTC, "size": "0.01", "limit_price": "50000.1", "is_buying_asset": True}
        ],
        "signature": {
            "r": "0x" + "1" * 64,
            "s": "0x" + "1" * 64,
            "v": 27,
            "expiration": "1",
            "nonce": 1,
            "signer": creds.address,
        },
        "metadata": {"client_order_id": str(2**63 + 1)},
    }
    for key, value in kw.items():
        if key in ("size", "limit_price"):
            order["legs"][0][key] = value
        else:
            order[key] = value
    return order


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"time_in_force": "IMMEDIATE_OR_CANCEL"}, 2032),
        ({"limit_price": "50000.15"}, 2064),
        ({"size": "0.0105"}, 2065),
        ({"size": "0.0001"}, 2062),
        ({"metadata": {}}, 2011),
        ({"is_market": True, "time_in_force": "IMMEDIATE_OR_CANCEL", "post_only": False}, 2020),
        ({"order_id": "0x01"}, 2010),
        ({"legs": []}, 2042),
        ({}, 2001),  # expiration "1": long past
    ],
)
async def test_create_order_errors_use_grvt_codes(emu: Any, change: dict, code: int) -> None:
    harness, creds = emu
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        _, headers = await _login(s, harness.base_url, creds.api_key)
        acct = {"X-Grvt-Account-Id": headers["X-Grvt-Account-Id"]}
        body = {"order": _order(creds, **change)}
        async with s.post(f"{harness.base_url}/full/v1/create_order", json=body, headers=acct) as r:
            answer = await r.json()
    assert answer["code"] == code, answer
    assert set(answer) == {"code", "message", "status"} and answer["status"] == r.status


async def test_trade_data_needs_the_session(emu: Any) -> None:
    harness, creds = emu
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            f"{harness.base_url}/full/v1/open_orders",
            json={"sub_account_id": creds.sub_account_id},
        ) as r,
    ):
        assert r.status == 401 and (await r.json())["code"] == 1000


async def test_websocket_formats_and_the_private_gate(emu: Any) -> None:
    harness, creds = emu
    base = harness.ws_url
    async with websockets.connect(base + "/full") as ws:  # JSON-RPC flavour
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "subscribe",
                    "id": 3,
                    "params": {"stream": "v1.book.d", "selectors": [f"{BTC}@100"]},
                }
            )
        )
        ack = json.loads(await ws.recv())
        assert ack["id"] == 3 and ack["result"]["subs"] == [f"{BTC}@100"]
        snap = json.loads(await ws.recv())
        assert snap["sequence_number"] == "0" and snap["feed"]["bids"]
    async with websockets.connect(base) as ws:  # legacy flavour, no cookie
        await ws.send(
            json.dumps(
                {
                    "request_id": 1,
                    "stream": "v1.order",
                    "method": "subscribe",
                    "feed": [creds.sub_account_id],
                    "is_full": True,
                }
            )
        )
        err = json.loads(await ws.recv())
        assert (err["request_id"], err["code"]) == (1, 1000)
        await ws.send(
            json.dumps(
                {
                    "request_id": 2,
                    "stream": "v1.nope",
                    "method": "subscribe",
                    "feed": ["x"],
                    "is_full": True,
                }
            )
        )
        assert json.loads(await ws.recv())["code"] == 3000
    with pytest.raises(InvalidStatusCode) as info:
        async with websockets.connect(base, extra_headers={"Cookie": "gravity=stale"}):
            pass
    assert info.value.status_code == 401
