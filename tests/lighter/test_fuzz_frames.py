"""Lighter's frames, hostile: mutated recorded frames through the socket's own handler
(``LighterWs.handle``) raise nothing, are counted as bad, and the feed stays up; the
issue's frame and impossible book snapshots are refused (the book resyncs)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.frame_rigs import FIXTURES, FrameRig, lighter_rig, opened, settle, survives_fuzz


@pytest.fixture
async def rig() -> AsyncIterator[FrameRig]:
    async with opened(lighter_rig) as r:
        yield r


async def test_mutated_frames_raise_nothing_and_the_feed_stays_up(rig: FrameRig) -> None:
    await survives_fuzz(rig)


async def test_the_issues_positions_frame_is_counted_as_bad(rig: FrameRig) -> None:
    before = rig.conn.ws.bad_frames
    rig.feed(
        '{"type":"update/account_all_positions","channel":"account_all_positions:281",'
        '"positions":[1]}'
    )
    assert rig.conn.ws.bad_frames == before + 1
    assert await rig.canary()


@pytest.mark.parametrize(
    ("side", "level", "why"),
    [
        ("bids", {"price": "2000.00", "size": "-5"}, "negative size"),
        ("bids", {"price": "2000.00", "size": "0"}, "zero size in a snapshot"),
        ("bids", {"price": "2400.00", "size": "1"}, "crossed"),
        ("asks", {"price": "1e999990", "size": "1"}, "huge price"),
        ("asks", {"price": "NaN", "size": "1"}, "NaN price"),
    ],
)
async def test_an_impossible_snapshot_is_refused_and_resynced(
    rig: FrameRig, side: str, level: dict[str, str], why: str
) -> None:
    assert await rig.canary()
    snap = _snapshot()
    snap["order_book"][side].append(level)
    bad, resyncs = rig.conn.ws.bad_frames, rig.conn.stats.resyncs
    rig.feed(json.dumps(snap))
    await settle()
    book = rig.conn.book("ETH")
    assert not book.synced, why
    assert rig.conn.ws.bad_frames == bad + 1 and rig.conn.stats.resyncs == resyncs + 1
    assert await rig.canary(), "the next good snapshot syncs the book again"


def _snapshot() -> dict[str, Any]:
    """The recorded snapshot (a fresh copy)."""
    return json.loads((FIXTURES / "lighter" / "ws_order_book_subscribed.json").read_text())
