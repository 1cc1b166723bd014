"""The Lighter emulator's WebSocket ``/stream`` (a mixin of the dialect): the greeting,
subscribe / unsubscribe with Lighter's channel names, snapshots then updates, pings and
the idle cut-off, ``jsonapi/sendtx``, and what gets pushed after each change.

Frames as recorded (tests/fixtures/venues/lighter/ws_*.json): pushes name the channel
with ``:``; ``subscribed/<kind>`` first, ``update/<kind>`` after; ``order_book`` carries
``offset``, ``nonce``, ``begin_nonce`` (0 in a snapshot, the previous ``nonce`` in an
update) and ``last_updated_at`` in us; ``trade`` carries a ``nonce`` and
``liquidation_trades``. Error frames (codes by Lighter's table): 30003 "Already
Subscribed" and 30002 "Not Subscribed" as ``{"type": "error", ...}``, the rest as
``{"error": {...}}`` — both shapes are recorded; which one the venue uses when is a guess.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from connectors.base import Side
from connectors.emulation.hub import SubscriptionHub
from connectors.emulation.sockets import SocketSet, close_ws
from connectors.lighter.emulator import wire as w
from connectors.lighter.emulator.render import Render
from connectors.lighter.emulator.state import Account, Conn, LighterEmulatorStats, Order, dumps
from connectors.sim.venue import LevelChanges

log = logging.getLogger("connectors.lighter.emulator")

PRIVATE = (
    "account_all_orders",
    "account_all_trades",
    "account_all_positions",
    "user_stats",
)
"""Per-account channels that want the auth token (``account_all`` does not)."""


class Feed(Render):
    stats: LighterEmulatorStats
    ping_interval_s: float
    idle_timeout_s: float
    sockets: SocketSet
    hub: SubscriptionHub[Conn]
    _accounts: dict[int, Account]
    _session_seq: int
    _tasks: set[asyncio.Task[None]]
    _dirty_orders: dict[int, dict[int, Order]]
    _dirty_positions: dict[int, set[int]]
    _new_trades: dict[int, list[tuple[int, dict[str, Any]]]]
    _public_trades: dict[int, list[dict[str, Any]]]
    _liquidations: dict[int, list[dict[str, Any]]]
    _flush_scheduled: bool
    _rng: random.Random
    faults: Any

    _check_token: Callable[[str | None, int | None], Account]
    _tx: Callable[..., dict[str, Any]]
    _tx_batch: Callable[..., dict[str, Any]]

    # -- fault hooks ---------------------------------------------------------------------

    def push_raw(self, text: str) -> int:
        """Fault hook: send ``text`` as-is to every WebSocket client (malformed frames,
        unknown message types); returns how many clients got it."""
        conns = list(self.sockets)
        for conn in conns:
            self.sockets.send(conn, text)
        return len(conns)

    def announce_shutdown(self, close_in_ms: int) -> int:
        """Fault hook: send ``{"type":"shutdown","close_in_ms":N}`` on every WebSocket and
        close them all (Close frame 1001) ``close_in_ms`` later; returns how many."""
        conns = list(self.sockets)
        for conn in conns:
            self.sockets.send(conn, dumps({"type": "shutdown", "close_in_ms": close_in_ms}))

        async def close_later() -> None:
            await asyncio.sleep(close_in_ms / 1000)
            for conn in conns:
                self.sockets.drop(conn)
            await asyncio.gather(
                *(close_ws(c.ws, 1001, b"server shutdown") for c in conns),
                return_exceptions=True,
            )

        task = asyncio.get_running_loop().create_task(close_later(), name="lighter-shutdown")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return len(conns)

    # -- the connection ------------------------------------------------------------------

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=1 << 20)
        if not ws.can_prepare(request).ok:
            return web.Response(status=404, text="WebSocket only")
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        self._session_seq += 1
        sid = hashlib.blake2b(
            f"session-{self._session_seq}-{time.time_ns()}".encode(), digest_size=8
        ).hexdigest()
        conn = Conn(ws, request, sid, last_rx=loop.time())
        self.stats.ws_connections += 1
        self.sockets.send(conn, dumps({"type": "connected", "session_id": sid}))
        keeper = asyncio.create_task(self._keeper(conn), name="lighter-ws-keeper")

        def on_text(conn: Conn, text: str) -> None:
            conn.last_rx = loop.time()  # client traffic: not idle
            self._on_command(conn, text)

        try:
            await self.sockets.serve(conn, on_text)
        finally:
            keeper.cancel()
        return ws

    async def _keeper(self, conn: Conn) -> None:
        """Server pings every ping_interval_s; close after idle_timeout_s without traffic."""
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + self.ping_interval_s
        while not conn.ws.closed:
            now = loop.time()
            idle_at = conn.last_rx + self.idle_timeout_s
            if now >= idle_at:
                self.stats.idle_disconnects += 1
                log.info("lighter emulator: closing idle WebSocket %s", conn.session_id)
                self.sockets.drop(conn)
                await close_ws(conn.ws, 1000, b"idle timeout")
                return
            if now >= next_ping:
                self.sockets.send(conn, '{"type":"ping"}')
                next_ping = now + self.ping_interval_s
            await asyncio.sleep(max(0.01, min(idle_at, next_ping) - loop.time()))

    def _ws_error(self, conn: Conn, code: int, message: str, *, flat: bool = False) -> None:
        if flat:
            self.sockets.send(conn, dumps({"type": "error", "code": code, "message": message}))
        else:
            self.sockets.send(conn, dumps({"error": {"code": code, "message": message}}))

    def _on_command(self, conn: Conn, text: str) -> None:
        try:
            cmd = json.loads(text)
        except ValueError:
            cmd = None
        if not isinstance(cmd, dict) or not isinstance(cmd.get("type"), str):
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_DATA, "Invalid Data")
            return
        kind = cmd["type"]
        if kind == "ping":
            self.sockets.send(conn, '{"type":"pong"}')
            return
        if kind == "pong":
            return
        if kind in ("jsonapi/sendtx", "jsonapi/sendtxbatch"):
            self._ws_tx(conn, kind, cmd.get("data"))
            return
        if kind not in ("subscribe", "unsubscribe"):
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_NOT_SUPPORTED, f"Operation not supported: {kind}")
            return
        channel = cmd.get("channel")
        parsed = self._parse_channel(channel) if isinstance(channel, str) else None
        if parsed is None:
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_DATA, f"Invalid Data: channel {channel}")
            return
        push_name, ch_kind, private, account = parsed
        if kind == "unsubscribe":
            if not self.hub.remove(conn, push_name):
                self._ws_error(
                    conn, w.WS_NOT_SUBSCRIBED, f"Not Subscribed to : {push_name}", flat=True
                )
            return
        if self.hub.subscribed(conn, push_name):
            self._ws_error(
                conn, w.WS_ALREADY_SUBSCRIBED, f"Already Subscribed to : {push_name}", flat=True
            )
            return
        acct: Account | None = None
        if account is not None:
            acct = self._accounts.get(account)
            if acct is None:
                self._ws_error(conn, w.CODE_ACCOUNT_NOT_FOUND, f"account not found: {channel}")
                return
        if private:
            auth = cmd.get("auth")
            try:
                self._check_token(auth if isinstance(auth, str) else None, account)
            except w.LighterError:
                self.stats.auth_refused += 1
                self._ws_error(conn, w.CODE_INVALID_AUTH, f"invalid auth token for {channel}")
                return
        snapshot = self._snapshot(ch_kind, push_name, acct)
        self.hub.add(conn, push_name)
        self.sockets.send(
            conn, dumps({"type": f"subscribed/{ch_kind}", "channel": push_name} | snapshot)
        )

    def _ws_tx(self, conn: Conn, kind: str, data: Any) -> None:
        """``jsonapi/sendtx`` / ``jsonapi/sendtxbatch``: answered with a message of the same
        type whose ``data`` is the REST body (RespSendTx or the error) plus the caller's id."""
        if not isinstance(data, dict):
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_DATA, f"Invalid Data: {kind} without data")
            return
        try:
            if kind == "jsonapi/sendtx":
                body = self._tx(data.get("tx_type"), data.get("tx_info"))
            else:
                body = self._tx_batch(data.get("tx_types"), data.get("tx_infos"))
        except w.LighterError as err:
            body = err.body()
        self.sockets.send(conn, dumps({"type": kind, "data": {"id": data.get("id")} | body}))

    def _parse_channel(self, channel: str) -> tuple[str, str, bool, int | None] | None:
        """(push name, kind, needs auth, account index) of a subscribe channel."""
        parts = channel.split("/")
        kind, args = parts[0], parts[1:]

        def num(text: str) -> int | None:
            return int(text) if text.isdigit() else None

        if kind in ("order_book", "trade") and len(args) == 1:
            mid = num(args[0])
            if mid is None or mid not in self._by_id:
                return None
            return f"{kind}:{mid}", kind, False, None
        if kind == "market_stats" and len(args) == 1:
            if args[0] == "all":
                return "market_stats:all", kind, False, None
            mid = num(args[0])
            if mid is None or mid not in self._by_id:
                return None
            return f"market_stats:{mid}", kind, False, None
        if (kind in PRIVATE or kind == "account_all") and len(args) == 1:
            a = num(args[0])
            return None if a is None else (f"{kind}:{a}", kind, kind in PRIVATE, a)
        if kind == "account_orders" and len(args) == 2:
            mid, a = num(args[0]), num(args[1])
            if mid is None or a is None or mid not in self._by_id:
                return None
            return f"{kind}:{mid}:{a}", kind, True, a
        return None

    def _snapshot(self, kind: str, name: str, acct: Account | None) -> dict[str, Any]:
        if kind == "order_book":
            return self._book_snapshot(self._by_id[int(name.split(":")[1])])
        if kind == "trade":
            m = self._by_id[int(name.split(":")[1])]
            return {"trades": list(m.trades)[-50:], "liquidation_trades": [], "nonce": m.nonce}
        if kind == "market_stats":
            arg = name.split(":")[1]
            if arg == "all":
                stats = {str(m.market_id): self._market_stats(m) for m in self._by_id.values()}
                return {"market_stats": stats}
            return {"market_stats": self._market_stats(self._by_id[int(arg)])}
        assert acct is not None
        positions = {
            str(m.market_id): self._position_json(acct, m.market_id)
            for m in self._position_markets(acct)
        }
        if kind == "account_all":
            return self._account_all_payload(acct, positions, {})
        if kind == "account_all_positions":
            return {"positions": positions, "shares": []}
        if kind == "account_all_trades":
            return {"trades": {}}  # no past trades: those are in GET /api/v1/trades (a guess)
        if kind == "user_stats":
            return {"stats": self._user_stats(acct)}
        live = sorted(acct.live.values(), key=lambda o: o.order_index)
        if kind == "account_all_orders":
            by_market: dict[str, list[dict[str, Any]]] = {}
            for o in live:
                by_market.setdefault(str(o.market.market_id), []).append(self._order_json(o))
            return {"orders": by_market}
        mid = int(name.split(":")[1])
        return {
            "account": acct.index,
            "nonce": acct.update_seq,
            "orders": {str(mid): [self._order_json(o) for o in live if o.market.market_id == mid]},
        }

    # -- pushing -------------------------------------------------------------------------

    def _publish(self, channel: str, kind: str, payload: dict[str, Any]) -> None:
        def render() -> str:
            return dumps({"type": f"update/{kind}", "channel": channel} | payload)

        self.hub.publish(channel, render, self.sockets.send)

    def _on_book(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        m = self._by_sim.get(symbol)
        if m is None or not changes:
            return
        channel = f"order_book:{m.market_id}"
        listened = self.hub.has(channel)
        skip = self.faults.take_book_skip(m.wire) if listened else 0
        if skip:
            log.info("lighter emulator: breaking the nonce chain of %s by %d (fault)", m.wire, skip)
        begin = m.nonce + skip
        m.nonce = begin + 1
        m.offset += self._rng.randint(1, 3)  # increasing, not contiguous
        if not listened:
            return
        asks = sorted((p, q) for side, p, q in changes if side is Side.SELL)
        bids = sorted(((p, q) for side, p, q in changes if side is Side.BUY), reverse=True)
        book = {
            "code": 0,
            "asks": [self._level(m, p, q) for p, q in asks],
            "bids": [self._level(m, p, q) for p, q in bids],
            "offset": m.offset,
            "nonce": m.nonce,
            "last_updated_at": ts_ms * 1000,
            "begin_nonce": begin,
        }
        payload = {"last_updated_at": ts_ms * 1000, "offset": m.offset, "order_book": book}
        self._publish(channel, "order_book", payload | {"timestamp": ts_ms})

    def _mark_order(self, o: Order) -> None:
        self._dirty_orders.setdefault(o.account.index, {})[o.order_index] = o
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        try:
            asyncio.get_running_loop().call_soon(self._flush)
        except RuntimeError:  # no loop (direct use in a unit test): flush now
            self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        try:
            for market_id in set(self._public_trades) | set(self._liquidations):
                m = self._by_id[market_id]
                self._publish(
                    f"trade:{market_id}",
                    "trade",
                    {
                        "trades": self._public_trades.get(market_id, []),
                        "liquidation_trades": self._liquidations.get(market_id, []),
                        "nonce": m.nonce,
                    },
                )
            accounts = set(self._dirty_orders) | set(self._dirty_positions) | set(self._new_trades)
            for index in sorted(accounts):
                self._flush_account(self._accounts[index])
        except Exception:
            log.exception("lighter emulator: pushing account updates failed")
        finally:
            self._dirty_orders.clear()
            self._dirty_positions.clear()
            self._new_trades.clear()
            self._public_trades.clear()
            self._liquidations.clear()

    def _flush_account(self, acct: Account) -> None:
        a = acct.index
        acct.update_seq += 1
        orders = list(self._dirty_orders.get(a, {}).values())
        positions = sorted(self._dirty_positions.get(a, set()))
        trades_by: dict[str, list[dict[str, Any]]] = {}
        for mk_id, tj in self._new_trades.get(a, []):
            trades_by.setdefault(str(mk_id), []).append(tj)
        if orders:
            by_market: dict[str, list[dict[str, Any]]] = {}
            for o in orders:
                by_market.setdefault(str(o.market.market_id), []).append(self._order_json(o))
            self._publish(f"account_all_orders:{a}", "account_all_orders", {"orders": by_market})
            for mk, lst in by_market.items():
                self._publish(
                    f"account_orders:{mk}:{a}",
                    "account_orders",
                    {"account": a, "nonce": acct.update_seq, "orders": {mk: lst}},
                )
        if trades_by:
            self._publish(f"account_all_trades:{a}", "account_all_trades", {"trades": trades_by})
        pos_json = {str(mk): self._position_json(acct, mk) for mk in positions}
        if pos_json:
            self._publish(
                f"account_all_positions:{a}",
                "account_all_positions",
                {
                    "positions": pos_json,
                    "shares": [],
                    "last_funding_round": None,
                    "last_funding_discount": None,
                },
            )
        if pos_json or trades_by:
            self._publish(
                f"account_all:{a}",
                "account_all",
                self._account_all_payload(acct, pos_json, trades_by),
            )
            self._publish(f"user_stats:{a}", "user_stats", {"stats": self._user_stats(acct)})

    def _account_all_payload(
        self,
        acct: Account,
        positions: dict[str, dict[str, Any]],
        trades: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        n = len(acct.trades)
        volume = w.fmt(acct.volume, 6)
        return {
            "account": acct.index,
            "positions": positions,
            "trades": trades,
            "funding_histories": {},
            "shares": [],
            "daily_trades_count": n,
            "daily_volume": volume,
            "weekly_trades_count": n,
            "weekly_volume": volume,
            "monthly_trades_count": n,
            "monthly_volume": volume,
            "total_trades_count": n,
            "total_volume": volume,
        }

    def _push_market_stats(self) -> None:
        if not any(name.startswith("market_stats") for name in self.hub.channels()):
            return
        changed: dict[str, dict[str, Any]] = {}
        for m in self._by_id.values():
            stats = self._market_stats(m)
            sig = (stats["mark_price"], stats["last_trade_price"], m.trade_count)
            if sig == m.stats_sig:
                continue
            m.stats_sig = sig
            changed[str(m.market_id)] = stats
            self._publish(f"market_stats:{m.market_id}", "market_stats", {"market_stats": stats})
        if changed:
            self._publish("market_stats:all", "market_stats", {"market_stats": changed})
