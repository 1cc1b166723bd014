"""Run a sim venue behind a venue dialect on 127.0.0.1, in a thread of its own.

The harness owns one thread with its own asyncio loop. On that loop it runs an
aiohttp server (REST and WebSocket on one ephemeral port) and steps the sim
world on a wall-clock timer (``step_ms`` of sim time every ``step_ms / speed``
real milliseconds). Everything that touches the sim or the dialect happens on
that loop, so a test may call blocking SDKs from its own thread without
deadlocking the venue.

From the test thread::

    with EmulatorHarness(BackpackDialect, accounts={api_key: "alice"}) as emu:
        emu.base_url, emu.ws_url
        emu.faults.http_errors(2, status=429, retry_after_s=1)
        emu.call(lambda: emu.venue.snapshot("BTC-PERP"))

Every fault call waits until the change is in effect on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from connectors.base import Fill, Side
from connectors.emulation.faults import FaultState, HttpFault, LostAnswer
from connectors.emulation.sockets import SocketSet
from connectors.sim.venue import FlowParams, SimVenue
from connectors.sim.world import AssetSpec, SimWorld, VenueSpec

log = logging.getLogger("connectors.emulation.harness")

T = TypeVar("T")

DEFAULT_ASSETS = (
    AssetSpec("BTC", Decimal(100_000), Decimal("0.1"), Decimal("0.001"), Decimal("0.001")),
    AssetSpec("ETH", Decimal(4_000), Decimal("0.01"), Decimal("0.01"), Decimal("0.01")),
    AssetSpec("SOL", Decimal(150), Decimal("0.01"), Decimal("0.01"), Decimal("0.01")),
)


def default_world(
    venue: str, *, flow: FlowParams | None = None, seed: int = 1, assets: tuple = DEFAULT_ASSETS
) -> SimWorld:
    """A world with one venue listing BTC, ETH and SOL perps."""
    return SimWorld(list(assets), [VenueSpec(venue, flow=flow or FlowParams())], seed=seed)


class VenueDialect(ABC):
    """A venue's wire protocol in front of a ``SimVenue``. Lives on the harness loop:
    nothing in it may block."""

    def __init__(
        self,
        venue: SimVenue,
        accounts: Mapping[str, str],
        faults: FaultState,
        *,
        ping_interval_s: float = 60.0,
    ) -> None:
        self.venue = venue
        self.accounts = dict(accounts)
        """API key (the venue's identity) -> SimVenue account name."""
        self.faults = faults
        self.ping_interval_s = ping_interval_s

    @abstractmethod
    def install(self, app: web.Application) -> None:
        """Add the dialect's routes (REST and WebSocket) to ``app``."""

    @abstractmethod
    def fault_response(self, fault: HttpFault) -> web.StreamResponse:
        """The venue's error answer for an injected HTTP fault."""

    sockets: SocketSet
    """The dialect's WebSocket clients (created in its ``__init__``)."""

    async def close_sockets(self, *, abrupt: bool = False) -> int:
        """Close every WebSocket (a Close frame, or drop the TCP connection when
        ``abrupt``); returns how many were open."""
        return await self.sockets.close_all(abrupt=abrupt)

    def on_started(self) -> None:  # noqa: B027 - optional hook
        """Called on the loop once the sim is primed, before the server listens."""

    @property
    def ws_path(self) -> str:
        return "/"


class FaultInjector:
    """Thread-safe fault controls, callable from the test thread."""

    def __init__(self, harness: EmulatorHarness) -> None:
        self._h = harness

    def http_errors(
        self, count: int, *, status: int = 429, retry_after_s: float | None = 1.0
    ) -> None:
        """Answer the next ``count`` HTTP requests (not WebSocket upgrades) with ``status``;
        429 answers carry ``Retry-After`` when ``retry_after_s`` is given."""
        fault = HttpFault(status, count, retry_after_s if status == 429 else None)
        self._h.call(lambda: self._h.fault_state.http.append(fault))

    def delay(self, ms: int) -> None:
        """Delay every HTTP response by ``ms`` (0 turns it off)."""

        def apply() -> None:
            self._h.fault_state.delay_ms = max(0, ms)

        self._h.call(apply)

    def skip_book_ids(self, count: int = 1, symbol: str | None = None) -> None:
        """Skip ``count`` book update ids before the next depth push of ``symbol``
        (a wire symbol; None: whichever symbol pushes next)."""

        def apply() -> None:
            skips = self._h.fault_state.skip_book_ids
            skips[symbol] = skips.get(symbol, 0) + count

        self._h.call(apply)

    def freeze(self, max_s: float = 30.0) -> None:
        """Freeze the whole venue until ``thaw`` (at most ``max_s``): its loop stops, so
        no frame, no pong and no HTTP answer leaves; the sockets stay open. A frozen
        feed, as a stuck venue or a half-open connection looks from our side."""
        thawed = self._h.thawed
        thawed.clear()
        loop = self._h._loop
        assert loop is not None, "the emulator is not running"
        loop.call_soon_threadsafe(thawed.wait, max_s)

    def thaw(self) -> None:
        self._h.thawed.set()

    def close_sockets(self, *, abrupt: bool = False) -> int:
        """Close every open WebSocket; returns how many there were."""
        return self._h.call_async(lambda: self._h.dialect.close_sockets(abrupt=abrupt))

    def drop_next_order(self, api_key: str, count: int = 1) -> None:
        """The account's next ``count`` orders are answered as accepted, then never
        booked and never reported (Lighter drops some orders this way)."""
        account = self._h.accounts[api_key]

        def apply() -> None:
            self._h.venue.drop_next[account] = self._h.venue.drop_next.get(account, 0) + count

        self._h.call(apply)

    def lose_next_answer(
        self, route: str, *, count: int = 1, mode: str = "drop", status: int = 504
    ) -> None:
        """The next ``count`` requests to ``route`` (the dialect's route name, e.g.
        ``"place"``) take effect, then their answers are lost: the connection drops
        (``mode="drop"``) or ``status`` comes back (``mode="status"``)."""
        if mode not in ("drop", "status"):
            raise ValueError(f"mode {mode!r}: 'drop' or 'status'")

        def apply() -> None:
            self._h.fault_state.lost_answers[route] = LostAnswer(mode, status, count)

        self._h.call(apply)

    def close_sockets_on_next_fill(self, count: int = 1) -> None:
        """Drop every WebSocket right before each of the next ``count`` account fills
        is pushed: those fills are then only in the venue's fill history."""

        def apply() -> None:
            self._h.fault_state.close_on_fill += count

        self._h.call(apply)

    def book_duplicate_client_ids(self, api_key: str, on: bool = True) -> None:
        """A repeated client id of this account books a second live order instead of
        being refused (no venue we trade promises to refuse one)."""
        account = self._h.accounts[api_key]

        def apply() -> None:
            if on:
                self._h.venue.duplicate_client_ids.add(account)
            else:
                self._h.venue.duplicate_client_ids.discard(account)

        self._h.call(apply)

    def liquidate(
        self, api_key: str, symbol: str, side: Side, size: Decimal, price: Decimal
    ) -> Fill:
        """A fill on the account that belongs to no order (a liquidation): no client
        id; the position moves. ``symbol`` is the sim symbol."""
        account = self._h.accounts[api_key]
        return self._h.call(lambda: self._h.venue.force_fill(account, symbol, side, size, price))

    def reject_next_order(self, api_key: str, reason: str = "INVALID_ORDER") -> None:
        """The next order of the account behind ``api_key`` is rejected with ``reason``
        (a venue error code where the dialect knows one)."""
        account = self._h.accounts[api_key]

        def apply() -> None:
            self._h.venue.reject_next[account] = reason

        self._h.call(apply)


class EmulatorHarness:
    """Start/stop a dialect + sim world in a background thread; a context manager."""

    def __init__(
        self,
        dialect: Callable[..., VenueDialect],
        *,
        accounts: Mapping[str, str],
        world: SimWorld | None = None,
        venue: str | None = None,
        step_ms: int = 100,
        speed: float = 1.0,
        ping_interval_s: float = 60.0,
        host: str = "127.0.0.1",
        port: int = 0,
        start_ms: int | None = None,
    ) -> None:
        if step_ms <= 0 or speed <= 0:
            raise ValueError("step_ms and speed must be positive")
        self.world = world or default_world(venue or "emulator")
        if venue is None:
            if len(self.world.venues) != 1:
                raise ValueError("the world has several venues: name the one to serve")
            venue = next(iter(self.world.venues))
        self.venue: SimVenue = self.world.venues[venue]
        self.accounts = dict(accounts)
        self.step_ms = step_ms
        self.speed = speed
        self.host = host
        self.fault_state = FaultState()
        self.faults = FaultInjector(self)
        self.dialect = dialect(
            self.venue, self.accounts, self.fault_state, ping_interval_s=ping_interval_s
        )
        self._start_ms = start_ms
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._paused = False
        self.on_request: Callable[[web.Request], None] | None = None
        """Measurement hook (off: None): called on the emulator's loop as each HTTP
        request arrives (``benchmarks/bench_tick_to_trade.py``)."""
        self.thawed = threading.Event()
        """Cleared while ``faults.freeze`` holds the emulator's loop."""
        self.port = port  # 0: an ephemeral port, known once started
        self.step_errors = 0

    # -- from the test thread ------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.dialect.ws_path}"

    def start(self, timeout: float = 10.0) -> EmulatorHarness:
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        self._thread = threading.Thread(
            target=self._thread_main, name=f"emulator-{self.venue.name}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("emulator did not start in time")
        if self._startup_error is not None:
            raise RuntimeError("emulator failed to start") from self._startup_error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.thawed.set()  # a frozen loop could not stop
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        stop = self._stop
        if stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed in between
                log.debug("emulator loop already closed at stop")
        thread.join(timeout)
        if thread.is_alive():
            log.error("emulator thread %s did not stop within %.1f s", thread.name, timeout)
        self._thread = None

    def __enter__(self) -> EmulatorHarness:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``fn`` on the emulator loop and return its result (thread-safe)."""

        async def run() -> T:
            return fn()

        return self.call_async(run, timeout)

    def call_async(self, fn: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T:
        loop = self._loop
        if loop is None or not self._ready.is_set():
            raise RuntimeError("emulator is not running")

        async def run() -> T:
            return await fn()

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(run(), loop)
        return future.result(timeout)

    def pause(self) -> None:
        """Stop stepping the sim (the server keeps answering)."""
        self.call(lambda: setattr(self, "_paused", True))

    def resume(self) -> None:
        self.call(lambda: setattr(self, "_paused", False))

    def step(self, count: int = 1) -> None:
        """Step the sim ``count`` times now (also while paused)."""

        def run() -> None:
            for _ in range(count):
                self._step_once()

        self.call(run)

    # -- on the emulator loop -------------------------------------------------

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except Exception as exc:
            log.exception("emulator %s crashed", self.venue.name)
            self._startup_error = self._startup_error or exc
        finally:
            self._ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._now_ms = self._start_ms if self._start_ms is not None else int(time.time() * 1000)
        runner: web.AppRunner | None = None
        stepper: asyncio.Task[None] | None = None
        try:
            self.world.prime(self._now_ms)
            self.dialect.on_started()
            app = web.Application(middlewares=[self._fault_middleware])
            self.dialect.install(app)
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = int(runner.addresses[0][1])
            stepper = asyncio.create_task(self._step_loop(), name="emulator-step")
        except Exception as exc:
            log.exception("emulator %s failed to start", self.venue.name)
            self._startup_error = exc
            self._ready.set()
            if runner is not None:
                await runner.cleanup()
            return
        log.info("emulator %s listening on %s", self.venue.name, self.base_url)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            stepper.cancel()
            try:
                await self.dialect.close_sockets()
            except Exception:
                log.exception("emulator %s: closing sockets at shutdown failed", self.venue.name)
            await runner.cleanup()
            log.info("emulator %s stopped", self.venue.name)

    async def _step_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.step_ms / 1000 / self.speed
        deadline = loop.time()
        while True:
            deadline += interval
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            if loop.time() - deadline > 10 * interval:
                deadline = loop.time()  # fell far behind (debugger, loaded CI): don't burst
            if self._paused:
                continue
            self._step_once()

    def _step_once(self) -> None:
        self._now_ms += self.step_ms
        try:
            self.world.step(self._now_ms, self.step_ms)
        except Exception:
            self.step_errors += 1
            log.exception("emulator %s: sim step failed at %d ms", self.venue.name, self._now_ms)

    @web.middleware
    async def _fault_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> web.StreamResponse:
        if self.on_request is not None:
            self.on_request(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        state = self.fault_state
        if state.delay_ms > 0:
            await asyncio.sleep(state.delay_ms / 1000)
        fault = state.take_http_fault()
        if fault is not None:
            log.info(
                "emulator %s: injected HTTP %d for %s %s",
                self.venue.name,
                fault.status,
                request.method,
                request.path,
            )
            return self.dialect.fault_response(fault)
        return await handler(request)
