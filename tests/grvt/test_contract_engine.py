"""The core (Session/Engine, gateway, order manager, positions) through the real GRVT
connector against the loopback GRVT emulator. Wall time: every wait is a bounded poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import OrderRequest, OrderStatus, Side, TimeInForce
from connectors.emulation.harness import EmulatorHarness
from connectors.grvt.emulator import new_credentials
from mmtui.session import Session, build_session
from tests.grvt.conftest import ACCOUNT, BTC, OTHER, SIM, session_config, start_emulator, until

VENUE = "grvt"


@dataclass
class EngineRig:
    harness: EmulatorHarness
    session: Session

    @property
    def engine(self) -> Any:
        return self.session.engine

    def venue_orders(self) -> list[dict[str, Any]]:
        return self.harness.call(lambda: self.harness.dialect.orders_of(ACCOUNT))

    def touch(self) -> tuple[Decimal, Decimal, Decimal]:
        inst = self.harness.venue.instruments[SIM[BTC]]
        bids, asks, _ = self.harness.call(lambda: self.harness.venue.snapshot(SIM[BTC], 1))
        return inst.ticks_to_price(bids[0][0]), inst.ticks_to_price(asks[0][0]), inst.tick_size


@pytest.fixture
async def erig(tmp_path: Path) -> AsyncIterator[EngineRig]:
    creds = new_credentials()
    harness = await asyncio.to_thread(start_emulator, creds)
    config = session_config(tmp_path, harness, creds)
    config.strategies = []  # trade by hand
    session = build_session(config)
    r = EngineRig(harness, session)
    try:
        await session.start()
        await r.engine.subscribe([(VENUE, BTC)])
        await until(lambda: (b := r.engine.book(VENUE, BTC)) is not None and b.is_valid())
        yield r
    finally:
        try:
            await session.stop()
        finally:
            await asyncio.to_thread(harness.stop)


async def test_fills_positions_and_pnl_match_the_venue(erig: EngineRig) -> None:
    engine = erig.engine
    erig.harness.pause()
    try:
        bid, ask, tick = erig.touch()
        mid = ((bid + ask) / 2 / tick).to_integral_value()
        p, q = (mid - 5) * tick, (mid + 5) * tick
        buy = engine.submit_order(
            venue=VENUE, symbol=BTC, side=Side.BUY, size=Decimal("0.003"), price=p, post_only=True
        )
        sell = engine.submit_order(
            venue=VENUE, symbol=BTC, side=Side.SELL, size=Decimal("0.001"), price=q, post_only=True
        )
        await until(
            lambda: buy.status is OrderStatus.OPEN and sell.status is OrderStatus.OPEN,
            what=f"both OPEN ({buy.status} {buy.reason!r}; {sell.status} {sell.reason!r})",
        )

        def take(cid: str, side: Side, size: str, price: Decimal) -> None:
            req = OrderRequest(
                cid, SIM[BTC], side, Decimal(size), price=price, time_in_force=TimeInForce.IOC
            )
            erig.harness.call(lambda: erig.harness.venue.submit(OTHER, req))

        take("o1", Side.SELL, "0.001", p)
        await until(lambda: buy.filled == Decimal("0.001"), what="first partial fill")
        assert buy.status is OrderStatus.PARTIALLY_FILLED
        take("o2", Side.SELL, "0.002", p)
        await until(lambda: buy.status is OrderStatus.FILLED, what="bid FILLED")
        take("o3", Side.BUY, "0.001", q)
        await until(lambda: sell.status is OrderStatus.FILLED, what="ask FILLED")
        core = engine.positions.get((VENUE, BTC))
        await until(lambda: core.size == Decimal("0.002"), what="core position")
        (venue_pos,) = erig.harness.call(lambda: erig.harness.venue.positions(ACCOUNT))
        assert (core.size, core.entry_price) == (venue_pos.size, venue_pos.entry_price)
        assert core.realized_pnl == (q - p) * Decimal("0.001") == venue_pos.realized_pnl
        inst = erig.harness.venue.instruments[SIM[BTC]]
        assert core.fees == (p * Decimal("0.003") + q * Decimal("0.001")) * inst.maker_fee
    finally:
        erig.harness.resume()


async def test_a_crossing_post_only_reaches_the_order_manager_as_a_reject(
    erig: EngineRig,
) -> None:
    erig.harness.pause()  # the ask must not move away before the order is matched
    try:
        _, ask, tick = erig.touch()
        order = erig.engine.submit_order(
            venue=VENUE,
            symbol=BTC,
            side=Side.BUY,
            size=Decimal("0.001"),
            price=ask + tick,
            post_only=True,
        )
        await until(lambda: order.status.is_terminal, what=f"terminal ({order.status})")
    finally:
        erig.harness.resume()
    assert order.status is OrderStatus.REJECTED
    assert "FAIL_POST_ONLY" in order.reason


async def test_a_429_burst_still_places_each_order_once(erig: EngineRig) -> None:
    """429s took nothing: the gateway retries them. The 502 that follows leaves the
    outcome unknown: that place is never resent; looked up, the venue does not know
    it (the injected 502 came before the venue): it ends LOST."""
    engine = erig.engine
    bid, _, tick = erig.touch()
    erig.harness.faults.http_errors(3, status=429, retry_after_s=0.2)
    erig.harness.faults.http_errors(1, status=502)  # then a 5xx: outcome unknown
    orders = [
        engine.submit_order(
            venue=VENUE,
            symbol=BTC,
            side=Side.BUY,
            size=Decimal("0.001"),
            price=(bid * Decimal("0.98") / tick).to_integral_value() * tick - i * tick,
            post_only=True,
        )
        for i in range(3)
    ]
    await until(
        lambda: sorted(o.status.value for o in orders) == ["lost", "open", "open"],
        timeout=15,
        what=lambda: str([(o.status, o.reason) for o in orders]),
    )
    cids = [o["metadata"]["client_order_id"] for o in erig.venue_orders()]
    assert len(cids) == 2 and len(set(cids)) == 2
    assert erig.harness.call(lambda: sum(f.remaining for f in erig.harness.fault_state.http)) == 0
    report = await erig.session.stop()
    assert report.ok, report
    assert erig.venue_orders() == []
