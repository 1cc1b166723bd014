"""A loopback emulator of the Backpack Exchange REST and WebSocket API.

Serves a ``SimVenue`` through Backpack's dialect (docs: /work/shared/spec/venues.md
section 1, checklist 5.1). Runs inside ``connectors.emulation.EmulatorHarness``::

    with backpack_emulator({api_key: "alice"}) as emu:
        rest = emu.base_url          # http://127.0.0.1:PORT
        ws = emu.ws_url              # ws://127.0.0.1:PORT/

Wire conventions: the sim's ``BTC-PERP`` is ``BTC_USDC_PERP``; prices and sizes
are strings with the market's decimals; sides ``Bid``/``Ask``; every signed
request is verified with ED25519 over the reconstructed signing string.

Emulator decisions where the venue is unknown ([EMU] in the spec) are listed in
``EMULATOR_NOTES`` below.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from connectors.backpack.signing import INSTRUCTIONS
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
from connectors.sim.venue import FlowParams, LevelChanges, SimVenue
from connectors.sim.world import SimWorld

log = logging.getLogger("connectors.backpack.emulator")

EMULATOR_NOTES = """\
- Unknown symbol: HTTP 400 INVALID_SYMBOL.
- Missing auth headers or unknown key: 401 UNAUTHORIZED; bad signature: 401 INVALID_SIGNATURE;
  timestamp outside the window / window > 60000 / malformed auth headers: 400
  INVALID_CLIENT_REQUEST.
- Order not resting (query or cancel): 404 RESOURCE_NOT_FOUND.
- Malformed order fields (side, orderType, timeInForce, clientId, booleans): 400
  INVALID_CLIENT_REQUEST; post-only cross, duplicate live clientId, reduce-only that would
  not reduce, unfillable FOK, postOnly with IOC/FOK/Market: 400 INVALID_ORDER.
- quoteQuantity market orders are not supported (400 INVALID_CLIENT_REQUEST).
- IOC/Market remainders and self-trade-prevention removals end as Expired (orderExpired);
  user cancels as Cancelled (orderCancelled).
- Injected 429: TOO_MANY_REQUESTS with Retry-After (whole seconds, rounded up);
  500/502: SERVER_ERROR; 503: MAINTENANCE; 504: TIMEOUT.
- WS errors: {"id": null, "error": {"code", "message"}}; 4006 invalid stream, 4001 bad or
  missing signature / expired timestamp, 4000 malformed command.
- WS event times E/T are integer microseconds of the sim clock.
- depth.<ms>.<sym> streams carry the same deltas as depth.<sym> (no aggregation).
- One update id per changed level: a push covers U..u with u - U + 1 = number of levels.
- trade.<sym>: b/a (order ids) are null; t counts every trade of the venue and equals
  the orderFill t of the same match.
- History endpoints return newest first; limit defaults to 100 (max 1000).
- account futuresMakerFee/futuresTakerFee are in basis points (strings).
"""

MAX_WINDOW_MS = 60_000
DEFAULT_WINDOW_MS = 5_000
FUTURE_TOLERANCE_MS = 1_000
_U32 = 2**32 - 1
_DEPTH_INTERVALS = ("200ms", "600ms", "1000ms")
_CODE_RE = re.compile(r"^[A-Z][A-Z_]+$")
_CODE_STATUS = {
    "UNAUTHORIZED": 401,
    "INVALID_SIGNATURE": 401,
    "FORBIDDEN": 403,
    "RESOURCE_NOT_FOUND": 404,
    "TOO_MANY_REQUESTS": 429,
    "SERVER_ERROR": 500,
    "MAINTENANCE": 503,
    "TIMEOUT": 504,
}

# -- signing ------------------------------------------------------------------


def render_value(value: Any) -> str:
    """A parameter value as it appears in the signing string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, separators=(",", ":"))


def _pairs(params: Mapping[str, Any]) -> str:
    return "&".join(
        f"{k}={render_value(params[k])}" for k in sorted(params) if params[k] is not None
    )


def signing_string(
    instruction: str, params: Mapping[str, Any], timestamp: int | str, window: int | str
) -> str:
    """``instruction=X[&sorted pairs]&timestamp=T&window=W`` (spec 1.2)."""
    head = f"instruction={instruction}"
    pairs = _pairs(params)
    if pairs:
        head += "&" + pairs
    return f"{head}&timestamp={timestamp}&window={window}"


def batch_signing_string(
    orders: Iterable[Mapping[str, Any]], timestamp: int | str, window: int | str
) -> str:
    """Each order as ``instruction=orderExecute&<pairs>``, joined, then timestamp/window."""
    parts = []
    for order in orders:
        pairs = _pairs(order)
        parts.append("instruction=orderExecute" + (f"&{pairs}" if pairs else ""))
    return "&".join(parts) + f"&timestamp={timestamp}&window={window}"


# -- formatting ---------------------------------------------------------------


def decimals_of(increment: Decimal) -> int:
    exponent = increment.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def fmt(value: Decimal, places: int) -> str:
    text = format(value.quantize(Decimal(1).scaleb(-places)), "f")
    return "0" + text[2:] if text.startswith("-0") and Decimal(text) == 0 else text


def fmt_free(value: Decimal, max_places: int = 10) -> str:
    """A derived number (average price, PnL): plain digits, at most ``max_places``."""
    q = value.quantize(Decimal(1).scaleb(-max_places)).normalize()
    text = format(q, "f")
    return "0" if Decimal(text) == 0 else text


def wire_symbol(inst: Instrument) -> str:
    return f"{inst.base}_{inst.quote}_PERP"


def _side_wire(side: Side) -> str:
    return "Bid" if side is Side.BUY else "Ask"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


class BackpackError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str, code: str = "INVALID_CLIENT_REQUEST") -> BackpackError:
    return BackpackError(_CODE_STATUS.get(code, 400), code, message)


# -- state --------------------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    first: Decimal | None = None
    last: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0


@dataclass(slots=True)
class _Market:
    inst: Instrument
    wire: str
    price_dp: int
    size_dp: int
    update_id: int = 0
    bbo: tuple[int, int, int, int] | None = None
    stats: _Stats = field(default_factory=_Stats)


@dataclass(slots=True)
class _Order:
    id: int
    client_id: int | None
    sim_cid: str
    account: str
    market: _Market
    side: Side
    order_type: str
    tif: str
    post_only: bool
    reduce_only: bool
    price: Decimal | None
    quantity: Decimal
    stp: str
    created_ms: int
    executed: Decimal = ZERO
    executed_quote: Decimal = ZERO
    status: str = "New"

    @property
    def live(self) -> bool:
        return self.status in ("New", "PartiallyFilled")


@dataclass(slots=True)
class _Pending:
    """What the place handler knows about an order before the sim gives it an id."""

    client_id: int | None
    market: _Market
    side: Side
    order_type: str
    tif: str
    post_only: bool
    reduce_only: bool
    price: Decimal | None
    quantity: Decimal
    stp: str


@dataclass(eq=False, slots=True)
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    subs: dict[str, str | None] = field(default_factory=dict)
    """stream -> account (None for public streams)."""


class BackpackDialect(VenueDialect):
    def __init__(
        self,
        venue: SimVenue,
        accounts: Mapping[str, str],
        faults: FaultState,
        *,
        ping_interval_s: float = 60.0,
    ) -> None:
        super().__init__(venue, accounts, faults, ping_interval_s=ping_interval_s)
        self._verify_keys: dict[str, VerifyKey] = {}
        for key in self.accounts:
            try:
                self._verify_keys[key] = VerifyKey(base64.b64decode(key, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(
                    f"backpack emulator: API key {key!r} is not base64 ED25519"
                ) from exc
        self._markets: dict[str, _Market] = {}
        self._by_sim: dict[str, _Market] = {}
        for sim_symbol, inst in venue.instruments.items():
            m = _Market(
                inst, wire_symbol(inst), decimals_of(inst.tick_size), decimals_of(inst.step_size)
            )
            self._markets[m.wire] = m
            self._by_sim[sim_symbol] = m
        self._orders: dict[int, _Order] = {}
        self._live_cid: dict[tuple[str, int], int] = {}
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._fills: dict[str, list[dict[str, Any]]] = {}
        self._pos_size: dict[tuple[str, str], Decimal] = {}
        self._pos_id: dict[tuple[str, str], int] = {}
        self._next_pos_id = 1
        self._anon = 0
        self._trade_seq = 0
        self.sockets = SocketSet("backpack", self._forget)
        self._subs: dict[str, set[_Conn]] = {}
        self._user_ids = {acct: i + 1 for i, acct in enumerate(sorted(set(self.accounts.values())))}
        venue.on_book(self._on_book)
        venue.on_trade(self._on_trade)
        for account in set(self.accounts.values()):
            venue.on_account(account, partial(self._on_account, account))

    @property
    def markets(self) -> dict[str, _Market]:
        return self._markets

    # -- harness hooks --------------------------------------------------------

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/", self._ws_handler)
        public: dict[str, Callable[[web.Request], Any]] = {
            "/api/v1/markets": self._get_markets,
            "/api/v1/market": self._get_market,
            "/api/v1/depth": self._get_depth,
            "/api/v1/ticker": self._get_ticker,
            "/api/v1/tickers": self._get_tickers,
            "/api/v1/markPrices": self._get_mark_prices,
            "/api/v1/trades": self._get_trades,
            "/api/v1/status": self._get_status,
            "/api/v1/time": self._get_time,
            "/api/v1/ping": self._get_ping,
        }
        for path, fn in public.items():
            r.add_get(path, self._wrap(fn))
        private: dict[tuple[str, str], Callable[[str, Any], Any]] = {
            ("GET", "/api/v1/account"): self._account,
            ("GET", "/api/v1/capital"): self._capital,
            ("GET", "/api/v1/capital/collateral"): self._collateral,
            ("GET", "/api/v1/position"): self._positions,
            ("GET", "/api/v1/order"): self._query_order,
            ("GET", "/api/v1/orders"): self._query_orders,
            ("POST", "/api/v1/order"): self._place,
            ("POST", "/api/v1/orders"): self._place_batch,
            ("DELETE", "/api/v1/order"): self._cancel,
            ("DELETE", "/api/v1/orders"): self._cancel_all,
            ("GET", "/wapi/v1/history/fills"): self._fill_history,
            ("GET", "/wapi/v1/history/orders"): self._order_history,
            ("GET", "/wapi/v1/history/funding"): self._funding_history,
        }
        for (method, path), fn in private.items():
            r.add_route(method, path, self._wrap_private(method, path, fn))

    def fault_response(self, fault: HttpFault) -> web.StreamResponse:
        if fault.status == 429:
            headers = {}
            if fault.retry_after_s is not None:
                headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after_s)))
            return _error(429, "TOO_MANY_REQUESTS", "Rate limit exceeded", headers)
        code = {503: "MAINTENANCE", 504: "TIMEOUT"}.get(fault.status, "SERVER_ERROR")
        return _error(fault.status, code, "Injected fault")

    # -- REST plumbing --------------------------------------------------------

    def _wrap(
        self, fn: Callable[[web.Request], Any]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = fn(request)
            except BackpackError as err:
                return _error(err.status, err.code, err.message)
            except Exception:
                log.exception("backpack emulator: %s %s failed", request.method, request.path_qs)
                return _error(500, "SERVER_ERROR", "Internal error")
            if isinstance(result, web.StreamResponse):
                return result
            return web.json_response(result)

        return handler

    def _wrap_private(
        self, method: str, path: str, fn: Callable[[str, Any], Any]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        instruction = INSTRUCTIONS[(method, path)]
        batch = (method, path) == ("POST", "/api/v1/orders")

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                raw = await request.text()
                account, params = self._authenticate(request, instruction, raw, batch)
                result = fn(account, params)
            except BackpackError as err:
                if err.status >= 500:
                    log.error("backpack emulator: %s %s -> %s", method, path, err)
                return _error(err.status, err.code, err.message)
            except Exception:
                log.exception("backpack emulator: %s %s failed", method, path)
                return _error(500, "SERVER_ERROR", "Internal error")
            return web.json_response(result)

        return handler

    def _authenticate(
        self, request: web.Request, instruction: str, raw: str, batch: bool
    ) -> tuple[str, Any]:
        h = request.headers
        key, sig = h.get("X-API-Key"), h.get("X-Signature")
        ts_text, window_text = h.get("X-Timestamp"), h.get("X-Window")
        if not key or not sig or not ts_text:
            raise _bad("Missing authentication headers", "UNAUTHORIZED")
        verify_key = self._verify_keys.get(key)
        if verify_key is None:
            raise _bad("Unknown API key", "UNAUTHORIZED")
        try:
            timestamp = int(ts_text)
            window = int(window_text) if window_text else DEFAULT_WINDOW_MS
        except ValueError:
            raise _bad("Invalid timestamp or window") from None
        if not 0 < window <= MAX_WINDOW_MS:
            raise _bad(f"Window must be between 1 and {MAX_WINDOW_MS} ms")
        params: Any
        if raw.strip():
            try:
                params = json.loads(raw, parse_float=str)
            except ValueError:
                raise _bad("Body is not JSON") from None
        else:
            params = {} if batch else dict(request.query)
        if batch:
            if (
                not isinstance(params, list)
                or not params
                or not all(isinstance(o, dict) for o in params)
            ):
                raise _bad("Batch body must be a non-empty JSON array of orders")
            message = batch_signing_string(params, ts_text, window_text or DEFAULT_WINDOW_MS)
        else:
            if not isinstance(params, dict):
                raise _bad("Body must be a JSON object")
            message = signing_string(instruction, params, ts_text, window_text or DEFAULT_WINDOW_MS)
        if not _verify(verify_key, message, sig):
            log.info("backpack emulator: bad signature for %s (%s)", instruction, message)
            raise _bad("Invalid signature", "INVALID_SIGNATURE")
        _check_time(timestamp, window)
        return self.accounts[key], params

    def _market(self, params: Mapping[str, Any], required: bool = True) -> _Market | None:
        symbol = params.get("symbol")
        if symbol is None:
            if required:
                raise _bad("Missing symbol")
            return None
        m = self._markets.get(str(symbol))
        if m is None:
            raise _bad(f"Unknown symbol {symbol}", "INVALID_SYMBOL")
        return m

    # -- public REST ----------------------------------------------------------

    def _market_json(self, m: _Market) -> dict[str, Any]:
        inst = m.inst
        return {
            "symbol": m.wire,
            "baseSymbol": inst.base,
            "quoteSymbol": inst.quote,
            "marketType": "PERP",
            "orderBookState": "Open",
            "visible": True,
            "filters": {
                "price": {
                    "minPrice": fmt(inst.tick_size, m.price_dp),
                    "maxPrice": fmt(_max_price(inst), m.price_dp),
                    "tickSize": fmt(inst.tick_size, m.price_dp),
                },
                "quantity": {
                    "minQuantity": fmt(inst.min_size, m.size_dp),
                    "maxQuantity": None,
                    "stepSize": fmt(inst.step_size, m.size_dp),
                },
            },
            "imfFunction": {"type": "sqrt", "base": "0.02", "factor": "0.0001275"},
            "mmfFunction": {"type": "sqrt", "base": "0.0125", "factor": "0.0000765"},
            "fundingInterval": 28_800_000,
            "openInterestLimit": "0",
            "createdAt": "2025-01-21T06:34:54.691858",
        }

    def _get_markets(self, request: web.Request) -> list[dict[str, Any]]:
        return [self._market_json(m) for m in self._markets.values()]

    def _get_market(self, request: web.Request) -> dict[str, Any]:
        m = self._market(request.query)
        assert m is not None
        return self._market_json(m)

    def _get_depth(self, request: web.Request) -> dict[str, Any]:
        m = self._market(request.query)
        assert m is not None
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            raise _bad("Invalid limit") from None
        limit = max(1, min(limit, 1000))
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, limit)
        return {
            "asks": [self._level(m, p, q) for p, q in asks],
            "bids": [self._level(m, p, q) for p, q in reversed(bids)],
            "lastUpdateId": str(m.update_id),
            "timestamp": self.venue.now_ms * 1000,
        }

    def _level(self, m: _Market, price: int, lots: int) -> list[str]:
        return [
            fmt(m.inst.ticks_to_price(price), m.price_dp),
            fmt(m.inst.lots_to_size(lots), m.size_dp),
        ]

    def _ticker_json(self, m: _Market) -> dict[str, Any]:
        s = m.stats
        last = s.last if s.last is not None else (self._mid(m) or ZERO)
        first = s.first if s.first is not None else last
        change = last - first
        pct = change / first * 100 if first else ZERO
        return {
            "symbol": m.wire,
            "firstPrice": fmt(first, m.price_dp),
            "lastPrice": fmt(last, m.price_dp),
            "priceChange": fmt(change, m.price_dp),
            "priceChangePercent": fmt_free(pct, 6),
            "high": fmt(s.high if s.high is not None else last, m.price_dp),
            "low": fmt(s.low if s.low is not None else last, m.price_dp),
            "volume": fmt(s.volume, m.size_dp),
            "quoteVolume": fmt_free(s.quote_volume, 4),
            "trades": str(s.trades),
        }

    def _get_ticker(self, request: web.Request) -> dict[str, Any]:
        m = self._market(request.query)
        assert m is not None
        return self._ticker_json(m)

    def _get_tickers(self, request: web.Request) -> list[dict[str, Any]]:
        return [self._ticker_json(m) for m in self._markets.values()]

    def _get_mark_prices(self, request: web.Request) -> list[dict[str, Any]]:
        chosen = self._market(request.query, required=False)
        out = []
        for m in [chosen] if chosen else list(self._markets.values()):
            mark = self._mid(m) or ZERO
            out.append(
                {
                    "symbol": m.wire,
                    "markPrice": fmt(mark, m.price_dp),
                    "indexPrice": fmt(mark, m.price_dp),
                    "fundingRate": "0",
                    "nextFundingTimestamp": (self.venue.now_ms // 28_800_000 + 1) * 28_800_000,
                }
            )
        return out

    def _get_trades(self, request: web.Request) -> list[dict[str, Any]]:
        self._market(request.query)
        return []  # the emulator keeps no public trade tape (use the trade.<sym> stream)

    def _get_status(self, request: web.Request) -> dict[str, Any]:
        return {"status": "Ok", "message": None}

    def _get_time(self, request: web.Request) -> web.Response:
        return web.Response(text=str(int(time.time() * 1000)), content_type="text/plain")

    def _get_ping(self, request: web.Request) -> web.Response:
        return web.Response(text="pong", content_type="text/plain")

    # -- private REST ---------------------------------------------------------

    def _account(self, account: str, params: Any) -> dict[str, Any]:
        insts = list(self.venue.instruments.values())
        maker = insts[0].maker_fee if insts else ZERO
        taker = insts[0].taker_fee if insts else ZERO
        return {
            "autoBorrowSettlements": True,
            "autoLend": False,
            "autoRealizePnl": True,
            "autoRepayBorrows": True,
            "borrowLimit": "0",
            "futuresMakerFee": fmt_free(maker * 10_000, 4),
            "futuresTakerFee": fmt_free(taker * 10_000, 4),
            "leverageLimit": "20",
            "limitOrders": 500,
            "liquidating": False,
            "positionLimit": "0",
            "spotMakerFee": fmt_free(maker * 10_000, 4),
            "spotTakerFee": fmt_free(taker * 10_000, 4),
            "triggerOrders": 100,
        }

    def _capital(self, account: str, params: Any) -> dict[str, Any]:
        out = {}
        for bal in self.venue.balances(account):
            out[bal.asset] = {
                "available": fmt_free(bal.available, 6),
                "locked": "0",
                "staked": "0",
            }
        return out

    def _collateral(self, account: str, params: Any) -> dict[str, Any]:
        bal = self.venue.balances(account)[0]
        unrealized = bal.total - bal.available
        return {
            "assetsValue": fmt_free(bal.total, 6),
            "borrowLiability": "0",
            "collateral": [
                {
                    "symbol": bal.asset,
                    "assetMarkPrice": "1",
                    "totalQuantity": fmt_free(bal.available, 6),
                    "balanceNotional": fmt_free(bal.available, 6),
                    "collateralWeight": "1",
                    "collateralValue": fmt_free(bal.available, 6),
                    "openOrderQuantity": "0",
                    "lendQuantity": "0",
                    "availableQuantity": fmt_free(bal.available, 6),
                }
            ],
            "imf": "0.02",
            "mmf": "0.0125",
            "liabilitiesValue": "0",
            "marginFraction": None,
            "netEquity": fmt_free(bal.total, 6),
            "netEquityAvailable": fmt_free(bal.total, 6),
            "netEquityLocked": "0",
            "netExposureFutures": "0",
            "pnlUnrealized": fmt_free(unrealized, 6),
        }

    def _positions(self, account: str, params: Any) -> list[dict[str, Any]]:
        return [
            self._position_json(account, p) for p in self.venue.positions(account) if p.size != 0
        ]

    def _position_json(self, account: str, p: Position) -> dict[str, Any]:
        m = self._by_sim[p.symbol]
        mark = self._mid(m) or p.entry_price
        return {
            "symbol": m.wire,
            "netQuantity": fmt(p.size, m.size_dp),
            "netExposureQuantity": fmt(abs(p.size), m.size_dp),
            "netExposureNotional": fmt_free(abs(p.size) * mark, 6),
            "netCost": fmt_free(p.size * p.entry_price, 6),
            "entryPrice": fmt_free(p.entry_price),
            "breakEvenPrice": fmt_free(p.entry_price),
            "markPrice": fmt(mark, m.price_dp),
            "estLiquidationPrice": "0",
            "pnlRealized": fmt_free(p.realized_pnl, 6),
            "pnlUnrealized": fmt_free(p.unrealized_pnl, 6),
            "cumulativeFundingPayment": "0",
            "imf": "0.02",
            "mmf": "0.0125",
            "positionId": str(self._pos_id.get((account, p.symbol), 0)),
            "subaccountId": None,
            "userId": self._user_ids.get(account, 0),
        }

    def _find_live(self, account: str, params: Mapping[str, Any]) -> _Order:
        m = self._market(params)
        order: _Order | None = None
        if params.get("orderId") is not None:
            try:
                order = self._orders.get(int(str(params["orderId"])))
            except ValueError:
                raise _bad("Invalid orderId") from None
        elif params.get("clientId") is not None:
            cid = _client_id(params["clientId"])
            oid = self._live_cid.get((account, cid))
            order = self._orders.get(oid) if oid is not None else None
        else:
            raise _bad("orderId or clientId is required")
        if order is None or order.account != account or order.market is not m or not order.live:
            raise BackpackError(404, "RESOURCE_NOT_FOUND", "Order not found")
        return order

    def _query_order(self, account: str, params: Any) -> dict[str, Any]:
        return self._order_json(self._find_live(account, params))

    def _query_orders(self, account: str, params: Any) -> list[dict[str, Any]]:
        m = self._market(params, required=False)
        if params.get("marketType") not in (None, "PERP"):
            return []
        return [
            self._order_json(o)
            for o in self._orders.values()
            if o.account == account and o.live and (m is None or o.market is m)
        ]

    def _place(self, account: str, params: Any) -> dict[str, Any]:
        return self._order_json(self._submit(account, params))

    def _place_batch(self, account: str, params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in params:
            try:
                out.append(self._order_json(self._submit(account, item)))
            except BackpackError as err:
                out.append({"code": err.code, "message": err.message})
        return out

    def _submit(self, account: str, params: Mapping[str, Any]) -> _Order:
        m = self._market(params)
        assert m is not None
        inst = m.inst
        side = {"Bid": Side.BUY, "Ask": Side.SELL}.get(str(params.get("side")))
        if side is None:
            raise _bad("side must be Bid or Ask")
        order_type = params.get("orderType")
        if order_type not in ("Limit", "Market"):
            raise _bad("orderType must be Limit or Market")
        tif = params.get("timeInForce") or "GTC"
        if tif not in ("GTC", "IOC", "FOK"):
            raise _bad("timeInForce must be GTC, IOC or FOK")
        post_only = _flag(params, "postOnly")
        reduce_only = _flag(params, "reduceOnly")
        client_id = _client_id(params["clientId"]) if params.get("clientId") is not None else None
        if params.get("quantity") is None:
            raise _bad("quantity is required (quoteQuantity is not supported by the emulator)")
        quantity = _decimal(params["quantity"], "INVALID_QUANTITY", "quantity")
        if quantity <= 0 or not inst.is_on_step(quantity):
            raise _bad(
                f"Quantity must be a positive multiple of {inst.step_size}", "INVALID_QUANTITY"
            )
        if quantity < inst.min_size and not reduce_only:
            raise _bad(f"Quantity is below the minimum {inst.min_size}", "INVALID_QUANTITY")
        price: Decimal | None = None
        if order_type == "Limit":
            if params.get("price") is None:
                raise _bad("price is required for limit orders", "INVALID_PRICE")
            price = _decimal(params["price"], "INVALID_PRICE", "price")
            if price <= 0 or not inst.is_on_tick(price) or price > _max_price(inst):
                raise _bad(
                    f"Price must be a positive multiple of {inst.tick_size}", "INVALID_PRICE"
                )
        if post_only and (order_type == "Market" or tif != "GTC"):
            raise _bad("postOnly needs a GTC limit order", "INVALID_ORDER")
        if client_id is not None and (account, client_id) in self._live_cid:
            raise _bad(f"Duplicate client id {client_id}", "INVALID_ORDER")
        stp = str(params.get("selfTradePrevention") or "RejectTaker")
        if client_id is not None:
            sim_cid = str(client_id)
        else:
            self._anon += 1
            sim_cid = f"~bp{self._anon}"
        request = OrderRequest(
            client_id=sim_cid,
            symbol=inst.symbol,
            side=side,
            size=quantity,
            type=OrderType.LIMIT if order_type == "Limit" else OrderType.MARKET,
            price=price,
            time_in_force=TimeInForce[tif],
            post_only=post_only,
            reduce_only=reduce_only,
        )
        key = (account, sim_cid)
        self._pending[key] = _Pending(
            client_id, m, side, order_type, tif, post_only, reduce_only, price, quantity, stp
        )
        try:
            ack = self.venue.submit(account, request)
        finally:
            self._pending.pop(key, None)
        if ack.status is OrderStatus.REJECTED or ack.venue_order_id is None:
            raise _reject_error(ack.reason)
        order = self._orders.get(int(ack.venue_order_id))
        if order is None:
            raise BackpackError(500, "SERVER_ERROR", "order accepted but not recorded")
        return order

    def _cancel(self, account: str, params: Any) -> dict[str, Any]:
        order = self._find_live(account, params)
        if not self.venue.cancel(account, order.market.inst.symbol, order.sim_cid):
            raise BackpackError(404, "RESOURCE_NOT_FOUND", "Order not found")
        return self._order_json(order)

    def _cancel_all(self, account: str, params: Any) -> list[dict[str, Any]]:
        m = self._market(params)
        assert m is not None
        if params.get("orderType") not in (None, "RestingLimitOrder", "Limit"):
            return []
        targets = [
            o for o in self._orders.values() if o.account == account and o.live and o.market is m
        ]
        self.venue.cancel_all(account, m.inst.symbol)
        return [self._order_json(o) for o in targets]

    def _fill_history(self, account: str, params: Any) -> list[dict[str, Any]]:
        m = self._market(params, required=False)
        fills = self._fills.get(account, [])
        lo = _int_param(params, "from")
        hi = _int_param(params, "to")
        order_id = params.get("orderId")
        chosen = [
            f
            for f in fills
            if (m is None or f["symbol"] == m.wire)
            and (order_id is None or f["orderId"] == str(order_id))
            and (lo is None or f["_ms"] >= lo)
            and (hi is None or f["_ms"] <= hi)
        ]
        page = _page(list(reversed(chosen)), params)
        return [{k: v for k, v in f.items() if k != "_ms"} for f in page]

    def _order_history(self, account: str, params: Any) -> list[dict[str, Any]]:
        m = self._market(params, required=False)
        order_id = params.get("orderId")
        chosen = [
            o
            for o in self._orders.values()
            if o.account == account
            and not o.live
            and (m is None or o.market is m)
            and (order_id is None or str(o.id) == str(order_id))
        ]
        chosen.sort(key=lambda o: o.id, reverse=True)
        return [self._order_json(o, history=True) for o in _page(chosen, params)]

    def _funding_history(self, account: str, params: Any) -> list[dict[str, Any]]:
        return []

    # -- orders -------------------------------------------------------------

    def _order_json(self, o: _Order, *, history: bool = False) -> dict[str, Any]:
        m = o.market
        return {
            "id": str(o.id),
            "clientId": o.client_id,
            "symbol": m.wire,
            "side": _side_wire(o.side),
            "orderType": o.order_type,
            "timeInForce": o.tif,
            "postOnly": o.post_only,
            "reduceOnly": o.reduce_only or None,
            "price": fmt(o.price, m.price_dp) if o.price is not None else None,
            "quantity": fmt(o.quantity, m.size_dp),
            "executedQuantity": fmt(o.executed, m.size_dp),
            "executedQuoteQuantity": fmt_free(o.executed_quote, m.price_dp + m.size_dp),
            "status": o.status,
            "selfTradePrevention": o.stp,
            "createdAt": _iso(o.created_ms) if history else o.created_ms,
            "relatedOrderId": None,
            "triggerPrice": None,
            "triggerQuantity": None,
            "triggeredAt": None,
            "stopLossTriggerPrice": None,
            "takeProfitTriggerPrice": None,
            "strategyId": None,
        }

    # -- sim events (all on the loop, synchronous) ----------------------------

    def _on_account(self, account: str, event: Event) -> None:
        try:
            if isinstance(event, OrderUpdate):
                self._on_order_update(account, event)
            elif isinstance(event, Fill):
                self._on_fill(account, event)
            elif isinstance(event, Position):
                self._on_position(account, event)
        except Exception:
            log.exception("backpack emulator: account event failed (%s: %r)", account, event)

    def _on_order_update(self, account: str, u: OrderUpdate) -> None:
        if u.venue_order_id is None:
            return
        oid = int(u.venue_order_id)
        order = self._orders.get(oid)
        if order is None:
            pending = self._pending.get((account, u.client_id or ""))
            if pending is None:
                log.warning("backpack emulator: update for an unknown order %s", u)
                return
            order = _Order(
                id=oid,
                client_id=pending.client_id,
                sim_cid=u.client_id or "",
                account=account,
                market=pending.market,
                side=pending.side,
                order_type=pending.order_type,
                tif=pending.tif,
                post_only=pending.post_only,
                reduce_only=pending.reduce_only,
                price=pending.price,
                quantity=pending.quantity,
                stp=pending.stp,
                created_ms=self.venue.now_ms,
            )
            self._orders[oid] = order
            if order.client_id is not None:
                self._live_cid[(account, order.client_id)] = oid
            self._push_order(order, "orderAccepted")
            return
        if u.status is OrderStatus.FILLED:
            order.status = "Filled"
        elif u.status is OrderStatus.CANCELLED:
            if u.reason == "cancelled by user":
                order.status = "Cancelled"
                self._push_order(order, "orderCancelled")
            else:
                order.status = "Expired"
                self._push_order(order, "orderExpired", reason=u.reason)
        elif u.status is OrderStatus.EXPIRED:
            order.status = "Expired"
            self._push_order(order, "orderExpired", reason=u.reason)
        elif u.remaining_size is not None and u.filled_size is not None:
            order.quantity = u.filled_size + u.remaining_size
            self._push_order(order, "orderModified")
        if not order.live and order.client_id is not None:
            self._live_cid.pop((account, order.client_id), None)

    def _on_fill(self, account: str, f: Fill) -> None:
        if f.venue_order_id is None:
            return
        order = self._orders.get(int(f.venue_order_id))
        if order is None:
            log.warning("backpack emulator: fill for an unknown order %s", f)
            return
        m = order.market
        order.executed += f.size
        order.executed_quote += f.size * f.price
        order.status = "Filled" if order.executed >= order.quantity else "PartiallyFilled"
        trade_id = _trade_number(f.trade_id)
        maker = f.liquidity.value == "maker"
        self._fills.setdefault(account, []).append(
            {
                "tradeId": trade_id,
                "orderId": str(order.id),
                "clientId": order.client_id,
                "symbol": m.wire,
                "side": _side_wire(f.side),
                "price": fmt(f.price, m.price_dp),
                "quantity": fmt(f.size, m.size_dp),
                "fee": fmt_free(f.fee, 8),
                "feeSymbol": m.inst.quote,
                "isMaker": maker,
                "systemOrderType": None,
                "timestamp": _iso(f.ts_ms),
                "_ms": f.ts_ms,
            }
        )
        self._push_order(
            order,
            "orderFill",
            fill={
                "t": trade_id,
                "l": fmt(f.size, m.size_dp),
                "L": fmt(f.price, m.price_dp),
                "m": maker,
                "n": fmt_free(f.fee, 8),
                "N": m.inst.quote,
            },
        )
        if not order.live and order.client_id is not None:
            self._live_cid.pop((account, order.client_id), None)

    def _on_position(self, account: str, p: Position) -> None:
        key = (account, p.symbol)
        before = self._pos_size.get(key, ZERO)
        self._pos_size[key] = p.size
        if before == 0 and p.size != 0:
            event = "positionOpened"
            self._pos_id[key] = self._next_pos_id
            self._next_pos_id += 1
        elif p.size == 0:
            event = "positionClosed"
        else:
            event = "positionAdjusted"
        self._push_position(account, p, event)

    def _on_book(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        m = self._by_sim.get(symbol)
        if m is None or not changes:
            return
        skip = self.faults.take_book_skip(m.wire)
        if skip:
            log.info("backpack emulator: skipping %d depth ids on %s (fault)", skip, m.wire)
        first = m.update_id + skip + 1
        m.update_id = first + len(changes) - 1
        inst = m.inst
        depth_streams = [f"depth.{m.wire}"] + [f"depth.{i}.{m.wire}" for i in _DEPTH_INTERVALS]
        if any(self._subs.get(s) for s in depth_streams):
            bids = sorted((p, q) for side, p, q in changes if side is Side.BUY)
            asks = sorted((p, q) for side, p, q in changes if side is Side.SELL)
            us = ts_ms * 1000
            data = {
                "e": "depth",
                "E": us,
                "T": us,
                "s": m.wire,
                "a": [self._level(m, p, q) for p, q in asks],
                "b": [self._level(m, p, q) for p, q in bids],
                "U": first,
                "u": m.update_id,
            }
            for stream in depth_streams:
                self._publish(stream, data)
        bids1, asks1, _ = self.venue.snapshot(inst.symbol, 1)
        if bids1 and asks1:
            bbo = (bids1[0][0], bids1[0][1], asks1[0][0], asks1[0][1])
            if bbo != m.bbo:
                m.bbo = bbo
                if self._subs.get(f"bookTicker.{m.wire}"):
                    us = ts_ms * 1000
                    self._publish(
                        f"bookTicker.{m.wire}",
                        {
                            "e": "bookTicker",
                            "E": us,
                            "T": us,
                            "s": m.wire,
                            "a": fmt(inst.ticks_to_price(bbo[2]), m.price_dp),
                            "A": fmt(inst.lots_to_size(bbo[3]), m.size_dp),
                            "b": fmt(inst.ticks_to_price(bbo[0]), m.price_dp),
                            "B": fmt(inst.lots_to_size(bbo[1]), m.size_dp),
                            "u": m.update_id,
                        },
                    )

    def _on_trade(self, trade: Trade) -> None:
        self._trade_seq += 1
        m = self._by_sim.get(trade.symbol)
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
        stream = f"trade.{m.wire}"
        if self._subs.get(stream):
            us = trade.ts_ms * 1000
            self._publish(
                stream,
                {
                    "e": "trade",
                    "E": us,
                    "T": us,
                    "s": m.wire,
                    "p": fmt(trade.price, m.price_dp),
                    "q": fmt(trade.size, m.size_dp),
                    "t": self._trade_seq,
                    "b": None,
                    "a": None,
                    "m": trade.side is Side.SELL,
                },
            )

    # -- pushing --------------------------------------------------------------

    def _push_order(
        self,
        o: _Order,
        event: str,
        *,
        fill: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        m = o.market
        us = self.venue.now_ms * 1000
        data: dict[str, Any] = {"e": event, "E": us, "T": us, "s": m.wire}
        if o.client_id is not None:
            data["c"] = o.client_id
        data |= {
            "S": _side_wire(o.side),
            "o": o.order_type.upper(),
            "f": o.tif,
            "q": fmt(o.quantity, m.size_dp),
            "Q": fmt_free(o.quantity * o.price, m.price_dp + m.size_dp) if o.price else None,
            "p": fmt(o.price, m.price_dp) if o.price is not None else None,
            "X": o.status,
            "i": str(o.id),
            "z": fmt(o.executed, m.size_dp),
            "Z": fmt_free(o.executed_quote, m.price_dp + m.size_dp),
            "y": o.post_only,
            "r": o.reduce_only,
            "V": o.stp,
            "O": "USER",
        }
        if fill is not None:
            data |= fill
        if reason is not None:
            data["R"] = _expiry_reason(reason)
        self._publish_private(o.account, "account.orderUpdate", m.wire, data)

    def _position_data(self, account: str, p: Position) -> dict[str, Any]:
        m = self._by_sim[p.symbol]
        mark = self._mid(m) or p.entry_price
        us = self.venue.now_ms * 1000
        return {
            "E": us,
            "T": us,
            "s": m.wire,
            "q": fmt(p.size, m.size_dp),
            "Q": fmt(abs(p.size), m.size_dp),
            "n": fmt_free(abs(p.size) * mark, 6),
            "B": fmt_free(p.entry_price),
            "b": fmt_free(p.entry_price),
            "M": fmt(mark, m.price_dp),
            "P": fmt_free(p.unrealized_pnl, 6),
            "p": fmt_free(p.realized_pnl, 6),
            "l": "0",
            "f": "0.02",
            "m": "0.0125",
            "i": self._pos_id.get((account, p.symbol), 0),
        }

    def _push_position(self, account: str, p: Position, event: str) -> None:
        data = {"e": event} | self._position_data(account, p)
        self._publish_private(account, "account.positionUpdate", data["s"], data)

    def _publish(self, stream: str, data: dict[str, Any]) -> None:
        conns = self._subs.get(stream)
        if not conns:
            return
        text = json.dumps({"stream": stream, "data": data}, separators=(",", ":"))
        for conn in list(conns):
            self._send(conn, text)

    def _publish_private(self, account: str, base: str, wire: str, data: dict[str, Any]) -> None:
        for stream in (base, f"{base}.{wire}"):
            conns = self._subs.get(stream)
            if not conns:
                continue
            text: str | None = None
            for conn in list(conns):
                if conn.subs.get(stream) != account:
                    continue
                if text is None:
                    text = json.dumps({"stream": stream, "data": data}, separators=(",", ":"))
                self._send(conn, text)

    def _send(self, conn: _Conn, text: str) -> None:
        self.sockets.send(conn, text)

    def _forget(self, conn: _Conn) -> None:
        for stream in list(conn.subs):
            subs = self._subs.get(stream)
            if subs is not None:
                subs.discard(conn)
        conn.subs.clear()

    # -- WebSocket ------------------------------------------------------------

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=self.ping_interval_s, timeout=2.0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=404, text="WebSocket only")
        await ws.prepare(request)
        await self.sockets.serve(_Conn(ws, request), self._on_command)
        return ws

    def _ws_error(self, conn: _Conn, code: int, message: str) -> None:
        self._send(conn, json.dumps({"id": None, "error": {"code": code, "message": message}}))

    def _on_command(self, conn: _Conn, text: str) -> None:
        try:
            cmd = json.loads(text)
        except ValueError:
            self._ws_error(conn, 4000, "Invalid JSON")
            return
        if not isinstance(cmd, dict):
            self._ws_error(conn, 4000, "Invalid command")
            return
        method = str(cmd.get("method", "")).upper()
        params = cmd.get("params")
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            self._ws_error(conn, 4000, "Invalid method or params")
            return
        if method == "UNSUBSCRIBE":
            for stream in params:
                if isinstance(stream, str) and stream in conn.subs:
                    del conn.subs[stream]
                    self._subs.get(stream, set()).discard(conn)
            return
        account: str | None = None
        auth_error: str | None = None
        for stream in params:
            kind = self._stream_kind(stream) if isinstance(stream, str) else None
            if kind is None:
                self._ws_error(conn, 4006, "Invalid stream")
                continue
            if kind == "private":
                if account is None and auth_error is None:
                    account, auth_error = self._ws_auth(cmd.get("signature"))
                if account is None:
                    self._ws_error(conn, 4001, auth_error or "Invalid signature")
                    continue
            conn.subs[stream] = account if kind == "private" else None
            self._subs.setdefault(stream, set()).add(conn)
            if kind == "private" and stream.startswith("account.positionUpdate"):
                assert account is not None
                self._initial_positions(conn, stream, account)

    def _initial_positions(self, conn: _Conn, stream: str, account: str) -> None:
        wire = stream.split(".", 2)[2] if stream.count(".") == 2 else None
        for p in self.venue.positions(account):
            if p.size == 0:
                continue
            data = self._position_data(account, p)
            if wire is None or data["s"] == wire:
                self._send(conn, json.dumps({"stream": stream, "data": data}))

    def _stream_kind(self, stream: str) -> str | None:
        parts = stream.split(".")
        if parts[0] == "account" and len(parts) in (2, 3):
            if parts[1] not in ("orderUpdate", "positionUpdate"):
                return None
            if len(parts) == 3 and parts[2] not in self._markets:
                return None
            return "private"
        if parts[0] == "depth" and len(parts) == 3 and parts[1] in _DEPTH_INTERVALS:
            return "public" if parts[2] in self._markets else None
        if parts[0] in ("depth", "bookTicker", "trade") and len(parts) == 2:
            return "public" if parts[1] in self._markets else None
        return None

    def _ws_auth(self, signature: Any) -> tuple[str | None, str | None]:
        if not isinstance(signature, list) or len(signature) != 4:
            return None, "Missing signature"
        key, sig, ts, window = (str(x) for x in signature)
        verify_key = self._verify_keys.get(key)
        if verify_key is None:
            return None, "Unknown API key"
        try:
            timestamp, window_ms = int(ts), int(window)
        except ValueError:
            return None, "Invalid timestamp or window"
        if not _verify(verify_key, signing_string("subscribe", {}, ts, window), sig):
            return None, "Invalid signature"
        try:
            _check_time(timestamp, window_ms)
        except BackpackError as err:
            return None, err.message
        return self.accounts[key], None

    # -- helpers --------------------------------------------------------------

    def _mid(self, m: _Market) -> Decimal | None:
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, 1)
        if not bids or not asks:
            return None
        return m.inst.ticks_to_price(bids[0][0] + asks[0][0]) / 2


def _verify(key: VerifyKey, message: str, signature: str) -> bool:
    try:
        key.verify(message.encode(), base64.b64decode(signature, validate=True))
    except (BadSignatureError, binascii.Error, ValueError):
        return False
    return True


def _check_time(timestamp: int, window: int) -> None:
    if not 0 < window <= MAX_WINDOW_MS:
        raise _bad(f"Window must be between 1 and {MAX_WINDOW_MS} ms")
    now = int(time.time() * 1000)
    if timestamp < now - window:
        raise _bad("Request has expired")
    if timestamp > now + FUTURE_TOLERANCE_MS:
        raise _bad("Request timestamp is in the future")


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


def _max_price(inst: Instrument) -> Decimal:
    return inst.tick_size * 10**9


def _flag(params: Mapping[str, Any], key: str) -> bool:
    value = params.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(f"{key} must be a boolean")
    return value


def _client_id(value: Any) -> int:
    if isinstance(value, bool):
        raise _bad("clientId must be an unsigned 32-bit integer")
    try:
        cid = int(str(value))
    except ValueError:
        raise _bad("clientId must be an unsigned 32-bit integer") from None
    if not 0 <= cid <= _U32:
        raise _bad("clientId must be an unsigned 32-bit integer")
    return cid


def _decimal(value: Any, code: str, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _bad(f"{name} must be a decimal string", code)
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f"{name} is not a decimal", code) from None
    if not d.is_finite():
        raise _bad(f"{name} is not a finite decimal", code)
    return d


def _int_param(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise _bad(f"{key} must be an integer") from None


def _page(items: list[Any], params: Mapping[str, Any]) -> list[Any]:
    limit = _int_param(params, "limit")
    offset = _int_param(params, "offset") or 0
    limit = 100 if limit is None else max(1, min(limit, 1000))
    return items[max(0, offset) : max(0, offset) + limit]


def _trade_number(trade_id: str) -> int:
    try:
        return int(trade_id.rsplit("-", 1)[-1])
    except ValueError:
        return 0


def _expiry_reason(reason: str) -> str:
    if "self-trade" in reason:
        return "SELF_TRADE_PREVENTION"
    if "reduce-only" in reason:
        return "REDUCE_ONLY_NOT_REDUCED"
    if "fill-or-kill" in reason:
        return "FILL_OR_KILL"
    return "IMMEDIATE_OR_CANCEL"


def _reject_error(reason: str) -> BackpackError:
    if _CODE_RE.match(reason):
        return BackpackError(_CODE_STATUS.get(reason, 400), reason, reason)
    if "post-only" in reason:
        return _bad("Order would immediately match and take", "INVALID_ORDER")
    return _bad(reason, "INVALID_ORDER")


def backpack_emulator(
    accounts: Mapping[str, str],
    *,
    world: SimWorld | None = None,
    flow: FlowParams | None = None,
    seed: int = 1,
    venue: str = "backpack",
    **kwargs: Any,
) -> EmulatorHarness:
    """An (unstarted) harness serving a Backpack dialect; use as a context manager.
    ``accounts`` maps API keys (base64 ED25519 public keys) to sim account names."""
    world = world or default_world(venue, flow=flow, seed=seed)
    return EmulatorHarness(BackpackDialect, accounts=accounts, world=world, venue=venue, **kwargs)
