"""The commands a viewer may send a served core: the console's, one entry each,
their arguments checked before anything runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mmtui.coreclient import recording_text

if TYPE_CHECKING:
    from mmtui.remote.server import CoreServer


class CommandError(ValueError):
    """A command the server does not know, or an argument of the wrong kind."""


def _text(args: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = args.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > 200:
        raise CommandError(f"argument {key!r}: expected a non-empty string, got {value!r}")
    return value


def _params(args: dict[str, Any]) -> dict[str, Any]:
    value = args.get("params", {})
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise CommandError(f"argument 'params': expected a mapping, got {type(value).__name__}")
    return value


def _markets(args: dict[str, Any]) -> list[tuple[str, str]]:
    value = args.get("markets")
    ok = isinstance(value, tuple) and all(
        isinstance(m, tuple) and len(m) == 2 and all(isinstance(x, str) for x in m) for m in value
    )
    if not ok:
        raise CommandError("argument 'markets': expected [[venue, symbol], ...]")
    return list(value)  # type: ignore[arg-type]


async def _sync(call: Callable[[], object]) -> object:
    return call()


def dispatch(server: CoreServer, op: str, args: dict[str, Any]) -> Awaitable[object]:
    engine = server.engine
    name = lambda: _text(args, "name")  # noqa: E731
    scope = lambda: dict(  # noqa: E731
        venue=_text(args, "venue", optional=True), strategy=_text(args, "strategy", optional=True)
    )
    table: dict[str, Callable[[], Awaitable[object]]] = {
        "start": lambda: engine.start_strategy(name()),
        "pause": lambda: _sync(lambda: engine.pause_strategy(name())),
        "resume": lambda: _sync(lambda: engine.resume_strategy(name())),
        "stop": lambda: _sync(lambda: engine.stop_strategy(name())),
        "cancel": lambda: _count(engine.cancel_orders(**scope())),
        "flatten": lambda: engine.flatten(**scope()),
        "kill": engine.kill_switch,
        "reset_risk": lambda: _sync(engine.reset_risk),
        "add_strategy": lambda: _sync(
            lambda: (
                engine.add_strategy(
                    name(),
                    _text(args, "kind"),
                    _text(args, "venue"),
                    _text(args, "symbol"),
                    _params(args),
                )
                and None
            )
        ),
        "preview": lambda: _list(
            engine.preview_with_books(
                _text(args, "kind"), _text(args, "venue"), _text(args, "symbol"), _params(args)
            )
        ),
        "edit_param": lambda: _sync(
            lambda: engine.params.edit(
                _text(args, "strategy"), _text(args, "name"), str(args.get("text", ""))
            )
        ),
        "subscribe": lambda: engine.subscribe(_markets(args)),
        "journal_fills": lambda: asyncio.to_thread(engine.view.journal_fills),
        "toggle_recording": lambda: _sync(
            lambda: recording_text(server.session.toggle_recording())
        ),
        "shutdown": lambda: _shutdown(server),
    }
    chosen = table.get(op)
    if chosen is None:
        raise CommandError(f"unknown command {op!r} (known: {', '.join(sorted(table))})")
    return chosen()


async def _count(pending: Awaitable[list[object]]) -> int:
    return len(await pending)


async def _list(pending: Awaitable[list[object]]) -> list[object]:
    return list(await pending)


async def _shutdown(server: CoreServer) -> object:
    server.request_stop("stopped by a viewer")
    return await asyncio.shield(server.summary)


__all__ = ["CommandError", "dispatch"]
