"""The Lighter loopback emulator, driven by the real lighter-sdk 1.1.8 and plain websockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal as D
from typing import Any

import aiohttp
import lighter
import pytest
import websockets
from lighter.signer_client import SignerClient, create_api_key

from connectors.emulation import EmulatorHarness
from connectors.lighter.emulator import LighterKey, lighter_emulator
from connectors.sim.venue import FlowParams
from tests.waiting import until

ALICE, ALICE_KEY, ALICE_KEY2 = 4242, 3, 4
BOB, BOB_KEY = 5151, 2
BTC, ETH = 1, 0


def _key() -> tuple[str, str]:
    priv, pub, err = create_api_key()
    assert err is None
    return priv, pub.removeprefix("0x")


ALICE_PRIV, ALICE_PUB = _key()
ALICE2_PRIV, ALICE2_PUB = _key()
BOB_PRIV, BOB_PUB = _key()
KEYS = [
    LighterKey(ALICE, ALICE_KEY, ALICE_PUB, "alice"),
    LighterKey(ALICE, ALICE_KEY2, ALICE2_PUB, "alice"),
    LighterKey(BOB, BOB_KEY, BOB_PUB, "bob"),
]
QUIET = FlowParams(taker_rate=0.0)


@pytest.fixture
def make_emu() -> Iterator[Callable[..., EmulatorHarness]]:
    started: list[EmulatorHarness] = []

    def make(*, paused: bool = True, **kw: Any) -> EmulatorHarness:
        kw.setdefault("flow", QUIET)
        emu = lighter_emulator(KEYS, **kw).start()
        started.append(emu)
        if paused:
            emu.pause()
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emu(make_emu: Callable[..., EmulatorHarness]) -> EmulatorHarness:
    return make_emu()


class Sdk:
    """One account's SignerClient plus the REST APIs, on the test's loop."""

    def __init__(self, emu: EmulatorHarness, account: int, keys: dict[int, str]) -> None:
        self.emu = emu
        self.account = account
        self.key = next(iter(keys))
        self.signer = SignerClient(
            url=emu.base_url, account_index=account, api_private_keys=keys, chain_id=304
        )
        self.api = lighter.ApiClient(lighter.Configuration(host=emu.base_url))
        self.orders = lighter.OrderApi(self.api)
        self.accounts = lighter.AccountApi(self.api)

    def token(self, seconds: int = 600) -> str:
        token, err = self.signer.create_auth_token_with_expiry(seconds, api_key_index=self.key)
        assert err is None
        return token

    async def close(self) -> None:
        await self.signer.close()
        await self.api.close()

    async def post_only(self, market: int, coi: int, amount: int, price: int, ask: bool) -> Any:
        s = self.signer
        _, resp, err = await s.create_order(
            market, coi, amount, price, ask, s.ORDER_TYPE_LIMIT, s.ORDER_TIME_IN_FORCE_POST_ONLY
        )
        assert err is None, err
        assert resp.code == 200
        return resp

    def order(self, coi: int) -> dict[str, Any] | None:
        return self.emu.call(lambda: self.emu.dialect.order_json(self.account, coi))

    async def wait_order(
        self, coi: int, pred: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 2
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            o = self.order(coi)
            if o is not None and (pred is None or pred(o)):
                return o
            if time.monotonic() > deadline:
                raise AssertionError(f"order {coi} never matched: {o}")
            await asyncio.sleep(0.01)

    async def position(self, market: int) -> Any:
        acct = (await self.accounts.account(by="index", value=str(self.account))).accounts[0]
        return next((p for p in acct.positions if p.market_id == market), None)


@pytest.fixture
async def alice(emu: EmulatorHarness) -> AsyncIterator[Sdk]:
    sdk = Sdk(emu, ALICE, {ALICE_KEY: ALICE_PRIV})
    yield sdk
    await sdk.close()


@pytest.fixture
async def bob(emu: EmulatorHarness) -> AsyncIterator[Sdk]:
    sdk = Sdk(emu, BOB, {BOB_KEY: BOB_PRIV})
    yield sdk
    await sdk.close()


def book(emu: EmulatorHarness, symbol: str = "BTC-PERP") -> tuple[int, int]:
    """(best bid, best ask) in ticks of the sim instrument."""
    bids, asks, _ = emu.call(lambda: emu.venue.snapshot(symbol, 1))
    return bids[0][0], asks[0][0]


async def recv(ws: Any, timeout: float = 3.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: Any, pred: Callable[[dict[str, Any]], bool], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        msg = await recv(ws, max(0.05, deadline - time.monotonic()))
        if pred(msg):
            return msg


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


# -- REST: markets, SDK wiring ---------------------------------------------------------------


async def test_markets_decimals_and_book_orders(emu: EmulatorHarness, alice: Sdk) -> None:
    books = (await alice.orders.order_books()).order_books
    by = {b.symbol: b for b in books}
    assert {s: b.market_id for s, b in by.items()} == {"ETH": 0, "BTC": 1, "SOL": 2}
    btc = by["BTC"]
    assert (btc.supported_price_decimals, btc.supported_size_decimals) == (1, 3)
    assert btc.min_base_amount == "0.001"
    assert by["ETH"].min_base_amount == "0.01"
    detail = (await alice.orders.order_book_details(market_id=BTC)).order_book_details[0]
    assert (detail.price_decimals, detail.size_decimals) == (1, 3)
    assert isinstance(detail.last_trade_price, float)  # a JSON number, as recorded
    only = (await alice.orders.order_books(market_id=ETH)).order_books
    assert [b.symbol for b in only] == ["ETH"]
    resting = await alice.orders.order_book_orders(market_id=BTC, limit=5)
    asks = [D(o.price) for o in resting.asks]
    bids = [D(o.price) for o in resting.bids]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
    assert all(
        decimals(o.price) == 1 and decimals(o.remaining_base_amount) == 3
        for o in resting.asks + resting.bids
    )
    status = await lighter.RootApi(alice.api).status()
    assert status.status == 1
    with pytest.raises(lighter.exceptions.BadRequestException):
        await alice.orders.order_books(market_id=77)


async def test_check_client_and_api_keys(emu: EmulatorHarness, alice: Sdk) -> None:
    assert alice.signer.check_client() is None  # blocking Go HTTP: the emulator has its own thread
    keys = (await alice.accounts.apikeys(account_index=ALICE)).api_keys
    assert {(k.api_key_index, k.public_key) for k in keys} == {
        (ALICE_KEY, ALICE_PUB),
        (ALICE_KEY2, ALICE2_PUB),
    }
    intruder_priv, _ = _key()
    intruder = SignerClient(
        url=emu.base_url,
        account_index=ALICE,
        api_private_keys={ALICE_KEY: intruder_priv},
        chain_id=304,
    )
    try:
        assert intruder.check_client() is not None  # public key does not match
    finally:
        await intruder.close()
    l1 = emu.call(lambda: emu.dialect.l1_address(ALICE))
    subs = await alice.accounts.accounts_by_l1_address(l1_address=l1)
    assert [a.index for a in subs.sub_accounts] == [ALICE]
    nonce = await lighter.TransactionApi(alice.api).next_nonce(
        account_index=ALICE, api_key_index=ALICE_KEY
    )
    assert nonce.nonce == 1
    with pytest.raises(lighter.exceptions.BadRequestException):
        await alice.accounts.account(by="index", value="999")


# -- orders through SignerClient ---------------------------------------------------------------


async def test_post_only_rest_cross_cancel(emu: EmulatorHarness, alice: Sdk) -> None:
    bid, ask = book(emu)
    await alice.post_only(BTC, 11, 20, bid - 50, False)  # rests below the book
    await alice.post_only(BTC, 12, 20, ask, False)  # a bid at the best ask would take
    resting = await alice.wait_order(11, lambda o: o["status"] == "open")
    crossed = await alice.wait_order(12, lambda o: o["status"] != "open")
    assert crossed["status"] == "canceled-post-only"
    assert resting["order_index"] >= 2**48 and resting["client_order_index"] == 11
    assert resting["price"] == f"{D(bid - 50) / 10:.1f}"
    assert resting["initial_base_amount"] == "0.020"
    assert resting["time_in_force"] == "post-only" and resting["type"] == "limit"
    token = alice.token()
    active = await alice.orders.account_active_orders(
        authorization=token, account_index=ALICE, market_id=BTC
    )
    assert [o.client_order_index for o in active.orders] == [11]
    _, resp, err = await alice.signer.cancel_order(BTC, 11)  # by client order index
    assert err is None and resp.code == 200
    await alice.wait_order(11, lambda o: o["status"] == "canceled")
    inactive = await alice.orders.account_inactive_orders(
        authorization=token, account_index=ALICE, limit=10
    )
    assert {o.client_order_index: o.status for o in inactive.orders} == {
        11: "canceled",
        12: "canceled-post-only",
    }
    by_coi = await alice.orders.account_orders(
        authorization=token, client_order_indexes="11,12", account_index=ALICE
    )
    assert sorted(o.client_order_index for o in by_coi.orders) == [11, 12]
    # every accepted tx consumed a nonce, even the one that ended canceled-post-only
    assert emu.call(lambda: emu.dialect.next_nonce(ALICE, ALICE_KEY)) == 4


async def test_cancel_by_order_index_and_unknown_is_noop(emu: EmulatorHarness, alice: Sdk) -> None:
    bid, _ = book(emu)
    await alice.post_only(BTC, 21, 10, bid - 30, False)
    o = await alice.wait_order(21)
    _, resp, err = await alice.signer.cancel_order(BTC, 999_999)  # nothing has this index
    assert err is None and resp.code == 200
    _, resp, err = await alice.signer.cancel_order(BTC, o["order_index"])
    assert err is None and resp.code == 200
    await alice.wait_order(21, lambda x: x["status"] == "canceled")
    assert emu.call(lambda: emu.dialect.next_nonce(ALICE, ALICE_KEY)) == 4


async def test_nonce_mismatch_and_sdk_resync(emu: EmulatorHarness, alice: Sdk) -> None:
    bid, _ = book(emu)
    await alice.post_only(BTC, 31, 10, bid - 40, False)  # the SDK now holds nonce 1
    emu.call(lambda: emu.dialect.set_nonce(ALICE, ALICE_KEY, 50))
    s = alice.signer
    _, resp, err = await s.create_order(
        BTC, 32, 10, bid - 41, False, s.ORDER_TYPE_LIMIT, s.ORDER_TIME_IN_FORCE_POST_ONLY
    )
    assert resp is None and "invalid nonce" in err and "21104" in err
    # the SDK re-fetched nextNonce after the 400: the next order goes through with 50
    await alice.post_only(BTC, 32, 10, bid - 41, False)
    o = await alice.wait_order(32)
    assert o["nonce"] == 50
    stats = emu.call(lambda: emu.dialect.stats)
    assert stats.invalid_nonce == 1


async def test_partial_fills_positions_fees_reduce_only(
    emu: EmulatorHarness, alice: Sdk, bob: Sdk
) -> None:
    bid, ask = book(emu)
    inside = (bid + ask) // 2  # inside the spread: only alice's ask is at this price
    assert bid < inside < ask
    await alice.post_only(BTC, 41, 10, inside, True)  # ask 0.010
    await alice.wait_order(41)
    s = bob.signer
    _, resp, err = await s.create_market_order(BTC, 51, 4, inside, False)  # buy 0.004
    assert err is None and resp.code == 200
    part = await alice.wait_order(41, lambda o: o["filled_base_amount"] != "0.000")
    assert part["status"] == "open"
    assert (part["filled_base_amount"], part["remaining_base_amount"]) == ("0.004", "0.006")
    price = D(inside) / 10
    assert D(part["filled_quote_amount"]) == price * D("0.004")
    # a market buy of 0.010 bounded at alice's price takes her 0.006 and stops (IOC)
    _, resp, err = await s.create_market_order(BTC, 52, 10, inside, False)
    assert err is None and resp.code == 200
    done = await alice.wait_order(41, lambda o: o["status"] == "filled")
    assert done["remaining_base_amount"] == "0.000"
    taker = await bob.wait_order(52, lambda o: o["status"] != "open")
    assert taker["status"] == "canceled" and taker["filled_base_amount"] == "0.006"
    assert taker["type"] == "market" and taker["time_in_force"] == "immediate-or-cancel"

    pos_a, pos_b = await alice.position(BTC), await bob.position(BTC)
    assert (pos_a.sign, pos_a.position) == (-1, "0.010")
    assert (pos_b.sign, pos_b.position) == (1, "0.010")
    assert pos_b.avg_entry_price == f"{price:.1f}"

    token = alice.token()
    trades = (
        await alice.orders.trades(
            sort_by="timestamp", limit=10, account_index=ALICE, authorization=token
        )
    ).trades
    assert [t.size for t in trades] == ["0.006", "0.004"]  # newest first
    t = trades[-1]
    assert t.price == f"{price:.1f}" and t.usd_amount == f"{price * D('0.004'):.6f}"
    assert (t.ask_account_id, t.bid_account_id) == (ALICE, BOB)
    assert (t.ask_client_id, t.bid_client_id) == (41, 51)
    assert t.is_maker_ask is True
    assert (t.maker_fee, t.taker_fee) == (100, 400)  # 0.01 % and 0.04 % in 1e-6 units
    assert len(t.tx_hash) == 80
    recent = (await alice.orders.recent_trades(market_id=BTC, limit=5)).trades
    assert [x.trade_id for x in recent[:2]] == [trades[0].trade_id, trades[1].trade_id]

    # reduce-only market sell of 0.050 is clamped to bob's 0.010
    _, resp, err = await s.create_market_order(BTC, 53, 50, bid - 500, True, reduce_only=True)
    assert err is None and resp.code == 200
    closed = await bob.wait_order(53, lambda o: o["status"] != "open")
    assert closed["filled_base_amount"] == "0.010" and closed["reduce_only"] is True
    assert (await bob.position(BTC)).position == "0.000"
    # nothing left to reduce
    _, resp, err = await s.create_market_order(BTC, 54, 5, bid - 500, True, reduce_only=True)
    assert err is None and resp.code == 200
    none = await bob.wait_order(54, lambda o: o["status"] != "open")
    assert none["status"] == "canceled-reduce-only"


async def test_modify_keeps_index_and_post_only_cross(emu: EmulatorHarness, alice: Sdk) -> None:
    bid, ask = book(emu)
    await alice.post_only(BTC, 61, 10, bid - 20, False)
    before = await alice.wait_order(61)
    _, resp, err = await alice.signer.modify_order(BTC, 61, 30, bid - 10)
    assert err is None and resp.code == 200
    after = await alice.wait_order(61, lambda o: o["initial_base_amount"] == "0.030")
    assert after["order_index"] == before["order_index"]
    assert after["price"] == f"{D(bid - 10) / 10:.1f}" and after["status"] == "open"
    _, resp, err = await alice.signer.modify_order(BTC, before["order_index"], 30, ask + 5)
    assert err is None and resp.code == 200
    crossed = await alice.wait_order(61, lambda o: o["status"] != "open")
    assert crossed["status"] == "canceled-post-only"


async def test_cancel_all_market_scoped_then_all(emu: EmulatorHarness, alice: Sdk) -> None:
    btc_bid, _ = book(emu)
    eth_bid, _ = book(emu, "ETH-PERP")
    await alice.post_only(BTC, 71, 10, btc_bid - 20, False)
    await alice.post_only(ETH, 72, 5, eth_bid - 20, False)
    await alice.wait_order(72)
    s = alice.signer
    _, resp, err = await s.cancel_all_orders(
        s.CANCEL_ALL_TIF_IMMEDIATE, 0, cancel_all_market_index=BTC
    )
    assert err is None and resp.code == 200
    await alice.wait_order(71, lambda o: o["status"] == "canceled")
    assert alice.order(72)["status"] == "open"
    _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_IMMEDIATE, 0)
    assert err is None and resp.code == 200
    await alice.wait_order(72, lambda o: o["status"] == "canceled")


async def test_one_scheduled_cancel_all_is_queued_renewed_by_abort_then_schedule(
    make_emu: Callable[..., EmulatorHarness],
) -> None:
    """Lighter keeps one queued scheduled cancel-all and answers another with 21712
    (docs/errors); a renewal aborts the queued one, then schedules (the API server counts
    the accepted abort: the two may go back to back)."""
    emu = make_emu(paused=False, min_scheduled_cancel_ms=200, step_ms=50)
    alice = Sdk(emu, ALICE, {ALICE_KEY: ALICE_PRIV})
    try:
        s = alice.signer
        bid, _ = book(emu)
        await alice.post_only(BTC, 81, 10, bid - 200, False)
        await alice.wait_order(81)
        now = int(time.time() * 1000)
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 50)
        assert resp is None and "21714" in err  # closer than min_scheduled_cancel_ms
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 400)
        assert err is None and resp.code == 200
        # a second one while the first is queued: refused, the first stays
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 900)
        assert resp is None and "21712" in err
        assert emu.call(lambda: emu.dialect.stats.schedules_refused) == 1
        # the renewal: abort, then schedule
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_ABORT, 0)
        assert err is None and resp.code == 200
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 900)
        assert err is None and resp.code == 200
        await until(lambda: emu.call(lambda: emu.dialect.schedule(ALICE)) == (now + 900, None))
        acct = (await alice.accounts.account(by="index", value=str(ALICE))).accounts[0]
        assert acct.cancel_all_time == now + 900
        await alice.wait_order(81, lambda o: o["status"] == "canceled", timeout=3)
        assert time.time() * 1000 >= now + 900  # by the new deadline, not the aborted one
        assert emu.call(lambda: emu.dialect.stats.schedules_fired) == 1
        assert emu.call(lambda: emu.dialect.schedule(ALICE)) is None
        # an abort alone disarms it
        await alice.post_only(BTC, 82, 10, bid - 200, False)
        await alice.wait_order(82)
        now = int(time.time() * 1000)
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 300)
        assert err is None and resp.code == 200  # the fired one is no longer queued
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_ABORT, 0)
        assert err is None and resp.code == 200
        await until(lambda: emu.call(lambda: emu.dialect.schedule(ALICE)) is None)
        await until(lambda: time.time() * 1000 > now + 500, what="past the aborted deadline")
        assert alice.order(82)["status"] == "open"
        assert emu.call(lambda: emu.dialect.stats.schedules_fired) == 1
    finally:
        await alice.close()


async def test_a_stricter_venue_refuses_the_schedule_until_the_abort_executed(
    make_emu: Callable[..., EmulatorHarness],
) -> None:
    """``credit_queued_abort=False``: an abort counts once executed (the guess the
    connector's fallback is tested against)."""
    emu = make_emu(
        paused=False, min_scheduled_cancel_ms=200, apply_delay_ms=400, credit_queued_abort=False
    )
    alice = Sdk(emu, ALICE, {ALICE_KEY: ALICE_PRIV})
    try:
        s = alice.signer
        now = int(time.time() * 1000)
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 5000)
        assert err is None and resp.code == 200
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_ABORT, 0)
        assert err is None and resp.code == 200
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 6000)
        assert resp is None and "21712" in err  # the abort has not executed yet
        await until(lambda: emu.call(lambda: emu.dialect.stats.schedules_aborted) == 1)
        _, resp, err = await s.cancel_all_orders(s.CANCEL_ALL_TIF_SCHEDULED, now + 6000)
        assert err is None and resp.code == 200
    finally:
        await alice.close()


async def test_reject_next_order_fault(emu: EmulatorHarness, alice: Sdk) -> None:
    bid, _ = book(emu)
    emu.faults.reject_next_order(f"{ALICE}:{ALICE_KEY}")
    await alice.post_only(BTC, 91, 10, bid - 20, False)
    rejected = await alice.wait_order(91, lambda o: o["status"] != "open")
    assert rejected["status"] == "canceled-margin-not-allowed"
    emu.faults.reject_next_order(f"{ALICE}:{ALICE_KEY}", "canceled-invalid-balance")
    await alice.post_only(BTC, 92, 10, bid - 20, False)
    rejected = await alice.wait_order(92, lambda o: o["status"] != "open")
    assert rejected["status"] == "canceled-invalid-balance"


# -- raw sendTx: structure, duplicates, batches -------------------------------------------------


async def test_structural_refusals_do_not_consume_the_nonce(
    emu: EmulatorHarness, alice: Sdk
) -> None:
    s = alice.signer
    bid, _ = book(emu)

    def signed(coi: int, nonce: int, **over: Any) -> str:
        _, info, _, err = s.sign_create_order(
            BTC,
            coi,
            10,
            bid - 20,
            0,
            s.ORDER_TYPE_LIMIT,
            s.ORDER_TIME_IN_FORCE_POST_ONLY,
            nonce=nonce,
            api_key_index=ALICE_KEY,
        )
        assert err is None
        obj = json.loads(info)
        for k, v in over.items():
            if v is None:
                del obj[k]
            else:
                obj[k] = v
        return json.dumps(obj)

    async with aiohttp.ClientSession() as http:

        async def send(info: str, tx_type: int = 14) -> tuple[int, dict[str, Any]]:
            data = {"tx_type": str(tx_type), "tx_info": info}
            async with http.post(f"{emu.base_url}/api/v1/sendTx", data=data) as resp:
                return resp.status, await resp.json()

        cases = [
            (signed(101, 1, Sig=None), 21501, "Sig"),
            (signed(101, 1, Extra=1), 21501, "Extra"),
            (signed(101, 1, Price="1"), 21501, "Price"),
            (signed(101, 1, Sig="AAAA"), 21120, "Sig"),
            (signed(101, 1, ExpiredAt=int(time.time() * 1000) - 1), 21103, "ExpiredAt"),
            (signed(101, 1, AccountIndex=777), 21100, "account"),
            (signed(101, 1, ApiKeyIndex=9), 21109, "api key"),
            (signed(101, 1, MarketIndex=9), 21602, "MarketIndex"),
            (signed(101, 1, Price=0), 21702, "Price"),
            (signed(101, 1, BaseAmount=0), 21701, "BaseAmount"),
            (signed(101, 1, IsAsk=2), 21703, "IsAsk"),
            (signed(101, 1, Type=2), 21704, "Type"),
            (signed(101, 1, TimeInForce=7), 21705, "TimeInForce"),
            (signed(101, 1, OrderExpiry=int(time.time() * 1000) + 1000), 21711, "OrderExpiry"),
            (signed(101, 1, ClientOrderIndex=2**48), 21727, "ClientOrderIndex"),
            (signed(101, 2), 21104, "invalid nonce"),
            ("{not json", 21501, "JSON"),
        ]
        for info, code, needle in cases:
            status, body = await send(info)
            assert (status, body["code"]) == (400, code), (needle, body)
            assert needle in body["message"], body
        status, body = await send(signed(101, 1), tx_type=99)
        assert (status, body["code"]) == (400, 21505)
        # nothing above consumed the nonce; a duplicate live client index is refused at once
        status, body = await send(signed(101, 1))
        assert status == 200 and body["code"] == 200 and len(body["tx_hash"]) == 80
        status, body = await send(signed(101, 2))
        assert (status, body) == (
            400,
            {"code": 21728, "message": "client order index already exists"},
        )
        status, body = await send(signed(102, 2))
        assert status == 200
    await alice.wait_order(102)
    assert emu.call(lambda: emu.dialect.next_nonce(ALICE, ALICE_KEY)) == 3


async def test_send_tx_batch_all_or_nothing(emu: EmulatorHarness, alice: Sdk) -> None:
    s = alice.signer
    bid, _ = book(emu)

    def create(coi: int, nonce: int) -> str:
        _, info, _, err = s.sign_create_order(
            BTC,
            coi,
            10,
            bid - 20 - coi % 10,
            0,
            s.ORDER_TYPE_LIMIT,
            s.ORDER_TIME_IN_FORCE_POST_ONLY,
            nonce=nonce,
            api_key_index=ALICE_KEY,
        )
        assert err is None
        return info

    async with aiohttp.ClientSession() as http:

        async def batch(infos: list[str]) -> tuple[int, dict[str, Any]]:
            data = {"tx_types": json.dumps([14] * len(infos)), "tx_infos": json.dumps(infos)}
            async with http.post(f"{emu.base_url}/api/v1/sendTxBatch", data=data) as resp:
                return resp.status, await resp.json()

        status, body = await batch([create(111, 1), create(112, 3)])  # second nonce wrong
        assert (status, body["code"]) == (400, 21104)
        status, body = await batch([create(111, 1), create(111, 2)])  # duplicate in batch
        assert (status, body["code"]) == (400, 21728)
        status, body = await batch([create(111, 1), create(112, 2)])
        assert status == 200 and len(body["tx_hash"]) == 2
    await alice.wait_order(111)
    await alice.wait_order(112)
    assert emu.call(lambda: emu.dialect.next_nonce(ALICE, ALICE_KEY)) == 3


async def test_second_key_has_its_own_nonce(emu: EmulatorHarness) -> None:
    sdk = Sdk(emu, ALICE, {ALICE_KEY: ALICE_PRIV, ALICE_KEY2: ALICE2_PRIV})
    try:
        bid, _ = book(emu)
        s = sdk.signer
        for coi, key in ((121, ALICE_KEY), (122, ALICE_KEY2), (123, ALICE_KEY2)):
            _, resp, err = await s.create_order(
                BTC,
                coi,
                10,
                bid - 20,
                False,
                s.ORDER_TYPE_LIMIT,
                s.ORDER_TIME_IN_FORCE_POST_ONLY,
                api_key_index=key,
            )
            assert err is None and resp.code == 200
            # an explicit key makes the Go signer read nextNonce itself, which counts only
            # executed txs (the SDK's ApiNonceManager: wait for the previous one first)
            await sdk.wait_order(coi)
        nonces = emu.call(
            lambda: (emu.dialect.next_nonce(ALICE, ALICE_KEY), emu.dialect.next_nonce(ALICE, 4))
        )
        assert nonces == (2, 3)
    finally:
        await sdk.close()


# -- auth tokens ---------------------------------------------------------------------------------


async def test_auth_token_refusals_and_expire_fault(emu: EmulatorHarness, alice: Sdk) -> None:
    token = alice.token()
    expiry, account, key, sig = token.split(":")
    assert (int(account), int(key), len(sig)) == (ALICE, ALICE_KEY, 160)
    assert (
        await alice.orders.account_active_orders(
            authorization=token, account_index=ALICE, market_id=BTC
        )
    ).code == 200
    url = f"{emu.base_url}/api/v1/accountActiveOrders?account_index={ALICE}&market_id={BTC}"
    bad_tokens = [
        "",
        "garbage",
        f"{int(time.time()) - 5}:{ALICE}:{ALICE_KEY}:{sig}",  # expired
        f"{int(time.time()) + 9 * 3600}:{ALICE}:{ALICE_KEY}:{sig}",  # more than 8 h out
        f"{expiry}:{ALICE}:9:{sig}",  # unregistered key
        f"{expiry}:{BOB}:{BOB_KEY}:{sig}",  # someone else's account
    ]
    async with aiohttp.ClientSession() as http:
        for bad_token in bad_tokens:
            async with http.get(url, headers={"Authorization": bad_token}) as resp:
                assert resp.status == 401, bad_token
                assert await resp.json() == {"code": 20013, "message": "invalid auth token"}
        async with http.get(url + f"&auth={token}") as resp:  # the older query style
            assert resp.status == 200
        emu.call(lambda: emu.dialect.expire_tokens())
        async with http.get(url, headers={"Authorization": token}) as resp:
            assert resp.status == 401
        fresh = alice.token(900)
        async with http.get(url, headers={"Authorization": fresh}) as resp:
            assert resp.status == 200
    with pytest.raises(lighter.exceptions.UnauthorizedException):
        await alice.orders.account_active_orders(
            authorization=token, account_index=ALICE, market_id=BTC
        )
    assert emu.call(lambda: emu.dialect.stats.auth_refused) >= len(bad_tokens) + 2


# -- HTTP faults ---------------------------------------------------------------------------------


async def test_http_faults_have_lighter_bodies(emu: EmulatorHarness) -> None:
    emu.faults.http_errors(1, status=429, retry_after_s=2)
    emu.faults.http_errors(1, status=503)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{emu.base_url}/api/v1/orderBooks") as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "2"
            assert (await resp.json())["code"] == 23000
        async with http.get(f"{emu.base_url}/api/v1/orderBooks") as resp:
            assert resp.status == 503 and (await resp.json())["code"] == 29500
        async with http.get(f"{emu.base_url}/api/v1/orderBooks") as resp:
            assert resp.status == 200


# -- WebSocket -----------------------------------------------------------------------------------


async def test_ws_order_book_snapshot_chain_and_skip_fault(emu: EmulatorHarness) -> None:
    emu.resume()
    async with websockets.connect(emu.ws_url) as ws:
        hello = await recv(ws)
        assert hello["type"] == "connected" and hello["session_id"]
        await ws.send(json.dumps({"type": "subscribe", "channel": f"order_book/{BTC}"}))
        snap = await recv(ws)
        assert snap["type"] == "subscribed/order_book" and snap["channel"] == f"order_book:{BTC}"
        ob = snap["order_book"]
        asks = [D(x["price"]) for x in ob["asks"]]
        bids = [D(x["price"]) for x in ob["bids"]]
        assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
        assert all(decimals(x["price"]) == 1 and decimals(x["size"]) == 3 for x in ob["asks"])
        prev_nonce, prev_offset, gaps = ob["nonce"], snap["offset"], set()
        for _ in range(8):
            msg = await recv_until(ws, lambda m: m.get("type") == "update/order_book")
            book_msg = msg["order_book"]
            assert book_msg["begin_nonce"] == prev_nonce
            assert msg["offset"] > prev_offset and book_msg["offset"] == msg["offset"]
            gaps.add(msg["offset"] - prev_offset)
            prev_nonce, prev_offset = book_msg["nonce"], msg["offset"]
        assert gaps != {1}  # offsets are not contiguous
        emu.faults.skip_book_ids(3, "BTC")
        msg = await recv_until(ws, lambda m: m.get("type") == "update/order_book")
        assert msg["order_book"]["begin_nonce"] == prev_nonce + 3  # chain broken
        # resubscribe: a fresh snapshot, and the chain continues from it
        await ws.send(json.dumps({"type": "unsubscribe", "channel": f"order_book/{BTC}"}))
        await ws.send(json.dumps({"type": "subscribe", "channel": f"order_book/{BTC}"}))
        snap = await recv_until(ws, lambda m: m.get("type") == "subscribed/order_book")
        nxt = await recv_until(ws, lambda m: m.get("type") == "update/order_book")
        assert nxt["order_book"]["begin_nonce"] == snap["order_book"]["nonce"]


async def test_ws_account_channels_auth_orders_trades_positions(
    emu: EmulatorHarness, alice: Sdk, bob: Sdk
) -> None:
    token = alice.token()
    async with websockets.connect(emu.ws_url) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "subscribe", "channel": f"account_all_orders/{ALICE}"}))
        err = await recv(ws)
        assert (
            err["error"]["code"] == 20013
            and f"account_all_orders/{ALICE}" in err["error"]["message"]
        )
        await ws.send(
            json.dumps(
                {"type": "subscribe", "channel": f"account_all_orders/{ALICE}", "auth": bob.token()}
            )
        )
        assert (await recv(ws))["error"]["code"] == 20013  # bob's token, alice's account
        for channel in (
            f"account_all_orders/{ALICE}",
            f"account_orders/{BTC}/{ALICE}",
            f"account_all_trades/{ALICE}",
            f"account_all_positions/{ALICE}",
            f"user_stats/{ALICE}",
        ):
            await ws.send(json.dumps({"type": "subscribe", "channel": channel, "auth": token}))
            first = await recv(ws)
            kind = channel.split("/")[0]
            assert first["type"] == f"subscribed/{kind}", first
            assert first["channel"] == channel.replace("/", ":")
        await ws.send(json.dumps({"type": "subscribe", "channel": f"account_all/{ALICE}"}))
        assert (await recv(ws))["type"] == "subscribed/account_all"
        await ws.send(json.dumps({"type": "subscribe", "channel": f"trade/{BTC}"}))
        assert (await recv(ws))["type"] == "subscribed/trade"

        bid, ask = book(emu)
        inside = (bid + ask) // 2
        await alice.post_only(BTC, 131, 10, inside, True)
        await alice.post_only(BTC, 132, 10, bid - 100, False)
        msg = await recv_until(ws, lambda m: m.get("type") == "update/account_all_orders")
        got = [o for o in msg["orders"][str(BTC)] if o["client_order_index"] == 131]
        assert got and got[0]["status"] == "open"
        await recv_until(
            ws,
            lambda m: (
                m.get("type") == "update/account_all_orders"
                and any(o["client_order_index"] == 132 for o in m["orders"][str(BTC)])
            ),
        )
        _, resp, _ = await bob.signer.create_market_order(BTC, 141, 10, inside, False)
        assert resp.code == 200
        seen: dict[str, Any] = {}
        want = {
            "update/account_all_orders",
            "update/account_orders",
            "update/account_all_trades",
            "update/account_all_positions",
            "update/account_all",
            "update/user_stats",
            "update/trade",
        }
        while not want <= set(seen):
            m = await recv(ws)
            seen.setdefault(m.get("type", "?"), m)
        orders = seen["update/account_all_orders"]["orders"][str(BTC)]
        assert [(o["client_order_index"], o["status"]) for o in orders] == [(131, "filled")]
        assert seen["update/account_orders"]["account"] == ALICE
        trade = seen["update/account_all_trades"]["trades"][str(BTC)][0]
        assert trade["ask_client_id"] == 131 and trade["size"] == "0.010"
        assert trade["maker_fee"] == 100 and trade["taker_fee"] == 400
        pos = seen["update/account_all_positions"]["positions"][str(BTC)]
        assert (pos["sign"], pos["position"]) == (-1, "0.010")
        assert seen["update/account_all"]["positions"][str(BTC)]["position"] == "0.010"
        assert seen["update/trade"]["trades"][0]["trade_id"] == trade["trade_id"]
        assert "collateral" in seen["update/user_stats"]["stats"]


async def test_ws_market_stats_and_bad_frames(emu: EmulatorHarness) -> None:
    emu.resume()
    async with websockets.connect(emu.ws_url) as ws:
        await recv(ws)
        # Lighter's table: 30007 Invalid Data, 30006 Operation not supported
        await ws.send("{not json")
        assert (await recv(ws))["error"]["code"] == 30007
        await ws.send(json.dumps(["a"]))
        assert (await recv(ws))["error"]["code"] == 30007
        await ws.send(json.dumps({"type": "subscribe", "channel": "order_book/99"}))
        assert (await recv(ws))["error"]["code"] == 30007
        await ws.send(json.dumps({"type": "subscribe", "channel": "nonsense/1"}))
        assert (await recv(ws))["error"]["code"] == 30007
        await ws.send(json.dumps({"type": "frobnicate"}))
        assert (await recv(ws))["error"]["code"] == 30006
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}  # the connection survived the bad frames
        await ws.send(json.dumps({"type": "subscribe", "channel": "market_stats/all"}))
        snap = await recv(ws)
        assert snap["type"] == "subscribed/market_stats"
        assert set(snap["market_stats"]) == {"0", "1", "2"}
        await ws.send(json.dumps({"type": "subscribe", "channel": f"market_stats/{BTC}"}))
        one = await recv_until(ws, lambda m: m.get("channel") == f"market_stats:{BTC}")
        assert decimals(one["market_stats"]["mark_price"]) == 1
        await ws.send(json.dumps({"type": "subscribe", "channel": f"market_stats/{BTC}"}))
        # 30003 Already Subscribed, in the flat shape NautilusTrader recorded
        await recv_until(ws, lambda m: m.get("type") == "error" and m.get("code") == 30003)
    assert emu.call(lambda: emu.dialect.stats.bad_frames) >= 2


async def test_ws_server_ping_and_idle_disconnect(
    make_emu: Callable[..., EmulatorHarness],
) -> None:
    emu = make_emu(ping_interval_s=0.2, idle_timeout_s=0.7)
    async with websockets.connect(emu.ws_url) as quiet, websockets.connect(emu.ws_url) as chatty:
        await recv(quiet)
        await recv(chatty)
        start = time.monotonic()
        pings = 0
        while time.monotonic() - start < 1.2:
            msg = await recv(chatty, 1.0)
            if msg == {"type": "ping"}:
                pings += 1
                await chatty.send(json.dumps({"type": "pong"}))
        assert pings >= 3
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                assert await recv(quiet, 1.0) == {"type": "ping"}
        assert closed.value.rcvd is not None and closed.value.rcvd.reason == "idle timeout"
        await chatty.send(json.dumps({"type": "ping"}))
        assert await recv_until(chatty, lambda m: m == {"type": "pong"})
    assert emu.call(lambda: emu.dialect.stats.idle_disconnects) == 1


async def test_close_sockets_fault(emu: EmulatorHarness) -> None:
    async with websockets.connect(emu.ws_url) as a, websockets.connect(emu.ws_url) as b:
        await recv(a)
        await recv(b)
        assert emu.faults.close_sockets(abrupt=False) == 2
        for ws in (a, b):
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)
    async with websockets.connect(emu.ws_url) as c:
        await recv(c)
        assert emu.faults.close_sockets(abrupt=True) == 1
        with pytest.raises(websockets.ConnectionClosed):
            await recv(c)


def test_factory_validates_keys() -> None:
    with pytest.raises(ValueError, match="40 bytes"):
        lighter_emulator([LighterKey(1, 3, "abcd")])
    with pytest.raises(ValueError, match="maps to both"):
        lighter_emulator([LighterKey(1, 3, ALICE_PUB, "a"), LighterKey(1, 4, BOB_PUB, "b")])
    with pytest.raises(ValueError, match="given twice"):
        lighter_emulator([LighterKey(1, 3, ALICE_PUB), LighterKey(1, 3, BOB_PUB)])
    emu = lighter_emulator(KEYS)
    assert emu.accounts == {"4242:3": "alice", "4242:4": "alice", "5151:2": "bob"}
    assert emu.dialect.ws_path == "/stream"


async def test_sdk_ws_client_book_matches_the_venue(
    make_emu: Callable[..., EmulatorHarness],
) -> None:
    emu = make_emu(flow=FlowParams(taker_rate=20.0), step_ms=20, paused=False)
    books: dict[str, Any] = {}
    accounts: dict[str, Any] = {}
    client = lighter.WsClient(
        ws_url=emu.ws_url,
        order_book_ids=[BTC, ETH],
        account_ids=[ALICE],
        on_order_book_update=lambda m, b: books.__setitem__(m, b),
        on_account_update=lambda a, msg: accounts.__setitem__(a, msg),
    )
    task = asyncio.create_task(client.run_async())
    try:
        await asyncio.sleep(0.8)
        emu.pause()
        await asyncio.sleep(0.2)  # let the last pushes arrive
        assert str(ALICE) in accounts and accounts[str(ALICE)]["account"] == ALICE
        for market, symbol in ((BTC, "BTC-PERP"), (ETH, "ETH-PERP")):
            bids, asks, _ = emu.call(lambda s=symbol: emu.venue.snapshot(s, 10_000))
            inst = emu.venue.instruments[symbol]

            def levels(raw: list[dict[str, str]], reverse: bool) -> list[tuple[D, D]]:
                out = sorted(((D(x["price"]), D(x["size"])) for x in raw), reverse=reverse)
                return out

            want_bids = [(inst.ticks_to_price(p), inst.lots_to_size(q)) for p, q in bids]
            want_asks = [(inst.ticks_to_price(p), inst.lots_to_size(q)) for p, q in asks]
            state = books[str(market)]
            assert levels(state["bids"], True) == want_bids
            assert levels(state["asks"], False) == want_asks
        assert emu.call(lambda: emu.world.steps) > 10
    finally:
        task.cancel()
        if client.ws is not None:
            await client.ws.close()


async def test_order_expiry_cancels_with_canceled_expired(
    make_emu: Callable[..., EmulatorHarness],
) -> None:
    emu = make_emu(paused=False, step_ms=50)
    emu.call(lambda: setattr(emu.dialect, "min_order_expiry_ms", 0))
    alice = Sdk(emu, ALICE, {ALICE_KEY: ALICE_PRIV})
    try:
        bid, _ = book(emu)
        s = alice.signer
        expiry = int(time.time() * 1000) + 300
        _, resp, err = await s.create_order(
            BTC,
            151,
            10,
            bid - 200,
            False,
            s.ORDER_TYPE_LIMIT,
            s.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
            order_expiry=expiry,
        )
        assert err is None and resp.code == 200
        o = await alice.wait_order(151)
        assert o["order_expiry"] == expiry and o["time_in_force"] == "good-till-time"
        done = await alice.wait_order(151, lambda x: x["status"] != "open", timeout=2)
        assert done["status"] == "canceled-expired"
    finally:
        await alice.close()


async def test_shutdown_announcement_then_close(emu: EmulatorHarness) -> None:
    async with websockets.connect(emu.ws_url) as ws:
        await recv(ws)
        assert emu.call(lambda: emu.dialect.announce_shutdown(100)) == 1
        assert await recv(ws) == {"type": "shutdown", "close_in_ms": 100}
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def test_ws_sendtx_and_expired_token_on_ws(emu: EmulatorHarness, alice: Sdk) -> None:
    s = alice.signer
    bid, _ = book(emu)
    _, info, _, err = s.sign_create_order(
        BTC,
        161,
        10,
        bid - 30,
        0,
        s.ORDER_TYPE_LIMIT,
        s.ORDER_TIME_IN_FORCE_POST_ONLY,
        nonce=1,
        api_key_index=ALICE_KEY,
    )
    assert err is None
    async with websockets.connect(emu.ws_url) as ws:
        await recv(ws)
        send = {"type": "jsonapi/sendtx", "data": {"id": "a1", "tx_type": 14}}
        await ws.send(json.dumps(send | {"data": send["data"] | {"tx_info": json.loads(info)}}))
        ok = await recv(ws)
        assert ok["type"] == "jsonapi/sendtx" and ok["data"]["id"] == "a1"
        assert ok["data"]["code"] == 200 and len(ok["data"]["tx_hash"]) == 80
        await ws.send(json.dumps(send | {"data": send["data"] | {"id": "a2", "tx_info": info}}))
        again = await recv(ws)
        assert again["data"] == {"id": "a2", "code": 21104, "message": "invalid nonce"}
        await alice.wait_order(161)

        token = alice.token()
        sub = {"type": "subscribe", "channel": f"account_all_orders/{ALICE}", "auth": token}
        await ws.send(json.dumps(sub))
        first = await recv(ws)
        assert [o["client_order_index"] for o in first["orders"][str(BTC)]] == [161]
        await ws.send(json.dumps({"type": "unsubscribe", "channel": f"account_all_orders/{ALICE}"}))
        emu.call(lambda: emu.dialect.expire_tokens())
        await ws.send(json.dumps(sub))
        assert (await recv(ws))["error"]["code"] == 20013


async def test_inactive_orders_and_trades_pagination(
    emu: EmulatorHarness, alice: Sdk, bob: Sdk
) -> None:
    bid, ask = book(emu)
    for coi in range(171, 176):
        await alice.post_only(BTC, coi, 10, bid - 50 - coi, False)
    _, resp, err = await alice.signer.cancel_all_orders(0, 0)
    assert err is None and resp.code == 200
    await alice.wait_order(175, lambda o: o["status"] == "canceled")
    token = alice.token()
    page1 = await alice.orders.account_inactive_orders(
        authorization=token, account_index=ALICE, limit=3
    )
    assert len(page1.orders) == 3 and page1.next_cursor
    page2 = await alice.orders.account_inactive_orders(
        authorization=token, account_index=ALICE, limit=3, cursor=page1.next_cursor
    )
    assert len(page2.orders) == 2 and not page2.next_cursor
    seen = {o.client_order_index for o in page1.orders + page2.orders}
    assert seen == set(range(171, 176))

    inside = (bid + ask) // 2
    await alice.post_only(BTC, 181, 30, inside, True)
    maker = await alice.wait_order(181)
    for coi in (191, 192, 193):
        _, resp, err = await bob.signer.create_market_order(BTC, coi, 10, inside, False)
        assert err is None and resp.code == 200
    await alice.wait_order(181, lambda o: o["status"] == "filled")
    trades = await alice.orders.trades(
        sort_by="timestamp",
        limit=2,
        account_index=ALICE,
        authorization=token,
        order_index=maker["order_index"],
    )
    assert [t.bid_client_id for t in trades.trades] == [193, 192] and trades.next_cursor
    rest = await alice.orders.trades(
        sort_by="timestamp",
        limit=2,
        account_index=ALICE,
        authorization=token,
        cursor=trades.next_cursor,
    )
    assert [t.bid_client_id for t in rest.trades] == [191]


async def test_self_trade_cancels_the_maker_and_eth_decimals(
    emu: EmulatorHarness, alice: Sdk
) -> None:
    bid, ask = book(emu, "ETH-PERP")
    inside = (bid + ask) // 2
    assert bid < inside < ask
    await alice.post_only(ETH, 201, 5, inside, True)  # ask 0.05 ETH
    maker = await alice.wait_order(201)
    assert maker["price"] == f"{D(inside) / 100:.2f}" and maker["initial_base_amount"] == "0.05"
    s = alice.signer
    _, resp, err = await s.create_order(
        ETH, 202, 5, inside, False, s.ORDER_TYPE_LIMIT, s.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME
    )
    assert err is None and resp.code == 200
    gone = await alice.wait_order(201, lambda o: o["status"] != "open")
    assert gone["status"] == "canceled-self-trade"
    taker = await alice.wait_order(202)
    assert taker["status"] == "open" and taker["filled_base_amount"] == "0.00"
    assert taker["time_in_force"] == "good-till-time"


async def test_injected_tx_failures_roll_the_sdk_nonce_back(
    emu: EmulatorHarness, alice: Sdk
) -> None:
    bid, _ = book(emu)
    s = alice.signer
    emu.call(lambda: emu.dialect.fail_next_txs(1, code=21500, message="busy"))
    _, resp, err = await s.create_order(
        BTC, 211, 10, bid - 20, False, s.ORDER_TYPE_LIMIT, s.ORDER_TIME_IN_FORCE_POST_ONLY
    )
    assert err is None and resp.code == 21500  # HTTP 200, but not a success
    emu.call(lambda: emu.dialect.fail_next_txs(1, code=29500, http_status=503))
    with pytest.raises(lighter.exceptions.ApiException):
        await s.create_order(
            BTC, 211, 10, bid - 20, False, s.ORDER_TYPE_LIMIT, s.ORDER_TIME_IN_FORCE_POST_ONLY
        )
    # 1.1.8 rolls its nonce back only for a 200 with code != 200 (or a non-nonce 400): after
    # the 503 exception it is one ahead, gets "invalid nonce", re-syncs, and then goes through
    _, resp, err = await s.create_order(
        BTC, 211, 10, bid - 20, False, s.ORDER_TYPE_LIMIT, s.ORDER_TIME_IN_FORCE_POST_ONLY
    )
    assert resp is None and "21104" in err
    await alice.post_only(BTC, 211, 10, bid - 20, False)
    assert (await alice.wait_order(211))["nonce"] == 1
    assert emu.call(lambda: emu.dialect.stats.txs_accepted) == 1
