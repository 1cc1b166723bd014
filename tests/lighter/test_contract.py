"""Contract tests: the core and our Lighter connector (real lighter-sdk signing and
sending) against the loopback Lighter emulator.

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

from connectors.base import OrderRequest, OrderStatus, Side, TimeInForce, VenueError
from connectors.emulation.harness import EmulatorHarness
from connectors.lighter.connector import LighterConnector
from connectors.lighter.emulator import LighterKey, lighter_emulator
from connectors.sim.venue import FlowParams
from mmtui.config import load_config
from mmtui.emulate import (
    ACCOUNT,
    LIGHTER_ACCOUNT_INDEX,
    LIGHTER_API_KEY_INDEX,
    new_lighter_key,
    write_lighter_files,
)
from mmtui.session import Session, SessionError, build_session
from tests.waiting import until

VENUE = "lighter"
BTC, ETH = "BTC", "ETH"
SIM = {BTC: "BTC-PERP", ETH: "ETH-PERP"}
OTHER = "other"
KEY_ID = f"{LIGHTER_ACCOUNT_INDEX}:{LIGHTER_API_KEY_INDEX}"


@dataclass
class Rig:
    harness: EmulatorHarness
    session: Session
    private_key: str

    @property
    def engine(self) -> Any:
        return self.session.engine

    @property
    def conn(self) -> LighterConnector:
        return self.engine.connectors[VENUE]

    def on_venue(self, symbol: str | None = None) -> list[Any]:
        """Our resting orders as the emulator's matching engine holds them."""
        sim = SIM[symbol] if symbol else None
        return self.harness.call(lambda: self.harness.venue.open_orders(ACCOUNT, sim))

    def other(self, req: OrderRequest) -> Any:
        return self.harness.call(lambda: self.harness.venue.submit(OTHER, req))

    def touch(self, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
        inst = self.harness.venue.instruments[SIM[symbol]]
        bids, asks, _ = self.harness.call(lambda: self.harness.venue.snapshot(SIM[symbol], 1))
        return inst.ticks_to_price(bids[0][0]), inst.ticks_to_price(asks[0][0]), inst.tick_size


def start_emulator(
    folder: Path,
    *,
    register: bool = True,
    dead_man_switch_s: float | None = None,
    min_scheduled_cancel_ms: int = 300_000,
) -> tuple[EmulatorHarness, Path, str]:
    """A Lighter emulator without background takers (only the test trades against us)
    and a config for it. ``register=False``: the venue knows the account but not our
    API key index (a wrong private key on a registered index: tests/lighter/
    test_signatures.py)."""
    private_key, public_key = new_lighter_key()
    key_index = LIGHTER_API_KEY_INDEX if register else LIGHTER_API_KEY_INDEX + 2
    key = LighterKey(LIGHTER_ACCOUNT_INDEX, key_index, public_key.removeprefix("0x"), ACCOUNT)
    harness = lighter_emulator(
        [key],
        flow=FlowParams(taker_rate=0.0),
        min_scheduled_cancel_ms=min_scheduled_cancel_ms,
    ).start()
    config_path = write_lighter_files(
        folder,
        harness.base_url,
        harness.ws_url,
        private_key,
        dead_man_switch_s=dead_man_switch_s,
    )
    return harness, config_path, private_key


async def open_rig(tmp_path: Path, **kwargs: Any) -> Rig:
    harness, config_path, private_key = await asyncio.to_thread(
        start_emulator, tmp_path / "emu", **kwargs
    )
    config, _ = load_config(config_path, env={})
    config.strategies = []  # trade by hand
    return Rig(harness, build_session(config), private_key)


async def close_rig(rig: Rig) -> None:
    try:
        await rig.session.stop()
    finally:
        await asyncio.to_thread(rig.harness.stop)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path)
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
        await close_rig(r)


def below(rig: Rig, symbol: str, frac: str = "0.98", offset: int = 0) -> Decimal:
    bid, _, tick = rig.touch(symbol)
    return (bid * Decimal(frac) / tick).to_integral_value() * tick - offset * tick


def resting_bid(rig: Rig, symbol: str = BTC, size: str = "0.001", offset: int = 0) -> Any:
    """A post-only bid 2 % under the touch (``offset`` ticks lower still): it rests."""
    return rig.engine.submit_order(
        venue=VENUE,
        symbol=symbol,
        side=Side.BUY,
        size=Decimal(size),
        price=below(rig, symbol, offset=offset),
        post_only=True,
    )


async def test_partial_fills_long_then_short_with_exact_pnl(rig: Rig) -> None:
    engine = rig.engine
    rig.harness.pause()  # freeze the crowd: our quotes inside the spread stay the touch
    try:
        bid, ask, tick = rig.touch(BTC)
        assert ask - bid > 20 * tick
        mid = ((bid + ask) / 2 / tick).to_integral_value()
        p, q = (mid - 5) * tick, (mid + 5) * tick
        buy = engine.submit_order(
            venue=VENUE, symbol=BTC, side=Side.BUY, size=Decimal("0.003"), price=p, post_only=True
        )
        sell = engine.submit_order(
            venue=VENUE, symbol=BTC, side=Side.SELL, size=Decimal("0.005"), price=q, post_only=True
        )
        await until(
            lambda: buy.status is OrderStatus.OPEN and sell.status is OrderStatus.OPEN,
            what=lambda: f"both OPEN ({buy.status} {buy.reason!r}; {sell.status} {sell.reason!r})",
        )
        assert buy.venue_order_id is not None and int(buy.venue_order_id) >= 2**48

        def take(cid: str, side: Side, size: str, price: Decimal) -> None:
            req = OrderRequest(
                cid, SIM[BTC], side, Decimal(size), price=price, time_in_force=TimeInForce.IOC
            )
            assert rig.other(req).status is not OrderStatus.REJECTED

        take("o1", Side.SELL, "0.001", p)
        await until(lambda: buy.filled == Decimal("0.001"), what="first partial fill")
        assert buy.status is OrderStatus.PARTIALLY_FILLED
        take("o2", Side.SELL, "0.002", p)
        await until(lambda: buy.status is OrderStatus.FILLED, what="bid FILLED")
        core = engine.positions.get((VENUE, BTC))
        await until(lambda: core.size == Decimal("0.003"), what="long 0.003")
        assert core.entry_price == p

        take("o3", Side.BUY, "0.005", q)  # through our ask: long 0.003 -> short 0.002
        await until(lambda: sell.status is OrderStatus.FILLED, what="ask FILLED")
        await until(lambda: core.size == Decimal("-0.002"), what="short 0.002")
        assert core.realized_pnl == (q - p) * Decimal("0.003")
        assert core.entry_price == q
        (venue_pos,) = await rig.conn.positions()
        assert venue_pos.size == Decimal("-0.002") and venue_pos.entry_price == q
        inst = rig.harness.venue.instruments[SIM[BTC]]
        assert core.fees == (p * Decimal("0.003") + q * Decimal("0.005")) * inst.maker_fee
    finally:
        rig.harness.resume()


async def test_post_only_that_would_cross_is_a_reject(rig: Rig) -> None:
    rig.harness.pause()  # the crowd must not move the ask away before our order lands
    try:
        _, ask, tick = rig.touch(BTC)
        order = rig.engine.submit_order(
            venue=VENUE,
            symbol=BTC,
            side=Side.BUY,
            size=Decimal("0.001"),
            price=ask + 5 * tick,
            post_only=True,
        )
        await until(lambda: order.status.is_terminal, what="the order ends")
        assert order.status is OrderStatus.REJECTED, (order.status, order.reason)
        assert "post-only" in order.reason
    finally:
        rig.harness.resume()


async def test_cancel_by_client_index(rig: Rig) -> None:
    order = resting_bid(rig)
    await until(lambda: order.status is OrderStatus.OPEN)
    assert len(rig.on_venue(BTC)) == 1
    assert await rig.conn.cancel(BTC, order.client_id)
    await until(lambda: order.status is OrderStatus.CANCELLED, what="cancelled")
    assert rig.on_venue(BTC) == []


async def test_market_scoped_cancel_all_leaves_other_markets(rig: Rig) -> None:
    orders = {
        BTC: resting_bid(rig),
        ETH: resting_bid(rig, ETH, "0.01"),
    }
    await until(lambda: all(o.status is OrderStatus.OPEN for o in orders.values()))
    assert await rig.conn.cancel_all(BTC) == 1
    await until(lambda: orders[BTC].status is OrderStatus.CANCELLED, what="BTC cancelled")
    assert orders[ETH].status is OrderStatus.OPEN
    assert [o.symbol for o in rig.on_venue()] == [SIM[ETH]]


async def test_invalid_nonce_is_recovered_without_a_duplicate(rig: Rig) -> None:
    conn = rig.conn

    def place(offset: int) -> Any:
        return resting_bid(rig, offset=offset)

    first = place(0)  # the signer's nonce manager now counts locally
    await until(lambda: first.status is OrderStatus.OPEN)
    dialect = rig.harness.dialect
    ahead = rig.harness.call(
        lambda: dialect.next_nonce(LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX) + 7
    )
    rig.harness.call(lambda: dialect.set_nonce(LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX, ahead))
    second = place(1)  # refused "invalid nonce" -> re-read -> signed again, same index
    await until(
        lambda: second.status is OrderStatus.OPEN,
        what=lambda: f"open ({second.status} {second.reason})",
    )
    assert conn.tx.nonce_resyncs == 1
    assert len(rig.on_venue(BTC)) == 2  # each placed exactly once
    third = place(2)
    await until(lambda: third.status is OrderStatus.OPEN)
    assert conn.tx.nonce_resyncs == 1
    assert (
        rig.harness.call(lambda: dialect.next_nonce(LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX))
        == ahead + 2
    )


async def test_book_nonce_gap_resubscribes_and_matches_the_venue(rig: Rig) -> None:
    conn = rig.conn
    resyncs = conn.stats.resyncs
    rig.harness.faults.skip_book_ids(1, BTC)
    await until(lambda: conn.stats.resyncs > resyncs, what="gap detected")
    book = conn.book(BTC)
    assert book is not None
    await until(lambda: book.synced, what="resynced")
    rig.harness.pause()
    try:
        # the pushes in flight settle, then our book is the venue's, level for level
        def same() -> bool:
            bids, asks, _ = rig.harness.call(lambda: rig.harness.venue.snapshot(SIM[BTC], 50))
            return book.bids_ticks(50) == bids and book.asks_ticks(50) == asks

        await until(same, what="book equals the emulator's")
    finally:
        rig.harness.resume()


async def test_dropped_socket_reconnects_and_reconciles(tmp_path: Path) -> None:
    r = await open_rig(tmp_path)
    stopped = False
    try:
        await r.session.start()
        engine = r.engine
        await engine.subscribe([(VENUE, BTC)])
        await until(lambda: (b := engine.book(VENUE, BTC)) is not None and b.is_valid())
        orders = [
            engine.submit_order(
                venue=VENUE,
                symbol=BTC,
                side=Side.BUY,
                size=Decimal("0.001"),
                price=below(r, BTC, offset=i),
                post_only=True,
            )
            for i in range(2)
        ]
        await until(lambda: all(o.status is OrderStatus.OPEN for o in orders))
        # the engine's reconcile leaves orders updated in the last 5 s alone
        await asyncio.sleep(5.3)
        conn = r.conn
        reconnects = conn.stats.reconnects
        assert r.harness.faults.close_sockets(abrupt=True) >= 1
        lost, kept = orders
        # cancelled on the venue while we are disconnected: the update is lost
        sim_cid = r.harness.call(lambda: r.harness.venue.open_orders(ACCOUNT, SIM[BTC]))
        lost_sim = [
            o
            for o in sim_cid
            if Decimal(o.price) == lost.price  # the sim knows the emulator's own ids
        ]
        assert len(lost_sim) == 1
        assert r.harness.call(
            lambda: r.harness.venue.cancel(ACCOUNT, SIM[BTC], lost_sim[0].client_id)
        )
        await until(lambda: conn.stats.reconnects > reconnects, what="reconnect")
        await until(lambda: lost.status is OrderStatus.CANCELLED, timeout=15, what="reconciled")
        assert kept.status is OrderStatus.OPEN
        assert len(r.on_venue()) == 1
        report = await r.session.stop()
        stopped = True
        assert report.ok, report
        assert r.on_venue() == []  # no orphans
    finally:
        try:
            if not stopped:
                await r.session.stop()
        finally:
            await asyncio.to_thread(r.harness.stop)


async def test_a_429_burst_places_each_order_once(rig: Rig) -> None:
    rig.harness.faults.http_errors(3, status=429, retry_after_s=1)
    orders = [resting_bid(rig, offset=i) for i in range(3)]
    await until(
        lambda: all(o.status is OrderStatus.OPEN for o in orders),
        timeout=15,
        what=str([(o.status, o.reason) for o in orders]),
    )
    assert len(rig.on_venue(BTC)) == 3
    assert rig.harness.call(lambda: sum(f.remaining for f in rig.harness.fault_state.http)) == 0


async def test_an_expired_auth_token_is_renewed(rig: Rig) -> None:
    conn = rig.conn
    minted = conn.stats.extra["auth_tokens"]
    rig.harness.call(lambda: rig.harness.dialect.expire_tokens())
    assert await conn.open_orders(BTC) == []  # 401 -> a new token -> the same read succeeds
    assert conn.stats.extra["auth_tokens"] == minted + 1


async def test_an_unregistered_key_fails_the_start_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The venue knows the account but not our API key index: the start's key check
    (``/api/v1/apikeys``, 21109) refuses it -- before, the session started and every
    order was refused."""
    caplog.set_level(logging.DEBUG)
    r = await open_rig(tmp_path, register=False)
    try:
        with pytest.raises(SessionError) as info:
            await asyncio.wait_for(r.session.start(), 20)
    finally:
        await close_rig(r)
    message = str(info.value)
    assert "\n" not in message
    assert "lighter" in message and "LIGHTER_API_KEY_INDEX" in message, message
    assert r.private_key[2:] not in caplog.text


async def test_a_dead_man_switch_that_cannot_be_armed_fails_the_start(tmp_path: Path) -> None:
    # the emulator refuses schedules under 5 min; the config asks for 2 s
    r = await open_rig(tmp_path, dead_man_switch_s=2)
    try:
        with pytest.raises(SessionError, match="dead-man"):
            await r.session.start()
    finally:
        await close_rig(r)


@pytest.mark.parametrize("abort_fails", [False, True])
async def test_the_dead_man_switch_says_whether_a_close_disarmed_it(
    tmp_path: Path, abort_fails: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the run summary asks at quit (``DeadManSwitched``): armed from the connect
    until the close aborts the scheduled cancel-all; still armed when it could not."""
    r = await open_rig(tmp_path, dead_man_switch_s=3, min_scheduled_cancel_ms=1000)

    def schedule() -> object:
        return r.harness.call(lambda: r.harness.dialect.schedule(LIGHTER_ACCOUNT_INDEX))

    try:
        await r.session.start()
        conn = r.engine.connectors[VENUE]
        assert conn.dead_man_armed is True
        await until(lambda: schedule() is not None, what="the scheduled cancel-all")
        if abort_fails:

            async def refused() -> None:
                raise VenueError("lighter: abort refused (test)", retryable=False)

            monkeypatch.setattr(conn.tx, "abort_scheduled_cancel_all", refused)
        await r.session.stop()
        assert conn.dead_man_armed is abort_fails
        if abort_fails:
            assert schedule() is not None  # the venue will cancel at its deadline
        else:
            await until(lambda: schedule() is None, what="the schedule aborted")
    finally:
        await close_rig(r)


async def test_no_dead_man_switch_configured_is_none(rig: Rig) -> None:
    assert rig.engine.connectors[VENUE].dead_man_armed is None


async def test_malformed_frames_are_skipped_and_counted(rig: Rig) -> None:
    conn = rig.conn
    bad_before = conn.stats.bad_frames
    unknown_before = conn.stats.extra.get("unknown_frames", 0)
    garbage = [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": "update/order_book", "channel": "order_book:1", "order_book": {"nonce": "x"}}',
        '{"type": "update/account_all_orders", "channel": "account_all_orders:281",'
        ' "orders": {"1": [{"status": "exploded", "order_index": 1}]}}',
        '{"type": "update/something_new", "channel": "something_new:1"}',
    ]
    for text in garbage:
        assert rig.harness.call(lambda t=text: rig.harness.dialect.push_raw(t)) == 1
    await until(lambda: conn.stats.bad_frames >= bad_before + 5, what="bad frames counted")
    assert conn.stats.extra.get("unknown_frames", 0) == unknown_before + 1
    # the unreadable book message dropped the book; it resynced and trading goes on
    book = conn.book(BTC)
    assert book is not None
    await until(lambda: book.synced, what="BTC book back")
    order = resting_bid(rig)
    await until(lambda: order.status is OrderStatus.OPEN)
    assert conn.state.value == "connected"


async def test_server_errors_are_retried_without_a_duplicate(rig: Rig) -> None:
    # 503s on sendTx (and whatever else comes next): nothing was sequenced, the
    # venue's nonce says so, the gateway retries with the same client order index
    rig.harness.faults.http_errors(2, status=503)
    order = resting_bid(rig)
    await until(lambda: order.status is OrderStatus.OPEN, timeout=15, what=order.reason)
    assert len(rig.on_venue(BTC)) == 1
    assert rig.conn.stats.extra["volume_quota_remaining"] > 0


async def test_modify_moves_a_resting_order_in_one_transaction(rig: Rig) -> None:
    order = rig.engine.submit_order(
        venue=VENUE,
        symbol=BTC,
        side=Side.BUY,
        size=Decimal("0.002"),
        price=below(rig, BTC),
        post_only=True,
    )
    await until(lambda: order.status is OrderStatus.OPEN)
    sent = rig.conn.tx.sent
    new_price = below(rig, BTC, frac="0.97")
    await rig.conn.modify(BTC, order.client_id, Decimal("0.003"), new_price)
    assert rig.conn.tx.sent == sent + 1  # one tx, not a cancel and a new order

    def moved() -> bool:
        (resting,) = rig.on_venue(BTC)
        return Decimal(resting.price) == new_price and resting.remaining_size == Decimal("0.003")

    await until(moved, what="the venue order moved")
    (listed,) = await rig.conn.open_orders(BTC)
    assert listed.client_id == order.client_id and listed.venue_order_id == order.venue_order_id
    assert listed.price == new_price
