"""Backpack's REST dialect on the shared ``HttpClient``: signing, the error table,
the server clock, and the venue's pagination.

Signed ``GET`` requests sign their query parameters; ``POST``/``DELETE`` sign the
top-level keys of the JSON body (a JSON array = batch, see ``signing``). What went
wrong maps to an ``ErrorCode`` in ``wire.classify`` (the venue's code is kept in
``venue_code``); timeouts, 5xx and Retry-After are ``HttpClient``'s.

The signing clock follows the venue's (``GET /api/v1/time``, as Hummingbot's time
synchronizer does): the offset is measured at start and again every
``time_sync_s``, so a drifting local clock does not push requests out of the
5 s window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson

from connectors.backpack.keys import BackpackKeys
from connectors.backpack.signing import (
    DEFAULT_WINDOW_MS,
    INSTRUCTIONS,
    auth_headers,
    render_value,
)
from connectors.backpack.wire import classify
from connectors.base import ErrorCode, VenueError
from connectors.common.http import Answer, HttpClient

log = logging.getLogger("connectors.backpack.rest")

Params = Mapping[str, Any]
Body = Mapping[str, Any] | Sequence[Mapping[str, Any]]

MAX_OFFSET_MS = 3_600_000
"""A venue clock further off than this is taken for a bad answer, not for the time."""
PAGE_LIMIT = 1000
"""The history endpoints' largest page (``limit``: default 100, maximum 1000)."""


class BackpackRest:
    """Backpack's REST API on one ``HttpClient`` (create it inside the event loop)."""

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
        time_sync_s: float = 300.0,
    ) -> None:
        self.keys = keys
        self.window_ms = window_ms
        self.broker_id = broker_id
        self.venue = venue
        self.http = HttpClient(base_url, venue=venue, timeout_s=timeout_s, classify=classify)
        self._local_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.time_sync_s = time_sync_s
        self.offset_ms = 0
        """Venue clock minus local clock, as last measured."""
        self._synced_at: float | None = None

    @property
    def latency_ms(self) -> float | None:
        return self.http.latency_ms

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    def now_ms(self) -> int:
        """The venue's clock as best known (the signing timestamp)."""
        return self._local_ms() + self.offset_ms

    async def sync_time(self) -> None:
        """Measure the venue clock's offset (``GET /api/v1/time``: bare integer ms)."""
        before = self._local_ms()
        server = await self.http.request("GET", "/api/v1/time")
        after = self._local_ms()
        try:
            if isinstance(server, bool) or not isinstance(server, int | str):
                raise ValueError
            server_ms = int(server)
        except ValueError:
            raise VenueError(
                f"{self.venue}: unexpected time answer {str(server)[:40]!r}",
                code=ErrorCode.BAD_ANSWER,
            ) from None
        offset = server_ms - (before + after) // 2
        self._synced_at = time.monotonic()
        if abs(offset) > MAX_OFFSET_MS:
            log.error(
                "%s: venue time %d is %d ms off ours; not used", self.venue, server_ms, offset
            )
            return
        self.offset_ms = offset
        if abs(self.offset_ms) > 1000:
            log.warning("%s: local clock is %d ms off the venue's", self.venue, -self.offset_ms)

    async def _keep_time(self) -> None:
        synced = self._synced_at
        if synced is not None and time.monotonic() - synced < self.time_sync_s:
            return
        try:
            await self.sync_time()
        except VenueError as exc:
            log.warning("%s: time sync failed (%s); signing with the last offset", self.venue, exc)
            self._synced_at = time.monotonic()

    # -- calls -----------------------------------------------------------------

    async def public(self, path: str, params: Params | None = None) -> Any:
        return (await self.answer("GET", path, params=params)).payload

    async def signed(
        self, method: str, path: str, params: Params | None = None, body: Body | None = None
    ) -> Any:
        return (await self.answer(method, path, params=params, body=body, signed=True)).payload

    async def answer(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Body | None = None,
        signed: bool = False,
    ) -> Answer:
        """One request; the whole answer (status and headers too)."""
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
                raise VenueError(
                    f"{self.venue}: {method} {path} needs API keys", code=ErrorCode.NO_KEYS
                )
            instruction = INSTRUCTIONS.get((method, path))
            if instruction is None:
                raise ValueError(f"no Backpack instruction for {method} {path}")
            await self._keep_time()
            headers.update(
                auth_headers(
                    self.keys,
                    instruction,
                    body if body is not None else query,
                    self.now_ms(),
                    self.window_ms,
                )
            )
            if self.broker_id:
                headers["X-Broker-Id"] = self.broker_id
        return await self.http.answer(
            method, path, params=query or None, data=data, headers=headers or None
        )

    async def pages(
        self, path: str, params: Params, *, max_pages: int | None = None
    ) -> tuple[list[Any], bool]:
        """Every item of a signed history endpoint, page by page (``limit``/``offset``;
        the venue's ``X-Total`` header says how many there are). Returns the items and
        whether the end was reached (False when ``max_pages`` ran out first)."""
        items: list[Any] = []
        offset = 0
        page = 0
        while max_pages is None or page < max_pages:
            page += 1
            query = dict(params) | {"limit": PAGE_LIMIT, "offset": offset}
            answer = await self.answer("GET", path, params=query, signed=True)
            batch = answer.payload
            if not isinstance(batch, list):
                raise VenueError(
                    f"{self.venue}: {path} answered {type(batch).__name__}, not a list",
                    code=ErrorCode.BAD_ANSWER,
                )
            items.extend(batch)
            offset += len(batch)
            total = _header_int(answer.headers, "X-Total")
            if len(batch) < PAGE_LIMIT or (total is not None and offset >= total):
                return items, True
        return items, False


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


__all__ = ["INSTRUCTIONS", "PAGE_LIMIT", "BackpackRest"]
