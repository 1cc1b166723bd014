"""The sim venue: order semantics, accounting, and the synthetic market."""

from __future__ import annotations

import math
from decimal import Decimal as D

from connectors.base import Liquidity, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from connectors.sim.market import BasisDynamics
from connectors.sim.venue import FILL_HISTORY_SIZE, HISTORY_SIZE, FlowParams, SimVenue
from connectors.sim.world import AssetSpec, SimWorld, VenueSpec

BTC = AssetSpec("BTC", D(100_000), D("0.1"), D("0.001"), D("0.001"), volatility=0.0)
ETH = AssetSpec("ETH", D(4_000), D("0.01"), D("0.01"), D("0.01"), volatility=0.0)
QUIET = FlowParams(taker_rate=0.0, half_spread_bps=5, levels=3)


def _venue(flow: FlowParams = QUIET) -> tuple[SimWorld, SimVenue, list]:
    world = SimWorld([BTC, ETH], [VenueSpec("v", flow=flow)], seed=3)
    venue = world.venues["v"]
    events: list = []
    venue.on_account("me", events.append)
    world.prime(0)
    return world, venue, events


def _req(cid: str, side: Side, size: str, price: str | None, **kw: object) -> OrderRequest:
    return OrderRequest(
        cid, kw.pop("symbol", "BTC-PERP"), side, D(size), price=D(price) if price else None, **kw
    )  # type: ignore[arg-type]


def test_post_only_cross_rejected_and_validation() -> None:
    _, venue, _ = _venue()
    ask = venue.instruments["BTC-PERP"].ticks_to_price(venue.snapshot("BTC-PERP")[1][0][0])
    ack = venue.submit("me", _req("a", Side.BUY, "0.01", str(ask), post_only=True))
    assert ack.status is OrderStatus.REJECTED and "post-only" in ack.reason
    assert venue.submit("me", _req("b", Side.BUY, "0.0015", "99000")).status is OrderStatus.REJECTED
    assert (
        venue.submit("me", _req("c", Side.BUY, "0.01", "99000.05")).status is OrderStatus.REJECTED
    )
    assert venue.submit("me", _req("d", Side.BUY, "0.0001", "99000")).status is OrderStatus.REJECTED
    assert venue.submit("me", _req("e", Side.BUY, "0.01", "99000")).status is OrderStatus.OPEN
    assert venue.submit("me", _req("e", Side.BUY, "0.01", "99000")).reason.startswith("duplicate")


def test_taker_fill_fees_positions_and_pnl() -> None:
    _, venue, events = _venue()
    inst = venue.instruments["BTC-PERP"]
    bids, asks, _ = venue.snapshot("BTC-PERP")
    best_ask = inst.ticks_to_price(asks[0][0])
    venue.submit("me", _req("m1", Side.BUY, "0.01", None, type=OrderType.MARKET))
    fills = [e for e in events if type(e).__name__ == "Fill"]
    assert fills and all(f.liquidity is Liquidity.TAKER for f in fills)
    assert sum(f.size for f in fills) == D("0.01")
    assert fills[0].price == best_ask
    assert fills[0].fee == fills[0].price * fills[0].size * inst.taker_fee
    pos = venue.positions("me")[0]
    assert pos.size == D("0.01") and pos.entry_price == best_ask
    # reduce-only larger than the position is clamped to it
    venue.submit("me", _req("r1", Side.SELL, "0.05", None, type=OrderType.MARKET, reduce_only=True))
    assert venue.positions("me")[0].size == 0
    rej = venue.submit(
        "me", _req("r2", Side.SELL, "0.01", None, type=OrderType.MARKET, reduce_only=True)
    )
    assert rej.status is OrderStatus.REJECTED and "reduce-only" in rej.reason
    bid = inst.ticks_to_price(bids[0][0])
    assert venue.positions("me")[0].realized_pnl == (bid - best_ask) * D("0.01")


def test_maker_fill_and_ioc_remainder() -> None:
    _, venue, events = _venue()
    inst = venue.instruments["BTC-PERP"]
    mid = inst.ticks_to_price(venue.mid_ticks("BTC-PERP"))
    venue.submit("me", _req("mk", Side.SELL, "0.02", str(mid)))
    # another account takes part of it
    venue.submit("other", _req("tk", Side.BUY, "0.005", str(mid), time_in_force=TimeInForce.IOC))
    maker_fills = [e for e in events if type(e).__name__ == "Fill"]
    assert len(maker_fills) == 1 and maker_fills[0].liquidity is Liquidity.MAKER
    assert maker_fills[0].fee == mid * D("0.005") * inst.maker_fee
    assert venue.open_orders("me")[0].remaining_size == D("0.015")
    # an IOC with nothing to take is cancelled, not left resting
    ack = venue.submit("me", _req("ioc", Side.BUY, "0.01", "90000", time_in_force=TimeInForce.IOC))
    assert ack.status is OrderStatus.OPEN
    updates = [e for e in events if type(e).__name__ == "OrderUpdate" and e.client_id == "ioc"]
    assert updates[-1].status is OrderStatus.CANCELLED
    assert all(o.client_id != "ioc" for o in venue.open_orders("me"))


def test_cancel_all_scoped_by_symbol_and_prefix() -> None:
    _, venue, _ = _venue()
    venue.submit("me", _req("mmA-1", Side.BUY, "0.01", "90000"))
    venue.submit("me", _req("mmA-2", Side.BUY, "0.01", "3000", symbol="ETH-PERP"))
    venue.submit("me", _req("manual-1", Side.BUY, "0.01", "90000"))
    assert venue.cancel_all("me", "BTC-PERP", "mmA-") == 1
    left = {o.client_id for o in venue.open_orders("me")}
    assert left == {"mmA-2", "manual-1"}
    assert venue.cancel("me", "ETH-PERP", "mmA-2") and not venue.cancel("me", "ETH-PERP", "mmA-2")


def test_fill_probability_follows_exp_minus_k_delta() -> None:
    """A resting ask delta bps from mid is reached at rate A * exp(-k * delta)."""
    k, rate = 1.0, 5.0
    flow = FlowParams(taker_rate=rate, taker_k=k, half_spread_bps=50, levels=1, taker_notional=10)
    hits = {}
    for delta_bps in (1, 3):
        world = SimWorld([BTC], [VenueSpec("v", flow=flow, basis=BasisDynamics(sigma=0.0))], seed=5)
        venue = world.venues["v"]
        world.prime(0)
        price = D(100_000) * (1 + D(delta_bps) / 10_000)
        venue.submit("me", _req("q", Side.SELL, "1000", str(price)))
        fills: list = []
        venue.on_account("me", fills.append)
        steps = 20_000  # 2000 s of sim time at 100 ms
        for i in range(steps):
            world.step(i * 100, 100)
        hits[delta_bps] = sum(type(e).__name__ == "Fill" for e in fills) / (steps * 0.1)
    for delta_bps, observed in hits.items():
        expected = rate * math.exp(-k * delta_bps)
        assert abs(observed - expected) / expected < 0.15, (delta_bps, observed, expected)


def test_seeded_and_correlated_across_venues() -> None:
    btc = AssetSpec("BTC", D(100_000), D("0.1"), D("0.001"), D("0.001"), volatility=0.8)
    specs = [
        VenueSpec("a", basis=BasisDynamics(sigma=0.0002)),
        VenueSpec("b", basis=BasisDynamics(sigma=0.0002)),
    ]

    def path(seed: int) -> tuple[list[float], list[float]]:
        world = SimWorld([btc], specs, seed=seed)
        a, b = [], []
        for i in range(3000):
            world.step(i * 100, 100)
            a.append(world.market.mid("a", "BTC"))
            b.append(world.market.mid("b", "BTC"))
        return a, b

    a1, b1 = path(1)
    a2, b2 = path(1)
    assert a1 == a2 and b1 == b2
    assert path(2)[0] != a1
    assert a1 != b1  # the venues disagree a little ...
    ra = [y / x - 1 for x, y in zip(a1[::50], a1[50::50], strict=False)]
    rb = [y / x - 1 for x, y in zip(b1[::50], b1[50::50], strict=False)]
    mean_a, mean_b = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(ra, rb, strict=True))
    var_a = sum((x - mean_a) ** 2 for x in ra)
    var_b = sum((y - mean_b) ** 2 for y in rb)
    assert cov / math.sqrt(var_a * var_b) > 0.8  # ... but move together


def test_cancel_by_order_id_reaches_the_older_of_two_orders_with_one_client_id() -> None:
    _, venue, _ = _venue()
    venue.duplicate_client_ids.add("me")
    first = venue.submit("me", _req("dup", Side.BUY, "0.01", "99000"))
    second = venue.submit("me", _req("dup", Side.BUY, "0.01", "98990"))
    assert first.venue_order_id and second.venue_order_id
    assert not venue.cancel_order("other", "BTC-PERP", int(first.venue_order_id))
    assert venue.cancel_order("me", "BTC-PERP", int(first.venue_order_id))
    assert not venue.cancel_order("me", "BTC-PERP", int(first.venue_order_id))
    (left,) = venue.open_orders("me")
    assert left.venue_order_id == second.venue_order_id


def test_finished_orders_and_fills_kept_at_most_history_size() -> None:
    """The venue's memory of finished orders stays at HISTORY_SIZE (2,000) and of an
    account's fills at FILL_HISTORY_SIZE (500) however many there were (a soak's RSS
    grew until 10,000 of each, two sim-hours of quoting)."""
    _, venue, _ = _venue()
    assert venue.history_size == HISTORY_SIZE == 2_000
    assert venue.fill_history_size == FILL_HISTORY_SIZE == 500
    extra = 150
    for i in range(HISTORY_SIZE + extra):
        assert venue.submit("me", _req(f"o{i}", Side.BUY, "0.01", "90000")).status is (
            OrderStatus.OPEN
        )
        assert venue.cancel("me", "BTC-PERP", f"o{i}")
    assert len(venue._orders._done) == HISTORY_SIZE
    assert venue.lookup("me", f"o{extra - 1}") is None  # the oldest forgotten
    assert venue.lookup("me", f"o{extra}") is not None
    for i in range(FILL_HISTORY_SIZE + extra):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        venue.force_fill("me", "BTC-PERP", side, D("0.01"), D("100000"))
    fills = venue.fills_since("me", 0)
    assert len(fills) == FILL_HISTORY_SIZE
    assert fills[-1].trade_id == f"v-liquidation-{FILL_HISTORY_SIZE + extra}"
