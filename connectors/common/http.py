"""The HTTP layer every venue's REST client stands on (aiohttp).

One owner for what every venue does the same way: one session per client,
timeouts, the latency estimate the console shows, and the mapping of what went
wrong to a ``VenueError`` the core can act on:

* could not connect (request never sent) -> ``NETWORK``, retryable, outcome known;
* timeout, or the connection lost after sending -> ``TIMEOUT`` / ``NETWORK``,
  retryable, ``outcome_unknown`` unless the request is idempotent;
* HTTP 429 -> ``RateLimited`` with the ``Retry-After`` header (seconds or an
  HTTP date) when present — unless the dialect's ``classify`` names another
  refusal for it (a cap on open orders is not a rate limit);
* HTTP 5xx -> ``SERVER_ERROR``, retryable, ``outcome_unknown`` unless idempotent;
* anything else the venue refuses -> the dialect's ``classify`` hook maps the
  body to an ``ErrorCode`` (it keeps the venue's own code in ``venue_code``).

A venue's dialect supplies two hooks: ``classify`` (its error body -> code and
message) and, for venues that answer errors with HTTP 200, ``body_error``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from connectors.common.errors import ErrorCode, RateLimited, VenueError

log = logging.getLogger("connectors.common.http")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a dialect reads from an error answer."""

    code: str = ErrorCode.VENUE
    venue_code: str = ""
    message: str = ""
    retryable: bool = False
    rate_limited: bool = False


Classify = Callable[[int, Any, bytes], Refusal]
"""(HTTP status, decoded body or None, raw body) -> Refusal."""
BodyError = Callable[[Any], Refusal | None]
"""A 2xx body -> a Refusal when the venue reports an error inside a 200."""


def default_classify(status: int, payload: Any, raw: bytes) -> Refusal:
    message = raw[:200].decode("utf-8", "replace")
    venue_code = ""
    if isinstance(payload, dict):
        venue_code = str(payload.get("code") or "")
        message = str(payload.get("message") or payload.get("error") or message)
    if status in (401, 403):
        return Refusal(ErrorCode.AUTH, venue_code, message)
    if status == 404:
        return Refusal(ErrorCode.NOT_FOUND, venue_code, message)
    return Refusal(ErrorCode.VENUE, venue_code, message)


def retry_after_s(header: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110 §10.2.3)."""
    if not header:
        return None
    text = header.strip()
    try:
        return max(0.0, min(float(text), 3600.0))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, min(when.timestamp() - now, 3600.0))


def decode_json(raw: bytes) -> Any:
    """A body as JSON, or its text when it is not JSON (None when empty)."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:2000].decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    payload: Any
    headers: Mapping[str, str]


class HttpClient:
    """One aiohttp session to one base URL (create it inside the event loop)."""

    def __init__(
        self,
        base_url: str,
        *,
        venue: str,
        timeout_s: float = 10.0,
        classify: Classify = default_classify,
        body_error: BodyError | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.venue = venue
        self.timeout_s = timeout_s
        self.classify = classify
        self.body_error = body_error
        self.default_headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self.latency_ms: float | None = None
        """Exponentially weighted round trip of successful calls."""
        self.requests = 0
        self.errors = 0
        self.last_error = ""

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers=self.default_headers or None,
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        """Send one request; returns the decoded body (``answer`` takes the same
        arguments and returns the headers too)."""
        return (await self.answer(method, path, **kw)).payload

    async def answer(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        what: str | None = None,
    ) -> Answer:
        method = method.upper()
        what = what or f"{method} {path}"
        safe = method in IDEMPOTENT if idempotent is None else idempotent
        await self.start()
        assert self._session is not None
        started = time.perf_counter()
        self.requests += 1
        try:
            async with self._session.request(
                method,
                self.base_url + path,
                params=dict(params) if params else None,
                data=data,
                headers=dict(headers) if headers else None,
            ) as resp:
                raw = await resp.read()
                status = resp.status
                resp_headers = {k: v for k, v in resp.headers.items()}
        except TimeoutError:
            raise self._failed(
                what, ErrorCode.TIMEOUT, "timed out", outcome_unknown=not safe
            ) from None
        except aiohttp.ClientConnectorError as exc:
            # never reached the venue: the request was not taken
            raise self._failed(what, ErrorCode.NETWORK, _describe(exc)) from None
        except aiohttp.ClientError as exc:
            # the connection broke after the request may have been sent
            raise self._failed(
                what, ErrorCode.NETWORK, _describe(exc), outcome_unknown=not safe
            ) from None
        payload = decode_json(raw)
        if 200 <= status < 300:
            refusal = self.body_error(payload) if self.body_error is not None else None
            if refusal is None:
                elapsed = (time.perf_counter() - started) * 1000
                self.latency_ms = (
                    elapsed if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * elapsed
                )
                return Answer(status, payload, resp_headers)
        else:
            refusal = None
        raise self._refused(what, status, payload, raw, resp_headers, refusal, safe)

    # -- errors -----------------------------------------------------------------

    def _failed(
        self, what: str, code: ErrorCode, detail: str, *, outcome_unknown: bool = False
    ) -> VenueError:
        self.errors += 1
        text = f"{self.venue}: {what}: {detail}"
        self.last_error = text
        log.warning("%s%s", text, " (outcome unknown)" if outcome_unknown else "")
        return VenueError(text, code=code, retryable=True, outcome_unknown=outcome_unknown)

    def _refused(
        self,
        what: str,
        status: int,
        payload: Any,
        raw: bytes,
        headers: Mapping[str, str],
        refusal: Refusal | None,
        safe: bool,
    ) -> VenueError:
        self.errors += 1
        if refusal is None:
            refusal = self.classify(status, payload, raw)
        label = f"HTTP {status}" + (f" {refusal.venue_code}" if refusal.venue_code else "")
        text = f"{self.venue}: {what} -> {label}: {refusal.message}".rstrip(": ")
        self.last_error = text
        if (
            refusal.rate_limited
            or refusal.code == ErrorCode.RATE_LIMITED
            or (status == 429 and refusal.code in (ErrorCode.VENUE, ErrorCode.SERVER_ERROR))
        ):
            # a 429 the dialect classified as something else (GRVT's 2090: too many
            # open orders) is that refusal: waiting would not help
            delay = retry_after_s(headers.get("Retry-After"))
            log.warning("%s (retry after %s s)", text, delay)
            return RateLimited(text, retry_after=delay, venue_code=refusal.venue_code)
        if status >= 500 and refusal.code in (ErrorCode.VENUE, ErrorCode.SERVER_ERROR):
            log.warning("%s", text)
            return VenueError(
                text,
                code=ErrorCode.SERVER_ERROR,
                retryable=True,
                outcome_unknown=not safe,
                venue_code=refusal.venue_code,
            )
        log.log(logging.WARNING if refusal.retryable else logging.INFO, "%s", text)
        return VenueError(
            text,
            code=refusal.code,
            retryable=refusal.retryable,
            venue_code=refusal.venue_code,
        )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


__all__ = [
    "IDEMPOTENT",
    "Answer",
    "BodyError",
    "Classify",
    "HttpClient",
    "Refusal",
    "decode_json",
    "default_classify",
    "retry_after_s",
]
