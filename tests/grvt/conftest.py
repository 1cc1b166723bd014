"""A GRVT emulator on 127.0.0.1 with one account, and our connector logged in to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Event, Fill, OrderRequest, OrderUpdate, TimeInForce
from connectors.emulation.harness import EmulatorHarness
from connectors.grvt.connector import GrvtConnector
from connectors.grvt.emulator import Credentials, grvt_emulator, new_credentials
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.rest import GrvtUrls
from connectors.sim.venue import FlowParams
from mmtui.config import Config, load_config
from mmtui.emulate import write_grvt_files
from tests.waiting import until

ACCOUNT = "alice"
OTHER = "other"
BTC = "BTC_USDT_Perp"
ETH = "ETH_USDT_Perp"
SIM = {BTC: "BTC-PERP", ETH: "ETH-PERP"}


@dataclass
class Rig:
    harness: EmulatorHarness
    creds: Credentials
    conn: GrvtConnector
    events: list[Event] = field(default_factory=list)

    @property
    def dialect(self) -> Any:
        return self.harness.dialect

    def touch(self, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
        venue = self.harness.venue
        inst = venue.instruments[SIM[symbol]]
        bids, asks, _ = self.harness.call(lambda: venue.snapshot(SIM[symbol], 1))
        return inst.ticks_to_price(bids[0][0]), inst.ticks_to_price(asks[0][0]), inst.tick_size

    def take(self, symbol: str, side: Any, size: str, price: Decimal, cid: str) -> None:
        """Another trader takes liquidity at ``price`` (IOC)."""
        req = OrderRequest(
            cid, SIM[symbol], side, Decimal(size), price=price, time_in_force=TimeInForce.IOC
        )
        self.harness.call(lambda: self.harness.venue.submit(OTHER, req))

    def venue_orders(self) -> list[dict[str, Any]]:
        return self.harness.call(lambda: self.dialect.orders_of(ACCOUNT))

    def updates(self, client_id: str) -> list[OrderUpdate]:
        return [e for e in self.events if isinstance(e, OrderUpdate) and e.client_id == client_id]

    def fills(self, client_id: str) -> list[Fill]:
        return [e for e in self.events if isinstance(e, Fill) and e.client_id == client_id]


def start_emulator(creds: Credentials, **kw: Any) -> EmulatorHarness:
    kw.setdefault("flow", FlowParams(taker_rate=0.0))
    return grvt_emulator(
        {creds.api_key: ACCOUNT},
        signers={creds.api_key: creds.address},
        sub_accounts={creds.api_key: creds.sub_account_id},
        seed=7,
        **kw,
    ).start()


def session_config(
    folder: Path, harness: EmulatorHarness, creds: Credentials, **venue: Any
) -> Config:
    """The config ``mmtui emulate grvt`` writes, for ``harness`` and ``creds`` (key
    file in ``folder``), without the dead-man's switch unless ``venue`` sets one."""
    venue.setdefault("dead_man_switch_s", None)
    path = write_grvt_files(folder, harness.base_url, harness.ws_url, creds, **venue)
    config, _ = load_config(path, env={})
    return config


def connector_for(harness: EmulatorHarness, keys: GrvtKeys, **kw: Any) -> GrvtConnector:
    kw.setdefault("ws_backoff_base_s", 0.05)
    kw.setdefault("ws_backoff_cap_s", 0.5)
    return GrvtConnector(GrvtUrls.single(harness.base_url, harness.ws_url), keys, **kw)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    creds = new_credentials()
    harness = await asyncio.to_thread(start_emulator, creds)
    keys = GrvtKeys(creds.api_key, creds.sub_account_id, creds.private_key)
    conn = connector_for(harness, keys)
    r = Rig(harness, creds, conn)
    try:
        await conn.connect(r.events.append)
        await conn.subscribe_books([BTC, ETH])
        for symbol in (BTC, ETH):
            await until(lambda s=symbol: conn.book(s).is_valid(), what=f"{symbol} book")  # type: ignore[union-attr]
        yield r
    finally:
        try:
            await conn.close()
        finally:
            await asyncio.to_thread(harness.stop)
