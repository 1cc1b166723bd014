"""Memory over a long headless sim session: RSS and the order manager's record count
per sim-hour, Avellaneda–Stoikov quoting (and requoting) on the sim at max speed, the
journal on (as a user runs it).

The target (issue "Tick-to-trade near the floor"): RSS flat, under 5 MB per sim-hour,
over a 2 sim-hour soak. ``python benchmarks/bench_memory.py [SIM_HOURS]``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import tempfile
import time
from pathlib import Path

from mmtui.config import Config
from mmtui.session import build_session

HOUR_S = 3600


def config() -> Config:
    return Config.model_validate(
        {
            "sim": {"seed": 7, "speed": None, "step_ms": 100},
            "venues": {"sim": {"type": "sim", "flow": {"taker_k": 1.0, "taker_rate": 2.0}}},
            "strategies": [
                {
                    "name": "as_btc",
                    "kind": "avellaneda_stoikov",
                    "venue": "sim",
                    "symbol": "BTC-PERP",
                    "params": {
                        "gamma": 0.01,
                        "k": 0.1,
                        "size": 0.01,
                        "max_position": 0.05,
                        "tick_interval_ms": 500,
                        "requote_ticks": 20,
                    },
                }
            ],
            "risk": {"max_orders_per_second": 100, "max_loss": 1_000_000},
        }
    )


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


async def main(hours: int) -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        session = build_session(config(), speed=None, journal_path=Path(tmp) / "j.sqlite")
        await session.start()
        orders = session.engine.orders
        started = time.perf_counter()
        await session.run_for(60)  # warm up: imports, caches, the first book
        gc.collect()
        base = rss_mb()
        print(f"after 60 sim-s: RSS {base:.1f} MB, {len(orders.all()):,} order records")
        rows = []
        for hour in range(1, hours + 1):
            await session.run_for(HOUR_S)
            gc.collect()
            rss = rss_mb()
            placed = session.summary().orders_placed
            rows.append(rss)
            print(
                f"sim-hour {hour}: RSS {rss:.1f} MB ({rss - base:+.1f} MB since warm-up), "
                f"{len(orders.all()):,} order records held, {placed:,} orders placed, "
                f"{time.perf_counter() - started:.0f} s wall"
            )
        await session.stop()
    if len(rows) >= 2:
        per_hour = (rows[-1] - rows[0]) / (len(rows) - 1)
        print(f"RSS growth after the first sim-hour: {per_hour:+.2f} MB per sim-hour (target < 5)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2))
