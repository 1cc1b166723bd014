"""A loopback emulator of the GRVT REST and WebSocket API.

Serves a ``SimVenue`` through GRVT's dialect (docs: /work/shared/spec/venues.md
section 3, checklist 5.3). Runs inside ``connectors.emulation.EmulatorHarness``;
one port serves the edge, trade-data and market-data paths and ``/ws``::

    creds = new_credentials()
    with grvt_emulator({creds.api_key: "alice"}, signers={creds.api_key: creds.address},
                       sub_accounts={creds.api_key: creds.sub_account_id}) as emu:
        emu.base_url   # http://127.0.0.1:PORT  (edge, trades and market-data hosts)
        emu.ws_url     # ws://127.0.0.1:PORT/ws

Wire conventions: the sim's ``BTC-PERP`` is ``BTC_USDT_Perp``; numbers are decimal
strings, times unix nanoseconds as strings, ``sub_account_id`` a uint64 string.
Every order's EIP-712 signature is checked for real: the typed message is rebuilt
from the JSON, the signer recovered with eth-account and compared with
``signature.signer`` and with the wallet bound to the API key.

Emulator decisions where the venue is unknown ([EMU] in the spec) are listed in
``EMULATOR_NOTES``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from aiohttp import web
from eth_account import Account
from eth_utils import to_checksum_address

from connectors.base import (
    ZERO,
    Event,
    Fill,
    Instrument,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
    Trade,
)
from connectors.emulation.faults import FaultState, HttpFault
from connectors.emulation.harness import EmulatorHarness, VenueDialect, default_world
from connectors.emulation.sockets import SocketSet
from connectors.grvt.signing import (
    MAX_EXPIRATION_NS,
    SignatureCheckError,
    high_s,
    order_message,
    recover_signer,
)
from connectors.sim.venue import FlowParams, LevelChanges, SimVenue
from connectors.sim.world import SimWorld

log = logging.getLogger("connectors.grvt.emulator")

EMULATOR_NOTES = """\
- One port serves all three hosts: /auth/api_key/login, /full/v1/*, /ws and /ws/full.
- Sessions: cookie_ttl_s (default 24 h); expire_sessions() ends every session at once.
  A trade-data call without a live session or with the wrong X-Grvt-Account-Id: 401, 1000.
  An unknown API key at login: 401, 1000. A body naming another sub-account: 403, 1001.
- create_order answers PENDING; the order is matched on the next loop turn and its
  outcome (OPEN / FILLED / REJECTED FAIL_POST_ONLY / CANCELLED IOC_CANCEL ...) is
  pushed on v1.order. A second create with the same signer + nonce + payload
  returns the first order again (nothing new is placed).
- cancel_order of an order that is not live: 404, 1004. Cancel answers {"ack": true};
  the CANCELLED order follows on v1.order.
- Signature: wrong chain id (recovers under another GRVT chain id): 1012; recovered
  address != signature.signer: 2002; signer not the API key's wallet: 2000;
  expiration in the past or > 30 days ahead: 2001.
- reject_next_order(reason): a numeric reason answers create_order with that code
  (status 400); any other reason rejects the order asynchronously with
  reject_reason = reason when it is a GRVT reject reason (else UNSPECIFIED).
- Injected HTTP faults answer with the error envelope: 429 -> code 1006; 5xx -> 1002.
- WS: per subscription, sequence numbers start at 0 (book.d / book.s snapshot) or 1
  (other streams) and rise by one per message; a skipped number (fault) leaves a gap.
  Private streams need the cookie on the upgrade; a bad or expired cookie: 401 at the
  upgrade; a private subscribe on a connection without a session: error frame 1000.
  Errors on the socket: {"request_id", "code", "message", "status"}.
- Cancel-on-disconnect: countdown_time ms (<= 300000, else 6000); each call re-arms;
  "0" disarms; when it runs out every live order of the sub-account is cancelled with
  CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED. Checked on every sim step.
- Fees: the sim's maker/taker fees; fee_rate in the fill is that rate.
"""

CHAIN_IDS = (325, 326, 327)
WIRE_QUOTE = "USDT"
BASE_DECIMALS = 9
QUOTE_DECIMALS = 6
_U64 = 2**64 - 1
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_PRIVATE = ("v1.order", "v1.state", "v1.fill", "v1.position", "v1.cancel")
_PUBLIC = ("v1.book.s", "v1.book.d", "v1.mini.s", "v1.mini.d", "v1.trade")
_TIFS = ("GOOD_TILL_TIME", "ALL_OR_NONE", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")
_REJECT_REASONS = frozenset(
    {
        "UNSPECIFIED",
        "CLIENT_CANCEL",
        "CLIENT_BULK_CANCEL",
        "IOC_CANCEL",
        "FOK_CANCEL",
        "EXPIRED",
        "FAIL_POST_ONLY",
        "FAIL_REDUCE_ONLY",
        "SELF_TRADE_PROTECTION",
        "OVERLAPPING_CLIENT_ORDER_ID",
        "BELOW_MARGIN",
        "INSTRUMENT_INVALID",
        "UNAUTHORISED",
        "EXCEED_MAX_POSITION_SIZE",
        "CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED",
    }
)


# -- credentials ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an API user holds: API key, sub-account id, signing key (and its address)."""

    api_key: str
    sub_account_id: str
    private_key: str
    address: str


def new_credentials() -> Credentials:
    acct = Account.create()
    return Credentials(
        api_key=secrets.token_hex(16),
        sub_account_id=str(secrets.randbelow(10**15) + 10**15),
        private_key="0x" + acct.key.hex().removeprefix("0x"),
        address=acct.address,
    )


# -- formatting ---------------------------------------------------------------------


def fmt(value: Decimal) -> str:
    """Plain decimal digits, no exponent, no trailing zeros ("0" for zero)."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def cookie_expiry(ts: float) -> str:
    """The exact format the SDK parses: ``%a, %d %b %Y %H:%M:%S GMT``."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def wire_symbol(inst: Instrument) -> str:
    return f"{inst.base}_{WIRE_QUOTE}_Perp"


class GrvtErr(Exception):
    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _envelope(code: int, message: str, status: int) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status}, status=status)


# -- state ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Market:
    inst: Instrument
    wire: str
    asset_hash: str
    bbo: tuple[int, int, int, int] | None = None
    trade_seq: int = 0


@dataclass(slots=True)
class _User:
    api_key: str
    account: str
    sub_account_id: str
    signer: str
    main_account_id: str


@dataclass(slots=True)
class _Order:
    order_id: str
    user: _User
    market: _Market
    client_order_id: str
    side: Side
    is_market: bool
    tif: str
    post_only: bool
    reduce_only: bool
    size: Decimal
    price: Decimal
    signature: dict[str, Any]
    create_ns: int
    status: str = "PENDING"
    reject_reason: str = "UNSPECIFIED"
    traded: Decimal = ZERO
    traded_quote: Decimal = ZERO
    book_size: Decimal = ZERO
    update_ns: int = 0
    forced_reject: str | None = None
    cancel_reason: str | None = None

    @property
    def live(self) -> bool:
        return self.status in ("PENDING", "OPEN")


@dataclass(slots=True)
class _Sub:
    stream: str
    selector: str
    market: _Market | None
    user: _User | None
    seq: int = -1


@dataclass(eq=False, slots=True)
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    user: _User | None
    rpc: bool
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    subs: dict[tuple[str, str], _Sub] = field(default_factory=dict)


class GrvtDialect(VenueDialect):
    def __init__(
        self,
        venue: SimVenue,
        accounts: Mapping[str, str],
        faults: FaultState,
        *,
        ping_interval_s: float = 60.0,
        signers: Mapping[str, str] | None = None,
        sub_accounts: Mapping[str, str] | None = None,
        chain_id: int = 326,
        cookie_ttl_s: float = 24 * 3600,
    ) -> None:
        super().__init__(venue, accounts, faults, ping_interval_s=ping_interval_s)
        self.chain_id = chain_id
        self.cookie_ttl_s = cookie_ttl_s
        signers = signers or {}
        sub_accounts = sub_accounts or {}
        self._users: dict[str, _User] = {}
        for i, (api_key, account) in enumerate(self.accounts.items()):
            signer = signers.get(api_key)
            if signer is None:
                raise ValueError(f"grvt emulator: API key {api_key[:6]}… has no signer address")
            self._users[api_key] = _User(
                api_key=api_key,
                account=account,
                sub_account_id=str(sub_accounts.get(api_key) or 10**15 + i + 1),
                signer=to_checksum_address(signer),
                main_account_id=f"0x{secrets.token_hex(20)}",
            )
        self._by_sub = {u.sub_account_id: u for u in self._users.values()}
        self._markets: dict[str, _Market] = {}
        self._by_sim: dict[str, _Market] = {}
        for i, (sim_symbol, inst) in enumerate(venue.instruments.items()):
            m = _Market(inst, wire_symbol(inst), f"0x03{i + 5:02x}01")
            self._markets[m.wire] = m
            self._by_sim[sim_symbol] = m
        self._sessions: dict[str, tuple[_User, float]] = {}
        self._orders: dict[str, _Order] = {}
        self._by_cid: dict[tuple[str, str], _Order] = {}
        """(account, client_order_id) -> the latest order with that id."""
        self._nonces: dict[tuple[str, int], tuple[str, str]] = {}
        """(signer, nonce) -> (payload digest, order id)."""
        self._fills: dict[str, list[dict[str, Any]]] = {}
        self._positions: dict[tuple[str, str], Position] = {}
        self._dead_man: dict[str, float] = {}
        """account -> monotonic deadline of its cancel-on-disconnect countdown."""
        self._next_order = 1
        self._trade_ids = 0
        self.sockets = SocketSet("grvt", self._forget)
        self.dead_man_triggered = 0
        venue.on_book(self._on_book)
        venue.on_trade(self._on_trade)
        venue.on_heartbeat(self._on_heartbeat)
        for user in self._users.values():
            venue.on_account(user.account, partial(self._on_account, user))

    @property
    def markets(self) -> dict[str, _Market]:
        return self._markets

    def sub_account_id(self, api_key: str) -> str:
        return self._users[api_key].sub_account_id

    # -- test hooks (call on the emulator loop: harness.call) ---------------------

    def expire_sessions(self) -> int:
        """End every login session now (the next call gets 401/1000)."""
        n = len(self._sessions)
        self._sessions.clear()
        return n

    def send_raw(self, text: str) -> int:
        """Push ``text`` as-is to every open socket (malformed-frame tests)."""
        for conn in list(self.sockets):
            self._send(conn, text)
        return len(self.sockets)

    def orders_of(self, account: str, *, live: bool = True) -> list[dict[str, Any]]:
        return [
            self._order_json(o)
            for o in self._orders.values()
            if o.user.account == account and (o.live or not live)
        ]

    # -- harness hooks ----------------------------------------------------------------

    @property
    def ws_path(self) -> str:
        return "/ws"

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/ws", partial(self._ws_handler, rpc=False))
        r.add_get("/ws/full", partial(self._ws_handler, rpc=True))
        r.add_post("/auth/api_key/login", self._login)
        public: dict[str, Callable[[dict[str, Any]], Any]] = {
            "instruments": self._instruments,
            "all_instruments": self._instruments,
            "instrument": self._instrument,
            "mini": self._mini,
            "ticker": self._ticker,
            "book": self._book,
            "trade": lambda body: (self._market(body), [])[1],
        }
        for name, fn in public.items():
            r.add_post(f"/full/v1/{name}", self._wrap(fn))
        private: dict[str, Callable[[_User, dict[str, Any]], Any]] = {
            "create_order": self._create_order,
            "cancel_order": self._cancel_order,
            "cancel_all_orders": self._cancel_all,
            "open_orders": self._open_orders,
            "order": self._get_order,
            "order_history": self._order_history,
            "fill_history": self._fill_history,
            "positions": self._positions_json,
            "account_summary": self._account_summary,
            "cancel_on_disconnect": self._cancel_on_disconnect,
        }
        for name, fn in private.items():
            r.add_post(f"/full/v1/{name}", self._wrap_private(name, fn))

    def fault_response(self, fault: HttpFault) -> web.StreamResponse:
        if fault.status == 429:
            resp = _envelope(1006, "Rate limit exceeded", 429)
            if fault.retry_after_s is not None:
                resp.headers["Retry-After"] = str(max(0, round(fault.retry_after_s)))
            return resp
        return _envelope(1002, "Internal server error (injected)", fault.status)

    # -- REST plumbing ----------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw, parse_float=str)
        except ValueError:
            raise GrvtErr(1003, "Request body is not JSON") from None
        if not isinstance(body, dict):
            raise GrvtErr(1003, "Request body must be a JSON object")
        return body

    def _wrap(
        self, fn: Callable[[dict[str, Any]], Any]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = fn(await self._body(request))
            except GrvtErr as err:
                return _envelope(err.code, err.message, err.status)
            except Exception:
                log.exception("grvt emulator: %s failed", request.path)
                return _envelope(1002, "Internal error", 500)
            return web.json_response({"result": result})

        return handler

    def _wrap_private(
        self, name: str, fn: Callable[[_User, dict[str, Any]], Any]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        paged = name in ("order_history", "fill_history")

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                user = self._session_user(request)
                if user is None:
                    raise GrvtErr(1000, "You need to authenticate prior to using this call", 401)
                body = await self._body(request)
                sub = body.get("sub_account_id")
                if name != "create_order" and str(sub) != user.sub_account_id:
                    raise GrvtErr(1001, "You are not authorized to access this sub-account", 403)
                result = fn(user, body)
            except GrvtErr as err:
                if err.status >= 500:
                    log.error("grvt emulator: %s -> %s", name, err)
                return _envelope(err.code, err.message, err.status)
            except Exception:
                log.exception("grvt emulator: %s failed", name)
                return _envelope(1002, "Internal error", 500)
            out: dict[str, Any] = {"result": result}
            if paged:
                out["next"] = ""
            return web.json_response(out)

        return handler

    def _session_user(self, request: web.Request) -> _User | None:
        token = request.cookies.get("gravity")
        if not token:
            return None
        entry = self._sessions.get(token)
        if entry is None:
            return None
        user, expires = entry
        if time.time() >= expires:
            self._sessions.pop(token, None)
            return None
        if request.headers.get("X-Grvt-Account-Id") != user.main_account_id:
            return None
        return user

    async def _login(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await self._body(request)
        except GrvtErr as err:
            return _envelope(err.code, err.message, err.status)
        user = self._users.get(str(body.get("api_key") or ""))
        if user is None:
            return _envelope(1000, "Invalid API key", 401)
        token = secrets.token_hex(24)
        expires = time.time() + self.cookie_ttl_s
        self._sessions[token] = (user, expires)
        resp = web.json_response({"status": "success", "location": ""})
        resp.headers["Set-Cookie"] = (
            f"gravity={token}; Path=/; Expires={cookie_expiry(expires)}; HttpOnly; SameSite=Lax"
        )
        resp.headers["X-Grvt-Account-Id"] = user.main_account_id
        return resp

    def _market(self, body: Mapping[str, Any], key: str = "instrument") -> _Market:
        name = body.get(key)
        m = self._markets.get(str(name))
        if m is None:
            raise GrvtErr(2061 if key == "instrument" else 3000, f"Unknown instrument {name}")
        return m

    def _filtered(self, body: Mapping[str, Any]) -> list[_Market]:
        kinds, bases, quotes = body.get("kind"), body.get("base"), body.get("quote")
        out = []
        for m in self._markets.values():
            if kinds and "PERPETUAL" not in kinds:
                continue
            if bases and m.inst.base not in bases:
                continue
            if quotes and WIRE_QUOTE not in quotes:
                continue
            out.append(m)
        return out

    # -- market data ------------------------------------------------------------------

    def _instrument_json(self, m: _Market) -> dict[str, Any]:
        inst = m.inst
        return {
            "instrument": m.wire,
            "instrument_hash": m.asset_hash,
            "base": inst.base,
            "quote": WIRE_QUOTE,
            "kind": "PERPETUAL",
            "venues": ["ORDERBOOK", "RFQ"],
            "settlement_period": "PERPETUAL",
            "base_decimals": BASE_DECIMALS,
            "quote_decimals": QUOTE_DECIMALS,
            "tick_size": fmt(inst.tick_size),
            "min_size": fmt(inst.min_size),
            "create_time": "1700000000000000000",
            "max_position_size": "1000000",
        }

    def _instruments(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._instrument_json(m) for m in self._filtered(body)]

    def _instrument(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._instrument_json(self._market(body))

    def _levels(self, m: _Market, side: list[tuple[int, int]]) -> list[dict[str, Any]]:
        inst = m.inst
        return [
            {
                "price": fmt(inst.ticks_to_price(p)),
                "size": fmt(inst.lots_to_size(q)),
                "num_orders": 1 if q else 0,
            }
            for p, q in side
        ]

    def _book_feed(self, m: _Market, depth: int = 10_000) -> dict[str, Any]:
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, depth)
        return {
            "event_time": str(self._now_ns()),
            "instrument": m.wire,
            "bids": self._levels(m, bids),
            "asks": self._levels(m, asks),
        }

    def _book(self, body: dict[str, Any]) -> dict[str, Any]:
        m = self._market(body)
        try:
            depth = int(body.get("depth") or 10)
        except (TypeError, ValueError):
            raise GrvtErr(3031, "Invalid depth") from None
        if depth not in (10, 50, 100, 500):
            raise GrvtErr(3031, "Depth must be 10, 50, 100 or 500")
        return self._book_feed(m, depth)

    def _mini_json(self, m: _Market) -> dict[str, Any]:
        inst = m.inst
        bids, asks, _ = self.venue.snapshot(inst.symbol, 1)
        mid = self._mid(m) or ZERO
        bid = (inst.ticks_to_price(bids[0][0]), inst.lots_to_size(bids[0][1])) if bids else None
        ask = (inst.ticks_to_price(asks[0][0]), inst.lots_to_size(asks[0][1])) if asks else None
        return {
            "event_time": str(self._now_ns()),
            "instrument": m.wire,
            "mark_price": fmt(mid),
            "index_price": fmt(mid),
            "last_price": fmt(mid),
            "last_size": "0",
            "mid_price": fmt(mid),
            "best_bid_price": fmt(bid[0]) if bid else "0",
            "best_bid_size": fmt(bid[1]) if bid else "0",
            "best_ask_price": fmt(ask[0]) if ask else "0",
            "best_ask_size": fmt(ask[1]) if ask else "0",
        }

    def _mini(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._mini_json(self._market(body))

    def _ticker(self, body: dict[str, Any]) -> dict[str, Any]:
        m = self._market(body)
        return self._mini_json(m) | {
            "funding_rate_8h_curr": "0",
            "funding_rate_8h_avg": "0",
            "interest_rate": "0",
            "forward_price": "0",
            "buy_volume_24h_b": "0",
            "sell_volume_24h_b": "0",
            "buy_volume_24h_q": "0",
            "sell_volume_24h_q": "0",
            "high_price": "0",
            "low_price": "0",
            "open_price": "0",
            "open_interest": "0",
            "long_short_ratio": "1",
        }

    # -- trading ----------------------------------------------------------------------

    def _create_order(self, user: _User, body: dict[str, Any]) -> dict[str, Any]:
        order = body.get("order")
        if not isinstance(order, dict):
            raise GrvtErr(1003, "order is required")
        if str(order.get("sub_account_id")) != user.sub_account_id:
            raise GrvtErr(2003, "Order sub-account does not match the session's sub-account")
        if order.get("order_id") not in (None, "", "0x00", "0x0"):
            raise GrvtErr(2010, "Order ID should be empty when creating an order")
        legs = order.get("legs")
        if not isinstance(legs, list) or len(legs) != 1 or not isinstance(legs[0], dict):
            raise GrvtErr(2042, "Orderbook orders must have exactly one leg")
        leg = legs[0]
        m = self._market(leg)
        inst = m.inst
        meta = order.get("metadata") or {}
        cid_text = str(meta.get("client_order_id") or "")
        if not cid_text:
            raise GrvtErr(2011, "Client order ID is required")
        if not cid_text.isdigit() or int(cid_text) > _U64:
            raise GrvtErr(1003, "client_order_id must be a uint64 in decimal")
        tif = str(order.get("time_in_force"))
        if tif not in _TIFS:
            raise GrvtErr(1003, f"Unknown time_in_force {tif}")
        if tif == "ALL_OR_NONE":
            raise GrvtErr(2030, "Invalid time in force for orderbook orders")
        is_market = bool(order.get("is_market"))
        post_only = bool(order.get("post_only"))
        reduce_only = bool(order.get("reduce_only"))
        size = _decimal(leg.get("size"), "size")
        price = _decimal(leg.get("limit_price") or "0", "limit_price")
        if is_market:
            if price != 0:
                raise GrvtErr(2020, "Market orders must not have a limit price")
            if tif not in ("IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"):
                raise GrvtErr(2030, "Market orders must be IOC or FOK")
        elif price <= 0:
            raise GrvtErr(2021, "Limit orders must have a limit price")
        if post_only and tif != "GOOD_TILL_TIME":
            raise GrvtErr(2032, "Post-only orders need GOOD_TILL_TIME")
        if size < inst.min_size and not reduce_only:
            raise GrvtErr(2062, f"Order size below the minimum {fmt(inst.min_size)}")
        if size <= 0 or size % inst.min_size != 0:
            raise GrvtErr(2065, f"Order size must be a multiple of {fmt(inst.min_size)}")
        if price % inst.tick_size != 0:
            raise GrvtErr(2064, f"Price must be a multiple of the tick size {fmt(inst.tick_size)}")
        sig = self._check_signature(user, order, m)
        digest = json.dumps(
            [
                order.get(k)
                for k in (
                    "sub_account_id",
                    "is_market",
                    "time_in_force",
                    "post_only",
                    "reduce_only",
                )
            ]
            + [
                leg.get("size"),
                leg.get("limit_price"),
                leg.get("is_buying_asset"),
                leg.get("instrument"),
                sig["expiration"],
                cid_text,
            ],
            sort_keys=True,
            default=str,
        )
        key = (sig["signer"].lower(), int(sig["nonce"]))
        seen = self._nonces.get(key)
        if seen is not None and seen[0] == digest:
            log.info("grvt emulator: duplicate create (nonce %s) ignored", key[1])
            return self._order_json(self._orders[seen[1]])
        existing = self._by_cid.get((user.account, cid_text))
        if existing is not None and existing.live:
            raise GrvtErr(2012, f"Client order ID {cid_text} is already live")
        forced = self.venue.reject_next.pop(user.account, None)
        if forced is not None and forced.isdigit():
            raise GrvtErr(int(forced), "Order rejected (injected)")
        now = self._now_ns()
        o = _Order(
            order_id=f"0x{self._next_order:032x}",
            user=user,
            market=m,
            client_order_id=cid_text,
            side=Side.BUY if leg.get("is_buying_asset") else Side.SELL,
            is_market=is_market,
            tif=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            size=size,
            price=price,
            signature=sig,
            create_ns=now,
            book_size=size,
            update_ns=now,
            forced_reject=forced,
        )
        self._next_order += 1
        self._orders[o.order_id] = o
        self._by_cid[(user.account, cid_text)] = o
        self._nonces[key] = (digest, o.order_id)
        asyncio.get_running_loop().call_soon(self._execute, o)
        return self._order_json(o)

    def _check_signature(self, user: _User, order: dict[str, Any], m: _Market) -> dict[str, Any]:
        sig = order.get("signature")
        if not isinstance(sig, dict):
            raise GrvtErr(2002, "Signature is missing")
        try:
            v = int(sig.get("v"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise GrvtErr(2005, "Signature v must be 27 or 28") from None
        if v not in (27, 28):
            raise GrvtErr(2005, "Signature v must be 27 or 28")
        r_text, s_text = str(sig.get("r") or ""), str(sig.get("s") or "")
        if not _HEX32.match(r_text) or not _HEX32.match(s_text):
            raise GrvtErr(2006, "Signature r and s must be 32 bytes of hex")
        r, s = int(r_text, 16), int(s_text, 16)
        if high_s(s):
            raise GrvtErr(2007, "Signature s must be in the lower half of the curve order")
        try:
            expiration = int(str(sig.get("expiration")))
            int(sig.get("nonce"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise GrvtErr(1003, "Signature expiration and nonce must be integers") from None
        now = self._now_ns()
        if expiration <= now:
            raise GrvtErr(2001, "Signature has expired")
        if expiration > now + MAX_EXPIRATION_NS:
            raise GrvtErr(2001, "Signature expiration is more than 30 days ahead")
        try:
            message = order_message(order, [(m.asset_hash, BASE_DECIMALS)])
        except (SignatureCheckError, KeyError, TypeError, ValueError) as exc:
            raise GrvtErr(1003, f"Order cannot be verified: {exc}") from None
        signer = str(sig.get("signer") or "")
        recovered = recover_signer(message, self.chain_id, v, r, s)
        if recovered.lower() != signer.lower():
            for other in CHAIN_IDS:
                if other != self.chain_id and (
                    recover_signer(message, other, v, r, s).lower() == signer.lower()
                ):
                    raise GrvtErr(1012, f"Signature chain id {other} is not {self.chain_id}")
            raise GrvtErr(2002, "Signature does not match the order payload")
        if recovered.lower() != user.signer.lower():
            raise GrvtErr(2000, f"Signer {recovered} is not authorised for this API key")
        return dict(sig)

    def _execute(self, o: _Order) -> None:
        """Match a PENDING order (one loop turn after create_order answered)."""
        if o.status != "PENDING":
            return
        try:
            if o.forced_reject is not None:
                reason = o.forced_reject if o.forced_reject in _REJECT_REASONS else "UNSPECIFIED"
                self._finish(o, "REJECTED", reason)
                return
            inst = o.market.inst
            tif = {
                "GOOD_TILL_TIME": TimeInForce.GTC,
                "IMMEDIATE_OR_CANCEL": TimeInForce.IOC,
                "FILL_OR_KILL": TimeInForce.FOK,
            }[o.tif]
            req = OrderRequest(
                client_id=o.order_id,
                symbol=inst.symbol,
                side=o.side,
                size=o.size,
                type=OrderType.MARKET if o.is_market else OrderType.LIMIT,
                price=None if o.is_market else o.price,
                time_in_force=tif,
                post_only=o.post_only,
                reduce_only=o.reduce_only,
            )
            ack = self.venue.submit(o.user.account, req)
            if ack.status is OrderStatus.REJECTED and o.live:
                text = ack.reason
                if "post-only" in text:
                    self._finish(o, "REJECTED", "FAIL_POST_ONLY")
                elif "reduce-only" in text:
                    self._finish(o, "REJECTED", "FAIL_REDUCE_ONLY")
                elif "fill-or-kill" in text:
                    self._finish(o, "CANCELLED", "FOK_CANCEL")
                else:
                    reason = text if text in _REJECT_REASONS else "UNSPECIFIED"
                    self._finish(o, "REJECTED", reason)
        except Exception:
            log.exception("grvt emulator: executing order %s failed", o.order_id)
            if o.live:
                self._finish(o, "REJECTED", "UNSPECIFIED")

    def _finish(self, o: _Order, status: str, reason: str) -> None:
        o.status = status
        o.reject_reason = reason
        o.book_size = ZERO
        o.update_ns = self._now_ns()
        self._push_order(o)

    def _find(self, user: _User, body: dict[str, Any]) -> _Order | None:
        oid, cid = body.get("order_id"), body.get("client_order_id")
        if oid not in (None, "", "0x00"):
            o = self._orders.get(str(oid))
        elif cid not in (None, ""):
            o = self._by_cid.get((user.account, str(cid)))
        else:
            raise GrvtErr(3021, "Either order_id or client_order_id must be given")
        if o is None or o.user is not user:
            return None
        return o

    def _cancel_order(self, user: _User, body: dict[str, Any]) -> dict[str, Any]:
        o = self._find(user, body)
        if o is None or not o.live:
            raise GrvtErr(1004, "Order not found or not open", 404)
        self._cancel(o, "CLIENT_CANCEL")
        return {"ack": True}

    def _cancel(self, o: _Order, reason: str) -> None:
        if o.status == "PENDING":
            self._finish(o, "CANCELLED", reason)
            return
        o.cancel_reason = reason
        if not self.venue.cancel(o.user.account, o.market.inst.symbol, o.order_id) and o.live:
            self._finish(o, "CANCELLED", reason)

    def _cancel_all(self, user: _User, body: dict[str, Any]) -> dict[str, Any]:
        chosen = {id(m) for m in self._filtered(body)}
        for o in list(self._orders.values()):
            if o.user is user and o.live and id(o.market) in chosen:
                self._cancel(o, "CLIENT_BULK_CANCEL")
        return {"ack": True}

    def _open_orders(self, user: _User, body: dict[str, Any]) -> list[dict[str, Any]]:
        chosen = {id(m) for m in self._filtered(body)}
        return [
            self._order_json(o)
            for o in self._orders.values()
            if o.user is user and o.live and id(o.market) in chosen
        ]

    def _get_order(self, user: _User, body: dict[str, Any]) -> dict[str, Any]:
        o = self._find(user, body)
        if o is None:
            raise GrvtErr(1004, "Order not found", 404)
        return self._order_json(o)

    def _order_history(self, user: _User, body: dict[str, Any]) -> list[dict[str, Any]]:
        chosen = {id(m) for m in self._filtered(body)}
        out = [
            o
            for o in self._orders.values()
            if o.user is user and not o.live and id(o.market) in chosen
        ]
        out.sort(key=lambda o: o.update_ns, reverse=True)
        return [self._order_json(o) for o in out[: _limit(body)]]

    def _fill_history(self, user: _User, body: dict[str, Any]) -> list[dict[str, Any]]:
        chosen = {m.wire for m in self._filtered(body)}
        lo = _int(body.get("start_time"))
        hi = _int(body.get("end_time"))
        fills = [
            f
            for f in reversed(self._fills.get(user.account, []))
            if f["instrument"] in chosen
            and (lo is None or int(f["event_time"]) >= lo)
            and (hi is None or int(f["event_time"]) <= hi)
        ]
        return fills[: _limit(body)]

    def _positions_json(self, user: _User, body: dict[str, Any]) -> list[dict[str, Any]]:
        chosen = {id(m) for m in self._filtered(body)}
        return [
            self._position_json(user, p)
            for p in self.venue.positions(user.account)
            if p.size != 0 and id(self._by_sim[p.symbol]) in chosen
        ]

    def _account_summary(self, user: _User, body: dict[str, Any]) -> dict[str, Any]:
        (bal,) = self.venue.balances(user.account)
        positions = [
            self._position_json(user, p) for p in self.venue.positions(user.account) if p.size != 0
        ]
        unrealized = sum((p.unrealized_pnl for p in self.venue.positions(user.account)), ZERO)
        return {
            "event_time": str(self._now_ns()),
            "sub_account_id": user.sub_account_id,
            "margin_type": "SIMPLE_CROSS_MARGIN",
            "settle_currency": WIRE_QUOTE,
            "unrealized_pnl": fmt(unrealized),
            "total_equity": fmt(bal.total),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "available_balance": fmt(bal.available),
            "spot_balances": [
                {"currency": WIRE_QUOTE, "balance": fmt(bal.available), "index_price": "1"}
            ],
            "positions": positions,
            "settle_index_price": "1",
            "derisk_margin": "0",
            "derisk_to_maintenance_margin_ratio": "0",
        }

    def _cancel_on_disconnect(self, user: _User, body: dict[str, Any]) -> dict[str, Any]:
        countdown = _int(body.get("countdown_time"))
        if countdown is None or countdown < 0:
            raise GrvtErr(1003, "countdown_time must be milliseconds")
        if countdown > 300_000:
            raise GrvtErr(6000, "countdown_time must be at most 300000 ms")
        if countdown == 0:
            self._dead_man.pop(user.account, None)
        else:
            self._dead_man[user.account] = time.monotonic() + countdown / 1000
        return {"ack": True}

    def _on_heartbeat(self, now_ms: int) -> None:
        if not self._dead_man:
            return
        now = time.monotonic()
        for account, deadline in list(self._dead_man.items()):
            if now < deadline:
                continue
            del self._dead_man[account]
            self.dead_man_triggered += 1
            live = [o for o in self._orders.values() if o.user.account == account and o.live]
            log.info(
                "grvt emulator: cancel-on-disconnect ran out for %s: cancelling %d orders",
                account,
                len(live),
            )
            for o in live:
                self._cancel(o, "CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED")

    # -- JSON ------------------------------------------------------------------------

    def _order_json(self, o: _Order) -> dict[str, Any]:
        avg = o.traded_quote / o.traded if o.traded else ZERO
        return {
            "order_id": o.order_id,
            "sub_account_id": o.user.sub_account_id,
            "is_market": o.is_market,
            "time_in_force": o.tif,
            "post_only": o.post_only,
            "reduce_only": o.reduce_only,
            "legs": [
                {
                    "instrument": o.market.wire,
                    "size": fmt(o.size),
                    "limit_price": fmt(o.price),
                    "is_buying_asset": o.side is Side.BUY,
                }
            ],
            "signature": o.signature,
            "metadata": {"client_order_id": o.client_order_id, "create_time": str(o.create_ns)},
            "state": {
                "status": o.status,
                "reject_reason": o.reject_reason,
                "book_size": [fmt(o.book_size)],
                "traded_size": [fmt(o.traded)],
                "update_time": str(o.update_ns),
                "avg_fill_price": [fmt(avg)],
            },
        }

    def _position_json(self, user: _User, p: Position) -> dict[str, Any]:
        m = self._by_sim[p.symbol]
        mark = self._mid(m) or p.entry_price
        notional = abs(p.size) * mark
        return {
            "event_time": str(self._now_ns()),
            "sub_account_id": user.sub_account_id,
            "instrument": m.wire,
            "size": fmt(p.size),
            "notional": fmt(notional),
            "entry_price": fmt(p.entry_price),
            "exit_price": "0",
            "mark_price": fmt(mark),
            "unrealized_pnl": fmt(p.unrealized_pnl),
            "realized_pnl": fmt(p.realized_pnl),
            "total_pnl": fmt(p.unrealized_pnl + p.realized_pnl),
            "roi": "0",
            "quote_index_price": "1",
            "est_liquidation_price": "0",
            "leverage": "1",
        }

    # -- sim events (all on the loop, synchronous) ----------------------------------

    def _on_account(self, user: _User, event: Event) -> None:
        try:
            if isinstance(event, OrderUpdate):
                self._on_order_update(event)
            elif isinstance(event, Fill):
                self._on_fill(user, event)
            elif isinstance(event, Position):
                self._push_private(
                    user,
                    "v1.position",
                    self._by_sim[event.symbol],
                    self._position_json(user, event),
                )
        except Exception:
            log.exception("grvt emulator: account event failed (%s: %r)", user.account, event)

    def _on_order_update(self, u: OrderUpdate) -> None:
        o = self._orders.get(u.client_id or "")
        if o is None:
            return
        o.update_ns = self._now_ns()
        if u.status is OrderStatus.OPEN or u.status is OrderStatus.PARTIALLY_FILLED:
            if o.status == "PENDING":
                o.status = "OPEN"
            if u.remaining_size is not None:
                o.book_size = u.remaining_size
                if u.filled_size is not None:
                    o.size = u.filled_size + u.remaining_size
            self._push_order(o)
            return
        if u.status is OrderStatus.FILLED:
            self._finish(o, "FILLED", "UNSPECIFIED")
            return
        reason = u.reason
        if reason == "cancelled by user":
            code = o.cancel_reason or "CLIENT_CANCEL"
        elif "self-trade" in reason:
            code = "SELF_TRADE_PROTECTION"
        elif "reduce-only" in reason:
            code = "FAIL_REDUCE_ONLY"
        elif o.tif == "FILL_OR_KILL":
            code = "FOK_CANCEL"
        else:
            code = "IOC_CANCEL"
        self._finish(o, "CANCELLED", code)

    def _on_fill(self, user: _User, f: Fill) -> None:
        o = self._orders.get(f.client_id or "")
        if o is None:
            return
        m = o.market
        o.traded += f.size
        o.traded_quote += f.size * f.price
        o.book_size = max(ZERO, o.size - o.traded)
        o.update_ns = self._now_ns()
        if o.status == "PENDING":
            o.status = "OPEN"
        maker = f.liquidity.value == "maker"
        rate = m.inst.maker_fee if maker else m.inst.taker_fee
        mark = self._mid(m) or f.price
        fill = {
            "event_time": str(self._now_ns()),
            "sub_account_id": user.sub_account_id,
            "instrument": m.wire,
            "is_buyer": f.side is Side.BUY,
            "is_taker": not maker,
            "size": fmt(f.size),
            "price": fmt(f.price),
            "mark_price": fmt(mark),
            "index_price": fmt(mark),
            "interest_rate": "0",
            "forward_price": "0",
            "realized_pnl": "0",
            "fee": fmt(f.fee),
            "fee_rate": fmt(rate),
            "trade_id": f"{f.trade_id.rsplit('-', 1)[-1]}-{'m' if maker else 't'}",
            "order_id": o.order_id,
            "venue": "ORDERBOOK",
            "client_order_id": o.client_order_id,
            "signer": o.signature.get("signer", ""),
            "is_rpi": False,
        }
        self._fills.setdefault(user.account, []).append(fill)
        self._push_private(user, "v1.fill", m, fill)
        if o.book_size > 0:
            self._push_order(o)

    def _on_book(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        m = self._by_sim.get(symbol)
        if m is None or not changes:
            return
        skip = self.faults.take_book_skip(m.wire)
        if skip:
            log.info("grvt emulator: skipping %d book sequence numbers on %s (fault)", skip, m.wire)
        delta: dict[str, Any] | None = None
        snapshot: dict[str, Any] | None = None
        for conn in list(self.sockets):
            for sub in conn.subs.values():
                if sub.market is not m:
                    continue
                if sub.stream == "v1.book.d":
                    if delta is None:
                        bids = sorted(
                            ((p, q) for side, p, q in changes if side is Side.BUY), reverse=True
                        )
                        asks = sorted((p, q) for side, p, q in changes if side is Side.SELL)
                        delta = {
                            "event_time": str(ts_ms * 1_000_000),
                            "instrument": m.wire,
                            "bids": self._levels(m, bids),
                            "asks": self._levels(m, asks),
                        }
                    sub.seq += skip
                    self._push(conn, sub, delta)
                elif sub.stream == "v1.book.s":
                    if snapshot is None:
                        snapshot = self._book_feed(m, 500)
                    self._push(conn, sub, snapshot)
        bids1, asks1, _ = self.venue.snapshot(m.inst.symbol, 1)
        if bids1 and asks1:
            bbo = (bids1[0][0], bids1[0][1], asks1[0][0], asks1[0][1])
            if bbo != m.bbo:
                m.bbo = bbo
                self._publish(m, ("v1.mini.s", "v1.mini.d"), lambda: self._mini_json(m))

    def _on_trade(self, trade: Trade) -> None:
        m = self._by_sim.get(trade.symbol)
        if m is None:
            return
        self._trade_ids += 1
        mark = self._mid(m) or trade.price

        def feed() -> dict[str, Any]:
            return {
                "event_time": str(trade.ts_ms * 1_000_000),
                "instrument": m.wire,
                "is_taker_buyer": trade.side is Side.BUY,
                "size": fmt(trade.size),
                "price": fmt(trade.price),
                "mark_price": fmt(mark),
                "index_price": fmt(mark),
                "interest_rate": "0",
                "forward_price": "0",
                "trade_id": str(self._trade_ids),
                "venue": "ORDERBOOK",
                "is_rpi": False,
            }

        self._publish(m, ("v1.trade",), feed)

    # -- pushing ---------------------------------------------------------------------

    def _push_order(self, o: _Order) -> None:
        body = self._order_json(o)
        self._push_private(o.user, "v1.order", o.market, body)
        self._push_private(
            o.user,
            "v1.state",
            o.market,
            {
                "order_id": o.order_id,
                "client_order_id": o.client_order_id,
                "order_state": body["state"],
            },
        )

    def _push_private(self, user: _User, stream: str, m: _Market, feed: dict[str, Any]) -> None:
        for conn in list(self.sockets):
            if conn.user is not user:
                continue
            for sub in list(conn.subs.values()):
                if sub.stream == stream and (sub.market is None or sub.market is m):
                    self._push(conn, sub, feed)

    def _publish(
        self, m: _Market, streams: tuple[str, ...], feed: Callable[[], dict[str, Any]]
    ) -> None:
        body: dict[str, Any] | None = None
        for conn in list(self.sockets):
            for sub in list(conn.subs.values()):
                if sub.market is m and sub.stream in streams:
                    if body is None:
                        body = feed()
                    self._push(conn, sub, body)

    def _push(self, conn: _Conn, sub: _Sub, feed: dict[str, Any]) -> None:
        prev = sub.seq
        sub.seq += 1
        msg: dict[str, Any] = {
            "stream": sub.stream,
            "selector": sub.selector,
            "sequence_number": str(sub.seq),
            "prev_sequence_number": str(prev),
            "feed": feed,
        }
        self._send(conn, json.dumps(msg, separators=(",", ":")))

    def _send(self, conn: _Conn, text: str) -> None:
        self.sockets.send(conn, text)

    def _forget(self, conn: _Conn) -> None:
        conn.subs.clear()

    # -- WebSocket -------------------------------------------------------------------

    async def _ws_handler(self, request: web.Request, *, rpc: bool) -> web.StreamResponse:
        user: _User | None = None
        if request.cookies.get("gravity"):
            user = self._session_user(request)
            if user is None:
                return _envelope(1000, "Session expired or invalid", 401)
        ws = web.WebSocketResponse(heartbeat=self.ping_interval_s, timeout=2.0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=404, text="WebSocket only")
        await ws.prepare(request)
        await self.sockets.serve(_Conn(ws, request, user, rpc), self._on_command)
        return ws

    def _ws_error(self, conn: _Conn, rid: Any, code: int, message: str, status: int) -> None:
        if conn.rpc:
            body: dict[str, Any] = {
                "jsonrpc": "2.0",
                "error": {"code": code, "message": message},
                "id": rid,
            }
        else:
            body = {"request_id": rid, "code": code, "message": message, "status": status}
        self._send(conn, json.dumps(body))

    def _on_command(self, conn: _Conn, text: str) -> None:
        try:
            cmd = json.loads(text)
        except ValueError:
            self._ws_error(conn, None, 1003, "Request is not JSON", 400)
            return
        if not isinstance(cmd, dict):
            self._ws_error(conn, None, 1003, "Request must be a JSON object", 400)
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
            self._ws_error(conn, rid, 1003, "Unknown method or malformed request", 400)
            return
        stream = str(stream)
        if method == "unsubscribe":
            gone = [s for s in selectors if conn.subs.pop((stream, str(s)), None) is not None]
            self._ack(conn, rid, stream, [], gone, [])
            return
        added: list[_Sub] = []
        for selector in selectors:
            sub = self._new_sub(conn, rid, stream, str(selector))
            if sub is not None:
                conn.subs[(stream, sub.selector)] = sub
                added.append(sub)
        if not added:
            return
        self._ack(conn, rid, stream, [s.selector for s in added], [], added)
        for sub in added:
            if sub.stream in ("v1.book.d", "v1.book.s") and sub.market is not None:
                self._push(conn, sub, self._book_feed(sub.market))
            elif sub.stream in ("v1.mini.s", "v1.mini.d") and sub.market is not None:
                self._push(conn, sub, self._mini_json(sub.market))

    def _ack(
        self,
        conn: _Conn,
        rid: Any,
        stream: str,
        subs: list[str],
        unsubs: list[str],
        added: list[_Sub],
    ) -> None:
        snap = [1 if s.stream in ("v1.book.d", "v1.book.s", "v1.mini.s") else 0 for s in added]
        body = {
            "request_id": rid,
            "stream": stream,
            "subs": subs,
            "unsubs": unsubs,
            "num_snapshots": snap,
            "first_sequence_number": ["0"] * len(added),
            "latest_sequence_number": ["0"] * len(added),
        }
        if conn.rpc:
            body = {"jsonrpc": "2.0", "result": body, "id": rid}
        self._send(conn, json.dumps(body))

    def _new_sub(self, conn: _Conn, rid: Any, stream: str, selector: str) -> _Sub | None:
        if stream in _PUBLIC:
            instr, _, rest = selector.partition("@")
            m = self._markets.get(instr)
            if m is None or not rest:
                self._ws_error(conn, rid, 3000, f"Invalid selector {selector} for {stream}", 400)
                return None
            return _Sub(stream, selector, m, None)
        if stream in _PRIVATE:
            if conn.user is None:
                self._ws_error(
                    conn, rid, 1000, "Private streams need an authenticated session", 401
                )
                return None
            sub_id, _, instr = selector.partition("-")
            if sub_id != conn.user.sub_account_id:
                self._ws_error(conn, rid, 1001, "Not authorised for this sub-account", 403)
                return None
            m = None
            if instr:
                m = self._markets.get(instr)
                if m is None:
                    self._ws_error(conn, rid, 3000, f"Invalid selector {selector}", 400)
                    return None
            sub = _Sub(stream, selector, m, conn.user)
            sub.seq = 0
            return sub
        self._ws_error(conn, rid, 3000, f"Unknown stream {stream}", 400)
        return None

    # -- helpers ---------------------------------------------------------------------

    def _now_ns(self) -> int:
        return time.time_ns()

    def _mid(self, m: _Market) -> Decimal | None:
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, 1)
        if not bids or not asks:
            return None
        return m.inst.ticks_to_price(bids[0][0] + asks[0][0]) / 2


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise GrvtErr(1003, f"{name} must be a decimal string")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise GrvtErr(1003, f"{name} is not a decimal") from None
    if not d.is_finite() or d < 0:
        raise GrvtErr(1003, f"{name} must be a non-negative decimal")
    return d


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise GrvtErr(1003, f"not an integer: {value!r}") from None


def _limit(body: Mapping[str, Any]) -> int:
    limit = _int(body.get("limit"))
    return 500 if limit is None else max(1, min(limit, 1000))


def grvt_emulator(
    accounts: Mapping[str, str],
    *,
    signers: Mapping[str, str],
    sub_accounts: Mapping[str, str] | None = None,
    world: SimWorld | None = None,
    flow: FlowParams | None = None,
    seed: int = 1,
    venue: str = "grvt",
    chain_id: int = 326,
    cookie_ttl_s: float = 24 * 3600,
    **kwargs: Any,
) -> EmulatorHarness:
    """An (unstarted) harness serving the GRVT dialect; use as a context manager.

    ``accounts`` maps API keys to sim account names, ``signers`` each API key to
    the wallet address its orders must be signed with, ``sub_accounts`` each API
    key to its sub-account id (default: generated; ``dialect.sub_account_id``)."""
    world = world or default_world(venue, flow=flow, seed=seed)
    dialect = partial(
        GrvtDialect,
        signers=signers,
        sub_accounts=sub_accounts,
        chain_id=chain_id,
        cookie_ttl_s=cookie_ttl_s,
    )
    return EmulatorHarness(dialect, accounts=accounts, world=world, venue=venue, **kwargs)


__all__ = ["Credentials", "GrvtDialect", "GrvtErr", "grvt_emulator", "new_credentials"]
