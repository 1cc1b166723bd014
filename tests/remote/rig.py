"""A served core in this process on a short tmp socket, and raw clients for it."""

from __future__ import annotations

import asyncio
import shutil
import struct
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mmtui.logsetup import LogBuffer, add_handler, remove_handler
from mmtui.remote.client import RemoteCore
from mmtui.remote.server import CoreServer
from mmtui.remote.wire import PROTOCOL, frame, read_message
from mmtui.session import Session


def short_dir() -> Path:
    """Unix socket paths are short (~100 bytes): pytest's tmp_path can be longer."""
    return Path(tempfile.mkdtemp(prefix="mmtui-t-", dir="/tmp"))


@asynccontextmanager
async def served(session: Session) -> AsyncIterator[CoreServer]:
    """``session`` started and served on a socket in a fresh 0700 dir."""
    folder = short_dir()
    buffer = LogBuffer()
    add_handler(buffer)
    await session.start()
    server = CoreServer(session, folder / "run" / "core.sock", buffer, refresh_hz=20)
    await server.start()
    try:
        yield server
    finally:
        await session.stop()
        await server.finish(session.summary())
        remove_handler(buffer)
        shutil.rmtree(folder, ignore_errors=True)


async def viewer(server: CoreServer, role: str = "viewer") -> RemoteCore:
    core = RemoteCore(server.path, role=role, logs=LogBuffer())
    await core.connect()
    return core


class RawClient:
    """Frames by hand, for what a well-behaved client never sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: Path, *, hello: bool = True) -> RawClient:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=2**24)
        client = cls(reader, writer)
        if hello:
            writer.write(frame({"type": "hello", "version": PROTOCOL, "role": "viewer"}))
            assert (await client.next("hello"))["version"] == PROTOCOL
        return client

    def raw(self, payload: bytes) -> None:
        self.writer.write(struct.pack(">I", len(payload)) + payload)

    async def next(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message of ``kind`` (state updates in between skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await read_message(self.reader)
                if message["type"] == kind:
                    return message

    async def closed(self, timeout: float = 10.0) -> bool:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await read_message(self.reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return True

    def close(self) -> None:
        self.writer.close()
