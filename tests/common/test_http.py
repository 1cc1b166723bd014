"""The shared HTTP layer maps what went wrong to what the core can act on."""

from __future__ import annotations

import asyncio
import socket
import time
from email.utils import formatdate

import pytest
from aiohttp import web

from connectors.base import ErrorCode, RateLimited, VenueError
from connectors.common.http import HttpClient, Refusal, retry_after_s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self) -> None:
        self.hits = 0
        self.app = web.Application()
        self.app.router.add_route("*", "/ok", self.ok)
        self.app.router.add_route("*", "/slow", self.slow)
        self.app.router.add_route("*", "/429", self.too_many)
        self.app.router.add_route("*", "/503", self.unavailable)
        self.app.router.add_route("*", "/400", self.bad)
        self.app.router.add_route("*", "/reset", self.reset)
        self.app.router.add_route("*", "/in-body", self.in_body)
        self.app.router.add_route("*", "/cap", self.cap)

    async def ok(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response({"fine": True})

    async def slow(self, request: web.Request) -> web.Response:
        self.hits += 1
        await asyncio.sleep(2)
        return web.json_response({})

    async def too_many(self, request: web.Request) -> web.Response:
        return web.json_response({"code": "TOO_MANY"}, status=429, headers={"Retry-After": "3"})

    async def unavailable(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="<html>gateway</html>")

    async def bad(self, request: web.Request) -> web.Response:
        return web.json_response({"code": "INVALID_ORDER", "message": "nope"}, status=400)

    async def reset(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    async def cap(self, request: web.Request) -> web.Response:
        return web.json_response({"code": 2090, "message": "max open orders"}, status=429)

    async def in_body(self, request: web.Request) -> web.Response:
        return web.json_response({"code": 21712, "message": "queued"})


@pytest.fixture
async def server():
    srv = Server()
    runner = web.AppRunner(srv.app)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    srv.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield srv
    await runner.cleanup()


async def test_success_and_latency(server) -> None:
    http = HttpClient(server.url, venue="v")
    try:
        assert await http.request("GET", "/ok") == {"fine": True}
        assert http.latency_ms is not None and http.requests == 1
    finally:
        await http.close()


async def test_429_carries_retry_after(server) -> None:
    http = HttpClient(server.url, venue="v")
    try:
        with pytest.raises(RateLimited) as err:
            await http.request("POST", "/429")
        assert err.value.retry_after == 3.0 and err.value.retryable
        assert not err.value.outcome_unknown
    finally:
        await http.close()


async def test_5xx_on_a_write_is_an_unknown_outcome_but_not_on_a_read(server) -> None:
    http = HttpClient(server.url, venue="v")
    try:
        with pytest.raises(VenueError) as err:
            await http.request("POST", "/503")
        assert err.value.code == ErrorCode.SERVER_ERROR and err.value.outcome_unknown
        with pytest.raises(VenueError) as err:
            await http.request("GET", "/503")
        assert err.value.retryable and not err.value.outcome_unknown
    finally:
        await http.close()


async def test_timeout_after_sending_is_an_unknown_outcome(server) -> None:
    http = HttpClient(server.url, venue="v", timeout_s=0.2)
    try:
        with pytest.raises(VenueError) as err:
            await http.request("POST", "/slow")
        assert err.value.code == ErrorCode.TIMEOUT and err.value.outcome_unknown
    finally:
        await http.close()


async def test_dropped_connection_after_sending_is_an_unknown_outcome(server) -> None:
    http = HttpClient(server.url, venue="v")
    try:
        with pytest.raises(VenueError) as err:
            await http.request("POST", "/reset")
        assert err.value.code == ErrorCode.NETWORK and err.value.outcome_unknown
    finally:
        await http.close()


async def test_refused_connection_was_never_sent() -> None:
    http = HttpClient(f"http://127.0.0.1:{_free_port()}", venue="v")
    try:
        with pytest.raises(VenueError) as err:
            await http.request("POST", "/anything")
        assert err.value.code == ErrorCode.NETWORK and err.value.retryable
        assert not err.value.outcome_unknown
    finally:
        await http.close()


async def test_dialect_hooks_classify_refusals(server) -> None:
    def classify(status: int, payload: object, raw: bytes) -> Refusal:
        assert isinstance(payload, dict)
        return Refusal(ErrorCode.INVALID_ORDER, str(payload["code"]), str(payload["message"]))

    def body_error(payload: object) -> Refusal | None:
        if isinstance(payload, dict) and payload.get("code") == 21712:
            return Refusal(ErrorCode.INVALID_ORDER, "21712", str(payload["message"]))
        return None

    http = HttpClient(server.url, venue="v", classify=classify, body_error=body_error)
    try:
        with pytest.raises(VenueError) as err:
            await http.request("POST", "/400")
        assert err.value.code == ErrorCode.INVALID_ORDER
        assert err.value.venue_code == "INVALID_ORDER" and not err.value.retryable
        with pytest.raises(VenueError) as err:
            await http.request("POST", "/in-body")
        assert err.value.venue_code == "21712"
        assert await http.request("GET", "/ok") == {"fine": True}
    finally:
        await http.close()


def test_retry_after_forms() -> None:
    assert retry_after_s("2.5") == 2.5
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    now = time.time()
    assert 9 <= retry_after_s(formatdate(now + 10, usegmt=True), now=now) <= 11  # type: ignore[operator]
    assert retry_after_s("-4") == 0.0


async def test_a_429_the_dialect_names_otherwise_is_not_a_rate_limit(server) -> None:
    def classify(status: int, payload: object, raw: bytes) -> Refusal:
        if isinstance(payload, dict) and payload.get("code") == 2090:
            return Refusal(ErrorCode.TOO_MANY_ORDERS, "2090", "max open orders")
        return Refusal()

    http = HttpClient(server.url, venue="v", classify=classify)
    try:
        with pytest.raises(VenueError) as err:
            await http.request("POST", "/cap")
        assert not isinstance(err.value, RateLimited)
        assert err.value.code == ErrorCode.TOO_MANY_ORDERS and not err.value.retryable
        with pytest.raises(RateLimited):
            await http.request("POST", "/429")
    finally:
        await http.close()
