"""Lighter requote latency for a 10-order ladder: one transaction per request (``sendTx``)
against the whole requote as one ``sendTxBatch`` (connectors/lighter/txqueue.py), through
the real connector and lighter-sdk signer, against the loopback emulator.

Run from the repository root::

    .venv/bin/python benchmarks/bench_lighter_batch.py [--requotes 40] [--rtt-ms 0 25]

A requote cancels the ten resting orders and places ten new ones, all issued in one loop
turn (what a strategy's tick does). Printed per mode and round trip:

* ``ack``: from issuing the twenty calls until every one returned (the venue's API
  server accepted them: what the core waits for), p50 / p90 / max in ms;
* ``book``: until the venue's matching engine holds exactly the new ladder;
* ``requests``: sendTx / sendTxBatch requests per requote (what a Standard account's 60
  a minute count).

``--rtt-ms`` adds that much to each request before it is sent (a network round trip the
loopback does not have); no pacing: the account's rate limit is not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import OrderRequest, Side
from connectors.lighter.connector import LighterConnector
from tests.contract.rigs.lighter import LighterRig

LEVELS = 10


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def add_rtt(conn: LighterConnector, rtt_s: float) -> None:
    """Delay every sendTx / sendTxBatch by one round trip."""
    client = conn.tx.client
    send_tx, send_batch = client.send_tx, client.send_tx_batch

    async def slow_tx(**kw: Any) -> Any:
        await asyncio.sleep(rtt_s)
        return await send_tx(**kw)

    async def slow_batch(**kw: Any) -> Any:
        await asyncio.sleep(rtt_s)
        return await send_batch(**kw)

    client.send_tx, client.send_tx_batch = slow_tx, slow_batch


async def run(batch: bool, requotes: int, rtt_ms: float) -> dict[str, Any]:
    rig = LighterRig(connector_options={"batch_txs": batch}, apply_delay_ms=5)
    await rig.start()
    try:
        conn = rig.connector("mmbench")
        assert isinstance(conn, LighterConnector)
        await conn.connect(lambda e: None)
        if rtt_ms:
            add_rtt(conn, rtt_ms / 1000)
        bid, _, tick = rig.touch("BTC")
        size = rig.min_size("BTC")
        n = 0

        def ladder(offset: int) -> list[OrderRequest]:
            nonlocal n
            out = []
            for i in range(LEVELS):
                n += 1
                price = bid - (30 + offset + i) * tick
                out.append(
                    OrderRequest(f"mmbench-{n}", "BTC", Side.BUY, size, price=price, post_only=True)
                )
            return out

        def venue_prices() -> set[Decimal]:
            return {Decimal(o.price) for o in rig.venue_orders("BTC")}

        live = ladder(0)
        await asyncio.gather(*(conn.place(r) for r in live))
        while len(rig.venue_orders("BTC")) < LEVELS:
            await asyncio.sleep(0.01)
        ack_ms: list[float] = []
        book_ms: list[float] = []
        before = conn.tx.queue.requests
        for k in range(requotes):
            new = ladder(1 + k % 2)
            want = {r.price for r in new}
            await asyncio.sleep(0.05)  # the previous requote's updates settle
            while any(
                not conn.orders.live.get(int(conn.venue_client_id(r.client_id))) for r in live
            ):
                await asyncio.sleep(0.005)
            t0 = time.perf_counter()
            await asyncio.gather(
                *(conn.cancel("BTC", r.client_id) for r in live), *(conn.place(r) for r in new)
            )
            ack_ms.append((time.perf_counter() - t0) * 1000)
            while venue_prices() != want or len(rig.venue_orders("BTC")) != LEVELS:
                await asyncio.sleep(0.002)
            book_ms.append((time.perf_counter() - t0) * 1000)
            live = new
        return {
            "ack": ack_ms,
            "book": book_ms,
            "requests": (conn.tx.queue.requests - before) / requotes,
        }
    finally:
        await rig.stop()


def line(name: str, values: list[float]) -> str:
    return (
        f"{name} p50 {statistics.median(values):7.1f}  p90 {pct(values, 0.9):7.1f}  "
        f"max {max(values):7.1f} ms"
    )


async def main(requotes: int, rtts: list[float]) -> None:
    print(f"10-order ladder requote (10 cancels + 10 creates), {requotes} requotes per row")
    for rtt in rtts:
        for batch in (False, True):
            r = await run(batch, requotes, rtt)
            mode = "batch " if batch else "single"
            print(
                f"rtt {rtt:4.0f} ms  {mode}  {line('ack', r['ack'])}   {line('book', r['book'])}"
                f"   requests/requote {r['requests']:.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requotes", type=int, default=40)
    parser.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0, 25.0])
    args = parser.parse_args()
    asyncio.run(main(args.requotes, args.rtt_ms))
