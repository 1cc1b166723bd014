"""GRVT order signing: time to sign one order, and what it costs the event loop.

Run from the repository root::

    .venv/bin/python benchmarks/bench_grvt_signing.py

1. Sign one order ``N`` times (build the SDK ``Order``, then sign): with the SDK's
   ``sign_order`` (eth-account's EIP-712 encoder + eth-keys; coincurve makes it
   ~10x faster than pure Python) and with the connector's ``OrderSigner`` (the
   SDK's message builder, cached domain/type hashes, libsecp256k1 directly; the
   same signature, tested): p50 / p99 / max in milliseconds.
2. Event-loop lag while signing 100 orders/s for a few seconds: a probe task
   sleeps 1 ms in a loop and records how late it wakes; printed for signing on
   the loop (the connector's choice with coincurve) and in a worker thread (its
   choice without), against an idle baseline.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import eth_keys.backends  # noqa: E402
from eth_account import Account  # noqa: E402
from pysdk import grvt_raw_types as t  # noqa: E402
from pysdk.grvt_raw_base import GrvtApiConfig  # noqa: E402
from pysdk.grvt_raw_env import GrvtEnv  # noqa: E402

from connectors.base import Instrument, OrderRequest, Side  # noqa: E402
from connectors.grvt.orders import build_order  # noqa: E402
from connectors.grvt.signing import OrderSigner, new_nonce, sign  # noqa: E402

N = 2000
RATE = 100  # orders per second for the lag test
SECONDS = 3.0
KEY = "0x" + "11" * 32
SUB = "1234567890123456"
BTC = Instrument(
    "grvt", "BTC_USDT_Perp", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001")
)
SDK_BTC = t.Instrument(
    instrument="BTC_USDT_Perp",
    instrument_hash="0x030501",
    base="BTC",
    quote="USDT",
    kind=t.Kind.PERPETUAL,
    venues=[t.Venue.ORDERBOOK],
    settlement_period=t.InstrumentSettlementPeriod.PERPETUAL,
    base_decimals=9,
    quote_decimals=6,
    tick_size="0.1",
    min_size="0.001",
    create_time="0",
    max_position_size="100",
)
CONFIG = GrvtApiConfig(GrvtEnv.TESTNET, SUB, KEY, "k", None)
ACCOUNT = Account.from_key(KEY)
INSTRUMENTS = {"BTC_USDT_Perp": SDK_BTC}
FAST = OrderSigner(KEY, 326)
SIGNER = "connector"


def one(i: int) -> t.Order:
    req = OrderRequest(
        f"mmbench-{i}",
        "BTC_USDT_Perp",
        Side.BUY,
        Decimal("0.01"),
        price=Decimal("65000.1") + i % 100 * Decimal("0.1"),
        post_only=True,
    )
    order = build_order(
        req, BTC, SUB, 2**63 + i, expiration_ns=time.time_ns() + 86_400 * 10**9, nonce=new_nonce()
    )
    if SIGNER == "sdk":
        return sign(order, CONFIG, ACCOUNT, INSTRUMENTS)
    return FAST.sign(order, INSTRUMENTS)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def bench_sign(name: str) -> None:
    for i in range(50):
        one(i)  # warm-up
    times = []
    for i in range(N):
        started = time.perf_counter()
        one(i)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"sign one order, {name} ({N}x): p50 {pct(times, 50):.3f} ms  p99 {pct(times, 99):.3f} ms  "
        f"max {max(times):.3f} ms  mean {statistics.fmean(times):.3f} ms"
    )


async def lag_probe(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        out.append((time.perf_counter() - started) * 1000 - 1.0)


async def signer(mode: str, stop: asyncio.Event) -> int:
    loop = asyncio.get_running_loop()
    count = 0
    next_at = loop.time()
    while not stop.is_set():
        next_at += 1 / RATE
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        if mode == "on the loop":
            one(count)
        elif mode == "in a thread":
            await asyncio.to_thread(one, count)
        count += 1
    return count


async def bench_lag(mode: str) -> None:
    stop = asyncio.Event()
    lags: list[float] = []
    probe = asyncio.create_task(lag_probe(stop, lags))
    sign_task = asyncio.create_task(signer(mode, stop))
    await asyncio.sleep(SECONDS)
    stop.set()
    signed = await sign_task
    await probe
    print(
        f"loop lag, {mode:<12} ({0 if mode == 'idle' else signed / SECONDS:.0f} orders/s): "
        f"p50 {pct(lags, 50):.3f} ms  p99 {pct(lags, 99):.3f} ms  max {max(lags):.3f} ms"
    )


def main() -> None:
    global SIGNER
    print(f"eth-keys backend: {type(eth_keys.backends.get_backend()).__name__}")
    for signer_name, name in (("sdk", "SDK sign_order"), ("connector", "connector OrderSigner")):
        SIGNER = signer_name
        bench_sign(name)
    for mode in ("idle", "on the loop", "in a thread"):
        asyncio.run(bench_lag(mode))


if __name__ == "__main__":
    main()
