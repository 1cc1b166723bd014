"""A recorded sim session for the replay tests: a SimVenue's public book and trades
written with TardisWriter, and the book after every message, to compare a replay with."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

from connectors.base import Side, Trade
from connectors.replay.tardis import TardisWriter
from connectors.sim.venue import FlowParams
from connectors.sim.world import AssetSpec, SimWorld, VenueSpec

START_MS = 1_780_000_000_000
SYMBOL = "BTC-PERP"


@dataclass
class Recording:
    out_dir: Path
    books: list[tuple[dict[int, int], dict[int, int]]] = field(default_factory=list)
    """The venue's book after each recorded book message, in order."""
    trades: int = 0
    messages: int = 0


def record_sim(out_dir: Path, *, seconds: int = 20, seed: int = 3) -> Recording:
    """Run a sim venue (crowd liquidity, takers) for ``seconds`` and record its feed."""
    world = SimWorld(
        [AssetSpec("BTC", D(100_000), D("0.1"), D("0.001"), D("0.001"), volatility=0.8)],
        [VenueSpec("sim", flow=FlowParams(taker_rate=8.0))],
        seed=seed,
    )
    venue = world.venues["sim"]
    inst = venue.instruments[SYMBOL]
    writer = TardisWriter(out_dir, "sim", SYMBOL)
    rec = Recording(out_dir)
    stamp = {"n": 0}

    def local_us() -> int:
        # a distinct local timestamp per message: one ms holds up to 1000 of them
        stamp["n"] += 1
        return venue.now_ms * 1000 + stamp["n"] % 1000

    def book_now() -> tuple[dict[int, int], dict[int, int]]:
        bids, asks, _ = venue.snapshot(SYMBOL, depth=1_000_000)
        return dict(bids), dict(asks)

    def on_levels(symbol: str, changes: list[tuple[Side, int, int]], seq: int, ts: int) -> None:
        t = local_us()
        writer.levels(
            ts * 1000,
            t,
            [
                (
                    "bid" if side is Side.BUY else "ask",
                    inst.ticks_to_price(price),
                    inst.lots_to_size(lots),
                )
                for side, price, lots in changes
            ],
        )
        rec.books.append(book_now())
        rec.messages += 1

    def on_trade(trade: Trade) -> None:
        rec.trades += 1
        writer.trade(
            trade.ts_ms * 1000,
            local_us(),
            f"t{rec.trades}",
            trade.side.value,
            trade.price,
            trade.size,
        )

    now = START_MS
    world.prime(now)
    bids, asks, _ = venue.snapshot(SYMBOL, depth=1_000_000)
    writer.snapshot(
        now * 1000,
        local_us(),
        [(inst.ticks_to_price(p), inst.lots_to_size(q)) for p, q in bids],
        [(inst.ticks_to_price(p), inst.lots_to_size(q)) for p, q in asks],
    )
    rec.books.append(book_now())
    rec.messages += 1
    venue.on_book(on_levels)
    venue.on_trade(on_trade)
    for _ in range(seconds * 10):
        now += 100
        world.step(now, 100)
    writer.close()
    return rec


__all__ = ["START_MS", "SYMBOL", "Recording", "record_sim"]
