"""Backpack WebSocket client (websockets 13.1, legacy ``websockets.connect``).

One socket carries public streams (``depth.<sym>``, ``bookTicker.<sym>``,
``trade.<sym>``) and, with keys, the signed private streams
(``account.orderUpdate``, ``account.positionUpdate``). Every server push is
``{"stream": name, "data": {...}}``; an error is ``{"id": null, "error": {...}}``
and an acknowledgement ``{"id": n, "result": null}`` (recorded in Hummingbot's
fixtures; the docs promise none, so we never wait for one). Anything else is
counted as a bad frame (with its reason, logged at a rate limit) and skipped. On a
drop the client reconnects with capped exponential backoff and jitter, then
subscribes to everything again; the owner hears about every state change (and must
resync its books: deltas were missed).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from connectors.backpack.keys import BackpackKeys
from connectors.backpack.signing import DEFAULT_WINDOW_MS, ws_signature
from connectors.base import ConnectionState, ConnectorStats
from connectors.common.badframes import UNREADABLE, reason_of
from connectors.common.wsclient import ReconnectingWs, StateHandler, WsSettings

log = logging.getLogger("connectors.backpack.ws")

PRIVATE_PREFIX = "account."


class FrameError(ValueError):
    """A frame that is not JSON or not shaped like a Backpack push."""


@dataclass(frozen=True, slots=True)
class Frame:
    stream: str
    data: dict[str, Any]
    error: dict[str, Any] | None = None
    ack: bool = False
    """``{"id": n, "result": ...}``: the server acknowledged a command."""


def parse_frame(raw: str | bytes) -> Frame:
    """Parse one server frame; ``FrameError`` when it is malformed."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise FrameError(f"not an object: {type(msg).__name__}")
    if "error" in msg:
        err = msg["error"]
        return Frame("", {}, err if isinstance(err, dict) else {"message": str(err)})
    if "stream" not in msg and "result" in msg and "id" in msg:
        return Frame("", {}, ack=True)
    stream = msg.get("stream")
    data = msg.get("data")
    if not isinstance(stream, str) or not stream:
        raise FrameError("no stream name")
    if not isinstance(data, dict):
        raise FrameError(f"{stream}: data is not an object")
    return Frame(stream, data)


FrameHandler = Callable[[Frame], None]


class BackpackWs(ReconnectingWs):
    def __init__(
        self,
        url: str,
        keys: BackpackKeys | None,
        on_frame: FrameHandler,
        on_state: StateHandler,
        *,
        window_ms: int = DEFAULT_WINDOW_MS,
        settings: WsSettings | None = None,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] | None = None,
        venue: str = "backpack",
        stats: ConnectorStats | None = None,
    ) -> None:
        super().__init__(
            url,
            on_state,
            venue=venue,
            settings=settings,
            rng=rng,
        )
        self.keys = keys
        self._on_frame = on_frame
        self.window_ms = window_ms
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.streams: set[str] = set()
        self.stats = stats or ConnectorStats()
        self.acks = 0

    async def subscribe(self, streams: Iterable[str]) -> None:
        new = [s for s in streams if s not in self.streams]
        self.streams.update(new)
        if new and self._ws is not None:
            await self._send_subscribe(self._ws, new)

    async def unsubscribe(self, streams: Iterable[str]) -> None:
        gone = [s for s in streams if s in self.streams]
        self.streams.difference_update(gone)
        if gone and self._ws is not None:
            await self._ws.send(orjson.dumps({"method": "UNSUBSCRIBE", "params": gone}).decode())

    # -- internals -------------------------------------------------------------------

    async def on_open(self, ws: Any) -> None:
        if self.streams:
            await self._send_subscribe(ws, self.streams)

    async def _send_subscribe(self, ws: Any, streams: Iterable[str]) -> None:
        public = sorted(s for s in streams if not s.startswith(PRIVATE_PREFIX))
        private = sorted(s for s in streams if s.startswith(PRIVATE_PREFIX))
        if public:
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": public}).decode())
        if private:
            if self.keys is None:
                log.error("%s: private streams %s need API keys; skipped", self.venue, private)
            else:
                sig = ws_signature(self.keys, self._clock_ms(), self.window_ms)
                msg = {"method": "SUBSCRIBE", "params": private, "signature": sig}
                await ws.send(orjson.dumps(msg).decode())

    def handle(self, ws: Any, raw: str | bytes) -> bool:
        """Parse and dispatch one frame; True if it was a valid push. A frame that
        cannot be read is counted as bad with its reason (rate-limited log)."""
        self.frames += 1
        self.stats.frames += 1
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            self.bad_frame(str(exc))
            return False
        if frame.ack:
            self.acks += 1
            return True
        if frame.error is not None:
            # The server refused something we sent (a stream name, or a private
            # subscribe's signature/key): say so loudly; the console shows the detail.
            if self.server_error(frame.error):  # the console hears of it as the log does
                self._on_state(ConnectionState.CONNECTED, self.last_error)
            return False
        try:
            self._on_frame(frame)
        except UNREADABLE as exc:
            self.bad_frame(f"{frame.stream[:60]} frame: {reason_of(exc)}")
            return False
        return True

    def on_bad_frame(self) -> None:
        self.stats.bad_frames += 1
