"""The metrics endpoint: ``GET /metrics`` on the session's own event loop.

An aiohttp server started and stopped with the session. Each session has its
own ``CollectorRegistry`` (no process-wide state: two sessions in one process
serve their own figures); a scrape builds the text from the engine's state on
the loop — reading only, no I/O, so nothing blocks there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from mmtui.metrics.collector import EngineCollector
from mmtui.metrics.config import MetricsConfig
from mmtui.venue_factory import SessionError

if TYPE_CHECKING:
    from mmtui.core.engine import Engine

log = logging.getLogger("mmtui.metrics")

PATH = "/metrics"


class MetricsServer:
    """One session's endpoint. ``port`` is the one bound (the config's 0: a free one)."""

    def __init__(self, engine: Engine, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(EngineCollector(engine))
        app = web.Application()
        app.router.add_get(PATH, make_aiohttp_handler(self.registry))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._started = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{PATH}"

    async def start(self) -> None:
        """Listen; raises ``SessionError`` in one line when the address cannot be had."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise SessionError(
                f"metrics: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        addresses = self._runner.addresses  # (host, port, ...) of each bound socket
        if addresses:
            self.port = addresses[0][1]
        self._started = True
        log.info("metrics: serving %s", self.url)

    async def stop(self) -> None:
        """Close the listener (idempotent)."""
        if self._started:
            self._started = False
            await self._runner.cleanup()


async def start_metrics(config: MetricsConfig, engine: Engine) -> MetricsServer | None:
    """The session's metrics endpoint, listening; None when the config turns it off."""
    if not config.enabled:
        return None
    server = MetricsServer(engine, config.host, config.port)
    await server.start()
    return server


async def stop_metrics(server: MetricsServer | None) -> None:
    if server is not None:
        await server.stop()


__all__ = ["PATH", "MetricsServer", "start_metrics", "stop_metrics"]
