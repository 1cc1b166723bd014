"""The GRVT emulator answers in the forms GRVT was recorded sending: every REST answer
and stream frame has the recorded fields with the recorded JSON types (strings vs
numbers, fields present or absent), and the book stream is numbered like the
gateway. Recordings: tests/fixtures/venues/grvt/README.md."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import websockets

from connectors.base import OrderRequest, Side
from tests.grvt.conftest import BTC, ETH, Rig, until
from tests.grvt.test_recorded import RECORDED

SOL = "SOL_USDT_Perp"


def shape(x: Any) -> Any:
    """Field names and JSON types, recursively (a list by its first entry)."""
    if isinstance(x, dict):
        return {k: shape(v) for k, v in x.items()}
    if isinstance(x, list):
        return [shape(x[0])] if x else []
    return type(x).__name__


def spy(rig: Rig) -> dict[str, Any]:
    """The raw answers of the connector's private calls, by endpoint."""
    seen: dict[str, Any] = {}
    private = rig.conn.rest.private

    async def recording(endpoint: str, body: Any, **kw: Any) -> Any:
        answer = await private(endpoint, body, **kw)
        seen.setdefault(endpoint, []).append(answer)
        return answer

    rig.conn.rest.private = recording  # type: ignore[method-assign]
    return seen


@asynccontextmanager
async def stream(rig: Rig, private: bool) -> AsyncIterator[tuple[Any, list[dict[str, Any]]]]:
    headers = await rig.conn.rest.auth_headers() if private else None
    frames: list[dict[str, Any]] = []
    async with websockets.connect(rig.harness.ws_url + "/full", extra_headers=headers) as ws:

        async def read() -> None:
            async for raw in ws:
                frames.append(json.loads(raw))

        reader = asyncio.create_task(read())
        try:
            yield ws, frames
        finally:
            reader.cancel()


async def subscribe(ws: Any, rid: int, stream_name: str, selector: str) -> None:
    params = {"stream": stream_name, "selectors": [selector]}
    await ws.send(
        json.dumps({"jsonrpc": "2.0", "method": "subscribe", "params": params, "id": rid})
    )


def pushes(frames: list[dict[str, Any]], stream_name: str) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("stream") == stream_name and "feed" in f]


async def test_rest_answers_have_the_recorded_forms(rig: Rig) -> None:
    seen = spy(rig)
    conn = rig.conn
    rig.harness.pause()
    try:
        bid, ask, tick = rig.touch(BTC)
        price = ((bid + ask) / 2 / tick).to_integral_value() * tick
        await conn.place(OrderRequest("mmforms-1", BTC, Side.BUY, Decimal("0.002"), price=price))
        await until(lambda: len(rig.venue_orders()) == 1, what="resting")
        await conn.open_orders()
        await conn.lookup_order(BTC, "mmforms-1")
        rig.take(BTC, Side.SELL, "0.001", price, "t1")
        await until(lambda: bool(rig.fills("mmforms-1")), what="a fill")
        await conn.fills_since(0)
        await conn.positions()
        await conn.cancel(BTC, "mmforms-1")
        assert await conn.lookup_order(BTC, "mmforms-404") is None  # -> order_history
    finally:
        rig.harness.resume()
    recorded = RECORDED
    assert shape(seen["create_order"][0]) == shape(recorded["create_order"])
    assert seen["create_order"][0]["result"]["order_id"] == "0x00"
    assert shape(seen["open_orders"][0]) == shape(recorded["open_orders"])
    assert shape(seen["order"][0]) == shape(recorded["get_order"])
    assert shape(seen["fill_history"][0]) == shape(recorded["fill_history"])
    assert shape(seen["positions"][0]) == shape(recorded["positions"])
    assert shape(seen["cancel_order"][0]) == shape(recorded["cancel_order"])
    (history,) = seen["order_history"]
    assert shape(history["result"][0]) == shape(recorded["get_order"]["result"])
    assert history["next"] == ""


async def test_instruments_have_both_recorded_forms(rig: Rig) -> None:
    answer = await rig.conn.rest.public("instruments", {"kind": ["PERPETUAL"]})
    by_name = {i["instrument"]: i for i in answer["result"]}
    assert shape(by_name[BTC]) == shape(RECORDED["instrument_ints"])
    assert shape(by_name[ETH]) == shape(RECORDED["instrument_ints"])
    newer = dict(RECORDED["instrument_strings"])  # minus what the 2026-04 spec made optional
    del newer["settlement_period"], newer["max_position_size"]
    assert shape(by_name[SOL]) == shape(newer)
    insts = await rig.conn.instruments()
    assert insts[BTC].min_notional == Decimal("20.0") and insts[SOL].min_notional == 0


async def test_private_frames_have_the_recorded_forms(rig: Rig) -> None:
    async with stream(rig, private=True) as (ws, frames):
        sub = rig.creds.sub_account_id
        for rid, name in enumerate(("v1.order", "v1.fill", "v1.position"), 1):
            await subscribe(ws, rid, name, sub)
        await until(lambda: len([f for f in frames if "result" in f]) == 3, what="acks")
        rig.harness.pause()
        try:
            bid, ask, tick = rig.touch(BTC)
            price = ((bid + ask) / 2 / tick).to_integral_value() * tick
            order = OrderRequest("mmforms-2", BTC, Side.BUY, Decimal("0.001"), price=price)
            await rig.conn.place(order)
            await until(lambda: len(rig.venue_orders()) == 1, what="resting")
            rig.take(BTC, Side.SELL, "0.001", price, "t2")
            await until(lambda: pushes(frames, "v1.fill") and pushes(frames, "v1.position"))
        finally:
            rig.harness.resume()
    ack = next(f for f in frames if "result" in f)
    assert shape(ack) == shape(RECORDED["ws_sub_confirm"])
    (fill,) = pushes(frames, "v1.fill")
    assert shape(fill) == shape(RECORDED["ws_fill"])
    assert shape(pushes(frames, "v1.order")[0]) == shape(RECORDED["ws_order"])
    assert shape(pushes(frames, "v1.position")[-1]) == shape(RECORDED["ws_position"])
    # a liquidation: the same form, no client order id of ours
    async with stream(rig, private=True) as (ws, frames):
        await subscribe(ws, 1, "v1.fill", rig.creds.sub_account_id)
        await until(lambda: any("result" in f for f in frames), what="ack")
        rig.harness.faults.liquidate(
            rig.creds.api_key, "BTC-PERP", Side.SELL, Decimal("0.001"), bid
        )
        await until(lambda: bool(pushes(frames, "v1.fill")), what="the liquidation")
    (liq,) = pushes(frames, "v1.fill")
    assert shape(liq) == shape(RECORDED["ws_fill"])
    feed = liq["feed"]
    assert (feed["is_liquidation"], feed["client_order_id"], feed["order_id"]) == (
        True,
        "0",
        "0x00",
    )


async def test_public_frames_and_the_gateway_numbering(rig: Rig) -> None:
    async with stream(rig, private=False) as (ws, frames):
        await subscribe(ws, 1, "v1.book.d", f"{BTC}@100")
        await subscribe(ws, 2, "v1.book.s", f"{BTC}@500-100")
        await subscribe(ws, 3, "v1.mini.d", f"{BTC}@500")
        await subscribe(ws, 4, "v1.trade", f"{BTC}@50")
        bid, _, _ = rig.touch(BTC)
        rig.take(BTC, Side.SELL, "0.001", bid, "t3")  # a public trade
        await until(
            lambda: (
                len(pushes(frames, "v1.book.d")) >= 3
                and any(f["sequence_number"] != "0" for f in pushes(frames, "v1.trade"))
                and len(pushes(frames, "v1.mini.d")) >= 2
            ),
            what="book, mini and trade pushes",
        )
    acks = {f["result"]["stream"]: f for f in frames if "result" in f}
    for ack in acks.values():
        assert shape(ack) == shape(RECORDED["ws_sub_confirm"])
    book_ack = acks["v1.book.d"]["result"]
    first = int(book_ack["first_sequence_number"][0])
    assert int(book_ack["latest_sequence_number"][0]) == first - 1
    snapshot, *deltas = pushes(frames, "v1.book.d")
    assert (snapshot["sequence_number"], snapshot["prev_sequence_number"]) == ("0", "0")
    assert int(deltas[0]["sequence_number"]) == first  # as the ack announced
    for before, after in itertools.pairwise(deltas):
        assert int(after["prev_sequence_number"]) == int(before["sequence_number"])
        assert int(after["sequence_number"]) == int(before["sequence_number"]) + 1
    assert shape(pushes(frames, "v1.book.s")[0]) == shape(RECORDED["ws_book_s"])
    live = [f for f in pushes(frames, "v1.trade") if f["sequence_number"] != "0"]
    assert shape(live[0]) == shape(RECORDED["ws_trade"])
    mini = pushes(frames, "v1.mini.d")
    assert mini[0]["sequence_number"] == "0"  # the snapshot
    full_keys = set(mini[0]["feed"])
    recorded_delta = RECORDED["ws_mini_d_delta"]["feed"]
    assert set(recorded_delta) <= full_keys
    for delta in mini[1:]:
        assert {"event_time", "instrument"} <= set(delta["feed"]) <= full_keys
        assert shape(delta) == shape(RECORDED["ws_mini_d_delta"]) | {"feed": shape(delta["feed"])}


async def test_a_resubscribe_keeps_the_gateway_counter(rig: Rig) -> None:
    async with stream(rig, private=False) as (ws, frames):
        await subscribe(ws, 1, "v1.book.d", f"{ETH}@100")
        await until(lambda: len(pushes(frames, "v1.book.d")) >= 3, what="deltas")
        last = int(pushes(frames, "v1.book.d")[-1]["sequence_number"])
        params = {"stream": "v1.book.d", "selectors": [f"{ETH}@100"]}
        msg = {"jsonrpc": "2.0", "method": "unsubscribe", "params": params, "id": 2}
        await ws.send(json.dumps(msg))
        await subscribe(ws, 3, "v1.book.d", f"{ETH}@100")
        await until(lambda: any(f.get("id") == 3 for f in frames), what="the second ack")
    (again,) = [f for f in frames if f.get("id") == 3]
    assert int(again["result"]["latest_sequence_number"][0]) >= last  # not back to 0
