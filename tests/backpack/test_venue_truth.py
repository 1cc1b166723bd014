"""Backpack issue 15, item by item: nothing lost across reconnects, nothing doubled on
retry, nobody else's orders touched (the connector against its emulator, and the
pure parsing where no emulator is needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

import connectors.backpack.connector as connector_module
import connectors.backpack.rest as rest_module
from connectors.backpack.connector import BackpackConnector
from connectors.backpack.emulator import BackpackDialect, backpack_emulator
from connectors.backpack.keys import BackpackKeys
from connectors.backpack.wire import instrument_from_market, open_order
from connectors.base import Event, OrderRequest, OrderStatus, Side, TimeInForce
from connectors.common.clientids import ClientIdMap
from connectors.emulation.harness import EmulatorHarness
from connectors.sim.venue import FlowParams
from tests.waiting import until

from .test_payload import MARKET
from .test_signing import SECRET

KEYS = BackpackKeys(SECRET)
BTC, SIM_BTC = "BTC_USDC_PERP", "BTC-PERP"


@pytest.fixture
async def emu() -> AsyncIterator[tuple[EmulatorHarness, BackpackConnector, list[Event]]]:
    with backpack_emulator(
        {KEYS.api_key: "me"}, flow=FlowParams(taker_rate=0.0), seed=11
    ) as harness:
        conn = BackpackConnector(
            harness.base_url, harness.ws_url, KEYS, run_prefixes=("mmtruth",), connect_timeout_s=5
        )
        events: list[Event] = []
        await conn.connect(events.append)
        try:
            yield harness, conn, events
        finally:
            await conn.close()


def _dialect(harness: EmulatorHarness) -> BackpackDialect:
    assert isinstance(harness.dialect, BackpackDialect)
    return harness.dialect


def _bid(harness: EmulatorHarness, ticks_below: int) -> Decimal:
    inst = harness.venue.instruments[SIM_BTC]
    bids, _, _ = harness.call(lambda: harness.venue.snapshot(SIM_BTC, 1))
    return inst.ticks_to_price(bids[0][0] - ticks_below)


def _take(harness: EmulatorHarness, size: str, price: Decimal, n: int) -> None:
    req = OrderRequest(
        f"t{n}", SIM_BTC, Side.SELL, Decimal(size), price=price, time_in_force=TimeInForce.IOC
    )
    ack = harness.call(lambda: harness.venue.submit("taker", req))
    assert ack.status is not OrderStatus.REJECTED, ack


async def test_fill_history_is_read_to_the_last_page(emu, monkeypatch) -> None:
    """Fills missed during a reconnect come back from the history, every page of it."""
    harness, conn, _ = emu
    monkeypatch.setattr(rest_module, "PAGE_LIMIT", 3)
    t0 = harness.call(lambda: harness.venue.now_ms)
    price = _bid(harness, -1)  # improves the bid: first in line
    await conn.place(OrderRequest("mmtruth-1", BTC, Side.BUY, Decimal("0.007"), price=price))
    for n in range(7):
        _take(harness, "0.001", price, n)
    fills = await conn.fills_since(t0, BTC)
    assert len(fills) == 7 and sum(f.size for f in fills) == Decimal("0.007")
    assert [f.ts_ms for f in fills] == sorted(f.ts_ms for f in fills)
    assert {f.client_id for f in fills} == {"mmtruth-1"}
    assert len({f.trade_id for f in fills}) == 7


async def test_lookup_reads_the_order_history_page_by_page(emu, monkeypatch) -> None:
    harness, conn, _ = emu
    monkeypatch.setattr(connector_module, "PAGE_LIMIT", 2)
    price = _bid(harness, 50)
    for n in range(1, 6):
        cid = f"mmtruth-{n}"
        await conn.place(OrderRequest(cid, BTC, Side.BUY, Decimal("0.001"), price=price))
        assert await conn.cancel(BTC, cid)
    first = await conn.lookup_order(BTC, "mmtruth-1")  # the oldest: on the last page
    assert first is not None and first.status is OrderStatus.CANCELLED
    assert await conn.lookup_order(BTC, "mmtruth-99") is None


async def test_other_tools_orders_are_listed_raw_and_never_cancelled(emu) -> None:
    """A 32-bit id of another tool decodes like an earlier run's; it is not claimed."""
    harness, conn, _ = emu
    foreign = ClientIdMap().to_venue("mmzzzzz-5")  # looks like ours, another run's tag
    price = _bid(harness, 40)
    other = BackpackConnector(harness.base_url, harness.ws_url, KEYS)
    try:
        await other.instruments()
        await other.place(OrderRequest(str(foreign), BTC, Side.BUY, Decimal("0.001"), price=price))
    finally:
        await other.close()
    await conn.place(OrderRequest("mmtruth-1", BTC, Side.BUY, Decimal("0.001"), price=price))
    listed = {o.venue_client_id: o for o in await conn.open_orders(BTC)}
    assert listed[str(foreign)].client_id == str(foreign)  # raw, not "mm~..."
    assert listed[conn.venue_client_id("mmtruth-1")].client_id == "mmtruth-1"
    assert await conn.cancel_all(BTC, "mm") == 1
    assert await conn.cancel_all(None) == 0
    (left,) = await conn.open_orders(BTC)
    assert left.venue_client_id == str(foreign)


async def test_an_unknown_outcome_is_never_resent(emu) -> None:
    harness, conn, _ = emu
    harness.faults.lose_next_answer("place", mode="status", status=503)
    price = _bid(harness, 30)
    with pytest.raises(Exception) as err:
        await conn.place(OrderRequest("mmtruth-1", BTC, Side.BUY, Decimal("0.001"), price=price))
    assert getattr(err.value, "outcome_unknown", False) and getattr(err.value, "retryable", False)
    found = await conn.lookup_order(BTC, "mmtruth-1")
    assert found is not None and found.status is OrderStatus.OPEN
    assert len(await conn.open_orders(BTC)) == 1  # placed once


async def test_cancels_answered_202_without_a_body_count(emu) -> None:
    harness, conn, _ = emu
    price = _bid(harness, 30)
    for n in (1, 2):
        await conn.place(OrderRequest(f"mmtruth-{n}", BTC, Side.BUY, Decimal("0.001"), price=price))
    harness.call(lambda: _dialect(harness).defer_next_cancels(2))
    assert await conn.cancel_all(BTC, "mmtruth-") == 2
    await until(lambda: harness.call(lambda: harness.venue.open_orders("me")) == [])


async def test_a_liquidation_is_pushed_and_in_the_history_without_a_client_id(emu) -> None:
    harness, conn, events = emu
    t0 = harness.call(lambda: harness.venue.now_ms)
    harness.faults.liquidate(KEYS.api_key, SIM_BTC, Side.SELL, Decimal("0.002"), Decimal("90000"))
    await until(lambda: any(getattr(e, "trade_id", "") and e.client_id is None for e in events))
    (streamed,) = [e for e in events if getattr(e, "trade_id", None)]
    (recorded,) = await conn.fills_since(t0, BTC)
    assert recorded == streamed  # one fill, the same from both: the core dedupes it
    assert (recorded.side, recorded.size, recorded.client_id) == (Side.SELL, Decimal("0.002"), None)


def test_trigger_orders_are_not_resting_quotes() -> None:
    """A stop sits as TriggerPending with quantity 0 until it fires (recorded frames)."""
    base: dict[str, Any] = {
        "id": "114575813313101824",
        "clientId": None,
        "symbol": "SOL_USDC_PERP",
        "side": "Ask",
        "orderType": "Limit",
        "price": "178.15",
        "quantity": "0",
        "executedQuantity": "0",
        "triggerPrice": "178.05",
        "triggerQuantity": "20.03",
        "status": "TriggerPending",
    }
    assert open_order("backpack", base, lambda raw: raw) is None
    resting = dict(base, status="New", quantity="20.03", triggerPrice=None)
    listed = open_order("backpack", resting, lambda raw: raw)
    assert listed is not None and listed.remaining_size == Decimal("20.03")


@pytest.mark.parametrize(
    ("market_type", "contract_type"),
    [
        ("PERP", "perp"),
        ("SPOT", "spot"),
        ("IPERP", "iperp"),
        ("DATED", "dated"),
        ("PREDICTION", "prediction"),
    ],
)
def test_market_types_are_named_as_the_venue_names_them(
    market_type: str, contract_type: str
) -> None:
    inst = instrument_from_market("backpack", dict(MARKET, marketType=market_type))
    assert inst is not None and inst.contract_type == contract_type
