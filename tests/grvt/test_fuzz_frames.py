"""GRVT's frames, hostile: mutated recorded frames through the sockets' own handlers
(``GrvtWs.handle``, market and trade) raise nothing, are counted as bad, and both feeds
stay up; an impossible snapshot is refused (the book resyncs) and a book push without a
sequence number is a bad frame, never a snapshot."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import Fill
from tests.frame_rigs import FIXTURES, FrameRig, grvt_rig, opened, settle, survives_fuzz

BTC = "BTC_USDT_Perp"


@pytest.fixture
async def rig() -> AsyncIterator[FrameRig]:
    async with opened(grvt_rig) as r:
        yield r


def _recorded() -> dict[str, Any]:
    return json.loads((FIXTURES / "grvt" / "recorded.json").read_text())


def _snapshot() -> dict[str, Any]:
    """The recorded book snapshot, on the delta stream the connector subscribes."""
    return _recorded()["ws_book_s"] | {"stream": "v1.book.d", "selector": f"{BTC}@100"}


async def test_mutated_frames_raise_nothing_and_the_feeds_stay_up(rig: FrameRig) -> None:
    await survives_fuzz(rig)


@pytest.mark.parametrize(
    ("side", "level", "why"),
    [
        ("bids", {"price": "88100.0", "size": "-5", "num_orders": 1}, "negative size"),
        ("bids", {"price": "88100.0", "size": "0", "num_orders": 1}, "zero size in a snapshot"),
        ("bids", {"price": "88200.0", "size": "1", "num_orders": 1}, "crossed"),
        ("asks", {"price": "1e999990", "size": "1", "num_orders": 1}, "huge price"),
    ],
)
async def test_an_impossible_snapshot_is_refused_and_both_feeds_stay_up(
    rig: FrameRig, side: str, level: dict[str, Any], why: str
) -> None:
    assert await rig.canary()
    snap = _snapshot()
    snap["feed"][side] = [*snap["feed"][side], level]
    market = rig.conn.market_ws
    bad, resyncs = market.bad_frames, rig.conn.stats.resyncs
    rig.feed(json.dumps(snap))
    await settle()
    assert not rig.conn.book(BTC).is_valid(), why
    assert market.bad_frames == bad + 1 and rig.conn.stats.resyncs == resyncs + 1
    # the trade socket still delivers fills, and the next good snapshot is taken
    assert await rig.canary()


async def test_a_book_push_without_a_sequence_number_is_a_bad_frame(rig: FrameRig) -> None:
    assert await rig.canary()
    book = rig.conn.book(BTC)
    delta = {
        "stream": "v1.book.d",
        "selector": f"{BTC}@100",
        "feed": {
            "event_time": "1767292408500000000",
            "instrument": BTC,
            "bids": [{"price": "88000.0", "size": "1", "num_orders": 1}],
            "asks": [{"price": "88200.0", "size": "1", "num_orders": 1}],
        },
    }
    bad = rig.conn.market_ws.bad_frames
    rig.feed(json.dumps(delta))
    await settle()
    assert rig.conn.market_ws.bad_frames == bad + 1
    # not taken for a snapshot: the book is the one it was
    assert book.is_valid() and book.best_bid() == Decimal("88107.3")
    assert book.best_ask() == Decimal("88107.4")


async def test_a_fill_follows_a_flood_of_bad_frames(rig: FrameRig) -> None:
    fill = _recorded()["ws_fill"]
    for n in range(500):
        rig.feed(json.dumps(fill | {"feed": [n]}))
    rig.events.clear()
    rig.feed(json.dumps(fill))
    await settle()
    assert [type(e) for e in rig.events] == [Fill]
    assert rig.conn.trade_ws is not None and rig.conn.trade_ws.bad_frames >= 500


async def test_a_private_push_without_a_sequence_number_is_still_read(rig: FrameRig) -> None:
    """Only the book and trade streams need the number (it says snapshot, delta or
    replay); a fill push without one is read whole, never dropped."""
    fill = _recorded()["ws_fill"]
    fill.pop("sequence_number", None)
    fill.pop("prev_sequence_number", None)
    bad = rig.conn.trade_ws.bad_frames if rig.conn.trade_ws is not None else 0
    rig.events.clear()
    rig.feed(json.dumps(fill))
    await settle()
    assert [type(e) for e in rig.events] == [Fill]
    assert rig.conn.trade_ws is not None and rig.conn.trade_ws.bad_frames == bad
