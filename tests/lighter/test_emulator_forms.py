"""The Lighter emulator speaks the recorded forms: every field a recorded payload
(tests/fixtures/venues/lighter/) has, the emulator's answer has too, with the same JSON
type (a decimal string stays a string, a number a number). Extra fields the emulator adds
are the SDK 1.1.8 models' (listed, so a new one is a decision)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from lighter.signer_client import SignerClient

from connectors.base import OrderRequest, Side, TimeInForce
from connectors.emulation.harness import EmulatorHarness
from connectors.lighter.emulator import LighterKey, lighter_emulator
from connectors.sim.venue import FlowParams
from mmtui.emulate import new_lighter_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "venues" / "lighter"
ACCOUNT, KEY = 1234, 3
ETH = 0

EXTRAS: dict[str, set[str]] = {
    "order": {"order_flags", "order_version", "market_symbol", "market_kind"},
    "trade": {"taker_fee"},  # recentTrades' recorded taker paid none: left out when zero
    "account": {"positions", "assets"},
}
"""Fields the emulator sends that a recording lacks (the SDK 1.1.8 models have them)."""


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def differences(want: Any, got: Any, path: str = "$") -> list[str]:
    """Where ``got`` lacks a field of ``want`` or has another JSON type."""
    if want is None:
        return []  # a recorded null says nothing about the type
    if kind(want) != kind(got):
        return [f"{path}: recorded {kind(want)} {want!r}, emulator {kind(got)} {got!r}"]
    out: list[str] = []
    if isinstance(want, dict):
        for key, value in want.items():
            if key not in got:
                out.append(f"{path}.{key}: missing")
            else:
                out.extend(differences(value, got[key], f"{path}.{key}"))
    elif isinstance(want, list) and want and got:
        out.extend(differences(want[0], got[0], f"{path}[0]"))
    return out


def same_form(want: Any, got: Any, extras: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    assert differences(want, got) == []
    if isinstance(want, dict) and isinstance(got, dict):
        assert set(got) - set(want) <= extras, set(got) - set(want)


@pytest.fixture
async def emu() -> AsyncIterator[tuple[EmulatorHarness, SignerClient]]:
    private, public = await asyncio.to_thread(new_lighter_key)
    key = LighterKey(ACCOUNT, KEY, public.removeprefix("0x"), "me")
    harness = await asyncio.to_thread(
        lambda: lighter_emulator([key], flow=FlowParams(taker_rate=0.0)).start()
    )
    signer = SignerClient(
        url=harness.base_url, account_index=ACCOUNT, api_private_keys={KEY: private}
    )
    try:
        yield harness, signer
    finally:
        await signer.close()
        await asyncio.to_thread(harness.stop)


async def frames_until(
    ws: Any, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), max(0.05, end - time.monotonic())))
        if pred(msg):
            return msg


async def test_rest_and_stream_forms_match_the_recordings(
    emu: tuple[EmulatorHarness, SignerClient],
) -> None:
    harness, signer = emu
    harness.pause()  # a still book: our ask stays the touch until taken
    token, err = signer.create_auth_token_with_expiry(600, api_key_index=KEY)
    assert err is None
    auth = {"Authorization": token}
    base = f"{harness.base_url}/api/v1"
    async with aiohttp.ClientSession() as http, websockets.connect(harness.ws_url) as ws:

        async def get(path: str, **params: Any) -> Any:
            async with http.get(f"{base}/{path}", params=params, headers=auth) as resp:
                assert resp.status == 200, await resp.text()
                return await resp.json()

        await frames_until(ws, lambda m: m.get("type") == "connected")
        for channel, private in (
            (f"order_book/{ETH}", False),
            (f"trade/{ETH}", False),
            (f"account_orders/{ETH}/{ACCOUNT}", True),
            (f"account_all_trades/{ACCOUNT}", True),
            (f"account_all_positions/{ACCOUNT}", True),
        ):
            sub: dict[str, Any] = {"type": "subscribe", "channel": channel}
            if private:
                sub["auth"] = token
            await ws.send(json.dumps(sub))
        snapshot = await frames_until(ws, lambda m: m.get("type") == "subscribed/order_book")
        same_form(recorded("ws_order_book_subscribed.json"), snapshot)
        assert snapshot["order_book"]["begin_nonce"] == 0

        # our ask inside the spread; another trader takes part of it
        bids, asks, _ = harness.call(lambda: harness.venue.snapshot("ETH-PERP", 1))
        inside = (bids[0][0] + asks[0][0]) // 2
        _, resp, err = await signer.create_order(
            ETH, 42, 5, inside, True, signer.ORDER_TYPE_LIMIT, signer.ORDER_TIME_IN_FORCE_POST_ONLY
        )
        assert err is None and resp.code == 200
        await frames_until(ws, lambda m: m.get("type") == "update/account_orders")
        price = Decimal(inside) / 100
        take = OrderRequest(
            "t1", "ETH-PERP", Side.BUY, Decimal("0.02"), price=price, time_in_force=TimeInForce.IOC
        )
        harness.call(lambda: harness.venue.submit("other", take))
        harness.step()  # the book's change goes out as an update
        got: dict[str, dict[str, Any]] = {}
        want = {
            "update/order_book",
            "update/trade",
            "update/account_orders",
            "update/account_all_trades",
            "update/account_all_positions",
        }
        while not want <= set(got):
            msg = await frames_until(ws, lambda m: m.get("type") in want)
            got.setdefault(msg["type"], msg)

        same_form(recorded("ws_order_book_update.json"), got["update/order_book"])
        same_form(recorded("ws_trade_update.json"), got["update/trade"])
        orders = recorded("ws_account_orders_update.json")
        mine = got["update/account_orders"]
        same_form(orders, mine)
        same_form(orders["orders"]["0"][0], mine["orders"]["0"][0], EXTRAS["order"])
        trades = recorded("ws_account_all_trades_update.json")
        same_form(trades, got["update/account_all_trades"])
        positions = recorded("ws_account_all_positions_update.json")
        same_form(positions, got["update/account_all_positions"])
        assert got["update/account_all_positions"]["positions"]["0"]["sign"] == -1

        await ws.send(json.dumps({"type": "unsubscribe", "channel": f"trade/{ETH}"}))
        await ws.send(json.dumps({"type": "subscribe", "channel": f"trade/{ETH}"}))
        trade_snapshot = await frames_until(ws, lambda m: m.get("type") == "subscribed/trade")
        same_form(recorded("ws_trade_subscribed.json"), trade_snapshot)

        same_form(
            recorded("http_order_books.json")["order_books"][0],
            (await get("orderBooks"))["order_books"][0],
        )
        same_form(
            recorded("http_order_book_details.json")["order_book_details"][0],
            (await get("orderBookDetails", market_id=ETH))["order_book_details"][0],
        )
        same_form(
            recorded("http_order_book_orders.json"),
            await get("orderBookOrders", market_id=ETH, limit=5),
        )
        account = (await get("account", by="index", value=ACCOUNT))["accounts"][0]
        rec_account = recorded("http_account.json")["accounts"][0]
        same_form(rec_account, account)
        rest_trades = await get("trades", sort_by="timestamp", limit=10, account_index=ACCOUNT)
        rec_trade = recorded("http_recent_trades.json")["trades"][0]
        same_form(rec_trade, rest_trades["trades"][0], EXTRAS["trade"])
        recent = await get("recentTrades", market_id=ETH, limit=10)
        same_form(recorded("http_recent_trades.json"), recent)
        active = await get("accountActiveOrders", account_index=ACCOUNT, market_id=ETH)
        same_form(recorded("http_orders.json")["orders"][0], active["orders"][0], EXTRAS["order"])
