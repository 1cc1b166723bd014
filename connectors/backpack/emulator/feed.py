"""The Backpack emulator's WebSocket side: subscribe/unsubscribe commands, the
public feeds (``depth``, ``bookTicker``, ``trade``) and the private pushes.

Forms (sources in ``docs/venues/backpack.md``): public streams carry ``E``/``T``
as strings of microseconds (ccxt's recordings), private ones as integers (the
live recordings in bbgo's testdata and bpx-api-client's tests) — a connector must
take both. Each depth push covers ``U..u`` with ``U`` = previous ``u`` + 1 and the
REST ``lastUpdateId`` equals the last pushed ``u``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from connectors.backpack.emulator.auth import Auth
from connectors.backpack.emulator.state import State
from connectors.backpack.emulator.wire import DEPTH_INTERVALS
from connectors.base import Side, Trade
from connectors.emulation.accounts import sim_mid
from connectors.emulation.faults import FaultState
from connectors.emulation.hub import SubscriptionHub
from connectors.emulation.sockets import SocketSet
from connectors.sim.venue import LevelChanges, SimVenue

log = logging.getLogger("connectors.backpack.emulator")

PRIVATE = ("orderUpdate", "positionUpdate")


@dataclass(eq=False, slots=True)
class Conn:
    ws: web.WebSocketResponse
    request: web.Request
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class Feed:
    def __init__(self, venue: SimVenue, state: State, auth: Auth, faults: FaultState) -> None:
        self.venue = venue
        self.state = state
        self.auth = auth
        self.faults = faults
        self.hub: SubscriptionHub[Conn] = SubscriptionHub()
        self.sockets = SocketSet("backpack", self.hub.forget)
        venue.on_book(self._on_book)
        venue.on_trade(self._on_trade)

    # -- sending ------------------------------------------------------------------------

    def publish(self, stream: str, data: dict[str, Any]) -> None:
        self.hub.publish(stream, lambda: _frame(stream, data), self.sockets.send)

    def publish_private(self, account: str, base: str, wire: str, data: dict[str, Any]) -> None:
        for stream in (base, f"{base}.{wire}"):
            self.hub.publish(
                stream,
                lambda stream=stream: _frame(stream, data),
                self.sockets.send,
                only=lambda owner: owner == account,
            )

    def push_raw(self, account: str, text: str) -> int:
        """Send ``text`` as it is to every socket carrying one of the account's private
        streams (a frame can be anything); returns how many got it."""
        sent: set[Conn] = set()
        for channel in self.hub.channels():
            if not channel.startswith("account."):
                continue
            for conn, owner in self.hub.subscribers(channel):
                if owner == account and conn not in sent:
                    sent.add(conn)
                    self.sockets.send(conn, text)
        return len(sent)

    # -- clients ----------------------------------------------------------------------

    async def serve(self, request: web.Request, ping_interval_s: float) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=ping_interval_s, timeout=2.0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=404, text="WebSocket only")
        await ws.prepare(request)
        await self.sockets.serve(Conn(ws, request), self._on_command)
        return ws

    def _error(self, conn: Conn, code: int, message: str) -> None:
        text = orjson.dumps({"id": None, "error": {"code": code, "message": message}}).decode()
        self.sockets.send(conn, text)

    def _on_command(self, conn: Conn, text: str) -> None:
        try:
            cmd = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._error(conn, 4000, "Invalid JSON")
            return
        if not isinstance(cmd, dict):
            self._error(conn, 4000, "Invalid command")
            return
        method = str(cmd.get("method", "")).upper()
        params = cmd.get("params")
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            self._error(conn, 4000, "Invalid method or params")
            return
        if method == "UNSUBSCRIBE":
            for stream in params:
                if isinstance(stream, str):
                    self.hub.remove(conn, stream)
            return
        account: str | None = None
        auth_error: str | None = None
        for stream in params:
            kind = self._stream_kind(stream) if isinstance(stream, str) else None
            if kind is None:
                self._error(conn, 4006, "Invalid stream")
                continue
            if kind == "private":
                if account is None and auth_error is None:
                    account, auth_error = self.auth.subscribe(cmd.get("signature"))
                if account is None:
                    self._error(conn, 4001, auth_error or "Invalid signature")
                    continue
            self.hub.add(conn, stream, account if kind == "private" else None)
            if kind == "private" and stream.startswith("account.positionUpdate"):
                assert account is not None
                self._initial_positions(conn, stream, account)

    def _initial_positions(self, conn: Conn, stream: str, account: str) -> None:
        """On subscribe the current positions go out once, without an ``e`` (docs)."""
        wire = stream.split(".", 2)[2] if stream.count(".") == 2 else None
        now_us = self.venue.now_ms * 1000
        for p in self.venue.positions(account):
            if p.size == 0:
                continue
            data = self.state.position_stream(
                account, p, self.mark(p.symbol, p.entry_price), now_us
            )
            if wire is None or data["s"] == wire:
                self.sockets.send(conn, _frame(stream, data))

    def _stream_kind(self, stream: str) -> str | None:
        parts = stream.split(".")
        markets = self.state.markets
        if parts[0] == "account" and len(parts) in (2, 3):
            if parts[1] not in PRIVATE or (len(parts) == 3 and parts[2] not in markets):
                return None
            return "private"
        if parts[0] == "depth" and len(parts) == 3 and parts[1] in DEPTH_INTERVALS:
            return "public" if parts[2] in markets else None
        if parts[0] in ("depth", "bookTicker", "trade") and len(parts) == 2:
            return "public" if parts[1] in markets else None
        return None

    def mark(self, sim_symbol: str, default: Any) -> Any:
        mid = sim_mid(self.venue, sim_symbol)
        return default if mid is None else mid

    # -- public feeds -------------------------------------------------------------------

    def _on_book(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        m = self.state.by_sim.get(symbol)
        if m is None or not changes:
            return
        skip = self.faults.take_book_skip(m.wire)
        if skip:
            log.info("backpack emulator: skipping %d depth ids on %s (fault)", skip, m.wire)
        first = m.update_id + skip + 1
        m.update_id = first + len(changes) - 1
        inst = m.inst
        us = str(ts_ms * 1000)
        streams = [f"depth.{m.wire}"] + [f"depth.{i}.{m.wire}" for i in DEPTH_INTERVALS]
        if any(self.hub.has(s) for s in streams):
            bids = sorted((p, q) for side, p, q in changes if side is Side.BUY)
            asks = sorted((p, q) for side, p, q in changes if side is Side.SELL)
            data = {
                "E": us,
                "T": us,
                "U": first,
                "a": [
                    [m.price(inst.ticks_to_price(p)), m.size(inst.lots_to_size(q))] for p, q in asks
                ],
                "b": [
                    [m.price(inst.ticks_to_price(p)), m.size(inst.lots_to_size(q))] for p, q in bids
                ],
                "e": "depth",
                "s": m.wire,
                "u": m.update_id,
            }
            for stream in streams:
                self.publish(stream, data)
        bids1, asks1, _ = self.venue.snapshot(inst.symbol, 1)
        if not bids1 or not asks1:
            return
        bbo = (bids1[0][0], bids1[0][1], asks1[0][0], asks1[0][1])
        if bbo == m.bbo:
            return
        m.bbo = bbo
        if self.hub.has(f"bookTicker.{m.wire}"):
            self.publish(
                f"bookTicker.{m.wire}",
                {
                    "A": m.size(inst.lots_to_size(bbo[3])),
                    "B": m.size(inst.lots_to_size(bbo[1])),
                    "E": us,
                    "T": us,
                    "a": m.price(inst.ticks_to_price(bbo[2])),
                    "b": m.price(inst.ticks_to_price(bbo[0])),
                    "e": "bookTicker",
                    "s": m.wire,
                    "u": m.update_id,
                },
            )

    def _on_trade(self, trade: Trade) -> None:
        m = self.state.by_sim.get(trade.symbol)
        if m is None:
            return
        s = m.stats
        if s.first is None:
            s.first = trade.price
        s.last = trade.price
        s.high = trade.price if s.high is None else max(s.high, trade.price)
        s.low = trade.price if s.low is None else min(s.low, trade.price)
        s.volume += trade.size
        s.quote_volume += trade.size * trade.price
        s.trades += 1
        number = self.state.print_trade_number(m)
        stream = f"trade.{m.wire}"
        if self.hub.has(stream):
            us = str(trade.ts_ms * 1000)
            self.publish(
                stream,
                {
                    "E": us,
                    "T": us,
                    "a": None,
                    "b": None,
                    "e": "trade",
                    "m": trade.side is Side.SELL,
                    "p": m.price(trade.price),
                    "q": m.size(trade.size),
                    "s": m.wire,
                    "t": number,
                },
            )


def _frame(stream: str, data: dict[str, Any]) -> str:
    return orjson.dumps({"data": data, "stream": stream}).decode()


__all__ = ["Conn", "Feed"]
