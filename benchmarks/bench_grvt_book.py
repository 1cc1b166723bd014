"""The GRVT book under a headless AS run against the emulator.

Starts the GRVT emulator as ``mmtui emulate grvt`` does (a live market: taker flow,
the gateway's running book sequence numbers), runs the config it writes (one
Avellaneda–Stoikov strategy on BTC_USDT_Perp through the real GRVT connector) for
``SECONDS`` of wall time, and samples the connector's book every 100 ms. Prints the
share of samples with a valid book and how many times the connector had to fetch a
book again (resubscribes) — GRVT issue 13 asks for >= 99 % and 0.

    python benchmarks/bench_grvt_book.py [seconds]
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from mmtui.config import load_config
from mmtui.emulate import start_grvt
from mmtui.session import build_session

SYMBOL = "BTC_USDT_Perp"
SAMPLE_S = 0.1


async def run(seconds: float) -> tuple[int, int, int, int, int]:
    with tempfile.TemporaryDirectory() as folder:
        harness, config_path = await asyncio.to_thread(start_grvt, Path(folder), 0)
        try:
            config, _ = load_config(config_path, env={})
            session = build_session(config)
            await session.start()
            try:
                engine = session.engine
                conn = engine.connectors["grvt"]
                loop = asyncio.get_running_loop()
                end = loop.time() + seconds
                samples = valid = 0
                while loop.time() < end:
                    await asyncio.sleep(SAMPLE_S)
                    book = engine.book("grvt", SYMBOL)
                    samples += 1
                    valid += int(book is not None and book.is_valid())
                runner = engine.runner(config.strategies[0].name)
                fills = runner.position("grvt", SYMBOL).fills
                books = conn.books  # type: ignore[attr-defined]
                return samples, valid, books.refetches, conn.stats.resyncs, fills
            finally:
                await session.stop()
        finally:
            await asyncio.to_thread(harness.stop)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    samples, valid, refetches, resyncs, fills = asyncio.run(run(seconds))
    share = 100.0 * valid / samples if samples else 0.0
    print(f"GRVT book under a headless AS run, {seconds:.0f} s against the emulator")
    print(f"  book valid in {valid}/{samples} samples ({share:.2f} %)")
    print(f"  resubscribes (book refetches): {refetches}; resyncs: {resyncs}")
    print(f"  strategy fills: {fills}")


if __name__ == "__main__":
    main()
