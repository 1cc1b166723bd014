"""``CoreServer``: a running session behind a local socket.

Every connected viewer gets the published views (``mmtui.remote.publish``) at
the refresh rate, only when they changed, and may send commands (the console's:
start / pause / resume / stop, launch, cancel, flatten, kill switch, reset
risk, parameter edits, and a stop of the core itself). The core never waits on
a viewer: frames are written without awaiting the socket, and a viewer that
lets more than ``MAX_BACKLOG`` bytes pile up is dropped. A frame a client gets
wrong is answered with an error naming what was wrong; the server goes on.

Roles: a ``viewer`` (``mmtui attach``) may come and go, trading goes on; the
``owner`` (the console that spawned this core: ``ui.core: process``) going away
without detaching runs the safe shutdown, so a console that dies (a hang-up, a
kill) never leaves its child core trading unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from pathlib import Path
from typing import Any

from mmtui.core.markets import EngineError
from mmtui.core.summary import RunSummary
from mmtui.logsetup import LogBuffer
from mmtui.remote.codec import CodecError
from mmtui.remote.publish import Publisher
from mmtui.remote.sockets import check_path, clear_stale, private_dir
from mmtui.remote.unattended import Unattended
from mmtui.remote.wire import MAX_CLIENT_FRAME, PROTOCOL, FrameError, frame, read_message
from mmtui.session import Session

log = logging.getLogger("mmtui.remote.server")

MAX_BACKLOG = 8 * 1024 * 1024
"""Bytes queued to one viewer before it is dropped as too slow."""
HELLO_TIMEOUT_S = 10.0
ROLES = ("viewer", "owner")


class Viewer:
    def __init__(self, number: int, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.writer = writer
        self.role = "viewer"
        self.detached = False
        self.ready = False

    def send(self, data: bytes) -> bool:
        """Queue ``data``; False (and the viewer closed) when it cannot keep up."""
        if self.writer.is_closing():
            return False
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > MAX_BACKLOG:
            log.warning("viewer %d: over %d bytes behind: dropped", self.number, MAX_BACKLOG)
            self.writer.transport.abort()  # now: close() would wait to send the backlog
            return False
        return True

    def error(self, text: str, ref: object = None) -> None:
        self.send(frame({"type": "error", "error": text, "id": ref}))


class CoreServer:
    def __init__(
        self,
        session: Session,
        path: Path,
        logs: LogBuffer,
        *,
        refresh_hz: float = 10.0,
    ) -> None:
        self.session = session
        self.engine = session.engine
        self.path = path
        self.refresh_hz = refresh_hz
        self.publisher = Publisher(session.engine, logs, config_path=str(session.config_path or ""))
        self.unattended = Unattended(session.config.unattended, session.engine)
        self.viewers: set[Viewer] = set()
        self.stop_requested = asyncio.Event()
        self.stop_reason = ""
        self.summary: asyncio.Future[RunSummary] = asyncio.get_running_loop().create_future()
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        private_dir(self.path.parent)
        check_path(self.path)
        clear_stale(self.path)
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path))
        os.chmod(self.path, 0o600)  # the 0700 dir already keeps others out meanwhile
        self._spawn(self._publish_loop())
        log.info("serving the core on %s", self.path)

    def request_stop(self, reason: str) -> None:
        if not self.stop_requested.is_set():
            self.stop_reason = reason
            log.warning("stop requested: %s", reason)
            self.stop_requested.set()

    async def finish(self, summary: RunSummary) -> None:
        """After the safe shutdown: every viewer gets the summary, then the socket goes."""
        if not self.summary.done():
            self.summary.set_result(summary)
        await asyncio.sleep(0)  # a pending "shutdown" reply goes first
        data = frame({"type": "stopped", "summary": summary, "reason": self.stop_reason})
        for viewer in list(self.viewers):
            viewer.send(data)
        if self._server is not None:
            self._server.close()
        for viewer in list(self.viewers):
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(viewer.writer.drain(), 2.0)
            viewer.writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.path.unlink(missing_ok=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- publishing -----------------------------------------------------------

    async def _publish_loop(self) -> None:
        while True:
            await asyncio.sleep(1 / self.refresh_hz)
            try:
                self.publish()
                if self.unattended.due():
                    self._spawn(self._unattended())
            except Exception:
                log.exception("publishing to %d viewer(s) failed", len(self.viewers))

    async def _unattended(self) -> None:
        try:
            await self.unattended.act()
        except Exception:
            log.exception("the unattended policy %r failed", self.unattended.config.policy)

    def publish(self, *, force: bool = False) -> None:
        """What changed, to every viewer (``force``: bring the published state up to
        date even with none attached, as a new viewer's full state is built from it)."""
        ready = [v for v in self.viewers if v.ready]
        if not ready and not force:
            return
        message = self.publisher.changes()
        if message is None:
            return
        data = frame(message)
        for viewer in ready:
            viewer.send(data)

    # -- a client -------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        viewer = Viewer(next(self._numbers), writer)
        try:
            if not await self._hello(viewer, reader):
                return
            self.publish(force=True)  # up to date (the others too) before the full state
            viewer.send(frame(self.publisher.full()))
            viewer.ready = True
            self.viewers.add(viewer)
            self.unattended.viewers(len(self.viewers))
            log.info("viewer %d attached (%s)", viewer.number, viewer.role)
            await self._read(viewer, reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("viewer %d: failed", viewer.number)
        finally:
            self.viewers.discard(viewer)
            self.unattended.viewers(len(self.viewers))
            writer.close()
            if viewer.ready:
                how = "detached" if viewer.detached else "went away"
                log.info("viewer %d %s; %d attached", viewer.number, how, len(self.viewers))
            if viewer.role == "owner" and viewer.ready and not viewer.detached:
                self.request_stop("the console that owns this core went away")

    async def _hello(self, viewer: Viewer, reader: asyncio.StreamReader) -> bool:
        try:
            hello = await asyncio.wait_for(read_message(reader, MAX_CLIENT_FRAME), HELLO_TIMEOUT_S)
        except TimeoutError:
            viewer.error(f"no hello in {HELLO_TIMEOUT_S:g} s")
            return False
        except (CodecError, FrameError) as exc:
            viewer.error(f"bad frame: {exc}")
            log.warning("viewer %d: bad hello: %s", viewer.number, exc)
            return False
        if hello.get("type") != "hello" or hello.get("version") != PROTOCOL:
            viewer.error(
                f"expected hello version {PROTOCOL}, got {hello.get('type')!r} "
                f"version {hello.get('version')!r}"
            )
            return False
        role = hello.get("role", "viewer")
        if role not in ROLES:
            viewer.error(f"unknown role {role!r} (one of {', '.join(ROLES)})")
            return False
        viewer.role = role
        view = self.engine.view
        viewer.send(
            frame(
                {
                    "type": "hello",
                    "version": PROTOCOL,
                    "run_id": view.header().run_id,
                    "mode": view.header().mode,
                    "config_path": str(self.session.config_path or ""),
                    "pid": os.getpid(),
                }
            )
        )
        return True

    async def _read(self, viewer: Viewer, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                message = await read_message(reader, MAX_CLIENT_FRAME)
            except CodecError as exc:
                log.warning("viewer %d: bad frame refused: %s", viewer.number, exc)
                viewer.error(f"bad frame: {exc}")
                continue
            except FrameError as exc:
                log.warning("viewer %d: %s: disconnected", viewer.number, exc)
                viewer.error(f"bad frame: {exc}; closing")
                return
            kind = message.get("type")
            if kind == "cmd":
                ref, op, args = message.get("id"), message.get("op"), message.get("args", {})
                if not isinstance(op, str) or not isinstance(args, dict):
                    viewer.error("a command needs a string 'op' and a mapping 'args'", ref)
                    continue
                self._spawn(self._command(viewer, ref, op, args))
            elif kind == "detach":
                viewer.detached = True
                viewer.send(frame({"type": "bye"}))
            else:
                viewer.error(f"unknown message type {kind!r}")

    async def _command(self, viewer: Viewer, ref: object, op: str, args: dict[str, Any]) -> None:
        from mmtui.remote.commands import CommandError, dispatch

        try:
            result = await dispatch(self, op, args)
        except (EngineError, CommandError) as exc:
            reply = {"type": "reply", "id": ref, "ok": False, "error": str(exc)}
        except (KeyError, ValueError, TypeError, OSError) as exc:
            reply = {"type": "reply", "id": ref, "ok": False, "error": f"{op}: {exc}"}
        except Exception as exc:
            log.exception("command %s from viewer %d failed", op, viewer.number)
            reply = {"type": "reply", "id": ref, "ok": False, "error": f"{op} failed: {exc!r}"}
        else:
            reply = {"type": "reply", "id": ref, "ok": True, "result": result}
        try:
            data = frame(reply)
        except CodecError as exc:
            data = frame({"type": "reply", "id": ref, "ok": False, "error": str(exc)})
        viewer.send(data)


__all__ = ["CoreServer"]
