"""The reconnecting WebSocket loop every venue client shares (websockets 13.1).

A venue client subclasses ``ReconnectingWs`` and supplies two hooks:

* ``on_open(ws)``: what happens on a fresh connection before it counts as
  connected (a greeting to wait for, the subscriptions to send again);
* ``handle(ws, raw) -> bool``: one frame; True when it was a valid push (a
  working connection resets the backoff). A frame it cannot use it counts with
  ``bad_frame(reason)`` (rate-limited log, ``connectors.common.badframes``).

Feed liveness: every frame beats ``liveness`` (the books' ``Liveness`` the owner
attaches), and while connected a protocol ping every ``liveness_ping_s`` beats it
when its pong comes back — so a quiet market on a live socket stays fresh for the
stale-book check, and a socket that goes silent (no frame, no pong) goes stale
within ``risk.stale_book_ms`` even before the keepalive closes it.

The loop connects, calls ``on_open``, sets ``connected``, feeds frames to
``handle`` and, when the socket drops, waits a capped exponential backoff with
jitter and connects again. The owner hears every state change through
``on_state`` (its books are stale until the resubscribe snapshots arrive).

Nothing a frame does ends the loop: a handler is meant to be total, and when one
raises all the same (a bug of ours) the loop counts the frame as bad, logs the
exception with its traceback (rate-limited: ``handler_errors``) and reads the next
frame. An attempt that fails in any other way — a hook raising, not only the
network — is logged and retried after the backoff; only ``close`` stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.exceptions import WebSocketException

from connectors.base import ConnectionState, ErrorCode, VenueError
from connectors.book import Liveness
from connectors.common.backoff import backoff_delay
from connectors.common.badframes import BadFrameLog, reason_of

log = logging.getLogger("connectors.common.wsclient")

REFUSAL_CHARS = 300
"""An error frame's text is cut to this many characters in ``last_error``."""

StateHandler = Callable[[ConnectionState, str], None]


@dataclass(frozen=True, slots=True)
class WsSettings:
    """How the loop connects and reconnects (the same knobs on every venue)."""

    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    open_timeout_s: float = 10.0
    ping_interval_s: float | None = 20.0
    """Protocol pings (None: the venue's own keepalive instead)."""
    ping_timeout_s: float | None = 20.0
    liveness_ping_s: float | None = 1.0
    """A protocol ping this often, its pong beating the books' liveness (None: off;
    frames still beat it)."""


class ReconnectingWs:
    def __init__(
        self,
        url: str,
        on_state: StateHandler,
        *,
        venue: str,
        settings: WsSettings | None = None,
        rng: random.Random | None = None,
        max_size: int = 2**22,
    ) -> None:
        settings = settings or WsSettings()
        self.url = url
        self.venue = venue
        self._on_state = on_state
        self.backoff_base_s = settings.backoff_base_s
        self.backoff_cap_s = settings.backoff_cap_s
        self._rng = rng or random.Random()
        self.open_timeout_s = settings.open_timeout_s
        self.ping_interval_s = settings.ping_interval_s
        self.ping_timeout_s = settings.ping_timeout_s
        self.liveness_ping_s = settings.liveness_ping_s
        self.liveness: Liveness | None = None
        """The books this socket carries (``BookSet.liveness``): beaten on every frame
        and every answered liveness ping."""
        self._pinger: asyncio.Task[None] | None = None
        self.max_size = max_size
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.frames = 0
        self.error_frames = 0
        self.handler_errors = 0
        """Frames whose handler raised (a bug of ours; each also counts as bad)."""
        label = venue if venue.endswith(" ws") else f"{venue} ws"
        self.bad = BadFrameLog(label, log)
        self.refusals = BadFrameLog(label, log, what="server refused")
        """Error frames: each counted, logged at a rate limit (a flood is a few lines)."""
        self.reconnects = 0
        self.last_error = ""
        self.last_exception: BaseException | None = None
        """What ended the last connection attempt (None: closed by the server)."""

    # -- hooks ------------------------------------------------------------------

    async def on_open(self, ws: Any) -> None:
        """A new connection is up: greet, subscribe. Raise to drop it and retry."""

    async def connect_headers(self) -> dict[str, str] | None:
        """Extra headers for the upgrade (e.g. a session cookie). Raise ``OSError``
        to skip this attempt and retry after the backoff."""
        return None

    def handle(self, ws: Any, raw: str | bytes) -> bool:
        raise NotImplementedError

    def on_bad_frame(self) -> None:
        """A frame was counted as bad (the owner's counters may follow)."""

    # -- bad frames --------------------------------------------------------------

    @property
    def bad_frames(self) -> int:
        return self.bad.count

    def bad_frame(
        self, reason: str, *, level: int = logging.WARNING, exc: BaseException | None = None
    ) -> None:
        """Count one frame that could not be used, with its reason (rate-limited log)."""
        self.bad.add(reason, level=level, exc=exc)
        self.on_bad_frame()

    def server_error(self, err: Any, *, level: int = logging.ERROR) -> bool:
        """Count one error frame (the server refused something): ``last_error`` says
        what, cut short; logged at a rate limit. True when it was logged."""
        self.error_frames += 1
        text = str(err)
        self.last_error = f"server refused: {text[:REFUSAL_CHARS]}"
        return self.refusals.add(text, level=level)

    def _handle_safely(self, ws: Any, raw: str | bytes) -> bool:
        """``handle``, the last line of defence: whatever it raises is counted and
        logged, never raised into the loop."""
        try:
            return self.handle(ws, raw)
        except Exception as exc:  # a frame never ends the feed, not even through a bug
            self.handler_errors += 1
            self.bad_frame(f"handler error {reason_of(exc)}", level=logging.ERROR, exc=exc)
            return False

    # -- control -----------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"{self.venue} ws"
            )

    async def start_and_wait(self, timeout_s: float) -> None:
        """Start the loop and wait for its first connection; if none comes within
        ``timeout_s`` the loop is stopped and ``VenueError(WS_CONNECT)`` says why."""
        self.start()
        try:
            await asyncio.wait_for(self.connected.wait(), timeout_s)
        except TimeoutError:
            detail = self.last_error or "no answer"
            await self.close()
            raise VenueError(
                f"{self.venue}: websocket did not connect in {timeout_s}s ({detail})",
                code=ErrorCode.WS_CONNECT,
                retryable=True,
            ) from None

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

    # -- the loop ----------------------------------------------------------------------

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
                headers = await self.connect_headers()
                async with websockets.connect(
                    self.url,
                    extra_headers=headers,
                    open_timeout=self.open_timeout_s,
                    ping_interval=self.ping_interval_s,
                    ping_timeout=self.ping_timeout_s,
                    max_size=self.max_size,
                    compression=None,
                ) as ws:
                    self._ws = ws
                    await self.on_open(ws)
                    self.connected.set()
                    self._on_state(ConnectionState.CONNECTED, self.url)
                    self._start_pinger(ws)
                    liveness = self.liveness
                    async for raw in ws:
                        if liveness is not None:
                            liveness.beat()
                        if self._handle_safely(ws, raw):
                            attempt = 0  # a working connection resets the backoff
                    self.last_error = f"closed by server ({ws.close_code})"
                    self.last_exception = None
            except asyncio.CancelledError:
                raise
            except (WebSocketException, OSError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.last_exception = exc
            except Exception as exc:  # a hook's bug: log it, and connect again all the same
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                self.last_exception = exc
                log.error("%s ws: connection attempt failed", self.venue, exc_info=exc)
            finally:
                self._stop_pinger()
                self._ws = None
                self.connected.clear()
                self.on_closed()
            if self._closing:
                break
            first = False
            self.reconnects += 1
            delay = backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, self._rng)
            attempt += 1
            log.warning(
                "%s ws: %s; reconnect %d in %.2fs",
                self.venue,
                self.last_error,
                self.reconnects,
                delay,
            )
            self._on_state(ConnectionState.RECONNECTING, self.last_error)
            await asyncio.sleep(delay)

    def on_closed(self) -> None:
        """The connection ended (any reason); stop per-connection helpers here."""

    # -- feed liveness -------------------------------------------------------------

    def _start_pinger(self, ws: Any) -> None:
        if self.liveness is not None:
            self.liveness.beat()  # connected: alive from here
        if self.liveness is not None and self.liveness_ping_s:
            self._pinger = asyncio.get_running_loop().create_task(
                self._liveness_pings(ws, self.liveness, self.liveness_ping_s),
                name=f"{self.venue} ws liveness",
            )

    def _stop_pinger(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            self._pinger = None

    async def _liveness_pings(self, ws: Any, liveness: Liveness, every_s: float) -> None:
        """Ping; a pong beats ``liveness``. No pong within the interval: nothing is
        beaten (the books go stale), the next ping goes all the same; closing a dead
        socket is the keepalive's job."""
        while True:
            await asyncio.sleep(every_s)
            try:
                pong = await ws.ping()
            except (WebSocketException, OSError):
                return  # the socket is closing: the loop sees it
            try:
                await asyncio.wait_for(asyncio.shield(pong), every_s)
            except TimeoutError:
                continue
            except (WebSocketException, OSError):
                return
            liveness.beat()
