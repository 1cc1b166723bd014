"""Backpack's frames, hostile: mutated recorded frames through the socket's own handler
(``BackpackWs.handle``) raise nothing, are counted as bad, and the feed stays up; a REST
depth snapshot with impossible levels is refused (counted) and fetched again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.base import ConnectionChanged
from tests.frame_rigs import FIXTURES, FrameRig, backpack_rig, opened, settle, survives_fuzz
from tests.waiting import until

SOL = "SOL_USDC"


@pytest.fixture
async def rig() -> AsyncIterator[FrameRig]:
    async with opened(backpack_rig) as r:
        yield r


async def test_mutated_frames_raise_nothing_and_the_feed_stays_up(rig: FrameRig) -> None:
    await survives_fuzz(rig)


def _live_depth() -> dict[str, Any]:
    """A recorded depth delta of SOL_USDC."""
    for group in json.loads((FIXTURES / "backpack" / "ws_frames_live.json").read_text()):
        for text in group["frames"]:
            if '"depth.SOL_USDC"' in text:
                return json.loads(text)
    raise AssertionError("no recorded SOL_USDC depth frame")


@pytest.mark.parametrize(
    ("bids", "asks", "why"),
    [
        ([["98.00", "-5"]], [["98.97", "1"]], "negative size"),
        ([["99.50", "1"]], [["98.97", "1"]], "crossed"),
        ([["98.00", "1"]], [["1e999990", "1"]], "huge price"),
        ([["98.00", "1"]], {"98.97": "1"}, "a side that is not a list"),
    ],
)
async def test_an_impossible_rest_snapshot_is_refused_and_fetched_again(
    rig: FrameRig, bids: Any, asks: Any, why: str
) -> None:
    conn = rig.conn
    delta = _live_depth()
    last_id = int(delta["data"]["U"]) - 1
    answers = [
        {"bids": bids, "asks": asks, "lastUpdateId": str(last_id)},
        {"bids": [["98.00", "1"]], "asks": [["99.00", "1"]], "lastUpdateId": str(last_id)},
    ]
    asked: list[str] = []

    async def public(path: str, params: Any = None) -> Any:
        asked.append(path)
        return answers[min(len(asked), len(answers)) - 1]

    conn.rest.public = public
    conn.ws.connected.set()
    bad = conn.stats.bad_frames
    conn._depth[SOL].reset("test")
    conn.books.resync(SOL, "test")
    await until(lambda: len(asked) >= 2, what=f"a second snapshot asked for ({why})")
    assert conn.stats.bad_frames == bad + 1, why
    rig.feed(json.dumps(delta))  # the delta that bridges the good snapshot
    book = conn.book(SOL)
    await until(lambda: book.synced, what="the book in sync on the second snapshot")
    assert book.seq == int(delta["data"]["u"])


async def test_a_flood_of_error_frames_is_counted_and_told_a_few_times(rig: FrameRig) -> None:
    """Each error frame is counted; the log and the console (the venue's status detail)
    hear of the first few of a window, not of every one."""
    rig.events.clear()
    for n in range(1000):
        rig.feed(json.dumps({"id": None, "error": {"code": 4006, "message": f"Invalid {n}"}}))
    await settle()
    assert rig.conn.ws.error_frames == 1000
    told = [e for e in rig.events if isinstance(e, ConnectionChanged)]
    assert 1 <= len(told) <= rig.conn.ws.refusals.burst
    assert "server refused" in told[0].detail and "Invalid 0" in told[0].detail
    assert await rig.canary()
