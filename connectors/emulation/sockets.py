"""WebSocket client bookkeeping every emulator dialect shares (on the harness loop).

Each client gets an outgoing queue drained by its own writer task, so a push
never waits on a slow socket; a client more than ``max_queue`` frames behind is
dropped and closed ("slow consumer"), as a real venue would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import WSMsgType, web

log = logging.getLogger("connectors.emulation.sockets")


class WsClient(Protocol):
    ws: web.WebSocketResponse
    request: web.Request
    queue: asyncio.Queue[str]


async def close_ws(ws: web.WebSocketResponse, code: int, message: bytes) -> None:
    try:
        await ws.close(code=code, message=message)
    except (ConnectionError, RuntimeError) as exc:
        log.info("emulator: closing a WebSocket failed: %s", exc)


class SocketSet:
    def __init__(
        self, venue: str, on_drop: Callable[[Any], None], *, max_queue: int = 10_000
    ) -> None:
        self.venue = venue
        self.on_drop = on_drop
        """The dialect forgets the client's subscriptions (called once per drop)."""
        self.max_queue = max_queue
        self.conns: set[Any] = set()
        self.on_send: Callable[[Any, str], None] | None = None
        """Measurement hook (off: None): called with each client and frame as it leaves
        (``benchmarks/bench_tick_to_trade.py`` stamps book changes leaving the venue)."""

    def __iter__(self) -> Any:
        return iter(list(self.conns))

    def __len__(self) -> int:
        return len(self.conns)

    def add(self, conn: WsClient) -> None:
        self.conns.add(conn)

    async def serve(self, conn: WsClient, on_text: Callable[[Any, str], None]) -> None:
        """Run one client until it goes: its writer task, and every text (or UTF-8
        binary) frame it sends handed to ``on_text``; dropped at the end."""
        self.add(conn)
        writer = asyncio.create_task(self.writer(conn), name=f"{self.venue}-ws-writer")
        ws = conn.ws
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    on_text(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    on_text(conn, msg.data.decode("utf-8", "replace"))
                elif msg.type is WSMsgType.ERROR:
                    log.info("%s emulator: WebSocket error %s", self.venue, ws.exception())
                    break
        except Exception:
            log.exception("%s emulator: WebSocket handler failed", self.venue)
        finally:
            self.drop(conn)
            writer.cancel()

    def drop(self, conn: WsClient) -> None:
        self.conns.discard(conn)
        self.on_drop(conn)

    def send(self, conn: WsClient, text: str) -> None:
        if conn.queue.qsize() >= self.max_queue:
            log.warning(
                "%s emulator: dropping a slow WebSocket client (%d queued)",
                self.venue,
                self.max_queue,
            )
            self.drop(conn)
            asyncio.get_running_loop().create_task(close_ws(conn.ws, 1008, b"slow consumer"))
            return
        conn.queue.put_nowait(text)

    async def writer(self, conn: WsClient) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if self.on_send is not None:
                    self.on_send(conn, text)
                await conn.ws.send_str(text)
        except asyncio.CancelledError:
            raise
        except (ConnectionError, RuntimeError) as exc:
            log.info("%s emulator: WebSocket send failed: %s", self.venue, exc)
            self.drop(conn)

    def abort_all(self) -> int:
        """Drop every client at once (TCP reset, no Close frame), synchronously:
        nothing queued after this call reaches anybody. Returns how many there were."""
        conns = list(self.conns)
        for conn in conns:
            self.drop(conn)
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        return len(conns)

    async def close_all(self, *, abrupt: bool = False, message: bytes = b"server closing") -> int:
        """Close every client (a Close frame, or drop the TCP connection when
        ``abrupt``); returns how many there were."""
        conns = list(self.conns)
        for conn in conns:
            self.drop(conn)
        if abrupt:
            for conn in conns:
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
        else:
            await asyncio.gather(
                *(close_ws(c.ws, 1001, message) for c in conns), return_exceptions=True
            )
        return len(conns)
