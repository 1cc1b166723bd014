"""Sim end to end: the synthetic market, the venue, the connector's book, the
core and an Avellaneda–Stoikov strategy, as fast as the machine goes.

Prints simulated events (book updates delivered + fills + order updates) per
wall-clock second and how much faster than real time the session ran.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mmtui.config import Config
from mmtui.session import build_session

SIM_SECONDS = 600


def config() -> Config:
    return Config.model_validate(
        {
            "sim": {"seed": 7, "speed": None, "step_ms": 100},
            "venues": {"sim": {"type": "sim", "flow": {"taker_k": 1.0, "taker_rate": 5.0}}},
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
                        "tick_interval_ms": 200,
                        "requote_ticks": 20,
                    },
                }
            ],
            "journal": {"enabled": False},
            "risk": {"max_orders_per_second": 100},
        }
    )


async def main() -> None:
    logging.disable(logging.WARNING)
    session = build_session(config(), speed=None)
    counts = {"events": 0}
    await session.start()
    conn = session.engine.connectors["sim"]
    original = conn._events.sink  # type: ignore[attr-defined]

    def counting(event: object) -> None:
        counts["events"] += 1
        original(event)

    conn._events.sink = counting  # type: ignore[attr-defined]
    started = time.perf_counter()
    await session.run_for(SIM_SECONDS)
    wall = time.perf_counter() - started
    await session.stop()
    book = conn.book("BTC-PERP")
    summary = session.summary()
    print(
        f"sim end-to-end: {counts['events'] / wall:,.0f} core events/s "
        f"({counts['events']:,} events, {book.updates if book else 0:,} book level updates, "
        f"{summary.fills} fills in {SIM_SECONDS} sim-s)"
    )
    print(f"sim end-to-end: {SIM_SECONDS / wall:,.0f}x real time ({wall:.2f} s wall)")


if __name__ == "__main__":
    asyncio.run(main())
