"""Matching-engine throughput on a fixed-seed mixed workload.

Roughly 55% passive limits, 10% aggressive limits, 25% cancels, 10% IOC/market
takers, around a slowly drifting mid. The workload is generated up front so only
the engine is timed. Run: ``.venv/bin/python benchmarks/bench_matching.py``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Side
from connectors.sim.matching import Kind, MatchingEngine

SEED = 20240601
N_ORDERS = 600_000
OWNERS = ("me", "crowd_maker", "crowd_a", "crowd_b", "crowd_c")

# op: ("s", order_id, owner, side, qty, price, kind) | ("c", order_id)
Op = tuple


def make_workload(n: int, seed: int = SEED) -> list[Op]:
    rng = random.Random(seed)
    ops: list[Op] = []
    live: list[int] = []  # ids that may still be resting (cancel targets)
    mid = 10_000
    oid = 0
    for _ in range(n):
        if rng.random() < 0.02:
            mid += rng.choice((-1, 1))
        r = rng.random()
        if r < 0.25 and live:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            ops.append(("c", live.pop()))
            continue
        oid += 1
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        owner = OWNERS[rng.randrange(len(OWNERS))]
        qty = rng.randint(1, 20)
        if r < 0.80:  # passive limit
            off = 1 + int(rng.expovariate(0.15))
            price = mid - off if side is Side.BUY else mid + off
            ops.append(("s", oid, owner, side, qty, price, Kind.LIMIT))
            live.append(oid)
        elif r < 0.90:  # aggressive limit, may rest its remainder
            off = rng.randint(0, 3)
            price = mid + off if side is Side.BUY else mid - off
            ops.append(("s", oid, owner, side, qty * 2, price, Kind.LIMIT))
            live.append(oid)
        elif r < 0.95:
            off = rng.randint(0, 5)
            price = mid + off if side is Side.BUY else mid - off
            ops.append(("s", oid, owner, side, qty * 3, price, Kind.IOC))
        else:
            ops.append(("s", oid, owner, side, qty * 3, None, Kind.MARKET))
    return ops


def run(ops: list[Op]) -> tuple[float, int]:
    eng = MatchingEngine()
    submit = eng.submit
    cancel = eng.cancel
    drain = eng.drain_changes
    matches = 0
    t0 = time.perf_counter()
    for i, op in enumerate(ops):
        if op[0] == "s":
            matches += len(submit(op[1], op[2], op[3], op[4], op[5], op[6]).matches)
        else:
            cancel(op[1])
        if not i & 63:  # a venue publishes L2 deltas now and then
            drain()
    return time.perf_counter() - t0, matches


def main() -> None:
    ops = make_workload(N_ORDERS)
    best = float("inf")
    matches = 0
    for _ in range(3):
        elapsed, matches = run(ops)
        best = min(best, elapsed)
    print(f"matching: {len(ops) / best:,.0f} orders/s ({len(ops):,} orders, {matches:,} matches)")


if __name__ == "__main__":
    main()
