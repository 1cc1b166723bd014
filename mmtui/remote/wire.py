"""Length-prefixed frames on a stream: a 4-byte big-endian length, then that many
bytes of one encoded message (``mmtui.remote.codec``)."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from mmtui.remote.codec import CodecError, decode, encode

PROTOCOL = 1
"""Both ends say it in their hello; a mismatch is refused with both numbers."""
MAX_FRAME = 16 * 1024 * 1024
"""Bytes. A longer frame ends the connection (its stream cannot be trusted after)."""
MAX_CLIENT_FRAME = 1024 * 1024
"""What a server takes from a viewer: commands are small."""
_HEADER = struct.Struct(">I")


class FrameError(ConnectionError):
    """The stream broke framing (a length over ``MAX_FRAME``): the connection ends."""


def frame(message: dict[str, Any]) -> bytes:
    payload = encode(message)
    if len(payload) > MAX_FRAME:
        raise CodecError(f"message of {len(payload)} bytes is over {MAX_FRAME}")
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_FRAME) -> bytes:
    """One frame's payload; IncompleteReadError at the end of the stream."""
    header = await reader.readexactly(_HEADER.size)
    (length,) = _HEADER.unpack(header)
    if length > limit:
        raise FrameError(f"frame of {length} bytes is over the limit of {limit}")
    return await reader.readexactly(length)


async def read_message(reader: asyncio.StreamReader, limit: int = MAX_FRAME) -> dict[str, Any]:
    """One decoded message: FrameError, CodecError (the frame was read: the stream
    goes on), or IncompleteReadError at the end."""
    return decode(await read_frame(reader, limit))


__all__ = [
    "MAX_CLIENT_FRAME",
    "MAX_FRAME",
    "PROTOCOL",
    "CodecError",
    "FrameError",
    "frame",
    "read_message",
]
