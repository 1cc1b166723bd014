"""Memory over a long headless sim session: RSS and the bounded structures' sizes,
Avellaneda–Stoikov quoting (and requoting) on the sim at max speed, the journal
on (as a user runs it), mmtui.gc_policy as the ``mmtui`` command applies it.

The target (issue "Tick-to-trade near the floor"): RSS flat, under 5 MB per
sim-hour, over a 2 sim-hour soak::

    python benchmarks/bench_memory.py                    # 2 sim-hours, a sample every 10 sim-min
    python benchmarks/bench_memory.py 0.5 --sample-min 5 --warmup-min 10   # shorter, under load

RSS is read after a full collection at each sample. The growth reported is the
least-squares slope of RSS over sim-time after the warm-up (the structures fill
to their caps first: ended order records live 30 s, the sim keeps 2,000 finished
orders and 500 fills, the fill keys 10,000), and the difference between the last
and the first sample after it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed one

import bench_sim  # noqa: E402

from mmtui import gc_policy  # noqa: E402
from mmtui.config import Config  # noqa: E402
from mmtui.session import Session, build_session  # noqa: E402


def config() -> Config:
    """bench_sim's session (AS on the sim), with the journal on as a user runs it."""
    raw = bench_sim.config().model_dump()
    raw["journal"] = {"enabled": True}
    return Config.model_validate(raw)


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def sizes(session: Session) -> str:
    """The sizes of what grows with orders and fills (each has a cap)."""
    engine = session.engine
    parts = [f"{len(engine.orders.all()):,} order records"]
    world = session.world
    if world is not None:
        for name, venue in world.venues.items():
            done = len(venue._orders._done)  # type: ignore[attr-defined]
            fills = len(venue.fills_since("me", 0))
            parts.append(f"{name}: {done:,} finished orders, {fills:,} fills kept")
    seen = sum(len(s) for s in engine.recovery._seen.values())  # type: ignore[attr-defined]
    parts.append(f"{seen:,} fill keys seen")
    return ", ".join(parts)


def growers(first: tracemalloc.Snapshot | None, top: int = 8) -> tracemalloc.Snapshot:
    """``--tracemalloc``: from the first sample after the warm-up on, the source lines
    whose live allocations grew most since it (the first call starts tracing)."""
    if first is None:
        tracemalloc.start(1)
        return tracemalloc.take_snapshot()
    now = tracemalloc.take_snapshot()
    stats = now.compare_to(first, "lineno")
    total = sum(s.size_diff for s in stats)
    print(f"  traced growth since the first sample: {total / 1024:+.0f} KiB")
    for stat in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:top]:
        frame = stat.traceback[0]
        print(
            f"    {stat.size_diff / 1024:+8.1f} KiB {stat.count_diff:+7d} blocks  "
            f"{frame.filename.removeprefix(str(ROOT) + '/')}:{frame.lineno}"
        )
    return first


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (sim seconds, MB) in MB per sim-hour."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in points)
    return cov / var * 3600 if var else 0.0


async def main(hours: float, sample_min: float, warmup_min: float, trace: bool = False) -> None:
    logging.disable(logging.WARNING)
    gc_policy.install()
    step_s = sample_min * 60
    with tempfile.TemporaryDirectory() as tmp:
        session = build_session(config(), speed=None, journal_path=Path(tmp) / "j.sqlite")
        await session.start()
        gc_policy.after_start()
        started = time.perf_counter()
        sim_s = 0.0
        after: list[tuple[float, float]] = []
        first: tracemalloc.Snapshot | None = None
        total_s = hours * 3600
        while sim_s < total_s - 1e-6:
            step = min(step_s, total_s - sim_s)
            await session.run_for(step)
            sim_s += step
            gc.collect()
            rss = rss_mb()
            warm = sim_s >= warmup_min * 60
            if warm:
                after.append((sim_s, rss))
                if trace:
                    first = growers(first)
            print(
                f"sim-min {sim_s / 60:5.0f}: RSS {rss:6.1f} MB{'' if warm else ' (warm-up)'}; "
                f"{sizes(session)}; {session.summary().orders_placed:,} orders placed, "
                f"{time.perf_counter() - started:.0f} s wall",
                flush=True,
            )
        await session.stop()
    if len(after) >= 2:
        span_h = (after[-1][0] - after[0][0]) / 3600
        print(
            f"RSS after the {warmup_min:.0f} sim-min warm-up: {after[0][1]:.1f} -> "
            f"{after[-1][1]:.1f} MB over {span_h:.2f} sim-h; slope "
            f"{slope_per_hour(after):+.2f} MB per sim-hour (target < 5)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hours", nargs="?", type=float, default=2.0, help="sim-hours (2)")
    parser.add_argument("--sample-min", type=float, default=10.0, help="sim-minutes per sample")
    parser.add_argument("--warmup-min", type=float, default=30.0, help="sim-minutes of warm-up")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="after the warm-up, print the source lines whose allocations grew most",
    )
    args = parser.parse_args()
    asyncio.run(main(args.hours, args.sample_min, args.warmup_min, args.tracemalloc))
