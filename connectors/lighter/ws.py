"""Lighter WebSocket client on ``/stream`` (websockets 13.1).

The SDK's ``WsClient`` cannot authenticate, reconnect or detect book gaps, so
this is our own. Protocol (spec §2.4):

* the server greets with ``{"type": "connected"}``; subscriptions go after it;
* ``{"type": "subscribe", "channel": "order_book/0"}`` (private channels add
  ``"auth": <token>``); pushes name the channel with ``:`` and have type
  ``subscribed/<kind>`` (the snapshot) then ``update/<kind>``;
* the server sends ``{"type": "ping"}``, we answer ``{"type": "pong"}``; we also
  send our own ``ping`` so the connection never looks idle (the venue drops
  clients silent for 2 minutes);
* error frames come in two shapes, ``{"error": {"code", "message"}}`` and
  ``{"type": "error", "code", "message"}`` (both recorded by NautilusTrader's handler
  tests); codes by Lighter's table (``codes``): 30003 Already Subscribed and 30002 Not
  Subscribed report no problem, 30009/30010 mean too many messages in flight.

Reconnects use capped exponential backoff with jitter and subscribe to every
channel again (private ones with a fresh token). The owner is told about every
state change; its books are stale until the new snapshots arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.exceptions import WebSocketException

from connectors.base import ConnectionState
from connectors.common.badframes import UNREADABLE, reason_of
from connectors.common.errors import ErrorCode
from connectors.common.wsclient import ReconnectingWs, StateHandler, WsSettings
from connectors.lighter import codes

log = logging.getLogger("connectors.lighter.ws")

QUIET_ERRORS = frozenset({codes.WS_ALREADY_SUBSCRIBED, codes.WS_NOT_SUBSCRIBED})
"""Error codes that report no problem: already subscribed / not subscribed."""

MessageHandler = Callable[[dict[str, Any]], None]
TokenSource = Callable[[], Awaitable[str]]


class FrameError(ValueError):
    """A frame that is not a JSON object with a ``type``."""


def parse_message(raw: str | bytes) -> dict[str, Any]:
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise FrameError(f"not an object: {type(msg).__name__}")
    if "error" not in msg and not isinstance(msg.get("type"), str):
        raise FrameError("no message type")
    return msg


def _label(msg: dict[str, Any]) -> str:
    """What a frame says it is, for a log line: its channel, else its type (short)."""
    return str(msg.get("channel") or msg.get("type") or "frame")[:60] + " frame"


def error_of(msg: dict[str, Any]) -> dict[str, Any] | None:
    """The error of an error frame in either shape, else None."""
    err = msg.get("error")
    if err is not None:
        return err if isinstance(err, dict) else {"message": str(err)}
    if msg.get("type") == "error":
        return {"code": msg.get("code"), "message": msg.get("message")}
    return None


class LighterWs(ReconnectingWs):
    def __init__(
        self,
        url: str,
        on_message: MessageHandler,
        on_state: StateHandler,
        *,
        token: TokenSource | None = None,
        on_auth_error: Callable[[], None] | None = None,
        on_frame: Callable[[], None] | None = None,
        settings: WsSettings | None = None,
        rng: random.Random | None = None,
        greeting_timeout_s: float = 10.0,
        keepalive_s: float = 30.0,
        venue: str = "lighter",
    ) -> None:
        super().__init__(
            url,
            on_state,
            venue=venue,
            settings=settings,
            rng=rng,
            max_size=2**23,
        )
        self._on_message = on_message
        self._token = token
        self._on_auth_error = on_auth_error
        self._on_frame = on_frame
        """Called after every frame, good or bad (the owner's counters follow ours)."""
        self.greeting_timeout_s = greeting_timeout_s
        self.keepalive_s = keepalive_s
        self.channels: dict[str, bool] = {}
        """Subscribed channel -> private (needs the auth token)."""
        self._keepalive: asyncio.Task[None] | None = None

    async def subscribe(self, channel: str, *, private: bool = False) -> None:
        if channel in self.channels:
            return
        self.channels[channel] = private
        if self._ws is not None and self.connected.is_set():
            await self._send_subscribe(self._ws, channel, private)

    async def resubscribe(self, channel: str) -> None:
        """Unsubscribe and subscribe again: the venue answers with a fresh snapshot."""
        private = self.channels.get(channel)
        ws = self._ws
        if private is None or ws is None or not self.connected.is_set():
            return  # the next connection subscribes anyway
        try:
            await ws.send(orjson.dumps({"type": "unsubscribe", "channel": channel}).decode())
            await self._send_subscribe(ws, channel, private)
        except (WebSocketException, OSError) as exc:
            log.warning("%s ws: resubscribe %s failed: %r", self.venue, channel, exc)

    async def resubscribe_private(self) -> None:
        """Subscribe to the private channels again with a fresh token (after the venue
        refused one: those subscriptions do not exist, so no unsubscribe first)."""
        ws = self._ws
        if ws is None or not self.connected.is_set():
            return
        for channel, private in list(self.channels.items()):
            if private:
                try:
                    await self._send_subscribe(ws, channel, True)
                except (WebSocketException, OSError) as exc:
                    log.warning("%s ws: resubscribe %s failed: %r", self.venue, channel, exc)
                    return

    # -- internals -------------------------------------------------------------------

    async def _send_subscribe(self, ws: Any, channel: str, private: bool) -> None:
        msg: dict[str, Any] = {"type": "subscribe", "channel": channel}
        if private:
            if self._token is None:
                log.error("%s ws: channel %s needs an auth token; skipped", self.venue, channel)
                return
            msg["auth"] = await self._token()
        await ws.send(orjson.dumps(msg).decode())

    async def on_open(self, ws: Any) -> None:
        await self._greeting(ws)
        for channel, private in list(self.channels.items()):
            await self._send_subscribe(ws, channel, private)
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive(ws))

    def on_closed(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    async def _greeting(self, ws: Any) -> None:
        """Wait for ``connected``; the venue ignores subscriptions sent before it."""
        async with asyncio.timeout(self.greeting_timeout_s):
            while True:
                raw = await ws.recv()
                self.frames += 1
                try:
                    msg = parse_message(raw)
                except FrameError as exc:
                    self.bad_frame(f"before the greeting: {exc}")
                    continue
                if msg.get("type") == "connected":
                    return
                if msg.get("type") == "ping":
                    await ws.send('{"type":"pong"}')

    async def _keep_alive(self, ws: Any) -> None:
        with contextlib.suppress(WebSocketException, OSError):
            while True:
                await asyncio.sleep(self.keepalive_s)
                await ws.send('{"type":"ping"}')

    def handle(self, ws: Any, raw: str | bytes) -> bool:
        """Parse and dispatch one frame; True if it was a valid push."""
        try:
            return self._handle(ws, raw)
        finally:
            if self._on_frame is not None:
                self._on_frame()

    def _handle(self, ws: Any, raw: str | bytes) -> bool:
        self.frames += 1
        try:
            msg = parse_message(raw)
        except FrameError as exc:
            self.bad_frame(str(exc))
            return False
        try:
            return self._dispatch(ws, msg)
        except UNREADABLE as exc:
            self.bad_frame(f"{_label(msg)}: {reason_of(exc)}")
            return False

    def _dispatch(self, ws: Any, msg: dict[str, Any]) -> bool:
        kind = msg.get("type")
        if kind == "ping":
            asyncio.get_running_loop().create_task(self._pong(ws))
            return True
        if kind in ("pong", "connected"):
            return True
        if kind == "shutdown":
            log.warning("%s ws: server announces shutdown: %s", self.venue, msg)
            return True
        err = error_of(msg)
        if err is not None:
            self._error(err)
            return False
        self._on_message(msg)
        return True

    async def _pong(self, ws: Any) -> None:
        with contextlib.suppress(WebSocketException, OSError):
            await ws.send('{"type":"pong"}')

    def _error(self, err: dict[str, Any]) -> None:
        code = codes.venue_code(err)
        if code in QUIET_ERRORS:
            self.error_frames += 1
            log.debug("%s ws: %.300s", self.venue, err)  # e.g. unsubscribe of a refused channel
            return
        if code in codes.WS_TOO_MANY_INFLIGHT:
            self.server_error(f"{err} (too many messages in flight)", level=logging.WARNING)
            return
        # The venue's code for a refused auth token is not documented: ours (20013, a
        # guess) or the word in the message
        text = str(err.get("message") or "").lower()
        refused_auth = codes.refusal(code).code == ErrorCode.AUTH or "auth" in text
        if self._on_auth_error is not None and (refused_auth or "token" in text):
            self.server_error(f"{err}; minting a new token", level=logging.WARNING)
            self._on_auth_error()
            return
        if self.server_error(err):  # the console hears of it as the log does (rate-limited)
            self._on_state(ConnectionState.CONNECTED, self.last_error)
