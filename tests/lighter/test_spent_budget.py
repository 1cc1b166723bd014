"""A Standard account whose request budget is spent (docs/venues/lighter.md, "Account
tier"): the core and our real connector against the emulator with Standard limits, on a
shortened "minute" (``WINDOW_S``, the connector's pacer and the emulator alike).

* A requote burst while the budget has no room: each cancel of an order whose create has
  not left takes the create back (nothing is sent, the order ends cancelled-never-sent),
  a modify of it re-signs the create -- no pile of pending creates.
* A shutdown with the budget spent and creates waiting: 0 orders at the venue, PASS, in
  the shutdown's time (its requests have a reserve routine traffic cannot spend).
* A start while the venue's minute is spent (an earlier process of ours spent it): the
  connector waits for it, says so once in the log, and connects.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import connectors.lighter.connector as connector_module
import connectors.lighter.tx as tx_module
from connectors.base import OrderRequest, OrderStatus, Side
from connectors.emulation.harness import EmulatorHarness
from connectors.lighter.connector import UNSENT
from connectors.lighter.emulator import LighterKey, lighter_emulator
from connectors.lighter.keys import LighterKeys
from connectors.lighter.pacing import STANDARD, Priority, RequestPacer
from connectors.lighter.txqueue import TxKind
from connectors.sim.venue import FlowParams
from mmtui.config import load_config
from mmtui.emulate import (
    ACCOUNT,
    LIGHTER_ACCOUNT_INDEX,
    LIGHTER_API_KEY_INDEX,
    new_lighter_key,
    write_lighter_files,
)
from mmtui.session import build_session
from tests.lighter.conftest import Connected
from tests.lighter.test_contract import Rig as ContractRig
from tests.waiting import until

WINDOW_S = 20.0
"""The shortened minute: long enough that a spent one outlasts a shutdown's 10 s."""
VENUE = "lighter"


class Rig(ContractRig):
    """``tests.lighter.test_contract``'s session rig, with our pacer and tx queue."""

    @property
    def pacer(self) -> RequestPacer:
        assert self.conn.pacer is not None
        return self.conn.pacer

    async def spend(self) -> None:
        """Our pacer's window spent up to what new orders may use."""
        while not self.pacer.must_wait("accountOrders", Priority.PLACE):
            await self.pacer.request("accountOrders", Priority.PLACE)

    def unsent(self, client_id: str, kind: TxKind = TxKind.CREATE) -> bool:
        """Our ``kind`` transaction of the order waits in the tx queue (not sent)."""
        index = int(self.conn.venue_client_id(client_id))
        return self.conn.tx.queue.unsent(kind, index) is not None


Open = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def open_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Open]:
    """``await open_rig(strategies=False)``: the Standard emulator on ``WINDOW_S`` and a
    started session whose Lighter pacer uses the same window."""
    monkeypatch.setattr(
        connector_module,
        "RequestPacer",
        functools.partial(RequestPacer, window_s=WINDOW_S, margin_s=0.5),
    )
    rigs: list[Rig] = []

    async def start(*, strategies: bool = False, start: bool = True, **params: Any) -> Rig:
        def emulator() -> tuple[EmulatorHarness, Path, str]:
            private_key, public_key = new_lighter_key()
            key = LighterKey(
                LIGHTER_ACCOUNT_INDEX,
                LIGHTER_API_KEY_INDEX,
                public_key.removeprefix("0x"),
                ACCOUNT,
            )
            harness = lighter_emulator(
                [key], flow=FlowParams(taker_rate=0.0), tier="standard", tier_window_s=WINDOW_S
            ).start()
            folder = tmp_path / f"emu{len(rigs)}"
            path = write_lighter_files(
                folder, harness.base_url, harness.ws_url, private_key, tier="standard"
            )
            return harness, path, private_key

        harness, path, private_key = await asyncio.to_thread(emulator)
        config, _ = load_config(path, env={})
        if strategies:
            config.strategies[0].params.update(params)
        else:
            config.strategies = []
        rig = Rig(harness, build_session(config), private_key)
        rigs.append(rig)
        if start:
            await rig.session.start()
        return rig

    try:
        yield start
    finally:
        for rig in rigs:
            if rig.engine.running:
                await rig.session.stop()
            await asyncio.to_thread(rig.harness.stop)


async def test_a_requote_burst_under_a_spent_budget_leaves_no_pile(open_rig: Open) -> None:
    rig = await open_rig()
    engine = rig.engine
    await engine.subscribe([(VENUE, "BTC")])
    await until(lambda: rig.conn.book("BTC").is_valid(), what="the BTC book")  # type: ignore[union-attr]
    bid, _, tick = rig.touch("BTC")
    size = engine.markets.instrument(VENUE, "BTC").min_size * 2
    await rig.spend()
    orders = []
    for i in range(8):  # a requote every turn: a new bid, the previous one cancelled
        order = engine.submit_order(
            venue=VENUE,
            symbol="BTC",
            side=Side.BUY,
            size=size,
            price=bid - (5000 + i) * tick,
            post_only=True,
        )
        await until(
            lambda o=order: rig.unsent(o.client_id),
            what="the create queued",
        )
        if orders:
            assert engine.request_cancel(orders[-1])
        orders.append(order)
    last = orders[-1]
    await until(
        lambda: all(o.status is OrderStatus.CANCELLED for o in orders[:-1]),
        what="each replaced bid cancelled before it was sent",
    )
    assert {o.reason for o in orders[:-1]} == {UNSENT}
    assert [o for o in engine.orders.live(venue=VENUE)] == [last]  # no pile
    # a modify of the one still waiting re-signs its create: one order at the new price
    moved = bid - 5010 * tick
    assert engine.request_amend(last, moved)
    assert last.price == moved and last.status is OrderStatus.PENDING
    await until(
        lambda: len(rig.on_venue()) == 1,
        timeout=WINDOW_S + 10,
        what=lambda: f"it rests: {last} {rig.on_venue()} {rig.conn.tx.queue._pending}",
    )
    assert Decimal(rig.on_venue()[0].price) == moved
    await until(lambda: last.status is OrderStatus.OPEN, what="the core sees it rest")
    assert rig.conn.tx.queue.withdrawn == 7 and rig.conn.tx.queue.restated == 1
    report = await rig.session.stop()
    assert report.ok and rig.on_venue() == []


async def test_a_shutdown_with_the_budget_spent_verifies_and_passes(open_rig: Open) -> None:
    """The AS strategy quotes; then the minute is spent: its requotes (modifies) wait for
    it, and so does a new order (its create queued). The shutdown drops them, cancels
    what rests and verifies, from its own reserve: PASS with 0 orders at the venue (the
    report fails an unverified venue, which is what happened when the shutdown waited
    for the minute)."""
    rig = await open_rig(strategies=True, requote_ticks=1)
    engine = rig.engine
    await until(lambda: len(rig.on_venue()) >= 2, timeout=20, what="two quotes rest")
    await rig.spend()
    await until(
        lambda: any(rig.unsent(o.client_id, TxKind.MODIFY) for o in engine.orders.live()),
        timeout=20,
        what="a requote waiting for the budget",
    )
    bid, _, tick = rig.touch("BTC")
    order = engine.submit_order(
        venue=VENUE,
        symbol="BTC",
        side=Side.BUY,
        size=engine.markets.instrument(VENUE, "BTC").min_size * 2,
        price=bid - 5000 * tick,
        post_only=True,
    )
    await until(lambda: rig.unsent(order.client_id), what="its create queued")
    report = await rig.session.stop()
    assert report.ok, report.lines
    summary = rig.session.summary()
    assert summary.open_orders_left == 0 and summary.orders_unverified == 0
    assert rig.on_venue() == []
    assert order.status is OrderStatus.CANCELLED and order.reason == UNSENT
    assert rig.conn.dead_man_armed is False  # the switch's abort went too


async def test_a_start_with_the_venues_minute_spent_waits_and_connects(
    open_rig: Open, caplog: pytest.LogCaptureFixture
) -> None:
    """An earlier process spent the venue's minute (here: 60 reads from another client
    on the same address); our fresh pacer cannot know. The start waits for the venue
    (one log line says why) instead of failing on the first 429."""
    rig = await open_rig(start=False)
    refused = 0
    async with aiohttp.ClientSession() as http:
        while refused == 0:
            async with http.get(f"{rig.harness.base_url}/api/v1/orderBookDetails") as resp:
                refused += resp.status == 429
    caplog.set_level(logging.WARNING, logger="connectors.lighter")
    await rig.session.start()
    assert rig.conn.state.value == "connected"
    assert rig.conn.dead_man_armed  # the switch armed after the wait
    said = [r.getMessage() for r in caplog.records if "budget is spent" in r.getMessage()]
    assert len(said) == 1, said
    assert rig.pacer.waited_out >= 1


async def test_a_cancel_all_drops_only_its_own_unsent_creates(connected: Connected) -> None:
    """Before a cancel-all goes, the creates it covers that have not left are taken back
    (their places answer CANCELLED); a cancel-all by another prefix leaves ours queued."""
    pacer = RequestPacer(STANDARD, window_s=WINDOW_S, margin_s=0.5)
    rig, conn = await connected("mmdrop", {"pacer": pacer}, books=["BTC"])
    while not pacer.must_wait("accountOrders", Priority.PLACE):
        await pacer.request("accountOrders", Priority.PLACE)
    bid, _, tick = rig.touch("BTC")
    request = OrderRequest(
        "mmdrop-1",
        "BTC",
        Side.BUY,
        rig.min_size("BTC") * 2,
        price=bid - 5000 * tick,
        post_only=True,
    )
    place = asyncio.get_running_loop().create_task(conn.place(request))
    index = int(conn.venue_client_id(request.client_id))
    await until(lambda: conn.tx.queue.unsent(TxKind.CREATE, index) is not None, what="queued")
    await conn.cancel_all("BTC", "mmother")
    assert conn.tx.queue.unsent(TxKind.CREATE, index) is not None  # not its to drop
    assert await conn.cancel_all("BTC", "mmdrop") == 1
    ack = await place
    assert ack.status is OrderStatus.CANCELLED and ack.reason == UNSENT
    assert rig.venue_orders() == []


def test_a_schedule_that_waited_for_the_budget_is_still_as_far_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The switch's renewal waited 7 s for a spent minute: it is signed 7 s later (the
    venue refuses a schedule under 5 min ahead: 21714)."""
    now = [1_000_000]
    monkeypatch.setattr(tx_module, "_now_ms", lambda: now[0])
    signed: list[int] = []

    class Signer:
        def sign_cancel_all_orders(self, tif: int, at: int, *_: Any, **__: Any) -> Any:
            signed.append(at)
            return 16, "{}", "hash", None

    tx = tx_module.LighterTx("http://127.0.0.1:1", LighterKeys(1, 3, "0x" + "1" * 80))
    tx.client = Signer()
    request = tx._schedule_request(now[0] + 300_000)
    now[0] += 7_000  # waiting for the budget
    request.sign(5, 3)
    assert signed == [now[0] + 300_000]
