"""Public feeds with no keys: each venue's connector against its emulator, built by
``venue_factory.public_feed`` from a config entry with no key file (and no key in the
environment): books, public trades, and nothing private."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import (
    ConnectionState,
    ErrorCode,
    Event,
    OrderRequest,
    Side,
    Trade,
    VenueError,
)
from connectors.common.public import PUBLIC_ONLY, PublicFeed
from connectors.emulation.harness import EmulatorHarness
from mmtui.config import BackpackVenueConfig, GrvtVenueConfig, LighterVenueConfig
from mmtui.venue_factory import public_feed
from tests.waiting import until

KEY_ENV = (
    "BACKPACK_API_KEY",
    "BACKPACK_API_SECRET",
    "LIGHTER_ACCOUNT_INDEX",
    "LIGHTER_API_KEY_INDEX",
    "LIGHTER_API_PRIVATE_KEY",
    "GRVT_API_KEY",
    "GRVT_TRADING_ACCOUNT_ID",
    "GRVT_PRIVATE_KEY",
)


def _backpack() -> tuple[EmulatorHarness, Callable[[EmulatorHarness], Any], str]:
    from connectors.backpack.emulator import backpack_emulator

    harness = backpack_emulator({}, seed=3)  # no API key is known to it at all
    return (
        harness,
        lambda h: BackpackVenueConfig(rest_url=h.base_url, ws_url=h.ws_url),
        "BTC_USDC_PERP",
    )


def _lighter() -> tuple[EmulatorHarness, Callable[[EmulatorHarness], Any], str]:
    from connectors.lighter.emulator import LighterKey, lighter_emulator
    from mmtui.emulate import new_lighter_key

    _, public = new_lighter_key()  # the emulator needs one account; we never use it
    harness = lighter_emulator([LighterKey(281, 3, public.removeprefix("0x"), "someone")])
    return (
        harness,
        lambda h: LighterVenueConfig(url=h.base_url, ws_url=h.ws_url, dead_man_switch_s=60),
        "BTC",
    )


def _grvt() -> tuple[EmulatorHarness, Callable[[EmulatorHarness], Any], str]:
    from connectors.grvt.emulator import grvt_emulator

    harness = grvt_emulator({}, signers={}, seed=3)
    return (
        harness,
        lambda h: GrvtVenueConfig(
            env="testnet", base_url=h.base_url, ws_url=h.ws_url, dead_man_switch_s=30
        ),
        "BTC_USDT_Perp",
    )


VENUES = {"backpack": _backpack, "lighter": _lighter, "grvt": _grvt}


@pytest.fixture(params=sorted(VENUES))
async def feed(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[PublicFeed, str, list[Event], EmulatorHarness]]:
    for name in KEY_ENV:
        monkeypatch.delenv(name, raising=False)
    harness, config, symbol = VENUES[request.param]()
    await asyncio.to_thread(harness.start)
    conn = public_feed(request.param, config(harness))
    assert isinstance(conn, PublicFeed)
    events: list[Event] = []
    try:
        await conn.connect(events.append)
        yield conn, symbol, events, harness
    finally:
        await conn.close()
        await asyncio.to_thread(harness.stop)


async def test_a_public_feed_keeps_books_and_trades_with_no_keys(
    feed: tuple[PublicFeed, str, list[Event], EmulatorHarness],
) -> None:
    conn, symbol, events, _ = feed
    assert conn.state is ConnectionState.CONNECTED
    insts = await conn.instruments()
    assert symbol in insts
    await conn.subscribe_books([symbol])
    book = conn.book(symbol)
    assert book is not None
    await until(lambda: book.is_valid(), what=lambda: repr(book))
    await until(
        lambda: any(isinstance(e, Trade) and e.symbol == symbol for e in events),
        timeout=20,
        what="a public trade",
    )
    trade = next(e for e in events if isinstance(e, Trade))
    assert trade.price > 0 and trade.size > 0 and trade.ts_ms > 0
    assert trade.trade_id  # the venue's id, for the recorded trades file


async def test_a_public_feed_refuses_everything_private(
    feed: tuple[PublicFeed, str, list[Event], EmulatorHarness],
) -> None:
    conn, symbol, _, _ = feed
    inner = conn.inner
    assert inner.keys is None
    assert getattr(inner, "dead_man_armed", None) is None  # no switch: nothing to arm
    request = OrderRequest("mmabc12-1", symbol, Side.BUY, Decimal("0.01"), price=Decimal(1000))
    calls = [
        conn.place(request),
        conn.cancel(symbol, "mmabc12-1"),
        conn.cancel_all(),
        conn.open_orders(),
        conn.lookup_order(symbol, "mmabc12-1"),
        conn.fills_since(0),
        conn.positions(),
        conn.balances(),
    ]
    for call in calls:
        with pytest.raises(VenueError) as caught:
            await call
        assert caught.value.code == ErrorCode.NO_KEYS
        assert PUBLIC_ONLY in str(caught.value)
        assert not caught.value.retryable


def test_a_public_feed_is_never_built_with_keys() -> None:
    class Keyed:
        name = "x"
        keys = object()
        stats = None

    with pytest.raises(ValueError, match="without keys"):
        PublicFeed(Keyed())
