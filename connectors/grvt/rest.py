"""GRVT REST on the shared ``HttpClient``: session login, GRVT's error table.

* Three hosts (edge: login; trade data: private calls; market data: public
  calls), one ``HttpClient`` each; every call is a JSON ``POST`` under
  ``/full/v1/...`` (GRVT api-spec ``trading_api.md`` / ``market_data_api.md``).
* Login: ``POST {edge}/auth/api_key/login`` with ``{"api_key"}`` and the
  ``Cookie: rm=true;`` header GRVT's docs and ccxt send; the answer's
  ``Set-Cookie: gravity=…; Expires=…`` and ``X-Grvt-Account-Id`` header go on
  every private call (and on the private WebSocket upgrade). The session is
  renewed ``renew_margin_s`` before the cookie expires and at once after a
  refusal as unauthenticated (HTTP 401 or code 1000, whether or not the body has
  a ``status``); the refused call is sent again once.
* Errors: GRVT's envelope ``{code, message, status}`` (also inside an HTTP 200,
  as ccxt and the SDK check) -> ``ErrorCode`` by ``classify``, GRVT's code in
  ``venue_code``. 1006 / HTTP 429 -> ``RateLimited`` with ``Retry-After``; 2090
  "max open orders" comes with HTTP 429 but is a cap, not a rate: it is
  ``TOO_MANY_ORDERS``, not retried. Timeouts, connection losses and 5xx of a
  ``create_order`` have an unknown outcome (``HttpClient``).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

import orjson
from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import ErrorCode, RateLimited, VenueError
from connectors.common.http import HttpClient, Refusal
from connectors.grvt.keys import GrvtKeys

log = logging.getLogger("connectors.grvt.rest")

NOT_AUTHENTICATED = 1000
RATE_LIMITED = 1006
MAX_OPEN_ORDERS = 2090

# GRVT's error table (api-spec trading_api.md "Error Codes"; ccxt grvt.ts exceptions)
_CODES: dict[int, str] = {
    1000: ErrorCode.AUTH,
    1001: ErrorCode.AUTH,
    1008: ErrorCode.AUTH,
    1002: ErrorCode.SERVER_ERROR,
    1005: ErrorCode.SERVER_ERROR,
    1009: ErrorCode.SERVER_ERROR,
    1004: ErrorCode.NOT_FOUND,
    1006: ErrorCode.RATE_LIMITED,
    1012: ErrorCode.BAD_KEY,
    1400: ErrorCode.BAD_KEY,
    2000: ErrorCode.BAD_KEY,
    2002: ErrorCode.BAD_KEY,
    2003: ErrorCode.BAD_KEY,
    2004: ErrorCode.BAD_KEY,
    2005: ErrorCode.BAD_KEY,
    2006: ErrorCode.BAD_KEY,
    2007: ErrorCode.BAD_KEY,
    2012: ErrorCode.DUPLICATE_CLIENT_ID,
    2060: ErrorCode.UNKNOWN_SYMBOL,
    2061: ErrorCode.UNKNOWN_SYMBOL,
    3000: ErrorCode.UNKNOWN_SYMBOL,
    2062: ErrorCode.INVALID_SIZE,
    2063: ErrorCode.INVALID_SIZE,
    2065: ErrorCode.INVALID_SIZE,
    2064: ErrorCode.INVALID_PRICE,
    7201: ErrorCode.INVALID_PRICE,
    2066: ErrorCode.MIN_NOTIONAL,
    2067: ErrorCode.MIN_NOTIONAL,
    2080: ErrorCode.INSUFFICIENT_MARGIN,
    2090: ErrorCode.TOO_MANY_ORDERS,
}
_INVALID_ORDER = frozenset(
    {2001, 2008, 2010, 2011, 2020, 2021, 2030, 2031, 2032, 2040, 2041, 2042, 2050, 2051}
    | {2070, 2081, 2082, 2083, 2084, 2400, 2401, 2402, 7304}
    | set(range(2110, 2118))
)
_SERVER = frozenset({ErrorCode.SERVER_ERROR})


def _code_of(payload: Any) -> int | None:
    if not isinstance(payload, Mapping):
        return None
    code = payload.get("code")
    if isinstance(code, bool):
        return None
    try:
        return int(str(code)) if code not in (None, "", 0, "0") else None
    except ValueError:
        return None


def classify(status: int, payload: Any, raw: bytes) -> Refusal:
    """GRVT's error body (``{code, message, status}``) -> an ``ErrorCode``."""
    code = _code_of(payload)
    message = raw[:200].decode("utf-8", "replace")
    if isinstance(payload, Mapping):
        message = str(payload.get("message") or message)
    if code is not None:
        mapped = _CODES.get(code)
        if mapped is None:
            mapped = ErrorCode.INVALID_ORDER if code in _INVALID_ORDER else ErrorCode.VENUE
        return Refusal(
            mapped,
            str(code),
            message,
            retryable=mapped in _SERVER,
            rate_limited=mapped == ErrorCode.RATE_LIMITED,
        )
    if status in (401, 403):
        return Refusal(ErrorCode.AUTH, "", message)
    if status == 404:
        return Refusal(ErrorCode.NOT_FOUND, "", message)
    return Refusal(ErrorCode.VENUE, "", message)


def body_error(payload: Any) -> Refusal | None:
    """An error envelope inside an HTTP 200 (ccxt and the SDK both look for ``code``)."""
    if not isinstance(payload, Mapping) or "result" in payload:
        return None
    if _code_of(payload) is None:
        return None
    status = payload.get("status")
    return classify(status if isinstance(status, int) else 200, payload, b"")


@dataclass(frozen=True, slots=True)
class GrvtUrls:
    """Every GRVT host this connector talks to."""

    edge: str
    trade_data: str
    market_data: str
    trade_ws: str
    market_ws: str

    @classmethod
    def for_env(cls, env: GrvtEnv) -> GrvtUrls:
        from pysdk.grvt_raw_env import get_env_config

        cfg = get_env_config(env)
        return cls(
            cfg.edge.rpc_endpoint,
            cfg.trade_data.rpc_endpoint,
            cfg.market_data.rpc_endpoint,
            cfg.trade_data.ws_endpoint or "",
            cfg.market_data.ws_endpoint or "",
        )

    @classmethod
    def single(cls, base_url: str, ws_url: str) -> GrvtUrls:
        """One base URL for the three HTTP hosts and one WebSocket URL (an emulator)."""
        base = base_url.rstrip("/")
        return cls(base, base, base, ws_url, ws_url)

    def all(self) -> list[str]:
        return [self.edge, self.trade_data, self.market_data, self.trade_ws, self.market_ws]


def parse_cookie(header: str | None) -> tuple[str, datetime] | None:
    """(token, expiry as aware UTC) from a ``Set-Cookie: gravity=…; Expires=…`` header."""
    if not header:
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(header)
    except CookieError:
        return None
    morsel = cookie.get("gravity")
    if morsel is None or not morsel.value:
        return None
    expires = morsel["expires"]
    when: datetime | None = None
    if expires:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            when = None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return morsel.value, when


class GrvtRest:
    def __init__(
        self,
        urls: GrvtUrls,
        keys: GrvtKeys | None,
        *,
        venue: str = "grvt",
        timeout_s: float = 10.0,
        renew_margin_s: float = 300.0,
    ) -> None:
        self.urls = urls
        self.keys = keys
        self.venue = venue
        self.renew_margin_s = renew_margin_s
        hooks: dict[str, Any] = {
            "venue": venue,
            "timeout_s": timeout_s,
            "classify": classify,
            "body_error": body_error,
            "headers": {"Content-Type": "application/json"},
        }
        self.edge = HttpClient(urls.edge, **hooks)
        self.trades = HttpClient(urls.trade_data, **hooks)
        self.market = HttpClient(urls.market_data, **hooks)
        self.session_expires: datetime | None = None
        self.account_header: str | None = None
        self.logins = 0
        self._login_lock = asyncio.Lock()
        self._token: str | None = None

    # -- lifecycle ------------------------------------------------------------

    @property
    def latency_ms(self) -> float | None:
        return self.trades.latency_ms or self.market.latency_ms

    @property
    def errors(self) -> int:
        return self.edge.errors + self.trades.errors + self.market.errors

    async def start(self) -> None:
        for client in (self.edge, self.trades, self.market):
            await client.start()

    async def close(self) -> None:
        for client in (self.edge, self.trades, self.market):
            await client.close()
        self._token = None
        self.session_expires = None

    # -- session --------------------------------------------------------------

    def session_fresh(self) -> bool:
        if self._token is None or self.session_expires is None:
            return False
        return self.session_expires.timestamp() - time.time() > self.renew_margin_s

    async def ensure_session(self, *, force: bool = False) -> None:
        if self.keys is None:
            raise VenueError(f"{self.venue}: this call needs GRVT API keys", code=ErrorCode.NO_KEYS)
        if not force and self.session_fresh():
            return
        async with self._login_lock:
            if not force and self.session_fresh():
                return
            await self._login()

    async def auth_headers(self, *, force: bool = False) -> dict[str, str]:
        """Cookie + account header for private calls and the private WebSocket upgrade."""
        await self.ensure_session(force=force)
        headers = {"Cookie": f"gravity={self._token}"}
        if self.account_header:
            headers["X-Grvt-Account-Id"] = self.account_header
        return headers

    def invalidate_session(self) -> None:
        self._token = None

    async def _login(self) -> None:
        assert self.keys is not None
        body = orjson.dumps({"api_key": self.keys.api_key})
        try:
            answer = await self.edge.answer(
                "POST",
                "/auth/api_key/login",
                data=body,
                headers={"Cookie": "rm=true;"},
                idempotent=True,
                what="login",
            )
        except RateLimited:
            raise
        except VenueError as exc:
            text = f"{self.venue}: login refused: {exc}"
            log.error("%s", text)
            raise VenueError(
                text,
                code=exc.code,
                retryable=exc.retryable,
                venue_code=exc.venue_code,
            ) from None
        headers = {k.lower(): v for k, v in answer.headers.items()}
        parsed = parse_cookie(headers.get("set-cookie")) or self._cookie_from_jar()
        if parsed is None:
            raise VenueError(
                f"{self.venue}: login answered without a readable gravity cookie",
                code=ErrorCode.AUTH,
            )
        self._token, self.session_expires = parsed
        self.account_header = headers.get("x-grvt-account-id")
        self.logins += 1
        log.info(
            "%s: logged in (session %d, expires %s)",
            self.venue,
            self.logins,
            self.session_expires.isoformat(),
        )

    def _cookie_from_jar(self) -> tuple[str, datetime] | None:
        """The ``gravity`` cookie aiohttp kept (when several Set-Cookie headers came)."""
        session = self.edge.session
        if session is None:
            return None
        for morsel in session.cookie_jar:
            if morsel.key == "gravity":
                return parse_cookie(morsel.OutputString())
        return None

    # -- calls ----------------------------------------------------------------

    async def public(self, endpoint: str, body: Mapping[str, Any]) -> Any:
        """A market-data call; returns the whole answer (``result`` and ``next``)."""
        return await self.market.request(
            "POST",
            f"/full/v1/{endpoint}",
            data=orjson.dumps(body),
            idempotent=True,
            what=endpoint,
        )

    async def private(
        self, endpoint: str, body: Mapping[str, Any], *, idempotent: bool = True
    ) -> Any:
        """A trade-data call with the session; a refusal as unauthenticated logs in
        again and sends it once more (the venue took nothing)."""
        data = orjson.dumps(body)
        for attempt in (0, 1):
            headers = await self.auth_headers()
            try:
                return await self.trades.request(
                    "POST",
                    f"/full/v1/{endpoint}",
                    data=data,
                    headers=headers,
                    idempotent=idempotent,
                    what=endpoint,
                )
            except VenueError as exc:
                if exc.code == ErrorCode.AUTH and attempt == 0:
                    log.info("%s: %s: session refused; logging in again", self.venue, endpoint)
                    self.invalidate_session()
                    continue
                raise
        raise AssertionError("unreachable")


__all__ = ["GrvtRest", "GrvtUrls", "body_error", "classify", "parse_cookie"]
