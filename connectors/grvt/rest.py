"""GRVT REST through grvt-pysdk's ``GrvtRawAsync``: session login, error mapping.

* One ``GrvtRawAsync`` per connector, built inside the running loop (its
  constructor only creates an aiohttp session and derives the signing account:
  nothing blocks). Its endpoints are instance attributes, set per instance from
  our URLs; the SDK's module globals are never touched.
* Login (``POST {edge}/auth/api_key/login``) is done here, so a refusal is
  reported with its HTTP status and GRVT code; the cookie and the
  ``X-Grvt-Account-Id`` header are installed in the SDK's session exactly as its
  own ``_refresh_cookie`` does. The session is renewed ``renew_margin_s``
  before the cookie's ``Expires`` and at once after a 401 (code 1000), and the
  failed call is retried once.
* Errors: GRVT's envelope ``{code, message, status}`` -> ``VenueError`` with
  ``code=str(code)``; 1006/HTTP 429 -> ``RateLimited``; 5xx, timeouts,
  connection errors and undecodable answers -> retryable; 2012 (client order id
  already live) -> ``DUPLICATE_CLIENT_ID``.
* The SDK's logger is quiet (WARNING): at INFO it prints the API key and the
  session cookie.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any, TypeVar

import aiohttp
import dacite
from pysdk.grvt_raw_async import GrvtRawAsync
from pysdk.grvt_raw_base import GrvtApiConfig, GrvtCookie, GrvtError
from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import DUPLICATE_CLIENT_ID, RateLimited, VenueError
from connectors.grvt.keys import GrvtKeys

log = logging.getLogger("connectors.grvt.rest")

SDK_LOGGER = "connectors.grvt.sdk"
NOT_AUTHENTICATED = 1000
RATE_LIMITED = 1006
DUPLICATE = 2012
NOT_FOUND = 1004

R = TypeVar("R")


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


def _sdk_logger() -> logging.Logger:
    logger = logging.getLogger(SDK_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    return logger


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
        env: GrvtEnv = GrvtEnv.TESTNET,
        venue: str = "grvt",
        timeout_s: float = 10.0,
        renew_margin_s: float = 300.0,
    ) -> None:
        self.urls = urls
        self.keys = keys
        self.env = env
        self.venue = venue
        self.timeout_s = timeout_s
        self.renew_margin_s = renew_margin_s
        self.raw: GrvtRawAsync | None = None
        self.config = GrvtApiConfig(
            env=env,
            trading_account_id=keys.trading_account_id if keys else None,
            private_key=keys.private_key if keys else None,
            api_key=keys.api_key if keys else None,
            logger=_sdk_logger(),
        )
        self.session_expires: datetime | None = None
        self.account_header: str | None = None
        self.logins = 0
        self.requests = 0
        self.errors = 0
        self.latency_ms: float | None = None
        self._login_lock = asyncio.Lock()
        self._token: str | None = None

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> GrvtRawAsync:
        if self.raw is None:
            raw = GrvtRawAsync(self.config)
            raw.md_rpc = self.urls.market_data.rstrip("/")
            raw.td_rpc = self.urls.trade_data.rstrip("/")
            raw.env.edge.rpc_endpoint = self.urls.edge.rstrip("/")
            raw.env.market_data.ws_endpoint = self.urls.market_ws
            raw.env.trade_data.ws_endpoint = self.urls.trade_ws
            self.raw = raw
        return self.raw

    async def close(self) -> None:
        raw, self.raw = self.raw, None
        if raw is not None:
            await raw._session.close()
        self._token = None
        self.session_expires = None

    # -- session --------------------------------------------------------------

    def session_fresh(self) -> bool:
        if self._token is None or self.session_expires is None:
            return False
        return self.session_expires.timestamp() - time.time() > self.renew_margin_s

    async def ensure_session(self, *, force: bool = False) -> None:
        if self.keys is None:
            raise VenueError(f"{self.venue}: this call needs GRVT API keys", code="no_keys")
        if not force and self.session_fresh():
            return
        async with self._login_lock:
            if not force and self.session_fresh():
                return
            await self._login()

    async def auth_headers(self, *, force: bool = False) -> dict[str, str]:
        """Cookie + account header for the private WebSocket upgrade."""
        await self.ensure_session(force=force)
        headers = {"Cookie": f"gravity={self._token}"}
        if self.account_header:
            headers["X-Grvt-Account-Id"] = self.account_header
        return headers

    def invalidate_session(self) -> None:
        self._token = None

    async def _login(self) -> None:
        raw = await self.start()
        assert self.keys is not None
        url = self.urls.edge.rstrip("/") + "/auth/api_key/login"
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as s,
                s.post(url, json={"api_key": self.keys.api_key}) as resp,
            ):
                body = await resp.read()
                status = resp.status
                set_cookie = resp.headers.get("Set-Cookie")
                account = resp.headers.get("X-Grvt-Account-Id")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VenueError(
                f"{self.venue}: login failed: {type(exc).__name__}: {exc}",
                code="network",
                retryable=True,
            ) from None
        if status != 200:
            err = _decode_error(body)
            code = err.get("code", status)
            text = (
                f"{self.venue}: login refused: HTTP {status} code {code}: {err.get('message', '')}"
            )
            log.error("%s", text)
            if status == 429 or code == RATE_LIMITED:
                raise RateLimited(text)
            raise VenueError(text, code=str(code), retryable=status >= 500)
        parsed = parse_cookie(set_cookie)
        if parsed is None:
            raise VenueError(
                f"{self.venue}: login answered without a readable gravity cookie",
                code="login",
            )
        token, expires = parsed
        self._token = token
        self.session_expires = expires
        self.account_header = account
        self.logins += 1
        # Install the session in the SDK the way its own _refresh_cookie does.
        raw._cookie = GrvtCookie(gravity=token, expires=expires, grvt_account_id=account)
        raw._session.cookie_jar.update_cookies({"gravity": token})
        if account:
            raw._session.headers.update({"X-Grvt-Account-Id": account})
        log.info(
            "%s: logged in (session %d, expires %s)", self.venue, self.logins, expires.isoformat()
        )

    # -- calls ----------------------------------------------------------------

    async def call(
        self, name: str, fn: Callable[[GrvtRawAsync], Awaitable[Any]], *, auth: bool
    ) -> Any:
        """Run one SDK call; returns the response's ``result``."""
        raw = await self.start()
        for attempt in (0, 1):
            if auth:
                await self.ensure_session()
            started = time.perf_counter()
            self.requests += 1
            try:
                resp = await asyncio.wait_for(fn(raw), self.timeout_s)
            except TimeoutError:
                self.errors += 1
                raise VenueError(
                    f"{self.venue}: {name} timed out", code="timeout", retryable=True
                ) from None
            except aiohttp.ClientError as exc:
                self.errors += 1
                log.warning("%s: %s failed: %s", self.venue, name, type(exc).__name__)
                raise VenueError(
                    f"{self.venue}: {name}: {type(exc).__name__}: {exc}",
                    code="network",
                    retryable=True,
                ) from None
            except (dacite.DaciteError, ValueError, TypeError, KeyError) as exc:
                # e.g. a 5xx page that is not JSON: the SDK hands dacite an empty dict
                self.errors += 1
                log.warning("%s: %s: unreadable answer (%r)", self.venue, name, exc)
                raise VenueError(
                    f"{self.venue}: {name}: unreadable answer ({type(exc).__name__})",
                    code="bad_answer",
                    retryable=True,
                ) from None
            if isinstance(resp, GrvtError):
                self.errors += 1
                if auth and resp.code == NOT_AUTHENTICATED and attempt == 0:
                    log.info("%s: %s: session refused (1000); logging in again", self.venue, name)
                    self.invalidate_session()
                    continue
                raise _venue_error(self.venue, name, resp)
            elapsed = (time.perf_counter() - started) * 1000
            self.latency_ms = (
                elapsed if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * elapsed
            )
            return resp.result
        raise AssertionError("unreachable")


def _decode_error(body: bytes) -> dict[str, Any]:
    import json

    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {"message": body[:200].decode("utf-8", "replace")}
    return data if isinstance(data, dict) else {}


def _venue_error(venue: str, name: str, err: GrvtError) -> VenueError:
    text = f"{venue}: {name} -> HTTP {err.status} code {err.code}: {err.message}"
    if err.code == RATE_LIMITED or err.status == 429:
        log.warning("%s", text)
        return RateLimited(text)
    if err.code == DUPLICATE:
        return VenueError(text, code=DUPLICATE_CLIENT_ID)
    retryable = err.status >= 500
    log.log(logging.WARNING if retryable else logging.INFO, "%s", text)
    return VenueError(text, code=str(err.code), retryable=retryable)


__all__ = ["GrvtRest", "GrvtUrls", "parse_cookie"]
