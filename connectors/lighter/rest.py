"""Lighter REST reads on aiohttp (orders go through the SDK's SignerClient: ``tx``).

* Every answer carries ``"code": 200`` on success; anything else is an error.
* 429 -> ``RateLimited`` (``Retry-After`` when present); 5xx, timeouts and
  connection errors -> ``VenueError(retryable=True)``; 401/403 ->
  ``VenueError(code="auth")`` so the caller can mint a fresh auth token.
* Private reads send the auth token in the ``Authorization`` header.
* Rate limits are charged by the core's limiter, with Lighter's weights (spec
  §2.5) in the venue config's default ``rate_limit``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from connectors.base import RateLimited, VenueError

log = logging.getLogger("connectors.lighter.rest")


class LighterRest:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        venue: str = "lighter",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.venue = venue
        self._session: aiohttp.ClientSession | None = None
        self.latency_ms: float | None = None
        self.requests = 0
        self.errors = 0

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, auth: str | None = None
    ) -> dict[str, Any]:
        if self._session is None:
            await self.start()
        assert self._session is not None
        query = {k: _render(v) for k, v in (params or {}).items() if v is not None}
        headers = {"Authorization": auth} if auth else None
        started = time.perf_counter()
        self.requests += 1
        try:
            async with self._session.get(
                self.base_url + path, params=query or None, headers=headers
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except TimeoutError:
            self.errors += 1
            raise VenueError(
                f"{self.venue}: GET {path} timed out", code="timeout", retryable=True
            ) from None
        except aiohttp.ClientError as exc:
            self.errors += 1
            raise VenueError(
                f"{self.venue}: GET {path}: {type(exc).__name__}: {exc}",
                code="network",
                retryable=True,
            ) from None
        payload = _decode(raw)
        if 200 <= status < 300 and isinstance(payload, dict) and payload.get("code", 200) == 200:
            elapsed = (time.perf_counter() - started) * 1000
            self.latency_ms = (
                elapsed if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * elapsed
            )
            return payload
        self.errors += 1
        raise http_error(self.venue, f"GET {path}", status, payload, raw, retry_after)


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def http_error(
    venue: str, what: str, status: int, payload: Any, raw: bytes, retry_after: str | None
) -> VenueError:
    code, message = "", raw[:200].decode("utf-8", "replace")
    if isinstance(payload, dict):
        code = str(payload.get("code") or "")
        message = str(payload.get("message") or message)
    text = f"{venue}: {what} -> HTTP {status} {code}: {message}"
    if status == 429:
        delay: float | None = None
        if retry_after:
            try:
                delay = max(0.0, float(retry_after))
            except ValueError:
                delay = None
        log.warning("%s (retry after %s)", text, delay)
        return RateLimited(text, retry_after=delay)
    if status in (401, 403):
        log.warning("%s", text)
        return VenueError(text, code="auth", retryable=True)
    retryable = status >= 500
    log.log(logging.WARNING if retryable else logging.INFO, "%s", text)
    return VenueError(text, code=code or f"http_{status}", retryable=retryable)


__all__ = ["LighterRest", "http_error"]
