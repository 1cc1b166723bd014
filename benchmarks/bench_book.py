"""Throughput of ``connectors.book.OrderBook`` on synthetic L2 streams.

Run from the repository root::

    .venv/bin/python benchmarks/bench_book.py

Streams are generated with a fixed seed: ~1M level updates per profile, price
at an exponential distance (in ticks) from a mid that random-walks, ~30%
deletes of existing levels, both sides. Profiles:

* near-touch: ~150 levels per side, updates within a few ticks of the touch;
* deep book: ~2000 levels per side, updates spread over ~a hundred ticks;
* batched: the same two streams cut into ``apply_delta`` calls of 20 levels.

Single-level profiles call ``set_bid``/``set_ask`` and read
``best_bid_ticks()`` and ``best_ask_ticks()`` after EACH update; batched
profiles read both after each delta. Methods are bound to locals once, as a
connector's hot loop would. Each profile runs ``REPEATS`` times from the same
snapshot; the median and best rate are printed, and the final book is checked
against the generator's model.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.book import OrderBook  # noqa: E402

SEED = 20240601
N_UPDATES = 1_000_000
REPEATS = 5
BATCH = 20
DELETE_FRACTION = 0.30
MID_MOVE_PROB = 0.02  # per update, the mid steps one tick up or down
START_MID = 1_000_000  # ticks

Level = tuple[int, int]


@dataclass(frozen=True)
class Profile:
    name: str
    levels: int  # levels per side in the starting snapshot
    mean_distance: float  # mean tick distance of an update from the mid


PROFILES = (
    Profile("near-touch", levels=150, mean_distance=6.0),
    Profile("deep book", levels=2_000, mean_distance=60.0),
)


@dataclass
class Stream:
    snapshot_bids: list[Level]
    snapshot_asks: list[Level]
    prices: list[int]
    sizes: list[int]
    is_bid: list[bool]
    final_bids: dict[int, int]
    final_asks: dict[int, int]
    inserts: int
    changes: int
    deletes: int


def generate(profile: Profile, seed: int, n: int) -> Stream:
    """A stream that keeps bids < mid <= asks, so it never crosses."""
    rnd = random.Random(seed)
    expo = rnd.expovariate
    rate = 1.0 / profile.mean_distance
    mid = START_MID
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    # Starting snapshot: ~70% of the prices in a band wide enough for `levels`.
    width = int(profile.levels / 0.7)
    for d in range(width):
        if rnd.random() < 0.7:
            bids[mid - 1 - d] = rnd.randint(1, 10_000)
        if rnd.random() < 0.7:
            asks[mid + d] = rnd.randint(1, 10_000)
    snapshot_bids = sorted(bids.items())
    snapshot_asks = sorted(asks.items())

    prices: list[int] = []
    sizes: list[int] = []
    is_bid: list[bool] = []
    inserts = changes = deletes = 0

    def emit(bid: bool, price: int, size: int) -> None:
        nonlocal inserts, changes, deletes
        side = bids if bid else asks
        if size == 0:
            deletes += 1
            del side[price]
        elif price in side:
            changes += 1
            side[price] = size
        else:
            inserts += 1
            side[price] = size
        prices.append(price)
        sizes.append(size)
        is_bid.append(bid)

    while len(prices) < n:
        r = rnd.random()
        if r < MID_MOVE_PROB:
            if r < MID_MOVE_PROB / 2:  # up: the ask at the old mid is taken out
                if mid in asks:
                    emit(False, mid, 0)
                mid += 1
            else:  # down: the bid just below the old mid is taken out
                if mid - 1 in bids:
                    emit(True, mid - 1, 0)
                mid -= 1
            continue
        bid = rnd.random() < 0.5
        side = bids if bid else asks
        # bids at mid-1-d, asks at mid+d
        base, sign = (mid - 1, -1) if bid else (mid, 1)
        price = base + sign * int(expo(rate))
        if rnd.random() < DELETE_FRACTION:
            for _ in range(8):
                if price in side:
                    break
                price = base + sign * int(expo(rate))
            else:
                if not side:
                    continue
                price = max(side) if bid else min(side)  # the touch is consumed
            emit(bid, price, 0)
        else:
            emit(bid, price, rnd.randint(1, 10_000))
    return Stream(
        snapshot_bids,
        snapshot_asks,
        prices[:n],
        sizes[:n],
        is_bid[:n],
        bids,
        asks,
        inserts,
        changes,
        deletes,
    )


def new_book(stream: Stream) -> OrderBook:
    book = OrderBook("BENCH-PERP", Decimal("0.1"), Decimal("0.001"))
    book.apply_snapshot(stream.snapshot_bids, stream.snapshot_asks, seq=0, ts_ms=1)
    assert book.is_valid()
    return book


def run_setters(book: OrderBook, stream: Stream) -> float:
    set_bid = book.set_bid
    set_ask = book.set_ask
    best_bid = book.best_bid_ticks
    best_ask = book.best_ask_ticks
    t0 = time.perf_counter()
    for price, size, bid in zip(stream.prices, stream.sizes, stream.is_bid, strict=True):
        if bid:
            set_bid(price, size)
        else:
            set_ask(price, size)
        best_bid()
        best_ask()
    return time.perf_counter() - t0


def batches(stream: Stream, size: int) -> list[tuple[list[Level], list[Level]]]:
    """Consecutive updates cut into deltas (bids and asks of a delta are independent)."""
    out: list[tuple[list[Level], list[Level]]] = []
    for i in range(0, len(stream.prices), size):
        bids: list[Level] = []
        asks: list[Level] = []
        for price, level_size, bid in zip(
            stream.prices[i : i + size],
            stream.sizes[i : i + size],
            stream.is_bid[i : i + size],
            strict=True,
        ):
            (bids if bid else asks).append((price, level_size))
        out.append((bids, asks))
    return out


def run_deltas(book: OrderBook, deltas: list[tuple[list[Level], list[Level]]]) -> float:
    apply_delta = book.apply_delta
    best_bid = book.best_bid_ticks
    best_ask = book.best_ask_ticks
    seq = book.seq
    t0 = time.perf_counter()
    for bids, asks in deltas:
        apply_delta(bids, asks, prev_seq=seq, seq=seq + 1, ts_ms=2)
        seq += 1
        best_bid()
        best_ask()
    elapsed = time.perf_counter() - t0
    assert book.synced and book.seq == seq, book.resync_reason
    return elapsed


def check(book: OrderBook, stream: Stream) -> None:
    assert book.bids_ticks(10**9) == sorted(stream.final_bids.items(), reverse=True)
    assert book.asks_ticks(10**9) == sorted(stream.final_asks.items())


def measure(stream: Stream, run: Callable[[OrderBook], float]) -> tuple[float, float]:
    """(median, best) rate in M level updates/s over REPEATS runs."""
    rates = []
    for _ in range(REPEATS):
        book = new_book(stream)
        elapsed = run(book)
        check(book, stream)
        rates.append(len(stream.prices) / elapsed / 1e6)
    return statistics.median(rates), max(rates)


def main() -> None:
    started = time.perf_counter()
    print(f"python {sys.version.split()[0]}, {N_UPDATES:,} updates/profile, median of {REPEATS}")
    for i, profile in enumerate(PROFILES):
        stream = generate(profile, SEED + i, N_UPDATES)
        n = len(stream.prices)
        start_depth = (len(stream.snapshot_bids), len(stream.snapshot_asks))
        end_depth = (len(stream.final_bids), len(stream.final_asks))
        mix = (
            f"{stream.changes / n:.0%} size changes, {stream.inserts / n:.0%} new levels, "
            f"{stream.deletes / n:.0%} deletes"
        )
        med, best = measure(stream, lambda book, s=stream: run_setters(book, s))
        print(
            f"book {profile.name}: {med:.2f} M level updates/s (best bid/ask read after each)"
            f"  [best {best:.2f}; levels/side {start_depth} -> {end_depth}; {mix}]"
        )
        deltas = batches(stream, BATCH)
        med, best = measure(stream, lambda book, d=deltas: run_deltas(book, d))
        print(
            f"book {profile.name} batched: {med:.2f} M level updates/s "
            f"(apply_delta x{BATCH} levels, best bid/ask read after each delta)  [best {best:.2f}]"
        )
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
