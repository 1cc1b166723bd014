"""The request wrapper every emulator's REST routes go through.

A dialect writes plain handlers (``request -> JSON-able result``, sync or async)
that raise its own refusal exception; ``Routes.wrap`` turns that into the
venue's error form (the dialect's ``render_refusal`` hook), any other exception
into the venue's internal-error answer, and a result into a JSON answer.

It also runs the faults that concern one route after the handler did its work:
``FaultState.lost_answers[name]`` makes the venue take the request (the order is
booked) and then lose the answer — the connection is dropped, or an error status
is sent — as a real venue's gateway sometimes does.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from connectors.emulation.faults import FaultState

log = logging.getLogger("connectors.emulation.rest")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_answer(result: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(result), status=status, content_type="application/json")


class Routes:
    def __init__(
        self,
        venue: str,
        faults: FaultState,
        *,
        refusal: type[Exception],
        render_refusal: Callable[[Any], web.StreamResponse],
        server_error: Callable[[], web.StreamResponse],
        render_ok: Callable[[Any], web.StreamResponse] = json_answer,
    ) -> None:
        self.venue = venue
        self.faults = faults
        self.refusal = refusal
        self.render_refusal = render_refusal
        self.server_error = server_error
        self.render_ok = render_ok

    def wrap(
        self,
        fn: Callable[[web.Request], Any],
        *,
        name: str | None = None,
        render_ok: Callable[[Any], web.StreamResponse] | None = None,
    ) -> Handler:
        """``fn`` as an aiohttp handler; ``name`` is the route's name for faults
        (``FaultInjector.lose_next_answer(name)``)."""
        ok = render_ok or self.render_ok

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = fn(request)
                if inspect.isawaitable(result):
                    result = await result
            except self.refusal as err:
                return self.render_refusal(err)
            except Exception:
                log.exception("%s emulator: %s %s failed", self.venue, request.method, request.path)
                return self.server_error()
            if name is not None:
                lost = self.faults.take_lost_answer(name)
                if lost is not None:
                    log.info("%s emulator: %s done, answer lost (%s)", self.venue, name, lost.mode)
                    if lost.mode == "drop":
                        transport = request.transport
                        if transport is not None:
                            transport.abort()  # the client sees the connection reset
                    return self.server_error_status(lost.status)
            return result if isinstance(result, web.StreamResponse) else ok(result)

        return handler

    def server_error_status(self, status: int) -> web.StreamResponse:
        """The venue's internal-error answer with another status (502/503/504)."""
        resp = self.server_error()
        resp.set_status(status)
        return resp


__all__ = ["Routes", "json_answer"]
