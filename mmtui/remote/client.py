"""``RemoteCore``: the console's core client (``mmtui.coreclient.CoreClient``) over a
served core's socket, and ``RemoteView``: the read model's API over the views the
server publishes."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any

from mmtui.core.alerts import Alert
from mmtui.core.fill_history import FillRecord
from mmtui.core.latency import LatencyView
from mmtui.core.markets import EngineError
from mmtui.core.params import ParamRow
from mmtui.core.pnl_history import SAMPLES_KEPT, PnlPoint, thinned
from mmtui.core.readmodel import (
    OTHER_TOOL,
    BookView,
    EventRow,
    HeaderView,
    OrderRow,
    OurLevel,
    PositionRow,
    StrategyView,
)
from mmtui.core.summary import FlattenReport, RunSummary
from mmtui.core.telemetry import TelemetryView
from mmtui.core.venue_views import AccountView, HealthView, SessionInfo
from mmtui.logsetup import LogBuffer
from mmtui.remote.codec import CodecError
from mmtui.remote.wire import PROTOCOL, FrameError, frame, read_message
from strategies.base import PlannedOrder

log = logging.getLogger("mmtui.remote.client")

REQUEST_TIMEOUT_S = 30.0
"""A quick command's answer (start, pause, edit ...); flatten and stop wait longer."""
LONG_TIMEOUT_S = 600.0


class RemoteError(EngineError):
    """The served core refused a command, or could not be reached."""


class RemoteView:
    """The read model's reading API over the latest published state."""

    def __init__(self) -> None:
        self.state: dict[Any, Any] = {}
        self.alert_list: list[Alert] = []
        self.pnl: list[PnlPoint] = []  # the core's history, thinned as the core thins it
        self.updates = 0

    def apply(self, message: dict[str, Any], buffer: LogBuffer | None) -> None:
        changed = message.get("set", {})
        if message.get("full"):
            self.state = {}
            self.alert_list = []
            self.pnl.clear()
        self.state.update(changed)
        appends = message.get("append", {})
        for line in appends.get("log", ()):
            if buffer is not None:
                buffer.add(line)
        self.alert_list.extend(appends.get("alerts", ()))
        del self.alert_list[:-500]
        self.pnl.extend(appends.get("pnl", ()))
        if len(self.pnl) >= SAMPLES_KEPT:
            self.pnl = thinned(self.pnl)
        self.updates += 1

    def _get(self, key: Any, default: Any = ()) -> Any:
        return self.state.get(key, default)

    def header(self) -> HeaderView:
        return self.state["header"]

    def venue_names(self) -> tuple[str, ...]:
        return self._get("venue_names")

    def markets(self) -> tuple[tuple[str, str], ...]:
        return self._get("markets")

    def positions(self) -> tuple[PositionRow, ...]:
        return self._get("positions")

    def strategy_positions(self, strategy: str | None = None) -> tuple[PositionRow, ...]:
        rows = self._get("strategy_positions")
        return rows if strategy is None else tuple(r for r in rows if r.strategy == strategy)

    def orders(
        self, *, venue: str | None = None, symbol: str | None = None, strategy: str | None = None
    ) -> tuple[OrderRow, ...]:
        rows: tuple[OrderRow, ...] = self._get("orders")
        return tuple(
            o
            for o in rows
            if (venue is None or o.venue == venue)
            and (symbol is None or o.symbol == symbol)
            and (strategy is None or (o.strategy == strategy and o.strategy != OTHER_TOOL))
        )

    def our_levels(self, venue: str, symbol: str) -> tuple[OurLevel, ...]:
        return self._get(("ours", venue, symbol))

    def strategy_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.strategies())

    def strategies(self) -> tuple[StrategyView, ...]:
        return self._get("strategies")

    def strategy(self, name: str) -> StrategyView | None:
        return next((s for s in self.strategies() if s.name == name), None)

    def telemetry(self, name: str) -> TelemetryView | None:
        return next((t for t in self._get("telemetry") if t.strategy == name), None)

    def book_stamp(self, venue: str, symbol: str) -> object:
        entry = self.state.get(("book", venue, symbol))
        return None if entry is None else entry[0]

    def book(self, venue: str, symbol: str, levels: int) -> BookView | None:
        entry = self.state.get(("book", venue, symbol))
        if entry is None or entry[1] is None:
            return None
        book: BookView = entry[1]
        return dataclasses.replace(book, asks=book.asks[:levels], bids=book.bids[:levels])

    def tape(self, venue: str, symbol: str, limit: int) -> tuple[Any, ...]:
        return self._get(("tape", venue, symbol))[:limit]

    def accounts(self) -> tuple[AccountView, ...]:
        return self._get("accounts")

    def health(self) -> tuple[HealthView, ...]:
        return self._get("health")

    def session_info(self, config_path: str = "") -> SessionInfo:
        info: SessionInfo = self.state["session_info"]
        return dataclasses.replace(info, now_ms=self.header().now_ms)

    def pnl_history(self) -> tuple[PnlPoint, ...]:
        return tuple(self.pnl)

    @property
    def has_journal(self) -> bool:
        return bool(self._get("has_journal", False))

    def latency(self) -> LatencyView:
        return self.state["latency"]

    def params(self, strategy: str) -> tuple[ParamRow, ...]:
        return dict(self._get("params")).get(strategy, ())

    def events(self, limit: int = 50) -> tuple[EventRow, ...]:
        return self._get("events")[-limit:]

    def alerts(self, after: int = 0) -> tuple[Alert, ...]:
        return tuple(a for a in self.alert_list if a.seq > after)


class RemoteCore:
    """A served core over its socket. ``connect()`` first; the first full state has
    arrived when it returns."""

    attached = True

    def __init__(self, path: Path, *, role: str = "viewer", logs: LogBuffer | None = None) -> None:
        self.path = path
        self.where = str(path)
        self.role = role
        self.logs = logs
        self.view = RemoteView()
        self.ended: str | None = None
        self.summary: RunSummary | None = None
        self.hello: dict[str, Any] = {}
        self.stopped = asyncio.Event()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._first = asyncio.Event()
        self._detaching = False

    @property
    def config_path(self) -> str:
        return str(self.hello.get("config_path", ""))

    async def connect(self, timeout: float = 10.0) -> None:
        self._reader, self._writer = await asyncio.open_unix_connection(str(self.path), limit=2**20)
        self._writer.write(frame({"type": "hello", "version": PROTOCOL, "role": self.role}))
        hello = await asyncio.wait_for(read_message(self._reader), timeout)
        if hello.get("type") != "hello":
            raise RemoteError(f"{self.path}: {hello.get('error') or hello!r}")
        if hello.get("version") != PROTOCOL:
            raise RemoteError(
                f"{self.path}: the core speaks protocol {hello.get('version')}, we {PROTOCOL}"
            )
        self.hello = hello
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        waiter = asyncio.get_running_loop().create_task(self._first.wait())
        await asyncio.wait([waiter, self._task], timeout=timeout, return_when="FIRST_COMPLETED")
        waiter.cancel()
        if not self._first.is_set():
            raise RemoteError(f"{self.path}: no state from the core ({self.ended or 'timeout'})")

    async def start(self) -> None:
        """The served core is already running."""

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "the connection to the core was lost"
        try:
            while True:
                message = await read_message(self._reader)
                self._on_message(message)
                if message.get("type") == "stopped":
                    reason = "the core stopped"
        except (asyncio.IncompleteReadError, ConnectionError, FrameError, CodecError) as exc:
            if isinstance(exc, (FrameError, CodecError)):
                reason = f"the core sent a bad frame: {exc}"
        except asyncio.CancelledError:
            reason = "closed"
            raise
        finally:
            if self.ended is None and not self._detaching:
                self.ended = reason
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(RemoteError(f"{reason} before it answered"))
            self._pending.clear()
            self.stopped.set()

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "state":
            self.view.apply(message, self.logs)
            self._first.set()
        elif kind == "reply":
            future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if future is not None and not future.done():
                if message.get("ok"):
                    future.set_result(message.get("result"))
                else:
                    future.set_exception(RemoteError(str(message.get("error"))))
        elif kind == "stopped":
            self.summary = message.get("summary")
            self.ended = f"the core stopped ({message.get('reason') or 'shutdown'})"
            self.stopped.set()
        elif kind == "error":
            log.warning("the core says: %s", message.get("error"))

    async def request(self, op: str, timeout: float = REQUEST_TIMEOUT_S, **args: Any) -> Any:
        if self._writer is None or self.ended is not None:
            raise RemoteError(f"{op}: not connected ({self.ended or 'never connected'})")
        ref = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        self._writer.write(frame({"type": "cmd", "id": ref, "op": op, "args": args}))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RemoteError(f"{op}: no answer from the core in {timeout:g} s") from None
        finally:
            self._pending.pop(ref, None)

    # -- the console's commands -----------------------------------------------

    def start_strategy(self, name: str) -> Awaitable[None]:
        return self.request("start", name=name)

    def pause_strategy(self, name: str) -> Awaitable[None]:
        return self.request("pause", name=name)

    def resume_strategy(self, name: str) -> Awaitable[None]:
        return self.request("resume", name=name)

    def stop_strategy(self, name: str) -> Awaitable[None]:
        return self.request("stop", name=name)

    def cancel_orders(self, venue: str | None, strategy: str | None) -> Awaitable[int]:
        return self.request("cancel", LONG_TIMEOUT_S, venue=venue, strategy=strategy)

    def flatten(self, venue: str | None, strategy: str | None) -> Awaitable[FlattenReport]:
        return self.request("flatten", LONG_TIMEOUT_S, venue=venue, strategy=strategy)

    def kill_switch(self) -> Awaitable[FlattenReport]:
        return self.request("kill", LONG_TIMEOUT_S)

    def reset_risk(self) -> Awaitable[None]:
        return self.request("reset_risk")

    def add_strategy(
        self, name: str, kind: str, venue: str, symbol: str, params: dict[str, Any]
    ) -> Awaitable[None]:
        return self.request(
            "add_strategy", name=name, kind=kind, venue=venue, symbol=symbol, params=params
        )

    async def preview(
        self, kind: str, venue: str, symbol: str, params: dict[str, Any]
    ) -> list[PlannedOrder]:
        return list(
            await self.request("preview", kind=kind, venue=venue, symbol=symbol, params=params)
        )

    def edit_param(self, strategy: str, name: str, text: str) -> Awaitable[str]:
        return self.request("edit_param", strategy=strategy, name=name, text=text)

    def subscribe(self, markets: Iterable[tuple[str, str]]) -> Awaitable[None]:
        return self.request("subscribe", LONG_TIMEOUT_S, markets=tuple(markets))

    def journal_fills(self) -> Awaitable[tuple[FillRecord, ...]]:
        return self.request("journal_fills", LONG_TIMEOUT_S)

    def toggle_recording(self) -> Awaitable[str]:
        return self.request("toggle_recording")

    async def shutdown(self) -> RunSummary | None:
        """The served core's safe shutdown; its summary (None if it went away first)."""
        try:
            summary = await self.request("shutdown", LONG_TIMEOUT_S)
        except RemoteError:
            await self.stopped.wait()
            summary = self.summary
        return summary

    async def detach(self) -> None:
        """Leave the core trading: tell it, then close the connection."""
        self._detaching = True
        if self._writer is not None and not self._writer.is_closing():
            try:
                self._writer.write(frame({"type": "detach"}))
                await asyncio.wait_for(self._writer.drain(), 2.0)
            except (ConnectionError, TimeoutError):
                pass
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


__all__ = ["RemoteCore", "RemoteError", "RemoteView"]
