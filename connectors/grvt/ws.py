"""One GRVT WebSocket on the shared reconnecting loop (``connectors.common.wsclient``).

The connector opens two: market data (books, trades) and trade data (orders,
fills, positions; the upgrade carries the session cookie and
``X-Grvt-Account-Id``). Subscriptions use the legacy ``/ws`` format::

    {"request_id": 1, "stream": "v1.book.d", "feed": ["BTC_USDT_Perp@100"],
     "method": "subscribe", "is_full": true}

Server frames: feed pushes ``{stream, selector, sequence_number,
prev_sequence_number, feed}`` (sequence numbers as strings of digits: snapshots
are ``0``, deltas run the gateway's counter; a push without one is bad), subscribe
acks (``subs``, with ``first_sequence_number`` / ``latest_sequence_number`` per
selector; flat in the legacy form, under ``result`` in the JSON-RPC form GRVT was
recorded sending), error envelopes (``code``/``message``). Anything else, or a push
that is not shaped like one, is counted as bad (with its reason, logged at a rate
limit) and skipped. On a drop the shared loop reconnects with capped exponential
backoff and jitter; each attempt asks for fresh headers (a re-login when the last
upgrade was refused with 401/403) and subscribes to everything again; the owner
hears about every state change.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.exceptions import InvalidStatusCode, WebSocketException

from connectors.base import ConnectionState, VenueError
from connectors.common.badframes import UNREADABLE, reason_of
from connectors.common.wsclient import ReconnectingWs, StateHandler, WsSettings

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


NUMBERED_STREAMS = ("v1.book.", "v1.trade")
"""Streams whose sequence number says what a push is (snapshot, delta, replay)."""
UNNUMBERED = -1


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
        if msg.get("sequence_number") is not None:
            seq = sequence(msg["sequence_number"], stream)
        elif stream.startswith(NUMBERED_STREAMS):
            # every push is numbered (the recordings and every spec example); a book
            # delta without its number must not pass for a snapshot (number 0), nor a
            # live trade for the subscribe's replay
            raise FrameError(f"{stream}: no sequence number")
        else:
            seq = UNNUMBERED  # a private push is read whole: its number is not used

        prev = msg.get("prev_sequence_number")
        prev_seq = sequence(prev, stream) if prev is not None else None
        return Frame(stream, selector, seq, prev_seq, feed)
    if "subs" in msg or "unsubs" in msg or "code" in msg or "result" in msg or "error" in msg:
        return msg
    raise FrameError("neither a feed push nor a control message")


def sequence(value: Any, stream: str) -> int:
    """A sequence number (an integer or a string of at most 20 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20:
        return value
    if isinstance(value, str) and value.isdecimal() and len(value) <= 20:
        return int(value)
    raise FrameError(f"{stream}: bad sequence number {str(value)[:30]!r}")


def ack_sequences(msg: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int | None]]:
    """(stream, selector) -> (first, latest) sequence numbers a subscribe ack announces
    (either form; entries it does not carry are left out)."""
    body = msg.get("result") if isinstance(msg.get("result"), dict) else msg
    stream, subs = body.get("stream"), body.get("subs")
    firsts, latests = body.get("first_sequence_number"), body.get("latest_sequence_number")
    out: dict[tuple[str, str], tuple[int, int | None]] = {}
    if not isinstance(stream, str) or not isinstance(subs, list) or not isinstance(firsts, list):
        return out
    for i, selector in enumerate(subs):
        try:
            first = sequence(firsts[i], stream)
            latest = (
                sequence(latests[i], stream)
                if isinstance(latests, list) and i < len(latests)
                else None
            )
        except (IndexError, FrameError):
            continue
        out[(stream, str(selector))] = (first, latest)
    return out


FrameHandler = Callable[[Frame], None]
HeaderSource = Callable[[bool], Awaitable[dict[str, str]]]
"""Headers for the upgrade; the flag asks for a fresh login (the last one got 401)."""


class GrvtWs(ReconnectingWs):
    def __init__(
        self,
        url: str,
        on_frame: FrameHandler,
        on_state: StateHandler,
        *,
        headers: HeaderSource | None = None,
        on_bad_frame: Callable[[], None] | None = None,
        name: str = "grvt ws",
        settings: WsSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            url,
            on_state,
            venue=name,
            settings=settings,
            rng=rng,
        )
        self.name = name
        self._on_frame = on_frame
        self._headers = headers
        self._on_bad_frame = on_bad_frame
        self.subs: dict[str, list[str]] = {}
        """stream -> selectors."""
        self.acked: dict[tuple[str, str], tuple[int, int | None]] = {}
        """(stream, selector) -> (first, latest) sequence numbers of its last ack."""
        self._request_id = 0

    # -- control ------------------------------------------------------------------

    async def subscribe(self, stream: str, selectors: list[str]) -> None:
        have = self.subs.setdefault(stream, [])
        new = [s for s in selectors if s not in have]
        have.extend(new)
        if new and self._ws is not None:
            await self._send(self._ws, "subscribe", stream, new)

    async def resubscribe(self, stream: str, selector: str) -> None:
        """Unsubscribe and subscribe again: the venue sends a fresh snapshot."""
        ws = self._ws
        if ws is not None:
            await self._send(ws, "unsubscribe", stream, [selector])
            await self._send(ws, "subscribe", stream, [selector])

    # -- hooks ----------------------------------------------------------------------

    async def connect_headers(self) -> dict[str, str] | None:
        if self._headers is None:
            return None
        exc = self.last_exception
        refused = isinstance(exc, InvalidStatusCode) and exc.status_code in (401, 403)
        try:
            return await self._headers(refused)
        except VenueError as err:  # e.g. the login was refused: retry after the backoff
            log.error("%s: no session for the upgrade: %s", self.name, err)
            raise ConnectionError(f"login for the private stream failed: {err}") from None

    async def on_open(self, ws: Any) -> None:
        for stream, selectors in self.subs.items():
            if selectors:
                await self._send(ws, "subscribe", stream, list(selectors))

    def handle(self, ws: Any, raw: str | bytes) -> bool:
        """Parse and dispatch one frame; True if it was a valid push or ack."""
        self.frames += 1
        try:
            msg = parse_frame(raw)
        except FrameError as exc:
            self.bad_frame(str(exc))
            return False
        if isinstance(msg, dict):
            if "code" in msg or "error" in msg:
                if self.server_error(msg.get("error", msg)):  # rate-limited, as the log is
                    self._on_state(ConnectionState.CONNECTED, self.last_error)
                return False
            self.acked.update(ack_sequences(msg))
            return True  # a subscribe/unsubscribe ack
        try:
            self._on_frame(msg)
        except UNREADABLE as exc:
            self.bad_frame(f"{msg.stream[:60]} frame: {reason_of(exc)}")
            return False
        return True

    # -- internals ------------------------------------------------------------------

    def on_bad_frame(self) -> None:
        if self._on_bad_frame is not None:
            self._on_bad_frame()

    async def _send(self, ws: Any, method: str, stream: str, selectors: list[str]) -> None:
        self._request_id += 1
        msg = {
            "request_id": self._request_id,
            "stream": stream,
            "feed": selectors,
            "method": method,
            "is_full": True,
        }
        with contextlib.suppress(WebSocketException, OSError):
            await ws.send(orjson.dumps(msg).decode())
