"""Replay throughput: recorded book level updates replayed per second, with one
Avellaneda–Stoikov strategy quoting.

Three measurements on one synthetic recording (fixed seed: a 200-level book around a
random-walk mid, 1-8 level changes per message, a trade every ~10 messages):

1. **venue alone**: the messages, already parsed to ticks/lots, fed to a QueueVenue
   (``apply_book`` / ``apply_trade`` / ``advance``), with a bare AS loop quoting one
   bid and one ask through the venue's API every 100 ms of data time (cancel + place;
   the quotes fill by the conservative queue model). No core, no connector.
2. **world from files**: the same recording written as Tardis CSV.gz files and played
   by ``ReplayWorld`` (gzip + CSV + exact tick/lot parsing + the venue), no strategy.
3. **through the core**: ``ReplayWorld`` + ``SimConnector`` + ``Engine`` with the real
   ``avellaneda_stoikov`` strategy, built by ``mmtui.session.build_session`` with the
   replay world in place of the sim world (the config's ``sim`` venue is the replay
   venue; no ``mode: replay`` needed), the clock as fast as possible.

Run: ``.venv/bin/python benchmarks/bench_replay.py [level_updates]`` (default 400 000;
keep it short on a shared machine). ``--profile`` prints the venue-alone profile.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import math
import pstats
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Instrument, OrderRequest, Side
from connectors.replay.spec import InstrumentSpec, ReplayVenueSpec
from connectors.replay.tardis import TardisWriter
from connectors.replay.venue import QueueVenue
from connectors.replay.world import ReplayWorld

SEED = 20261207
START_MS = 1_780_000_000_000
SYMBOL = "BTC-PERP"
TICK, STEP = Decimal("0.1"), Decimal("0.001")
INSTRUMENT = Instrument(
    venue="sim",
    symbol=SYMBOL,
    base="BTC",
    quote="USDC",
    tick_size=TICK,
    step_size=STEP,
    min_size=STEP,
    max_leverage=Decimal(20),
    maker_fee=Decimal("0.0001"),
    taker_fee=Decimal("0.0004"),
)

# ("b", ts_ms, changes, snapshot) | ("t", ts_ms, taker side, price ticks, lots, id)
Message = tuple


def make_recording(level_updates: int, seed: int = SEED) -> list[Message]:
    rng = random.Random(seed)
    mid = 1_000_000  # 100 000.0 in ticks
    depth = 200
    bids = {mid - i: rng.randint(1, 500) for i in range(1, depth + 1)}
    asks = {mid + i: rng.randint(1, 500) for i in range(1, depth + 1)}
    ts = START_MS
    snap = [(Side.BUY, p, q) for p, q in bids.items()] + [
        (Side.SELL, p, q) for p, q in asks.items()
    ]
    out: list[Message] = [("b", ts, snap, True)]
    count = len(snap)
    n = 0
    while count < level_updates:
        ts += rng.randint(1, 6)
        n += 1
        if rng.random() < 0.1:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            book = asks if side is Side.BUY else bids
            best = min(book) if side is Side.BUY else max(book)
            out.append(("t", ts, side, best, rng.randint(1, 50), f"t{n}"))
        if rng.random() < 0.05:  # the mid moves a tick: the touch on one side goes
            up = rng.random() < 0.5
            changes = []
            if up:
                gone = min(asks)
                del asks[gone]
                changes.append((Side.SELL, gone, 0))
                bids[gone] = rng.randint(1, 500)
                changes.append((Side.BUY, gone, bids[gone]))
                far = max(asks) + 1
                asks[far] = rng.randint(1, 500)
                changes.append((Side.SELL, far, asks[far]))
                low = min(bids)
                del bids[low]
                changes.append((Side.BUY, low, 0))
            else:
                gone = max(bids)
                del bids[gone]
                changes.append((Side.BUY, gone, 0))
                asks[gone] = rng.randint(1, 500)
                changes.append((Side.SELL, gone, asks[gone]))
                far = min(bids) - 1
                bids[far] = rng.randint(1, 500)
                changes.append((Side.BUY, far, bids[far]))
                high = max(asks)
                del asks[high]
                changes.append((Side.SELL, high, 0))
        else:
            changes = []
            for _ in range(rng.randint(1, 8)):
                side = Side.BUY if rng.random() < 0.5 else Side.SELL
                book = bids if side is Side.BUY else asks
                best = max(book) if side is Side.BUY else min(book)
                off = min(int(rng.expovariate(0.1)), depth - 1)
                price = best - off if side is Side.BUY else best + off
                if price not in book:
                    continue
                book[price] = rng.randint(1, 500)
                changes.append((side, price, book[price]))
        if changes:
            out.append(("b", ts, changes, False))
            count += len(changes)
    return out


class BareAS:
    """Avellaneda–Stoikov quotes on the venue's API: reservation price and spread from
    a fixed sigma; one bid and one ask, cancelled and placed again every 100 ms."""

    def __init__(self, venue: QueueVenue, gamma: float = 0.1, k: float = 1.5) -> None:
        self.venue = venue
        self.gamma, self.k = gamma, k
        self.sigma_ticks = 20.0
        self.n = 0
        self.next_ms = 0

    def tick(self, now_ms: int) -> None:
        if now_ms < self.next_ms:
            return
        self.next_ms = now_ms + 100
        v = self.venue
        m = v._markets[SYMBOL]  # the bench reads the recorded touch directly
        bid, ask = m.best_bid(), m.best_ask()
        if bid is None or ask is None:
            return
        pos = v.accounts.position("me", SYMBOL).size
        q = float(pos / STEP) / 10
        g, s2 = self.gamma, self.sigma_ticks**2
        reservation = (bid + ask) / 2 - q * g * s2 * 0.01
        half = g * s2 * 0.01 / 2 + math.log1p(g / self.k) / g
        v.cancel_all("me", SYMBOL)
        for side, price in (
            (Side.BUY, min(bid, math.floor(reservation - half))),
            (Side.SELL, max(ask, math.ceil(reservation + half))),
        ):
            self.n += 1
            v.submit(
                "me",
                OrderRequest(f"as{self.n}", SYMBOL, side, Decimal("0.002"), price=price * TICK),
            )


def venue_alone(messages: list[Message]) -> tuple[float, QueueVenue, BareAS]:
    venue = QueueVenue("sim", [INSTRUMENT])
    strategy = BareAS(venue)
    apply_book, apply_trade, advance = venue.apply_book, venue.apply_trade, venue.advance
    started = time.perf_counter()
    next_step = START_MS
    for msg in messages:
        ts = msg[1]
        if ts >= next_step:  # the strategy's clock: 100 ms steps
            advance(ts)
            strategy.tick(ts)
            next_step = ts + 100
        if msg[0] == "b":
            apply_book(SYMBOL, ts, msg[2], msg[3])
        else:
            apply_trade(SYMBOL, ts, msg[2], msg[3], msg[4], msg[5])
    return time.perf_counter() - started, venue, strategy


def write_files(messages: list[Message], out_dir: Path) -> None:
    w = TardisWriter(out_dir, "sim", SYMBOL)
    price = {}
    for msg in messages:
        us = msg[1] * 1000
        if msg[0] == "b":
            rows = [
                (
                    "bid" if side is Side.BUY else "ask",
                    price.setdefault(p, str(p * TICK)),
                    str(q * STEP),
                )
                for side, p, q in msg[2]
            ]
            if msg[3]:
                w.snapshot(
                    us,
                    us,
                    [(p, a) for s, p, a in rows if s == "bid"],
                    [(p, a) for s, p, a in rows if s == "ask"],
                )
            else:
                w.levels(us, us, rows)
        else:
            w.trade(us, us, msg[5], msg[2].value, str(msg[3] * TICK), str(msg[4] * STEP))
    w.close()


def spec() -> ReplayVenueSpec:
    return ReplayVenueSpec(
        "sim", symbols=(SYMBOL,), instruments={SYMBOL: InstrumentSpec(TICK, STEP)}
    )


def world_from_files(data_dir: Path) -> tuple[float, ReplayWorld]:
    started = time.perf_counter()
    world = ReplayWorld(data_dir, [spec()])
    now = world.start_ms
    world.prime(now)
    while not world.finished:
        now += 100
        world.step(now, 100)
    return time.perf_counter() - started, world


async def through_core(data_dir: Path) -> tuple[float, ReplayWorld, int]:
    from mmtui.config import Config
    from mmtui.core.clock import SimClock
    from mmtui.session import build_session

    world = ReplayWorld(data_dir, [spec()])
    config = Config.model_validate(
        {
            "sim": {"seed": 7, "speed": None, "step_ms": 100},
            "venues": {"sim": {"type": "sim"}},
            "strategies": [
                {
                    "name": "as_btc",
                    "kind": "avellaneda_stoikov",
                    "venue": "sim",
                    "symbol": SYMBOL,
                    "params": {
                        "gamma": 0.01,
                        "k": 5,
                        "size": 0.002,
                        "max_position": 0.05,
                        "tick_interval_ms": 200,
                        "requote_ticks": 5,
                    },
                }
            ],
            "journal": {"enabled": False},
            "risk": {"max_orders_per_second": 100},
        }
    )
    session = build_session(
        config,
        speed=None,
        world=world,  # type: ignore[arg-type]  # the replay world stands in for the sim's
        clock=SimClock(start_ms=world.start_ms),
    )
    started = time.perf_counter()
    await session.start()
    while not world.finished:
        await session.run_for(1.0)
    wall = time.perf_counter() - started
    await session.stop()
    return wall, world, session.summary().fills


def main() -> None:
    logging.disable(logging.WARNING)
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    target = int(args[0]) if args else 400_000
    messages = make_recording(target)
    updates = sum(len(m[2]) for m in messages if m[0] == "b")
    span_s = (messages[-1][1] - START_MS) / 1000
    print(f"recording: {updates:,} level updates in {len(messages):,} messages, {span_s:,.0f} s")

    if "--profile" in sys.argv:
        prof = cProfile.Profile()
        prof.enable()
        venue_alone(messages)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    wall, venue, strategy = venue_alone(messages)
    fills = len(venue.fills_since("me", 0))
    print(
        f"venue alone + bare AS: {venue.level_updates / wall:,.0f} level updates/s "
        f"({wall:.2f} s; {strategy.n:,} orders, {fills:,} fills)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_files(messages, Path(tmp))
        wall, world = world_from_files(Path(tmp))
        v = world.venues["sim"]
        print(
            f"world from Tardis files: {v.level_updates / wall:,.0f} level updates/s "
            f"({wall:.2f} s, {world.messages:,} messages)"
        )
        wall, world, core_fills = asyncio.run(through_core(Path(tmp)))
        v = world.venues["sim"]
        print(
            f"through the core (AS strategy): {v.level_updates / wall:,.0f} level updates/s "
            f"({wall:.2f} s, {span_s / wall:,.0f}x real time, {core_fills} fills)"
        )


if __name__ == "__main__":
    main()
