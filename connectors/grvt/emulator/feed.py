"""The GRVT emulator's WebSockets: subscribe / unsubscribe in both forms (legacy
``/ws`` and JSON-RPC ``/ws/full``), the private-stream gate, and the feeds.

Numbering as GRVT's gateway does it (recorded: the subscribe ack says
``first_sequence_number ["1061214"]``, ``latest_sequence_number ["1061213"]``;
the snapshot is ``0``/``0``; deltas then run 1061214 with prev 1061213, ...):
one running counter per feed (stream + selector) for the whole gateway, shared
by every subscriber and kept across unsubscribe / subscribe; the ack announces
the next number and the latest one sent; snapshots carry ``0``. A skipped
number (fault) moves the counter for everybody, as a gateway that lost a
message would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from connectors.base import Side, Trade
from connectors.emulation.accounts import sim_mid
from connectors.emulation.faults import FaultState
from connectors.emulation.hub import SubscriptionHub
from connectors.emulation.sockets import SocketSet
from connectors.grvt.emulator.state import GrvtState, Market, User
from connectors.grvt.emulator.wire import (
    NOT_AUTHENTICATED,
    GrvtErr,
    book_json,
    envelope,
    frame,
    mini_delta,
    mini_json,
    now_ns,
    public_trade_json,
    wire_trade_id,
)
from connectors.sim.venue import LevelChanges, SimVenue

log = logging.getLogger("connectors.grvt.emulator")

PRIVATE = ("v1.order", "v1.state", "v1.fill", "v1.position", "v1.cancel")
PUBLIC = ("v1.book.s", "v1.book.d", "v1.mini.s", "v1.mini.d", "v1.trade")
PUBLIC_START = 1_061_213
"""Where a public feed's counter starts: the recorded ``latest_sequence_number`` (a
gateway that has been up a while; private feeds were recorded near 0)."""


@dataclass(eq=False, slots=True)
class Conn:
    ws: web.WebSocketResponse
    request: web.Request
    user: User | None
    rpc: bool
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


@dataclass(frozen=True, slots=True)
class Sub:
    stream: str
    selector: str
    market: Market | None
    user: User | None


def channel(stream: str, selector: str) -> str:
    return f"{stream}:{selector}"


Positions = Callable[[User], list[dict[str, Any]]]
"""The user's positions as ``v1.position`` feeds (what a position subscribe replays)."""


class GrvtFeed:
    def __init__(
        self,
        venue: SimVenue,
        state: GrvtState,
        faults: FaultState,
        *,
        positions: Positions,
        ping_interval_s: float,
    ) -> None:
        self.venue = venue
        self.state = state
        self.faults = faults
        self.positions = positions
        self.ping_interval_s = ping_interval_s
        self.hub: SubscriptionHub[Conn] = SubscriptionHub()
        self.sockets = SocketSet("grvt", self.hub.forget)
        self.counters: dict[str, int] = {}
        """channel -> the last sequence number the gateway sent on it."""
        self._trade_seq = 0

    # -- sending -------------------------------------------------------------------

    def send(self, conn: Conn, body: Any) -> None:
        text = body if isinstance(body, str) else orjson.dumps(body).decode()
        self.sockets.send(conn, text)

    def send_raw(self, text: str, *, private: bool = False) -> int:
        """``text`` as-is to every socket (only the logged-in ones with ``private``)."""
        conns = [c for c in self.sockets if c.user is not None or not private]
        for conn in conns:
            self.sockets.send(conn, text)
        return len(conns)

    def publish(self, ch: str, feed: dict[str, Any], *, skip: int = 0) -> int:
        """One delta on ``ch``: the gateway's counter moves once (plus ``skip``), every
        subscriber gets the same frame."""
        if not self.hub.has(ch):
            return 0
        stream, _, selector = ch.partition(":")
        prev = self.latest(ch) + skip
        self.counters[ch] = seq = prev + 1
        return self.hub.publish(
            ch,
            lambda: orjson.dumps(frame(stream, selector, seq, prev, feed)).decode(),
            self.sockets.send,
        )

    def latest(self, ch: str) -> int:
        """The last number the gateway sent on ``ch``."""
        return self.counters.get(ch, PUBLIC_START if ch.partition(":")[0] in PUBLIC else 0)

    def snapshot(self, conn: Conn, sub: Sub, feed: dict[str, Any]) -> None:
        self.send(conn, frame(sub.stream, sub.selector, 0, 0, feed))

    def channels_of(self, stream: str, m: Market) -> list[str]:
        prefix = f"{stream}:{m.wire}@"
        return [ch for ch in self.hub.channels() if ch.startswith(prefix)]

    def push_private(self, user: User, stream: str, m: Market, feed: dict[str, Any]) -> None:
        for ch in self.hub.channels():
            if not ch.startswith(stream + ":"):
                continue
            for _, sub in self.hub.subscribers(ch)[:1]:
                if sub.user is user and (sub.market is None or sub.market is m):
                    self.publish(ch, feed)

    # -- market data from the sim ------------------------------------------------------

    def on_book(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        m = self.state.by_sim.get(symbol)
        if m is None or not changes:
            return
        skip = self.faults.take_book_skip(m.wire)
        if skip:
            log.info("grvt emulator: skipping %d book sequence numbers on %s (fault)", skip, m.wire)
        deltas = self.channels_of("v1.book.d", m)
        if deltas:
            bids = sorted(((p, q) for side, p, q in changes if side is Side.BUY), reverse=True)
            asks = sorted((p, q) for side, p, q in changes if side is Side.SELL)
            delta = book_json(m, bids, asks, ts_ms * 1_000_000)
            for ch in deltas:
                self.publish(ch, delta, skip=skip)
        snaps = self.channels_of("v1.book.s", m)
        if snaps:
            full = self.book_feed(m, 500)
            for ch in snaps:
                for conn, sub in self.hub.subscribers(ch):
                    self.snapshot(conn, sub, full)
        self._mini(m)

    def book_feed(self, m: Market, depth: int = 10_000) -> dict[str, Any]:
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, depth)
        return book_json(m, bids, asks, now_ns())

    def mini_feed(self, m: Market) -> dict[str, Any]:
        inst = m.inst
        bids, asks, _ = self.venue.snapshot(inst.symbol, 1)
        bid = (inst.ticks_to_price(bids[0][0]), inst.lots_to_size(bids[0][1])) if bids else None
        ask = (inst.ticks_to_price(asks[0][0]), inst.lots_to_size(asks[0][1])) if asks else None
        return mini_json(m, sim_mid(self.venue, inst.symbol), bid, ask)

    def _mini(self, m: Market) -> None:
        bids1, asks1, _ = self.venue.snapshot(m.inst.symbol, 1)
        if not bids1 or not asks1:
            return
        bbo = (bids1[0][0], bids1[0][1], asks1[0][0], asks1[0][1])
        if bbo == m.bbo:
            return
        m.bbo = bbo
        if not (self.channels_of("v1.mini.d", m) or self.channels_of("v1.mini.s", m)):
            return
        now = self.mini_feed(m)
        delta = mini_delta(m.mini, now)
        m.mini = now
        for ch in self.channels_of("v1.mini.d", m):
            self.publish(ch, delta)
        for ch in self.channels_of("v1.mini.s", m):
            for conn, sub in self.hub.subscribers(ch):
                self.snapshot(conn, sub, now)

    def on_trade(self, trade: Trade) -> None:
        m = self.state.by_sim.get(trade.symbol)
        self._trade_seq += 1  # the sim numbers its trades in this order too
        if m is None:
            return
        mark = sim_mid(self.venue, trade.symbol) or trade.price
        trade_id = wire_trade_id(f"{m.venue}-{self._trade_seq}", m.venue)
        feed = public_trade_json(
            m, trade_id, trade.side, trade.price, trade.size, trade.ts_ms, mark
        )
        m.trades.append(feed)
        for ch in self.channels_of("v1.trade", m):
            self.publish(ch, feed)

    # -- the WebSocket ------------------------------------------------------------------

    async def handler(self, request: web.Request, *, rpc: bool) -> web.StreamResponse:
        user: User | None = None
        if request.cookies.get("gravity"):
            user = self.state.session_user(request)
            if user is None:
                return envelope(GrvtErr(1000, "Session expired or invalid", 401))
        ws = web.WebSocketResponse(heartbeat=self.ping_interval_s, timeout=2.0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=404, text="WebSocket only")
        await ws.prepare(request)
        await self.sockets.serve(Conn(ws, request, user, rpc), self.on_command)
        return ws

    def error(self, conn: Conn, rid: Any, err: GrvtErr) -> None:
        if conn.rpc:
            body = {"jsonrpc": "2.0", "error": {"code": err.code, "message": err.message}}
            self.send(conn, body | {"id": rid})
        else:
            fields = {"code": err.code, "message": err.message, "status": err.status}
            self.send(conn, {"request_id": rid} | fields)

    def on_command(self, conn: Conn, text: str) -> None:
        try:
            cmd = json.loads(text)
        except ValueError:
            self.error(conn, None, GrvtErr(1003, "Request is not JSON"))
            return
        if not isinstance(cmd, dict):
            self.error(conn, None, GrvtErr(1003, "Request must be a JSON object"))
            return
        if cmd.get("jsonrpc") == "2.0":
            rid = cmd.get("id")
            params = cmd.get("params") if isinstance(cmd.get("params"), dict) else {}
            method = cmd.get("method")
            stream, selectors = params.get("stream"), params.get("selectors")
        else:
            rid = cmd.get("request_id")
            method, stream, selectors = cmd.get("method"), cmd.get("stream"), cmd.get("feed")
        if method not in ("subscribe", "unsubscribe") or not isinstance(selectors, list):
            self.error(conn, rid, GrvtErr(1003, "Unknown method or malformed request"))
            return
        stream = str(stream)
        if method == "unsubscribe":
            gone = [str(s) for s in selectors if self.hub.remove(conn, channel(stream, str(s)))]
            self.ack(conn, rid, stream, method, [], gone)
            return
        added: list[Sub] = []
        for selector in selectors:
            try:
                sub = self.new_sub(conn, stream, str(selector))
            except GrvtErr as err:
                self.error(conn, rid, err)
                continue
            self.hub.add(conn, channel(stream, sub.selector), sub)
            added.append(sub)
        if added:
            self.ack(conn, rid, stream, method, added, [])
            for sub in added:
                self.replay(conn, sub)

    def ack(
        self, conn: Conn, rid: Any, stream: str, method: str, added: list[Sub], gone: list[str]
    ) -> None:
        latest = [self.latest(channel(s.stream, s.selector)) for s in added]
        body = {
            "stream": stream,
            "subs": [s.selector for s in added],
            "unsubs": gone,
            "num_snapshots": [self.snapshots_of(s) for s in added],
            "first_sequence_number": [str(n + 1) for n in latest],
            "latest_sequence_number": [str(n) for n in latest],
        }
        if conn.rpc:
            self.send(conn, {"jsonrpc": "2.0", "result": body, "id": rid, "method": method})
        else:
            self.send(conn, {"request_id": rid} | body)

    def snapshots_of(self, sub: Sub) -> int:
        if sub.stream in ("v1.book.d", "v1.book.s", "v1.mini.d", "v1.mini.s"):
            return 1
        if sub.stream == "v1.trade" and sub.market is not None:
            return len(sub.market.trades)
        if sub.stream == "v1.position" and sub.user is not None:
            return len(self.positions(sub.user))
        return 0

    def replay(self, conn: Conn, sub: Sub) -> None:
        """What a subscribe sends before the deltas: snapshots with sequence number 0."""
        m = sub.market
        if sub.stream in ("v1.book.d", "v1.book.s") and m is not None:
            self.snapshot(conn, sub, self.book_feed(m))
        elif sub.stream in ("v1.mini.s", "v1.mini.d") and m is not None:
            self.snapshot(conn, sub, self.mini_feed(m))
        elif sub.stream == "v1.trade" and m is not None:
            for feed in m.trades:
                self.snapshot(conn, sub, feed)
        elif sub.stream == "v1.position" and sub.user is not None:
            for feed in self.positions(sub.user):
                if sub.market is None or feed["instrument"] == sub.market.wire:
                    self.snapshot(conn, sub, feed)

    def new_sub(self, conn: Conn, stream: str, selector: str) -> Sub:
        if stream in PUBLIC:
            instr, _, rest = selector.partition("@")
            m = self.state.markets.get(instr)
            if m is None or not rest:
                raise GrvtErr(3000, f"Invalid selector {selector} for {stream}")
            return Sub(stream, selector, m, None)
        if stream in PRIVATE:
            if conn.user is None:
                raise GrvtErr(1000, NOT_AUTHENTICATED, 401)
            sub_id, _, instr = selector.partition("-")
            if sub_id != conn.user.sub_account_id:
                raise GrvtErr(1001, "You are not authorized to access this functionality", 403)
            m = None
            if instr:
                m = self.state.markets.get(instr)
                if m is None:
                    raise GrvtErr(3000, f"Invalid selector {selector}")
            return Sub(stream, selector, m, conn.user)
        raise GrvtErr(3000, f"Unknown stream {stream}")


__all__ = ["PRIVATE", "PUBLIC", "Conn", "GrvtFeed", "Sub"]
