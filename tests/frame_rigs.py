"""Each venue's connector, offline, fed frames through its socket's own entry point
(``ws.handle``: parse, dispatch, the connector's handlers) — for the frame fuzz tests and
``benchmarks/fuzz_frames.py``.

A rig holds the connector of one venue with its markets read from the recorded answers
(no network), a book subscribed, its events collected; ``recorded`` are the frames the
venue was recorded sending (``tests/fixtures/venues/<venue>/``), the seeds for mutation;
``feed`` hands one frame to the socket's handler as the loop would; ``canary`` feeds valid
frames afterwards and says whether the connector still turns them into a synced book and
the events they carry (the feed is up).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.base import ConnectionState, Event, Fill, OrderUpdate, Position, Trade
from tests.frame_mutations import FrameMutator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "venues"


def _json(venue: str, name: str) -> Any:
    return json.loads((FIXTURES / venue / name).read_text())


class _QuietSocket:
    """Stands in for the socket a handler may answer on (a pong)."""

    async def send(self, _text: str) -> None:
        return None


@dataclass
class FrameRig:
    venue: str
    conn: Any
    recorded: list[Any]
    handler: Callable[[str | bytes], Callable[[Any, str | bytes], Any]]
    """The ``handle`` of the socket a frame arrives on."""
    canary: Callable[[], Awaitable[bool]]
    counters: Callable[[], tuple[int, int]]
    """(frames seen, frames counted bad) over the connector's sockets."""
    events: list[Event] = field(default_factory=list)

    def feed(self, raw: str | bytes) -> None:
        self.handler(raw)(_QuietSocket(), raw)

    async def close(self) -> None:
        await self.conn.books.close()
        rest = getattr(self.conn, "rest", None)
        if rest is not None:
            await rest.close()


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


# -- Lighter ------------------------------------------------------------------------------


def lighter_rig() -> FrameRig:
    from connectors.lighter.connector import LighterConnector
    from connectors.lighter.keys import LighterKeys

    conn = LighterConnector(
        "http://127.0.0.1:9", "ws://127.0.0.1:9/stream", LighterKeys(1234, 3, "0x" + "ab" * 40)
    )
    conn._token_cache = ("fuzz-token", 2**40)
    conn.markets.load(_json("lighter", "http_order_book_details.json"))
    conn.books.add(conn.markets.instruments["ETH"])
    conn.stream.started_ms = 0
    names = sorted(p.name for p in (FIXTURES / "lighter").glob("ws_*.json"))
    recorded = [_json("lighter", n) for n in names]
    recorded += [
        {"type": "connected"},
        {"type": "ping"},
        {"error": {"code": 30003, "message": "Already Subscribed"}},
        {"type": "error", "code": 20013, "message": "invalid auth"},
        # the example: a list where the positions object belongs
        {
            "type": "update/account_all_positions",
            "channel": "account_all_positions:281",
            "positions": [1],
        },
    ]
    snapshot = _json("lighter", "ws_order_book_subscribed.json")
    position = _json("lighter", "ws_account_all_positions_update.json")
    rig = FrameRig(
        "lighter",
        conn,
        recorded,
        lambda _raw: conn.ws.handle,
        lambda: _lighter_canary(rig, snapshot, position),
        lambda: (conn.ws.frames, conn.ws.bad_frames),
    )
    conn._events.sink = rig.events.append
    return rig


async def _lighter_canary(rig: FrameRig, snapshot: Any, position: Any) -> bool:
    rig.events.clear()
    rig.feed(json.dumps(snapshot))
    rig.feed(json.dumps(position))
    await settle()
    book = rig.conn.book("ETH")
    positions = [e for e in rig.events if isinstance(e, Position)]
    return bool(
        book.synced
        and book.seq == 904845
        and book.best_bid() == Decimal("2000.00")
        and positions
        and positions[-1].size == Decimal("1.5000")
    )


# -- Backpack -----------------------------------------------------------------------------


def backpack_rig() -> FrameRig:
    from connectors.backpack.connector import BackpackConnector
    from connectors.backpack.depth import DepthSync
    from connectors.backpack.keys import BackpackKeys
    from tests.backpack.test_recorded import INSTRUMENTS  # the recorded frames' markets

    conn = BackpackConnector(
        "http://127.0.0.1:9",
        "ws://127.0.0.1:9/",
        BackpackKeys("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="),
    )
    conn._instruments = dict(INSTRUMENTS)
    conn._state = ConnectionState.CONNECTED  # frames arrive on a live socket
    for symbol in ("SOL_USDC", "BTC_USDC_PERP"):
        conn._depth[symbol] = DepthSync(conn.books.add(conn._instruments[symbol]))
    recorded = [f["frame"] for f in _json("backpack", "ws_frames.json")]
    for group in _json("backpack", "ws_frames_live.json"):
        recorded += [json.loads(text) for text in group["frames"]]
    by_label = {f["label"]: f["frame"] for f in _json("backpack", "ws_frames.json")}
    live_depth = [
        json.loads(t)
        for g in _json("backpack", "ws_frames_live.json")
        for t in g["frames"]
        if '"depth.SOL_USDC"' in t
    ]
    rig = FrameRig(
        "backpack",
        conn,
        recorded,
        lambda _raw: conn.ws.handle,
        lambda: _backpack_canary(rig, by_label, live_depth[0]),
        lambda: (conn.ws.frames, conn.ws.bad_frames),
    )
    conn._events.sink = rig.events.append
    return rig


async def _backpack_canary(rig: FrameRig, by_label: dict[str, Any], depth: Any) -> bool:
    from connectors.backpack.depth import Snapshot

    rig.events.clear()
    conn = rig.conn
    # the book: a REST snapshot (as the resync fetches it) bridged by the next delta
    sync = conn._depth["SOL_USDC"]
    sync.reset("canary")
    first = int(depth["data"]["U"])
    sync.on_snapshot(Snapshot([(9000, 100)], [(9100, 100)], first - 1, 1))
    rig.feed(json.dumps(depth))
    rig.feed(json.dumps(by_label["trade ETH_USDC_PERP (ccxt)"]))
    rig.feed(json.dumps(by_label["orderAccepted LIMIT (bpx-api-client test)"]))
    await settle()
    book = conn.book("SOL_USDC")
    return bool(
        book.synced
        and book.seq == int(depth["data"]["u"])
        and any(isinstance(e, Trade) for e in rig.events)
        and any(isinstance(e, OrderUpdate) for e in rig.events)
    )


# -- GRVT ---------------------------------------------------------------------------------


PRIVATE_STREAMS = ("v1.order", "v1.fill", "v1.position", "v1.state", "v1.cancel")


def grvt_rig() -> FrameRig:
    from connectors.grvt import parse
    from connectors.grvt.connector import GrvtConnector
    from connectors.grvt.emulator import new_credentials
    from connectors.grvt.keys import GrvtKeys
    from connectors.grvt.rest import GrvtUrls

    rec = _json("grvt", "recorded.json")
    spec = _json("grvt", "api_spec_examples.json")
    creds = new_credentials()
    keys = GrvtKeys(creds.api_key, creds.sub_account_id, creds.private_key)
    conn = GrvtConnector(GrvtUrls.single("http://127.0.0.1:9", "ws://127.0.0.1:9/ws"), keys)
    btc = "BTC_USDT_Perp"
    for name in ("instrument_ints", "instrument_strings"):
        inst, asset = parse.instrument("grvt", rec[name])
        conn.reads.instruments[inst.symbol] = inst
        conn.reads.assets[inst.symbol] = asset
    conn.books.add(conn.reads.instruments[btc])
    selector = f"{btc}@100"
    snapshot = rec["ws_book_s"] | {"stream": "v1.book.d", "selector": selector}
    delta = copy.deepcopy(spec["STREAM v1.book.d"]["feed"])
    delta["selector"] = selector
    delta["sequence_number"], delta["prev_sequence_number"] = "1061214", "1061213"
    delta["feed"] |= {
        "instrument": btc,
        "bids": [{"price": "88107.3", "size": "0", "num_orders": 0}],
        "asks": [{"price": "88107.5", "size": "1.2", "num_orders": 3}],
    }
    ack = copy.deepcopy(rec["ws_sub_confirm"])
    ack["result"]["stream"], ack["result"]["subs"] = "v1.book.d", [selector]
    recorded = [rec[k] for k in rec if k.startswith("ws_")]
    recorded += [snapshot, delta, ack]
    recorded += [v["feed"] for k, v in spec.items() if k.startswith("STREAM ") and "feed" in v]
    recorded += [{"code": 1000, "message": "You need to authenticate", "status": 401}]
    market, trade = conn.market_ws, conn.trade_ws
    assert trade is not None

    def socket_of(raw: str | bytes) -> Callable[[Any, str | bytes], Any]:
        text = raw if isinstance(raw, str) else raw.decode(errors="replace")
        private = any(f'"{s}"' in text for s in PRIVATE_STREAMS)
        return trade.handle if private else market.handle

    rig = FrameRig(
        "grvt",
        conn,
        recorded,
        socket_of,
        lambda: _grvt_canary(rig, snapshot, rec["ws_fill"]),
        lambda: (market.frames + trade.frames, market.bad_frames + trade.bad_frames),
    )
    conn._events.sink = rig.events.append
    return rig


async def _grvt_canary(rig: FrameRig, snapshot: Any, fill: Any) -> bool:
    rig.events.clear()
    rig.feed(json.dumps(fill))
    rig.feed(json.dumps(snapshot))
    await settle()
    book = rig.conn.book("BTC_USDT_Perp")
    return bool(
        book.is_valid()
        and book.best_bid() == Decimal("88107.3")
        and any(isinstance(e, Fill) for e in rig.events)
    )


# -- the fuzz run ---------------------------------------------------------------------------


@dataclass
class FuzzRun:
    fed: int = 0
    """Mutated frames handed to the socket's handler."""
    bad: int = 0
    """Of those, counted as bad by the connector's sockets."""
    escaped: list[str] = field(default_factory=list)
    """Exceptions that came out of the handler, each with the frame (none may)."""
    seconds: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)
    """The mutations applied, by kind."""


async def fuzz(rig: FrameRig, seed: int, *, frames: int, seconds: float) -> FuzzRun:
    """Feed up to ``frames`` mutated recorded frames (``FrameMutator(seed)``), for at
    most ``seconds``; the event loop runs every few frames (events delivered, the
    books' resync tasks scheduled) as it would between socket reads."""
    mutator = FrameMutator(seed)
    run = FuzzRun(kinds=mutator.kinds)
    _, bad_before = rig.counters()
    start = time.monotonic()
    while run.fed < frames and time.monotonic() - start < seconds:
        raw = mutator.frame(rig.recorded[mutator.rng.randrange(len(rig.recorded))])
        run.fed += 1
        try:
            rig.feed(raw)
        except Exception as exc:  # what the test is looking for: none may escape
            run.escaped.append(f"{type(exc).__name__}: {exc} <- {raw[:300]!r}")
        if run.fed % 64 == 0:
            await asyncio.sleep(0)
    await settle()
    run.seconds = time.monotonic() - start
    run.bad = rig.counters()[1] - bad_before
    return run


async def survives_fuzz(
    rig: FrameRig, seed: int = 16, *, frames: int = 4000, seconds: float = 3.0
) -> FuzzRun:
    """The fuzz test of every venue: the feed works before, no mutated frame raises out
    of the handler, bad ones are counted, and the feed works after."""
    assert await rig.canary(), "the feed works before the fuzz"
    run = await fuzz(rig, seed, frames=frames, seconds=seconds)
    assert run.escaped == [], f"{len(run.escaped)} of {run.fed}: {run.escaped[:3]}"
    assert run.fed >= 200 and 0 < run.bad <= run.fed, run
    assert await rig.canary(), "the feed works after the fuzz"
    return run


@contextlib.asynccontextmanager
async def opened(make: Callable[[], FrameRig]) -> AsyncIterator[FrameRig]:
    rig = make()
    try:
        yield rig
    finally:
        await rig.close()


RIGS: dict[str, Callable[[], FrameRig]] = {
    "backpack": backpack_rig,
    "lighter": lighter_rig,
    "grvt": grvt_rig,
}

__all__ = [
    "RIGS",
    "FrameRig",
    "FuzzRun",
    "backpack_rig",
    "fuzz",
    "grvt_rig",
    "lighter_rig",
    "opened",
    "settle",
    "survives_fuzz",
]
