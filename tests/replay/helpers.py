"""Shared pieces of the replay tests: a BTC market (tick 0.1, step 0.001) and a venue."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.base import (
    Event,
    Fill,
    Instrument,
    OrderRequest,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
)
from connectors.replay.queue import QueueSpec
from connectors.replay.spec import LatencySpec
from connectors.replay.venue import QueueVenue

SYMBOL = "BTC-PERP"
BUY, SELL = Side.BUY, Side.SELL

INSTRUMENT = Instrument(
    venue="rp",
    symbol=SYMBOL,
    base="BTC",
    quote="USDC",
    tick_size=D("0.1"),
    step_size=D("0.001"),
    min_size=D("0.001"),
    max_leverage=D(20),
    maker_fee=D("0.0001"),
    taker_fee=D("0.0004"),
)


def make_venue(
    *, queue: QueueSpec | None = None, latency: LatencySpec | None = None
) -> tuple[QueueVenue, list[Event]]:
    """A venue with a book of bid 1000 x 5 lots, ask 1001 x 5 lots at t=1000 ms, and the
    events account ``me`` is told."""
    venue = QueueVenue("rp", [INSTRUMENT], queue=queue, latency=latency)
    events: list[Event] = []
    venue.on_account("me", events.append)
    venue.apply_book(SYMBOL, 1000, [(BUY, 1000, 5), (SELL, 1001, 5)], snapshot=True)
    return venue, events


def limit(
    cid: str,
    side: Side,
    price: str,
    size: str = "0.001",
    *,
    post_only: bool = False,
    tif: TimeInForce = TimeInForce.GTC,
    reduce_only: bool = False,
) -> OrderRequest:
    return OrderRequest(
        cid,
        SYMBOL,
        side,
        D(size),
        OrderType.LIMIT,
        D(price),
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_only,
    )


def market(cid: str, side: Side, size: str) -> OrderRequest:
    return OrderRequest(cid, SYMBOL, side, D(size), OrderType.MARKET)


def fills(events: list[Event]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def updates(events: list[Event], cid: str) -> list[OrderUpdate]:
    return [e for e in events if isinstance(e, OrderUpdate) and e.client_id == cid]
