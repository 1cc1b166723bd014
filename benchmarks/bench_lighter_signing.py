"""Lighter order signing: how long lighter-sdk's Go signer takes, and what the event
loop feels when mmtui signs 100 orders/s the way ``connectors/lighter/tx.py`` does
(in a worker thread; the Go call releases the GIL).

Run from the repository root::

    .venv/bin/python benchmarks/bench_lighter_signing.py

Prints sign time p50/p99 (ms) over 1000 CreateOrder signatures (on the main thread),
a 4-transaction requote signed on the main thread, on one worker thread and on the
connector's ``BatchSigner`` (two workers: what ``txqueue`` uses), then the loop lag
(p50/p99/max of a 10 ms sleep probe) for 5 s of 100 signatures/s, first inline on the
loop (what calling ``SignerClient.create_order`` would do), then off the loop.
No network: the nonce is given, so the signer never fetches one.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from connectors.lighter.tx import load_sdk

RATE = 100
SECONDS = 5.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def probe(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.010)
        lags.append((loop.time() - t - 0.010) * 1000)


async def signing_load(client: Any, off_loop: bool) -> list[float]:
    lags: list[float] = []
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(lags, stop))
    loop = asyncio.get_running_loop()
    n = 0
    start = loop.time()
    while loop.time() - start < SECONDS:
        n += 1
        args = (1, 10_000 + n, 10, 1_000_000, False, 0, 2)
        if off_loop:
            await asyncio.to_thread(client.sign_create_order, *args, nonce=n, api_key_index=3)
        else:
            client.sign_create_order(*args, nonce=n, api_key_index=3)
        await asyncio.sleep(max(0.0, start + n / RATE - loop.time()))
    stop.set()
    await prober
    return lags


async def requote_signing(client: Any) -> None:
    """A requote of 4 transactions signed the three ways: on the main thread, one by one
    on a worker thread, and on the connector's BatchSigner (two workers)."""
    from connectors.lighter.signing import BatchSigner, sign_in_order

    class Req:
        def __init__(self, coi: int) -> None:
            self.coi = coi

        def sign(self, nonce: int, key: int) -> Any:
            return client.sign_create_order(
                1, self.coi, 10, 1_000_000, False, 0, 2, nonce=nonce, api_key_index=key
            )

    signer = BatchSigner(workers=2)
    rows: dict[str, list[float]] = {"main thread": [], "one worker": [], "BatchSigner(2)": []}
    loop = asyncio.get_running_loop()
    for i in range(300):
        batch = [Req(10 * i + k) for k in range(4)]
        t = time.perf_counter()
        sign_in_order(batch, 1, 3)
        rows["main thread"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await loop.run_in_executor(signer._executor(), sign_in_order, batch, 1, 3)
        rows["one worker"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await signer.sign(batch, 1, 3)
        rows["BatchSigner(2)"].append((time.perf_counter() - t) * 1000)
    signer.close()
    for name, values in rows.items():
        print(
            f"sign a 4-tx requote, {name}: p50 {pct(values, 0.5):.2f} ms  "
            f"p99 {pct(values, 0.99):.2f} ms"
        )


async def main() -> None:
    lighter = await asyncio.to_thread(load_sdk)
    from lighter.signer_client import create_api_key

    private_key, _, _ = create_api_key()
    client = lighter.SignerClient(
        url="http://127.0.0.1:9", account_index=281, api_private_keys={3: private_key}
    )
    times: list[float] = []
    for i in range(1000):
        t = time.perf_counter()
        _, _, _, err = client.sign_create_order(
            1, 1 + i, 10, 1_000_000, False, 0, 2, nonce=i, api_key_index=3
        )
        times.append((time.perf_counter() - t) * 1000)
        assert err is None, err
    print(
        f"sign CreateOrder: p50 {pct(times, 0.5):.2f} ms  p99 {pct(times, 0.99):.2f} ms  "
        f"mean {statistics.fmean(times):.2f} ms  (n={len(times)})"
    )
    await requote_signing(client)
    for off_loop in (False, True):
        lags = await signing_load(client, off_loop)
        where = "in a worker thread" if off_loop else "inline on the loop"
        print(
            f"loop lag at {RATE} signs/s {where}: p50 {pct(lags, 0.5):.2f} ms  "
            f"p99 {pct(lags, 0.99):.2f} ms  max {max(lags):.2f} ms"
        )
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
