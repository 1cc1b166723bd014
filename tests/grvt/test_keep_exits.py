"""``on_quit: keep_exits`` against GRVT's cancel-on-disconnect: the core through the
real GRVT connector on the loopback emulator. The kept exit outlives the quit when
the connector disarmed the countdown; when it could not, the summary says the venue
will cancel it -- and the venue does. Wall time: every wait is a bounded poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import OrderRequest, OrderStatus, Side, TimeInForce, VenueError
from connectors.grvt.emulator import new_credentials
from mmtui.session import Session, build_session
from strategies import registry
from strategies.base import Strategy
from tests.grvt.conftest import ACCOUNT, BTC, OTHER, SIM, session_config, start_emulator, until

VENUE = "grvt"


class _ByHand(Strategy):
    """A strategy the test trades through its context (its orders are its own)."""

    kind = "by_hand_test"


@pytest.fixture
async def keeper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setitem(registry.STRATEGY_KINDS, _ByHand.kind, _ByHand)
    creds = new_credentials()
    harness = await asyncio.to_thread(start_emulator, creds)
    config = session_config(tmp_path, harness, creds, dead_man_switch_s=1.5)
    config.strategies[0].kind = _ByHand.kind
    config.strategies[0].params = {"on_quit": "keep_exits"}
    session = build_session(config)
    try:
        await session.start()
        yield harness, session
    finally:
        try:
            await session.stop()
        finally:
            await asyncio.to_thread(harness.stop)


async def _exit_resting(harness: Any, session: Session) -> str:
    """A long position with a reduce-only exit resting above it, and a plain bid."""
    engine = session.engine
    runner = engine.runner("as_btc")
    await until(lambda: (b := engine.book(VENUE, BTC)) is not None and b.is_valid())
    inst = harness.venue.instruments[SIM[BTC]]
    bids, asks, _ = harness.call(lambda: harness.venue.snapshot(SIM[BTC], 1))
    bid, ask = inst.ticks_to_price(bids[0][0]), inst.ticks_to_price(asks[0][0])
    tick, size = inst.tick_size, Decimal("0.002")
    buy = runner.place(VENUE, BTC, Side.BUY, size, bid + tick, post_only=True)
    await until(lambda: buy.status is OrderStatus.OPEN, what=lambda: f"bid {buy.status}")
    price = bid + tick

    def hit_ours() -> None:
        # in the venue's thread, at once: sell into every bid at or above ours (the
        # market may have moved up meanwhile, and better bids fill first), ours included
        bids, _, _ = harness.venue.snapshot(SIM[BTC])
        ahead = sum(lots for ticks, lots in bids if ticks >= inst.price_to_ticks(price))
        req = OrderRequest(
            "t1",
            SIM[BTC],
            Side.SELL,
            inst.lots_to_size(ahead),
            price=price,
            time_in_force=TimeInForce.IOC,
        )
        harness.venue.submit(OTHER, req)

    harness.call(hit_ours)
    await until(lambda: runner.position(VENUE, BTC).size == size, what="the bid filled")
    exit_ = runner.place(
        VENUE, BTC, Side.SELL, size, ask + 50 * tick, post_only=True, reduce_only=True
    )
    other = runner.place(VENUE, BTC, Side.BUY, size, bid - 50 * tick, post_only=True)
    await until(
        lambda: exit_.status is OrderStatus.OPEN and other.status is OrderStatus.OPEN,
        what=lambda: f"{exit_.status} {exit_.reason} / {other.status} {other.reason}",
    )
    return exit_.client_id


def _venue_ids(harness: Any) -> list[str]:
    orders = harness.call(lambda: harness.dialect.orders_of(ACCOUNT))
    return [o["metadata"]["client_order_id"] for o in orders]


async def test_the_kept_exit_stays_once_the_countdown_is_disarmed(keeper: Any) -> None:
    harness, session = keeper
    conn = session.engine.connectors[VENUE]
    kept = await _exit_resting(harness, session)
    assert conn.dead_man_armed is True
    report = await session.stop()
    summary = session.summary()
    assert report.ok and summary.open_orders_left == 0, summary.render()
    assert [o.client_id for o in report.kept] == [kept]
    assert "grvt: dead-man's switch disarmed at close: the 1 kept exit(s) stay" in summary.shutdown
    assert conn.dead_man_armed is False
    assert len(_venue_ids(harness)) == 1  # the exit, not the plain bid
    exchange = harness.dialect.exchange
    assert harness.call(lambda: ACCOUNT not in exchange.dead_man)  # no countdown runs
    assert harness.call(lambda: exchange.dead_man_triggered) == 0


async def test_a_countdown_left_armed_is_in_the_summary_and_cancels_the_exit(
    keeper: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, session = keeper
    conn = session.engine.connectors[VENUE]
    await _exit_resting(harness, session)
    arm = conn._cancel_on_disconnect

    async def refuse_disarm(countdown_ms: int) -> None:
        if countdown_ms == 0:
            raise VenueError("grvt: cancel_on_disconnect: 503 (test)", retryable=True)
        await arm(countdown_ms)

    monkeypatch.setattr(conn, "_cancel_on_disconnect", refuse_disarm)
    await session.stop()
    summary = session.summary()
    warning = [line for line in summary.shutdown if line.startswith("WARNING grvt")]
    assert warning and "will cancel the 1 kept exit(s)" in warning[0]
    assert conn.dead_man_armed is True
    assert len(_venue_ids(harness)) == 1
    # and so it does, once the countdown runs out
    await until(lambda: _venue_ids(harness) == [], timeout=10, what="the venue cancelled it")
    assert harness.call(lambda: harness.dialect.exchange.dead_man_triggered) == 1
