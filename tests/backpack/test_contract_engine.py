"""End-to-end contract tests: the core (Session/Engine, gateway, orders, positions)
through the real Backpack connector against the loopback Backpack emulator.

The session runs on wall time, so every wait is a bounded polling loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import OrderRequest, OrderStatus, Side, TimeInForce
from connectors.emulation.harness import EmulatorHarness
from connectors.sim.venue import FlowParams
from mmtui.config import load_config
from mmtui.emulate import ACCOUNT, new_keypair, write_backpack_files
from mmtui.session import Session, SessionError, build_session
from tests.waiting import until

emulator = pytest.importorskip("connectors.backpack.emulator")

VENUE = "backpack"
BTC = "BTC_USDC_PERP"
ETH = "ETH_USDC_PERP"
OTHER = "other"
SIM = {BTC: "BTC-PERP", ETH: "ETH-PERP"}  # the sim venue's names behind the wire symbols


@dataclass
class Rig:
    harness: EmulatorHarness
    session: Session
    api_secret: str

    @property
    def engine(self) -> Any:
        return self.session.engine

    def venue_cid(self, client_id: str) -> str:
        """The sim venue's key for one of our orders: the connector's uint32, as text."""
        return str(self.engine.connectors[VENUE].client_ids.to_venue(client_id))

    def our_open(self, symbol: str | None = None) -> list[Any]:
        sim = SIM[symbol] if symbol else None
        return self.harness.call(lambda: self.harness.venue.open_orders(ACCOUNT, sim))

    def other(self, req: OrderRequest) -> Any:
        return self.harness.call(lambda: self.harness.venue.submit(OTHER, req))


def _start_emulator(folder: Path, *, key_pair: tuple[str, str] | None = None) -> tuple[Any, Path]:
    """Like ``start_backpack`` but without background takers, so nobody but the test
    trades against our resting orders; optionally writes a *different* key pair."""
    api_key, api_secret = new_keypair()
    harness = emulator.backpack_emulator(
        {api_key: ACCOUNT}, flow=FlowParams(taker_rate=0.0), seed=7
    ).start()
    written_key, written_secret = key_pair or (api_key, api_secret)
    config_path = write_backpack_files(
        folder, harness.base_url, harness.ws_url, written_key, written_secret
    )
    return harness, config_path


async def _open_rig(tmp_path: Path, key_pair: tuple[str, str] | None = None) -> Rig:
    harness, config_path = await asyncio.to_thread(
        _start_emulator, tmp_path / "emu", key_pair=key_pair
    )
    config, _ = load_config(config_path, env={})
    config.strategies = []  # trade by hand
    session = build_session(config)
    secret = key_pair[1] if key_pair else ""
    return Rig(harness, session, secret)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await _open_rig(tmp_path)
    try:
        await r.session.start()
        await r.engine.subscribe([(VENUE, BTC), (VENUE, ETH)])
        for symbol in (BTC, ETH):
            await until(
                lambda s=symbol: (b := r.engine.book(VENUE, s)) is not None and b.is_valid(),
                what=f"{symbol} book",
            )
        yield r
    finally:
        try:
            await r.session.stop()
        finally:
            await asyncio.to_thread(r.harness.stop)


def _touch(rig: Rig, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
    """(best bid, best ask, tick) straight from the emulator's matching engine."""
    inst = rig.harness.venue.instruments[SIM[symbol]]
    bids, asks, _ = rig.harness.call(lambda: rig.harness.venue.snapshot(SIM[symbol], 1))
    return inst.ticks_to_price(bids[0][0]), inst.ticks_to_price(asks[0][0]), inst.tick_size


async def test_fills_positions_and_pnl_match_the_venue(rig: Rig) -> None:
    engine = rig.engine
    # Freeze the crowd so the two quotes inside the spread stay the touch; the
    # book was updated a step ago, so the stale-book risk check still passes.
    rig.harness.pause()
    try:
        bid, ask, tick = _touch(rig, BTC)
        assert ask - bid > 20 * tick
        mid_ticks = ((bid + ask) / 2 / tick).to_integral_value()
        p = (mid_ticks - 5) * tick  # our bid
        q = (mid_ticks + 5) * tick  # our (later closing) ask
        buy = engine.submit_order(
            venue=VENUE, symbol=BTC, side=Side.BUY, size=Decimal("0.003"), price=p, post_only=True
        )
        sell = engine.submit_order(
            venue=VENUE, symbol=BTC, side=Side.SELL, size=Decimal("0.001"), price=q, post_only=True
        )
        await until(
            lambda: buy.status is OrderStatus.OPEN and sell.status is OrderStatus.OPEN,
            what=f"both OPEN ({buy.status}, {buy.reason!r}; {sell.status}, {sell.reason!r})",
        )

        def take(cid: str, side: Side, size: str, price: Decimal) -> None:
            ack = rig.other(
                OrderRequest(
                    cid, SIM[BTC], side, Decimal(size), price=price, time_in_force=TimeInForce.IOC
                )
            )
            assert ack.status is not OrderStatus.REJECTED, ack

        take("o1", Side.SELL, "0.001", p)
        await until(lambda: buy.filled == Decimal("0.001"), what="first partial fill")
        assert buy.status is OrderStatus.PARTIALLY_FILLED
        take("o2", Side.SELL, "0.002", p)
        await until(lambda: buy.status is OrderStatus.FILLED, what="bid FILLED")
        assert buy.filled == Decimal("0.003")

        core = engine.positions.get((VENUE, BTC))
        (venue_pos,) = [x for x in rig.harness.call(lambda: rig.harness.venue.positions(ACCOUNT))]
        assert (core.size, core.entry_price) == (venue_pos.size, venue_pos.entry_price)
        assert (core.size, core.entry_price) == (Decimal("0.003"), p)

        take("o3", Side.BUY, "0.001", q)
        await until(lambda: sell.status is OrderStatus.FILLED, what="ask FILLED")
        await until(lambda: core.size == Decimal("0.002"), what="core position reduced")
        (venue_pos,) = rig.harness.call(lambda: rig.harness.venue.positions(ACCOUNT))
        assert core.realized_pnl == (q - p) * Decimal("0.001") == venue_pos.realized_pnl
        assert (core.size, core.entry_price) == (venue_pos.size, venue_pos.entry_price)
        inst = rig.harness.venue.instruments[SIM[BTC]]
        fees = (p * Decimal("0.003") + q * Decimal("0.001")) * inst.maker_fee
        assert core.fees == fees
    finally:
        rig.harness.resume()


async def test_cancel_one_symbol_leaves_the_other(rig: Rig) -> None:
    engine = rig.engine
    orders = {}
    for symbol, size in ((BTC, Decimal("0.001")), (ETH, Decimal("0.01"))):
        bid, _, tick = _touch(rig, symbol)
        price = ((bid * Decimal("0.98")) / tick).to_integral_value() * tick
        orders[symbol] = engine.submit_order(
            venue=VENUE, symbol=symbol, side=Side.BUY, size=size, price=price, post_only=True
        )
    await until(
        lambda: all(o.status is OrderStatus.OPEN for o in orders.values()),
        what=str({s: (o.status, o.reason) for s, o in orders.items()}),
    )
    assert await engine.cancel_orders(venue=VENUE, symbol=BTC) == []
    assert orders[BTC].status is OrderStatus.CANCELLED
    assert orders[ETH].status is OrderStatus.OPEN
    left = rig.our_open()
    assert [(o.symbol, o.client_id) for o in left] == [
        (SIM[ETH], rig.venue_cid(orders[ETH].client_id))
    ]


async def test_a_wrong_key_fails_the_start_in_one_line_without_leaking_the_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A key the venue does not know fails ``session.start()`` at once (the connector's
    key check), with one line naming the venue and the refusal — not a run that places
    nothing for its whole duration."""
    caplog.set_level(logging.DEBUG)
    wrong_key, wrong_secret = new_keypair()  # valid, but not an account on the venue
    r = await _open_rig(tmp_path, key_pair=(wrong_key, wrong_secret))
    try:
        with pytest.raises(SessionError) as failed:
            await asyncio.wait_for(r.session.start(), 15)
        text = str(failed.value)
        assert "\n" not in text and wrong_secret not in text
        assert "backpack: the venue refused the API key" in text, text
        assert "Unknown API key" in text and "check key_file" in text, text
        assert r.harness.call(lambda: r.harness.venue.open_orders(ACCOUNT)) == []
    finally:
        try:
            await r.session.stop()
        finally:
            await asyncio.to_thread(r.harness.stop)
    assert wrong_secret not in caplog.text


async def test_a_429_burst_still_places_each_order_once(rig: Rig) -> None:
    engine = rig.engine
    bid, _, tick = _touch(rig, BTC)
    rig.harness.faults.http_errors(3, status=429, retry_after_s=1)
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
        lambda: (
            all(o.status.is_terminal or o.status is OrderStatus.OPEN for o in orders)
            and all(o.status is not OrderStatus.PENDING for o in orders)
        ),
        timeout=15,
        what=str([(o.status, o.reason) for o in orders]),
    )
    assert [o.status for o in orders] == [OrderStatus.OPEN] * 3, [o.reason for o in orders]
    listed = [o.client_id for o in rig.our_open(BTC)]
    for o in orders:
        assert listed.count(rig.venue_cid(o.client_id)) == 1, (o.client_id, listed)
    assert len(listed) == 3
    # the burst was really spent on these requests
    assert rig.harness.call(lambda: sum(f.remaining for f in rig.harness.fault_state.http)) == 0


async def test_an_update_lost_while_disconnected_is_reconciled(tmp_path: Path) -> None:
    r = await _open_rig(tmp_path)
    stopped = False
    try:
        await r.session.start()
        engine = r.engine
        await engine.subscribe([(VENUE, BTC)])
        await until(lambda: (b := engine.book(VENUE, BTC)) is not None and b.is_valid())
        bid, _, tick = _touch(r, BTC)
        orders = [
            engine.submit_order(
                venue=VENUE,
                symbol=BTC,
                side=Side.BUY,
                size=Decimal("0.001"),
                price=(bid * Decimal("0.98") / tick).to_integral_value() * tick - i * tick,
                post_only=True,
            )
            for i in range(2)
        ]
        await until(lambda: all(o.status is OrderStatus.OPEN for o in orders))
        # The engine's reconcile leaves orders updated in the last 5 s alone (an
        # update may be in flight): let them age past that first.
        loop = asyncio.get_running_loop()
        aged = loop.time() + 5.3
        while loop.time() < aged:
            await asyncio.sleep(0.1)
        conn = engine.connectors[VENUE]
        reconnects = conn.stats.reconnects
        assert r.harness.faults.close_sockets(abrupt=True) >= 1
        lost, kept = orders
        cid = r.venue_cid(lost.client_id)
        assert r.harness.call(lambda: r.harness.venue.cancel(ACCOUNT, SIM[BTC], cid))
        await until(lambda: conn.stats.reconnects > reconnects, what="reconnect")
        await until(lambda: lost.status is OrderStatus.CANCELLED, timeout=10, what="reconciled")
        # the update was lost: the core found the cancel by asking the venue
        assert "lookup" in lost.reason, lost.reason
        assert kept.status is OrderStatus.OPEN
        assert [o.client_id for o in r.our_open()] == [r.venue_cid(kept.client_id)]
        report = await r.session.stop()
        stopped = True
        assert report.ok, report
        assert r.our_open() == []
        assert kept.status is OrderStatus.CANCELLED
    finally:
        try:
            if not stopped:
                await r.session.stop()
        finally:
            await asyncio.to_thread(r.harness.stop)
