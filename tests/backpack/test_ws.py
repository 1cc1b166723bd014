"""WS client: frame parsing, malformed frames counted, reconnect + resubscribe."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import websockets
from nacl.signing import VerifyKey

from connectors.backpack.keys import BackpackKeys
from connectors.backpack.signing import signing_string
from connectors.backpack.ws import BackpackWs, Frame, FrameError, parse_frame
from connectors.base import ConnectionState
from connectors.common.backoff import backoff_delay
from connectors.common.wsclient import WsSettings

from .test_signing import API_KEY, SECRET


def test_parse_frame() -> None:
    f = parse_frame(b'{"stream":"trade.S","data":{"e":"trade","p":"1"}}')
    assert f == Frame("trade.S", {"e": "trade", "p": "1"})
    err = parse_frame('{"id":null,"error":{"code":4006,"message":"Invalid stream"}}')
    assert err.error == {"code": 4006, "message": "Invalid stream"}
    for bad in (
        "not json",
        "[1,2]",
        "{}",
        '{"stream":"x"}',
        '{"stream":"","data":{}}',
        '{"stream":"x","data":[1]}',
        '{"data":{}}',
        "",
    ):
        with pytest.raises(FrameError):
            parse_frame(bad)


def test_backoff_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 30.0, rng) for n in range(12)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(d <= 30.0 for d in delays)
    assert delays[-1] >= 15.0  # capped at 30, jitter keeps at least half
    assert len({round(d, 6) for d in delays}) == len(delays)
    assert backoff_delay(10_000, 0.5, 30.0, rng) <= 30.0


class WsServer:
    def __init__(self) -> None:
        self.connections = 0
        self.received: list[list[dict[str, Any]]] = []
        self.script: list[str] = []
        self.close_after_script = True

    async def handler(self, ws: Any) -> None:
        self.connections += 1
        got: list[dict[str, Any]] = []
        self.received.append(got)
        # read the subscriptions (public, then private), then play the script
        for _ in range(2):
            got.append(orjson.loads(await asyncio.wait_for(ws.recv(), 2)))
        for frame in self.script:
            await ws.send(frame)
        if self.close_after_script:
            await ws.close()
        else:
            await ws.wait_closed()


@pytest.fixture
async def ws_server() -> AsyncIterator[tuple[WsServer, str]]:
    srv = WsServer()
    server = await websockets.serve(srv.handler, "127.0.0.1", 0)
    port = next(iter(server.sockets)).getsockname()[1]
    yield srv, f"ws://127.0.0.1:{port}/"
    server.close()
    await server.wait_closed()


async def test_frames_reconnect_and_resubscribe(ws_server: tuple[WsServer, str]) -> None:
    srv, url = ws_server
    srv.script = [
        '{"stream":"trade.SOL_USDC_PERP","data":{"e":"trade","s":"SOL_USDC_PERP"}}',
        "garbage{",
        "[]",
        '{"id":null,"error":{"code":4006,"message":"Invalid stream"}}',
        '{"stream":"depth.SOL_USDC_PERP","data":{"boom":1}}',
    ]
    frames: list[Frame] = []
    states: list[ConnectionState] = []

    def on_frame(frame: Frame) -> None:
        if "boom" in frame.data:
            raise KeyError("s")  # a handler failing on a frame: skipped and counted
        frames.append(frame)

    client = BackpackWs(
        url,
        BackpackKeys(SECRET),
        on_frame,
        lambda s, _d: states.append(s),
        settings=WsSettings(backoff_base_s=0.01, backoff_cap_s=0.05),
        rng=random.Random(3),
    )
    await client.subscribe(["depth.SOL_USDC_PERP", "trade.SOL_USDC_PERP", "account.orderUpdate"])
    client.start()
    try:
        for _ in range(200):
            if srv.connections >= 2 and len(srv.received[1]) == 2:
                break
            await asyncio.sleep(0.01)
        assert srv.connections >= 2
    finally:
        await client.close()
    assert states[0] is ConnectionState.CONNECTING
    assert ConnectionState.CONNECTED in states and ConnectionState.RECONNECTING in states
    assert states[-1] is ConnectionState.CLOSED
    assert client.reconnects >= 1
    assert [f.stream for f in frames][:1] == ["trade.SOL_USDC_PERP"]
    assert client.bad_frames >= 3 and client.error_frames >= 1
    for got in srv.received[:2]:  # every connection subscribes again
        public, private = got
        assert public == {
            "method": "SUBSCRIBE",
            "params": ["depth.SOL_USDC_PERP", "trade.SOL_USDC_PERP"],
        }
        assert private["params"] == ["account.orderUpdate"]
        key, sig, ts, window = private["signature"]
        assert key == API_KEY
        VerifyKey(base64.b64decode(key)).verify(
            signing_string("subscribe", None, int(ts), int(window)).encode(),
            base64.b64decode(sig),
        )
