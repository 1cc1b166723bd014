"""One GRVT WebSocket (websockets 13.1, legacy ``websockets.connect``).

The connector opens two: market data (books, trades) and trade data (orders,
fills, positions; the upgrade carries the session cookie and
``X-Grvt-Account-Id``). Subscriptions use the legacy ``/ws`` format::

    {"request_id": 1, "stream": "v1.book.d", "feed": ["BTC_USDT_Perp@100"],
     "method": "subscribe", "is_full": true}

Server frames: feed pushes ``{stream, selector, sequence_number,
prev_sequence_number, feed}``, subscribe acks (``subs``), error envelopes
(``code``/``message``). Anything else, or a push that is not shaped like one, is
counted as bad and skipped. On a drop: reconnect with capped exponential backoff
and jitter, fresh headers (a re-login when the upgrade was refused with 401),
and subscribe to everything again; the owner hears about every state change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import websockets
from websockets.exceptions import InvalidStatusCode, WebSocketException

from connectors.base import ConnectionState

log = logging.getLogger("connectors.grvt.ws")


class FrameError(ValueError):
    """A frame that is not JSON or not shaped like a GRVT push."""


@dataclass(frozen=True, slots=True)
class Frame:
    stream: str
    selector: str
    seq: int
    prev_seq: int | None
    feed: dict[str, Any]


def parse_frame(raw: str | bytes) -> Frame | dict[str, Any]:
    """A feed ``Frame``; or the control message (ack / error) as a dict."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise FrameError(f"not an object: {type(msg).__name__}")
    if "feed" in msg and "subs" not in msg:
        stream, selector, feed = msg.get("stream"), msg.get("selector"), msg.get("feed")
        if not isinstance(stream, str) or not isinstance(selector, str):
            raise FrameError("feed without stream/selector")
        if not isinstance(feed, dict):
            raise FrameError(f"{stream}: feed is not an object")
        try:
            seq = int(msg.get("sequence_number", 0))
            prev = msg.get("prev_sequence_number")
            prev_seq = int(prev) if prev is not None else None
        except (TypeError, ValueError):
            raise FrameError(f"{stream}: bad sequence number") from None
        return Frame(stream, selector, seq, prev_seq, feed)
    if "subs" in msg or "unsubs" in msg or "code" in msg or "result" in msg or "error" in msg:
        return msg
    raise FrameError("neither a feed push nor a control message")


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with "equal jitter": in [d/2, d], d = min(cap, base*2^n)."""
    d = min(cap, base * (2 ** min(attempt, 30)))
    return d / 2 + rng.random() * d / 2


FrameHandler = Callable[[Frame], None]
StateHandler = Callable[[ConnectionState, str], None]
HeaderSource = Callable[[bool], Awaitable[dict[str, str]]]
"""Headers for the upgrade; the flag asks for a fresh login (the last one got 401)."""


class GrvtWs:
    def __init__(
        self,
        url: str,
        on_frame: FrameHandler,
        on_state: StateHandler,
        *,
        headers: HeaderSource | None = None,
        on_bad_frame: Callable[[], None] | None = None,
        name: str = "grvt ws",
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        rng: random.Random | None = None,
        open_timeout_s: float = 10.0,
        ping_interval_s: float | None = 20.0,
    ) -> None:
        self.url = url
        self.name = name
        self._on_frame = on_frame
        self._on_state = on_state
        self._headers = headers
        self._on_bad_frame = on_bad_frame
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._rng = rng or random.Random()
        self.open_timeout_s = open_timeout_s
        self.ping_interval_s = ping_interval_s
        self.subs: dict[str, list[str]] = {}
        """stream -> selectors."""
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._request_id = 0
        self.connected = asyncio.Event()
        self.frames = 0
        self.bad_frames = 0
        self.error_frames = 0
        self.reconnects = 0
        self.last_error = ""
        self._auth_refused = False

    # -- control ------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def close(self) -> None:
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(WebSocketException, OSError):
                await ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.connected.clear()

    async def subscribe(self, stream: str, selectors: list[str]) -> None:
        have = self.subs.setdefault(stream, [])
        new = [s for s in selectors if s not in have]
        have.extend(new)
        if new and self._ws is not None:
            await self._send("subscribe", stream, new)

    async def resubscribe(self, stream: str, selector: str) -> None:
        """Unsubscribe and subscribe again: the venue sends a fresh snapshot."""
        if self._ws is not None:
            await self._send("unsubscribe", stream, [selector])
            await self._send("subscribe", stream, [selector])

    def abort(self) -> None:
        """Drop the connection (the loop reconnects)."""
        ws = self._ws
        if ws is not None and ws.transport is not None:
            ws.transport.abort()

    # -- internals ------------------------------------------------------------------

    async def _send(self, method: str, stream: str, selectors: list[str]) -> None:
        self._request_id += 1
        msg = {
            "request_id": self._request_id,
            "stream": stream,
            "feed": selectors,
            "method": method,
            "is_full": True,
        }
        with contextlib.suppress(WebSocketException, OSError):
            await self._ws.send(orjson.dumps(msg).decode())

    async def _run(self) -> None:
        try:
            await self._loop()
        finally:
            self._on_state(ConnectionState.CLOSED, "")

    async def _loop(self) -> None:
        attempt = 0
        first = True
        while not self._closing:
            if first:
                self._on_state(ConnectionState.CONNECTING, "")
            try:
                headers: dict[str, str] = {}
                if self._headers is not None:
                    headers = await self._headers(self._auth_refused)
                    self._auth_refused = False
                async with websockets.connect(
                    self.url,
                    extra_headers=headers or None,
                    open_timeout=self.open_timeout_s,
                    ping_interval=self.ping_interval_s,
                    ping_timeout=self.ping_interval_s,
                    max_size=2**22,
                    compression=None,
                ) as ws:
                    self._ws = ws
                    for stream, selectors in self.subs.items():
                        if selectors:
                            await self._send("subscribe", stream, list(selectors))
                    self.connected.set()
                    self._on_state(ConnectionState.CONNECTED, self.url)
                    async for raw in ws:
                        if self._handle(raw):
                            attempt = 0  # a working connection resets the backoff
                    self.last_error = f"closed by server ({ws.close_code})"
            except asyncio.CancelledError:
                raise
            except InvalidStatusCode as exc:
                self.last_error = f"upgrade refused: HTTP {exc.status_code}"
                self._auth_refused = exc.status_code in (401, 403)
            except (WebSocketException, OSError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # e.g. a failed re-login: keep the socket loop alive
                # (VenueError from the header source lands here; it names the cause)
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("%s: %s", self.name, self.last_error)
            finally:
                self._ws = None
                self.connected.clear()
            if self._closing:
                break
            first = False
            self.reconnects += 1
            delay = backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, self._rng)
            attempt += 1
            log.warning(
                "%s: %s; reconnect %d in %.2fs", self.name, self.last_error, self.reconnects, delay
            )
            self._on_state(ConnectionState.RECONNECTING, self.last_error)
            await asyncio.sleep(delay)

    def _handle(self, raw: str | bytes) -> bool:
        """Parse and dispatch one frame; True if it was a valid push or ack."""
        self.frames += 1
        try:
            msg = parse_frame(raw)
        except FrameError as exc:
            self.bad_frames += 1
            log.debug("%s: bad frame skipped: %s", self.name, exc)
            if self._on_bad_frame is not None:
                self._on_bad_frame()
            return False
        if isinstance(msg, dict):
            if "code" in msg or "error" in msg:
                self.error_frames += 1
                err = msg.get("error", msg)
                self.last_error = f"server refused: {err}"
                log.error("%s: %s", self.name, self.last_error)
                self._on_state(ConnectionState.CONNECTED, self.last_error)
                return False
            return True  # a subscribe/unsubscribe ack
        try:
            self._on_frame(msg)
        except (KeyError, ValueError, TypeError, ArithmeticError, AttributeError) as exc:
            self.bad_frames += 1
            log.warning("%s: %s frame skipped: %r", self.name, msg.stream, exc)
            if self._on_bad_frame is not None:
                self._on_bad_frame()
            return False
        return True
