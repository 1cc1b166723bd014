"""What the console needs from the trading core, and the in-process implementation.

The console reads views (``core.view``: the read model's API) and sends commands.
Two implementations: ``LocalCore`` (the core in this process: plain ``mmtui``)
and ``mmtui.remote.client.RemoteCore`` (a served core over its socket:
``mmtui attach``). A command method acts or sends at call and returns an
awaitable of its outcome; a refused command raises ``EngineError`` (at call or
when awaited). ``attached`` says whether quitting the console detaches (the core
keeps trading) or stops the core with the safe shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mmtui.core.fill_history import FillRecord
from mmtui.core.readmodel import ReadModel
from mmtui.core.recorder import RecordSummary
from mmtui.core.summary import FlattenReport, RunSummary
from mmtui.session import Session
from strategies.base import PlannedOrder

T = TypeVar("T")
Market = tuple[str, str]


async def done(value: T) -> T:
    return value


class CoreClient(Protocol):
    view: ReadModel
    attached: bool
    where: str
    """Where the core runs ('' in this process, else its socket)."""
    ended: str | None
    """Why the console must close now (the served core stopped, the connection was
    lost); None while it is up."""

    @property
    def config_path(self) -> str: ...

    async def start(self) -> None: ...
    def start_strategy(self, name: str) -> Awaitable[None]: ...
    def pause_strategy(self, name: str) -> Awaitable[None]: ...
    def resume_strategy(self, name: str) -> Awaitable[None]: ...
    def stop_strategy(self, name: str) -> Awaitable[None]: ...
    def cancel_orders(self, venue: str | None, strategy: str | None) -> Awaitable[int]: ...
    def flatten(self, venue: str | None, strategy: str | None) -> Awaitable[FlattenReport]: ...
    def kill_switch(self) -> Awaitable[FlattenReport]: ...
    def reset_risk(self) -> Awaitable[None]: ...
    def add_strategy(
        self, name: str, kind: str, venue: str, symbol: str, params: dict[str, Any]
    ) -> Awaitable[None]: ...
    def preview(
        self, kind: str, venue: str, symbol: str, params: dict[str, Any]
    ) -> Awaitable[list[PlannedOrder]]: ...
    def edit_param(self, strategy: str, name: str, text: str) -> Awaitable[str]: ...
    def subscribe(self, markets: Iterable[Market]) -> Awaitable[None]: ...
    def journal_fills(self) -> Awaitable[tuple[FillRecord, ...]]: ...
    def toggle_recording(self) -> Awaitable[str]:
        """The record toggle; what to tell the operator ('' for nothing)."""
        ...

    async def shutdown(self) -> RunSummary | None:
        """The core's safe shutdown; its summary."""
        ...

    async def detach(self) -> None: ...


class LocalCore:
    """The core in this process: today's console, commands as engine calls."""

    attached = False
    where = ""
    ended: str | None = None

    def __init__(self, session: Session) -> None:
        self.session = session
        self.engine = session.engine
        self.view = session.engine.view

    @property
    def config_path(self) -> str:
        return str(self.session.config_path or "")

    async def start(self) -> None:
        await self.session.start()

    def start_strategy(self, name: str) -> Awaitable[None]:
        return self.engine.start_strategy(name)

    def pause_strategy(self, name: str) -> Awaitable[None]:
        self.engine.pause_strategy(name)
        return done(None)

    def resume_strategy(self, name: str) -> Awaitable[None]:
        self.engine.resume_strategy(name)
        return done(None)

    def stop_strategy(self, name: str) -> Awaitable[None]:
        self.engine.stop_strategy(name)
        return done(None)

    async def cancel_orders(self, venue: str | None, strategy: str | None) -> int:
        return len(await self.engine.cancel_orders(venue=venue, strategy=strategy))

    def flatten(self, venue: str | None, strategy: str | None) -> Awaitable[FlattenReport]:
        return self.engine.flatten(venue=venue, strategy=strategy)

    def kill_switch(self) -> Awaitable[FlattenReport]:
        return self.engine.kill_switch()

    def reset_risk(self) -> Awaitable[None]:
        self.engine.reset_risk()
        return done(None)

    def add_strategy(
        self, name: str, kind: str, venue: str, symbol: str, params: dict[str, Any]
    ) -> Awaitable[None]:
        self.engine.add_strategy(name, kind, venue, symbol, params)
        return done(None)

    def preview(
        self, kind: str, venue: str, symbol: str, params: dict[str, Any]
    ) -> Awaitable[list[PlannedOrder]]:
        return self.engine.preview_with_books(kind, venue, symbol, params)

    def edit_param(self, strategy: str, name: str, text: str) -> Awaitable[str]:
        return done(self.engine.params.edit(strategy, name, text))

    def subscribe(self, markets: Iterable[Market]) -> Awaitable[None]:
        return self.engine.subscribe(list(markets))

    def journal_fills(self) -> Awaitable[tuple[FillRecord, ...]]:
        # SQLite blocks: on a thread, never the event loop
        return asyncio.to_thread(self.view.journal_fills)

    def toggle_recording(self) -> Awaitable[str]:
        return done(recording_text(self.session.toggle_recording()))

    async def shutdown(self) -> RunSummary | None:
        await self.session.stop()
        return self.session.summary()

    async def detach(self) -> None:
        raise RuntimeError("an in-process core cannot be detached from")


def recording_text(done: Path | RecordSummary | None) -> str:
    """What the record toggle did, in one line."""
    if isinstance(done, Path):
        return f"recording to {done}"
    return done.line() if done is not None else ""


__all__ = ["CoreClient", "LocalCore", "done", "recording_text"]
