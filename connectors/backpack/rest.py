"""Backpack REST client on aiohttp: public and signed calls, errors mapped.

* 429 -> ``RateLimited(retry_after=...)`` (``Retry-After`` header when present)
* 5xx, timeouts, connection errors -> ``VenueError(retryable=True)``
* other 4xx -> ``VenueError(code=<Backpack code>)`` (we key on ``code``, never ``message``)

Signed ``GET`` requests sign their query parameters; ``POST``/``DELETE`` sign the
top-level keys of the JSON body (a JSON array = batch, see ``signing``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from connectors.backpack.keys import BackpackKeys
from connectors.backpack.signing import (
    DEFAULT_WINDOW_MS,
    INSTRUCTIONS,
    auth_headers,
    render_value,
)
from connectors.base import RateLimited, VenueError

log = logging.getLogger("connectors.backpack.rest")

"""(method, path) -> the instruction a signed request carries (spec §1.2)."""

Params = Mapping[str, Any]
Body = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class BackpackRest:
    """One aiohttp session to one Backpack REST base URL (must be created in a loop)."""

    def __init__(
        self,
        base_url: str,
        keys: BackpackKeys | None = None,
        *,
        window_ms: int = DEFAULT_WINDOW_MS,
        timeout_s: float = 10.0,
        broker_id: str | None = None,
        clock_ms: Callable[[], int] | None = None,
        venue: str = "backpack",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.window_ms = window_ms
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.broker_id = broker_id
        self.venue = venue
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._session: aiohttp.ClientSession | None = None
        self.latency_ms: float | None = None
        """Exponentially weighted round-trip time of successful calls."""
        self.requests = 0
        self.errors = 0

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- calls -----------------------------------------------------------------

    async def public(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def signed(
        self, method: str, path: str, params: Params | None = None, body: Body | None = None
    ) -> Any:
        return await self.request(method, path, params=params, body=body, signed=True)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Body | None = None,
        signed: bool = False,
    ) -> Any:
        method = method.upper()
        query = {k: render_value(v) for k, v in (params or {}).items() if v is not None}
        headers: dict[str, str] = {}
        data: bytes | None = None
        if body is not None:
            if isinstance(body, Mapping):
                body = {k: v for k, v in body.items() if v is not None}
            else:
                body = [{k: v for k, v in item.items() if v is not None} for item in body]
            data = orjson.dumps(body, default=_json_default)
            headers["Content-Type"] = "application/json"
        if signed:
            if self.keys is None:
                raise VenueError(f"{self.venue}: {method} {path} needs API keys", code="no_keys")
            instruction = INSTRUCTIONS.get((method, path))
            if instruction is None:
                raise ValueError(f"no Backpack instruction for {method} {path}")
            headers.update(
                auth_headers(
                    self.keys,
                    instruction,
                    body if body is not None else query,
                    self._clock_ms(),
                    self.window_ms,
                )
            )
            if self.broker_id:
                headers["X-Broker-Id"] = self.broker_id
        if self._session is None:
            await self.start()
        assert self._session is not None
        url = self.base_url + path
        started = time.perf_counter()
        self.requests += 1
        try:
            async with self._session.request(
                method, url, params=query or None, data=data, headers=headers
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except TimeoutError:
            self.errors += 1
            log.warning("%s: %s %s timed out", self.venue, method, path)
            raise VenueError(
                f"{self.venue}: {method} {path} timed out", code="timeout", retryable=True
            ) from None
        except aiohttp.ClientError as exc:
            self.errors += 1
            log.warning("%s: %s %s failed: %s", self.venue, method, path, type(exc).__name__)
            raise VenueError(
                f"{self.venue}: {method} {path}: {type(exc).__name__}: {exc}",
                code="network",
                retryable=True,
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        if 200 <= status < 300:
            self.latency_ms = (
                elapsed if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * elapsed
            )
            return _decode(raw)
        self.errors += 1
        raise _error(self.venue, method, path, status, raw, retry_after)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")  # e.g. /api/v1/ping -> "pong"


def _error(
    venue: str, method: str, path: str, status: int, raw: bytes, retry_after: str | None
) -> VenueError:
    code, message = "", raw[:200].decode("utf-8", "replace")
    try:
        payload = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        code = str(payload.get("code") or "")
        message = str(payload.get("message") or message)
    text = f"{venue}: {method} {path} -> HTTP {status} {code}: {message}".rstrip(": ")
    if status == 429 or code == "TOO_MANY_REQUESTS":
        delay: float | None = None
        if retry_after:
            try:
                delay = max(0.0, float(retry_after))
            except ValueError:
                delay = None
        log.warning("%s (retry after %s)", text, delay)
        return RateLimited(text, retry_after=delay)
    retryable = status >= 500
    log.log(logging.WARNING if retryable else logging.INFO, "%s", text)
    return VenueError(text, code=code or f"http_{status}", retryable=retryable)


__all__ = ["INSTRUCTIONS", "BackpackRest"]
