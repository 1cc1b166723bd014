"""What ``bench_tick_to_trade.py`` measures with: the wire names, the floor's probes
(a bare WebSocket client and HTTP pingers, the parse and the signature timed), and
the analysis of the three processes' stamps into the table."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from decimal import Decimal
from typing import Any

import orjson

SYMBOL = "BTC_USDC_PERP"
DEPTH = f"depth.{SYMBOL}"
ORDER_PATH = "/api/v1/order"
MOVE = 0.00005  # of 100 000: 5 USD, 50 ticks (AS requotes at 20)
PROBE_HEADER = "X-Bench-Probe"


def is_stream(text: str, name: str) -> bool:
    """Is ``text`` a push of stream ``name`` (a prefix of it)? The emulator writes the
    stream name last; a real venue may write it first: both ends are looked at."""
    key = f'"stream":"{name}'
    return key in text[-80:] or key in text[:80]


def now_ns() -> int:
    return time.time_ns()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# -- the floor, measured here ------------------------------------------------------------


async def floor_probe(ws_url: str, rest_url: str, stop: asyncio.Event, out: dict[str, Any]) -> None:
    import aiohttp
    import websockets

    frames: list[tuple[int, str]] = []
    sends: list[tuple[int, str]] = []

    async def ws_reader() -> None:
        async with websockets.connect(ws_url, compression=None) as ws:
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": [DEPTH]}).decode())
            async for raw in ws:
                frames.append((now_ns(), raw if isinstance(raw, str) else raw.decode()))

    async def http_pinger() -> None:
        async with aiohttp.ClientSession() as http:
            i = 0
            while not stop.is_set():
                i += 1
                tag = f"p{i}"
                sends.append((now_ns(), tag))
                async with http.get(rest_url + "/api/v1/ping", headers={PROBE_HEADER: tag}) as r:
                    await r.read()
                await asyncio.sleep(0.05)

    async def raw_pinger() -> None:
        """The same request as prebuilt bytes on a kept socket: no client library."""
        host, port = rest_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        i = 0
        while not stop.is_set():
            i += 1
            tag = f"r{i}"
            head = f"GET /api/v1/ping HTTP/1.1\r\nHost: {host}\r\n{PROBE_HEADER}: {tag}\r\n\r\n"
            sends.append((now_ns(), tag))
            writer.write(head.encode())
            headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            await asyncio.sleep(0.05)
        writer.close()

    tasks = [
        asyncio.create_task(ws_reader()),
        asyncio.create_task(http_pinger()),
        asyncio.create_task(raw_pinger()),
    ]
    await stop.wait()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    out["frames"] = frames
    out["sends"] = sends


def parse_and_sign_us(sample_frame: str) -> tuple[float, float]:
    """Median microseconds: a depth frame's parse (frame + both sides' levels) and one
    order's ED25519 signature (the connector's own functions)."""
    from connectors.backpack import wire
    from connectors.backpack.keys import BackpackKeys
    from connectors.backpack.signing import auth_headers
    from connectors.backpack.ws import parse_frame
    from connectors.base import Instrument

    tick, step = Decimal("0.1"), Decimal("0.001")
    inst = Instrument("backpack", SYMBOL, "BTC", "USDC", tick, step, step)
    parse: list[float] = []
    for _ in range(2000):
        t0 = time.perf_counter_ns()
        frame = parse_frame(sample_frame)
        d = frame.data
        wire.update_id(d["U"]), wire.update_id(d["u"])
        wire.book_levels(d.get("b") or [], inst)
        wire.book_levels(d.get("a") or [], inst)
        parse.append((time.perf_counter_ns() - t0) / 1000)
    keys = BackpackKeys("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")
    body = {
        "symbol": SYMBOL,
        "side": "Bid",
        "orderType": "Limit",
        "quantity": "0.010",
        "price": "99990.0",
        "postOnly": True,
        "clientId": 123456,
        "timeInForce": "GTC",
    }
    sign: list[float] = []
    for _ in range(500):
        t0 = time.perf_counter_ns()
        auth_headers(keys, "orderExecute", body, int(time.time() * 1000))
        orjson.dumps(body)
        sign.append((time.perf_counter_ns() - t0) / 1000)
    return statistics.median(parse), statistics.median(sign)


def update_id(frame: str) -> int:
    return int(orjson.loads(frame)["data"]["u"])


def analyse(venue: dict[str, Any], core: dict[str, Any], probe: dict[str, Any]) -> dict[str, Any]:
    ms = 1e-6
    # which connection is the core's: the one that also gets our account's pushes
    core_conns = {c for _, c, text in venue["sent"] if is_stream(text, "account.")}
    sent = [(t, c, text) for t, c, text in venue["sent"] if is_stream(text, DEPTH + '"')]
    ours = [(t, update_id(text)) for t, c, text in sent if c in core_conns]
    theirs = {update_id(text): t for t, c, text in sent if c not in core_conns}
    received = {update_id(raw): t for t, raw in core["received"]}
    probe_rx = {update_id(raw): t for t, raw in probe["frames"] if is_stream(raw, DEPTH + '"')}
    orders_in = [t for t, method, path, _ in venue["arrived"] if path == ORDER_PATH]
    probes_in = {tag: t for t, _, _, tag in venue["arrived"] if tag}
    books = core["books"]
    requests = [(t, m, p) for t, m, p in core["requests"] if p == ORDER_PATH]

    rows: list[dict[str, float]] = []
    for trig in venue["triggers"]:
        after = [(t, u) for t, u in ours if t >= trig]
        if not after:
            continue
        t_out, u = after[0]
        first_in = next((t for t in orders_in if t >= t_out), None)
        if first_in is None or (first_in - t_out) * ms > 5000:
            continue
        t_rx = received.get(u)
        t_book = next((t for t, seq in books if seq >= u and t_rx and t >= t_rx), None)
        t_req = next((t for t, _, _ in requests if t_book and t >= t_book), None)
        row = {"t2t": (first_in - t_out) * ms}
        if t_rx and t_book and t_req and t_req <= first_in:
            row |= {
                "venue->connector": (t_rx - t_out) * ms,
                "connector->strategy": (t_book - t_rx) * ms,
                "strategy->request sent": (t_req - t_book) * ms,
                "request->venue": (first_in - t_req) * ms,
            }
        if u in probe_rx and u in theirs:
            row["ws one way"] = (probe_rx[u] - theirs[u]) * ms
        rows.append(row)
    sends = [(t, tag) for t, tag in probe["sends"] if tag in probes_in]
    http = [(probes_in[tag] - t) * ms for t, tag in sends if tag[0] == "p"]
    raw = [(probes_in[tag] - t) * ms for t, tag in sends if tag[0] == "r"]
    sample = next((raw for _, raw in core["received"] if '"b":[[' in raw), None)
    parse_us, sign_us = parse_and_sign_us(sample or core["received"][-1][1])
    return {
        "rows": rows,
        "http": http,
        "http_raw": raw,
        "parse_ms": parse_us / 1000,
        "sign_ms": sign_us / 1000,
        "lags": core["lags"],
        "triggers": len(venue["triggers"]),
        "rejections": core["rejections"],
    }


def report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for run in runs for r in run["rows"]]
    col = {k: [r[k] for r in rows if k in r] for k in rows[0]} if rows else {}
    # WS one way: the idle probe's (it reads the frame after the core's socket got
    # it: the venue writes to its subscribers in turn), or the core's own socket's
    # when that is less; both measured on these very frames
    ws = min(
        statistics.median(col.get("ws one way") or [float("inf")]),
        statistics.median(col.get("venue->connector") or [float("inf")]),
    )
    http_lib = statistics.median([h for run in runs for h in run["http"]] or [float("nan")])
    # the floor's HTTP leg: prebuilt bytes on a kept socket (aiohttp's own cost is ours)
    http = statistics.median([h for run in runs for h in run["http_raw"]] or [http_lib])
    parse = statistics.median(run["parse_ms"] for run in runs)
    sign = statistics.median(run["sign_ms"] for run in runs)
    floor = ws + parse + sign + http
    lags = [x for run in runs for x in run["lags"]]
    t2t = col.get("t2t", [])
    mode = "tick-driven" if args.tick_driven else "event-driven"
    where = f"console {args.console[0]}x{args.console[1]} (pty)" if args.console else "headless"
    if args.console and getattr(args, "attach", False):
        where += ", attached from its own process"
    out = {
        "mode": f"{where}, {mode}",
        "tick_ms": args.tick_ms,
        "triggers": sum(run["triggers"] for run in runs),
        "measured": len(t2t),
        "t2t_ms": {"p50": pct(t2t, 50), "p99": pct(t2t, 99), "max": max(t2t, default=0)},
        "loop_lag_ms": {"p99": pct(lags, 99), "max": max(lags, default=0)},
        "stages_p50_ms": {k: pct(v, 50) for k, v in col.items() if k not in ("t2t", "ws one way")},
        "floor_ms": {"ws one way": ws, "parse": parse, "sign": sign, "http one way": http},
        "http_one_way_aiohttp_ms": http_lib,
        "floor_total_ms": floor,
        "p50_over_floor": pct(t2t, 50) / floor if floor else float("nan"),
        "rejections": [run["rejections"] for run in runs],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return out
    t = out["t2t_ms"]
    lag = out["loop_lag_ms"]
    print(f"tick-to-trade, Backpack emulator, AS ({out['measured']}/{out['triggers']} triggers)")
    print("| | tick | p50 | p99 | max | loop lag p99 / max | floor | p50 / floor |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {out['mode']} | {args.tick_ms} ms | {t['p50']:.2f} | {t['p99']:.2f} | "
        f"{t['max']:.2f} | {lag['p99']:.2f} / {lag['max']:.2f} | {floor:.3f} | "
        f"{out['p50_over_floor']:.1f}x |"
    )
    print("stages (p50, ms): " + ", ".join(f"{k} {v:.3f}" for k, v in out["stages_p50_ms"].items()))
    print(
        "floor (ms): "
        + ", ".join(f"{k} {v:.3f}" for k, v in out["floor_ms"].items())
        + f" (raw bytes; through aiohttp {http_lib:.3f})"
    )
    return out
