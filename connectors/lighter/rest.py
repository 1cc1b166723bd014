"""Lighter REST reads on the common ``HttpClient`` (orders go through the SDK: ``tx``).

* Every answer carries ``"code": 200`` on success; an HTTP 200 with another code is an
  error too (``codes.body_error``), and error bodies are ``{"code": C, "message": M}``
  mapped by ``codes.classify``; 429 and ``Retry-After`` are the common layer's.
* Private reads send the auth token in the ``Authorization`` header (the SDK 1.1.8's
  ``authorization`` parameter; NautilusTrader sends ``auth=`` in the query, the venue takes
  both).
* Lists page with ``next_cursor`` (``accountActiveOrders``, ``accountInactiveOrders``,
  ``trades``): ``pages`` follows it to the end.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from connectors.common.errors import ErrorCode, RateLimited, VenueError
from connectors.common.http import HttpClient
from connectors.lighter import codes, wire
from connectors.lighter.pacing import Priority, RequestPacer, endpoint_of

log = logging.getLogger("connectors.lighter.rest")

TokenSource = Callable[[bool], Awaitable[str]]
"""``token(fresh)``: the current auth token, a newly minted one when ``fresh``."""


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class LighterRest:
    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource | None = None,
        timeout_s: float = 10.0,
        venue: str = "lighter",
        pacer: RequestPacer | None = None,
    ) -> None:
        self.venue = venue
        self._token = token
        self.pacer = pacer
        """The tier's request budget: every read waits for its weight (docs: pacing)."""
        self.http = HttpClient(
            base_url,
            venue=venue,
            timeout_s=timeout_s,
            classify=codes.classify,
            body_error=codes.body_error,
        )

    @property
    def latency_ms(self) -> float | None:
        return self.http.latency_ms

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    async def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        private: bool = False,
        priority: int = Priority.QUERY,
    ) -> dict[str, Any]:
        """One GET; a private one carries the auth token and, when the venue refuses the
        token, is sent once more with a fresh one (a refused fresh token is final). While
        connecting, a 429 is waited out and the GET sent again (``RequestPacer.wait_out``)."""
        while True:
            try:
                return await self._get(path, params, private=private, priority=priority)
            except RateLimited as exc:
                if self.pacer is None or not await self.pacer.wait_out(
                    f"{self.venue}: GET {path}", exc, log
                ):
                    raise

    async def _get(
        self, path: str, params: Mapping[str, Any] | None, *, private: bool, priority: int
    ) -> dict[str, Any]:
        query = {k: _render(v) for k, v in (params or {}).items() if v is not None}
        for fresh in (False, True) if private else (False,):
            headers = None
            if private:
                assert self._token is not None, "private reads need a token source"
                headers = {"Authorization": await self._token(fresh)}
            if self.pacer is not None:
                await self.pacer.request(endpoint_of(path), priority)
            try:
                payload = await self.http.request(
                    "GET", path, params=query or None, headers=headers
                )
            except RateLimited as exc:
                if self.pacer is not None:
                    self.pacer.back_off(exc.retry_after)
                raise
            except VenueError as exc:
                if not private or exc.code != ErrorCode.AUTH:
                    raise
                if fresh:
                    raise VenueError(
                        f"{exc} (a fresh token was refused too: check the API key and "
                        "account index)",
                        code=ErrorCode.AUTH,
                        venue_code=exc.venue_code,
                    ) from None
                log.info("%s: auth token refused on %s; minting a new one", self.venue, path)
                continue
            assert isinstance(payload, dict)  # body_error refuses anything else
            return payload
        raise AssertionError("unreachable")

    async def pages(
        self,
        path: str,
        params: Mapping[str, Any],
        key: str,
        *,
        private: bool = False,
        max_pages: int | None = None,
        priority: int = Priority.QUERY,
    ) -> AsyncIterator[list[Any]]:
        """Each page's ``key`` list, following ``next_cursor`` until the venue gives none.
        With ``max_pages``, a list that goes on longer raises ``VenueError`` (the caller
        cannot tell what the rest holds)."""
        cursor: str | None = None
        read = 0
        while True:
            page = await self.get(
                path, {**params, "cursor": cursor}, private=private, priority=priority
            )
            read += 1
            yield wire.items(page, key)
            cursor = wire.next_cursor(page)
            if cursor is None:
                return
            if max_pages is not None and read >= max_pages:
                raise VenueError(
                    f"{self.venue}: {path} goes on past {max_pages} pages",
                    code=ErrorCode.VENUE,
                    retryable=True,
                )


__all__ = ["LighterRest", "TokenSource"]
