"""Our GRVT connector (and the SDK's own raw client) against the loopback emulator.

Everything is real: aiohttp/websockets on 127.0.0.1, EIP-712 signatures checked by
recovery, the sim matching engine behind the emulator. Waits are bounded polls.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import dacite
import pytest
from eth_account import Account
from pysdk import grvt_raw_types as t
from pysdk.grvt_raw_async import GrvtRawAsync
from pysdk.grvt_raw_base import GrvtApiConfig
from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import (
    DUPLICATE_CLIENT_ID,
    ConnectionChanged,
    ConnectionState,
    ErrorCode,
    OrderRequest,
    OrderStatus,
    OrderType,
    RateLimited,
    Side,
    TimeInForce,
    Trade,
    VenueError,
)
from connectors.grvt.keys import GrvtKeys
from tests.grvt.conftest import ACCOUNT, BTC, ETH, SIM, Rig, connector_for, until


def _post_only(cid: str, symbol: str, side: Side, size: str, price: Decimal) -> OrderRequest:
    return OrderRequest(cid, symbol, side, Decimal(size), price=price, post_only=True)


def _away(rig: Rig, symbol: str, ticks: int = 0) -> Decimal:
    """A bid price 2 % under the touch (rests, nobody trades it)."""
    bid, _, tick = rig.touch(symbol)
    return (bid * Decimal("0.98") / tick).to_integral_value() * tick - ticks * tick


async def test_round_trip_with_partial_fills_positions_and_pnl(rig: Rig) -> None:
    conn = rig.conn
    rig.harness.pause()  # freeze the crowd: our quotes inside the spread stay the touch
    try:
        bid, ask, tick = rig.touch(BTC)
        assert ask - bid > 20 * tick
        mid = ((bid + ask) / 2 / tick).to_integral_value()
        p, q = (mid - 5) * tick, (mid + 5) * tick
        ack = await conn.place(_post_only("mmaaaaa-1", BTC, Side.BUY, "0.003", p))
        # as recorded: create_order answers PENDING with order_id "0x00" (none yet)
        assert ack.status is OrderStatus.PENDING and ack.venue_order_id is None
        await until(lambda: any(u.status is OrderStatus.OPEN for u in rig.updates("mmaaaaa-1")))
        rig.take(BTC, Side.SELL, "0.001", p, "o1")
        await until(lambda: len(rig.fills("mmaaaaa-1")) == 1, what="first partial fill")
        await until(
            lambda: rig.updates("mmaaaaa-1")[-1].status is OrderStatus.PARTIALLY_FILLED,
            what="partially filled",
        )
        assert rig.updates("mmaaaaa-1")[-1].remaining_size == Decimal("0.002")
        rig.take(BTC, Side.SELL, "0.002", p, "o2")
        await until(lambda: rig.updates("mmaaaaa-1")[-1].status is OrderStatus.FILLED)
        fills = rig.fills("mmaaaaa-1")
        assert sum(f.size for f in fills) == Decimal("0.003")
        assert {f.side for f in fills} == {Side.BUY} and {f.price for f in fills} == {p}

        (pos,) = await conn.positions()
        assert (pos.symbol, pos.size, pos.entry_price) == (BTC, Decimal("0.003"), p)
        await conn.place(_post_only("mmaaaaa-2", BTC, Side.SELL, "0.001", q))
        await until(lambda: any(u.status is OrderStatus.OPEN for u in rig.updates("mmaaaaa-2")))
        rig.take(BTC, Side.BUY, "0.001", q, "o3")
        await until(lambda: rig.updates("mmaaaaa-2")[-1].status is OrderStatus.FILLED)
        (pos,) = await conn.positions()
        assert pos.size == Decimal("0.002")  # signed: still long
        assert pos.realized_pnl == (q - p) * Decimal("0.001")
        (venue_pos,) = rig.harness.call(lambda: rig.harness.venue.positions(ACCOUNT))
        assert (venue_pos.size, venue_pos.realized_pnl) == (pos.size, pos.realized_pnl)
        # REST fill history = what the stream delivered
        listed = await conn.fills_since(0)
        assert sorted(f.trade_id for f in listed) == sorted(
            f.trade_id for f in rig.fills("mmaaaaa-1") + rig.fills("mmaaaaa-2")
        )
        (balance,) = await conn.balances()
        assert balance.asset == "USDT" and balance.total > 0
        summary = await conn.account_summary()
        assert summary["sub_account_id"] == rig.creds.sub_account_id
    finally:
        rig.harness.resume()


async def test_post_only_that_would_cross_is_rejected_asynchronously(rig: Rig) -> None:
    rig.harness.pause()  # the ask must not move away before the order is matched
    try:
        _, ask, tick = rig.touch(BTC)
        ack = await rig.conn.place(_post_only("mmaaaaa-5", BTC, Side.BUY, "0.001", ask + tick))
        assert ack.status is OrderStatus.PENDING  # accepted first, as GRVT does
        await until(lambda: bool(rig.updates("mmaaaaa-5")), what="the async outcome")
    finally:
        rig.harness.resume()
    (update,) = rig.updates("mmaaaaa-5")
    assert (update.status, update.reason) == (OrderStatus.REJECTED, "FAIL_POST_ONLY")
    assert rig.venue_orders() == []


async def test_cancel_by_client_id(rig: Rig) -> None:
    await rig.conn.place(_post_only("mmaaaaa-7", BTC, Side.BUY, "0.001", _away(rig, BTC)))
    await until(lambda: any(u.status is OrderStatus.OPEN for u in rig.updates("mmaaaaa-7")))
    assert [o.client_id for o in await rig.conn.open_orders(BTC)] == ["mmaaaaa-7"]
    assert await rig.conn.cancel(BTC, "mmaaaaa-7") is True
    await until(lambda: rig.updates("mmaaaaa-7")[-1].status is OrderStatus.CANCELLED)
    assert rig.updates("mmaaaaa-7")[-1].reason == "CLIENT_CANCEL"
    assert await rig.conn.cancel(BTC, "mmaaaaa-7") is False  # no longer on the venue
    assert await rig.conn.open_orders() == []


async def test_cancel_all_is_scoped_to_one_instrument(rig: Rig) -> None:
    await rig.conn.place(_post_only("mmaaaaa-8", BTC, Side.BUY, "0.001", _away(rig, BTC)))
    await rig.conn.place(_post_only("mmaaaaa-9", ETH, Side.BUY, "0.01", _away(rig, ETH)))
    await until(
        lambda: (
            len(rig.venue_orders()) == 2
            and all(o["state"]["status"] == "OPEN" for o in rig.venue_orders())
        )
    )
    assert await rig.conn.cancel_all(BTC) == 1
    await until(lambda: len(rig.venue_orders()) == 1)
    (left,) = rig.venue_orders()
    assert left["legs"][0]["instrument"] == ETH
    assert [o.client_id for o in await rig.conn.open_orders()] == ["mmaaaaa-9"]
    assert await rig.conn.cancel_all(None, "mmaaaaa-") == 1
    await until(lambda: rig.venue_orders() == [])


async def test_a_signature_from_the_wrong_key_is_rejected_and_named(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = Account.create()
    wrong_key = "0x" + wrong.key.hex().removeprefix("0x")
    keys = GrvtKeys(rig.creds.api_key, rig.creds.sub_account_id, wrong_key)
    other = connector_for(rig.harness, keys)
    try:
        await other.connect(lambda e: None)
        with pytest.raises(VenueError) as info:
            await other.place(_post_only("mmbbbbb-1", BTC, Side.BUY, "0.001", _away(rig, BTC)))
        assert info.value.code == ErrorCode.BAD_KEY and not info.value.retryable
        assert info.value.venue_code == "2000"
        assert "not authorised" in str(info.value) and wrong.address in str(info.value)
    finally:
        await other.close()
    assert rig.venue_orders() == []
    assert wrong_key[2:] not in caplog.text and rig.creds.api_key not in caplog.text


async def test_wrong_chain_id_and_expired_signatures_are_refused(rig: Rig) -> None:
    keys = GrvtKeys(rig.creds.api_key, rig.creds.sub_account_id, rig.creds.private_key)
    # signs for chain 325, through the SDK's own sign_order
    prod = connector_for(rig.harness, keys, env=GrvtEnv.PROD, sdk_signer=True)
    stale = connector_for(rig.harness, keys, order_ttl_s=-1.0)
    try:
        for conn, code in ((prod, "1012"), (stale, "2001")):
            await conn.connect(lambda e: None)
            with pytest.raises(VenueError) as info:
                await conn.place(_post_only("mmccccc-1", BTC, Side.BUY, "0.001", _away(rig, BTC)))
            assert info.value.venue_code == code, info.value
    finally:
        await prod.close()
        await stale.close()
    assert rig.venue_orders() == []


async def test_an_expired_session_is_renewed(rig: Rig) -> None:
    conn = rig.conn
    logins = conn.rest.logins
    assert rig.harness.call(rig.dialect.expire_sessions) >= 1
    # REST: the 401 (1000) leads to a new login and the call goes through
    await conn.place(_post_only("mmaaaab-1", BTC, Side.BUY, "0.001", _away(rig, BTC)))
    assert conn.rest.logins == logins + 1
    # WS: the private socket's cookie is dead too; its reconnect logs in again
    rig.harness.call(rig.dialect.expire_sessions)
    rig.harness.faults.close_sockets(abrupt=True)
    await until(lambda: conn.rest.logins >= logins + 2, what="a re-login for the socket")
    await until(lambda: conn.state is ConnectionState.CONNECTED, what="reconnected")
    assert await conn.cancel(BTC, "mmaaaab-1")
    await until(
        lambda: rig.updates("mmaaaab-1")[-1].status is OrderStatus.CANCELLED,
        what="private stream alive again",
    )


async def test_renewal_happens_before_the_cookie_expires(rig: Rig) -> None:
    conn = rig.conn
    logins = conn.rest.logins
    conn.rest.renew_margin_s = 24 * 3600 + 60  # the emulator's cookies live 24 h
    await conn.open_orders()
    assert conn.rest.logins == logins + 1
    assert conn.rest.errors == 0  # renewed up front, never refused


async def test_a_skipped_sequence_number_resyncs_the_book(rig: Rig) -> None:
    conn = rig.conn
    book = conn.book(BTC)
    assert book is not None
    # the first delta after a snapshot is taken as it comes (GRVT's running number):
    # the skipped number must come later to be a gap
    await until(lambda: book.seq > 0, what="deltas flowing")
    resyncs = conn.stats.resyncs
    rig.harness.faults.skip_book_ids(1, BTC)
    await until(lambda: conn.stats.resyncs > resyncs, what="gap detected")
    assert conn.stats.extra.get("first_delta_not_acked", 0) == 0
    await until(lambda: book.is_valid(), what="resynced")
    rig.harness.pause()
    try:
        inst = rig.harness.venue.instruments[SIM[BTC]]

        def same() -> bool:
            bids, asks, _ = rig.harness.call(lambda: rig.harness.venue.snapshot(SIM[BTC], 1000))
            return book.bids_ticks(1000) == [(p, q) for p, q in bids] and book.asks_ticks(1000) == [
                (p, q) for p, q in asks
            ]

        await until(same, what="book equals the emulator's level for level")
        assert inst.tick_size == book.tick_size
    finally:
        rig.harness.resume()


async def test_a_fill_while_the_sockets_were_down_is_in_the_history(rig: Rig) -> None:
    """The connector keeps no reconcile loop of its own (the core owns it): a fill the
    stream never delivered is in ``fills_since``, the order in ``lookup_order``."""
    conn = rig.conn
    rig.harness.pause()  # our "lose" bid is the best bid until the test trades it
    bid, ask, tick = rig.touch(BTC)
    keep, lose = _away(rig, BTC), ((bid + ask) / 2 / tick).to_integral_value() * tick
    await conn.place(_post_only("mmaaaac-1", BTC, Side.BUY, "0.001", keep))
    await conn.place(_post_only("mmaaaac-2", BTC, Side.BUY, "0.001", lose))
    await until(lambda: len(rig.venue_orders()) == 2)
    reconnects = conn.stats.reconnects
    dialect, venue = rig.dialect, rig.harness.venue
    since = rig.harness.call(lambda: venue.now_ms)

    async def drop_then_trade() -> None:
        # In one loop turn: the sockets go, then the order trades. The fill and the
        # FILLED update are pushed to nobody: only the venue's history has them.
        await dialect.close_sockets(abrupt=True)
        venue.submit(
            "other",
            OrderRequest(
                "o5",
                SIM[BTC],
                Side.SELL,
                Decimal("0.001"),
                price=lose,
                time_in_force=TimeInForce.IOC,
            ),
        )

    rig.harness.call_async(drop_then_trade)
    await until(lambda: conn.stats.reconnects > reconnects, what="reconnect")
    await until(lambda: conn.state is ConnectionState.CONNECTED, what="connected again")
    rig.harness.resume()
    assert any(
        isinstance(e, ConnectionChanged) and e.state is ConnectionState.RECONNECTING
        for e in rig.events
    )
    assert rig.fills("mmaaaac-2") == []  # the stream never had it
    (fill,) = [f for f in await conn.fills_since(since) if f.client_id == "mmaaaac-2"]
    assert (fill.side, fill.price, fill.size) == (Side.BUY, lose, Decimal("0.001"))
    found = await conn.lookup_order(BTC, "mmaaaac-2")
    assert found is not None and found.status is OrderStatus.FILLED
    await until(lambda: conn.book(BTC).is_valid(), what="book back")  # type: ignore[union-attr]
    assert [o.client_id for o in await conn.open_orders()] == ["mmaaaac-1"]
    assert await conn.cancel_all(None, "mmaaaac-") == 1
    await until(lambda: rig.venue_orders() == [], what="no orphans")


async def test_a_429_burst_places_the_order_exactly_once(rig: Rig) -> None:
    conn = rig.conn
    request = _post_only("mmaaaad-1", BTC, Side.BUY, "0.001", _away(rig, BTC))
    rig.harness.faults.http_errors(2, status=429)
    for _ in range(2):
        with pytest.raises(RateLimited):
            await conn.place(request)
    ack = await conn.place(request)  # the retry sends the same signed order
    assert ack.status is OrderStatus.PENDING
    # an answer lost after the venue took it: a repeat is a duplicate, not a 2nd order
    with pytest.raises(VenueError) as info:
        await conn.place(request)
    assert info.value.code == DUPLICATE_CLIENT_ID
    await until(lambda: len(rig.venue_orders()) == 1)
    rig.harness.faults.http_errors(1, status=503)
    with pytest.raises(VenueError) as err:
        await conn.open_orders()
    assert err.value.retryable


async def test_malformed_frames_are_skipped_and_counted(rig: Rig) -> None:
    conn = rig.conn
    bad = conn.stats.bad_frames
    junk = [
        "not json",
        "[1, 2]",
        '{"stream": "v1.book.d", "selector": "BTC_USDT_Perp@100", "feed": "oops"}',
        '{"hello": "world"}',
    ]
    for text in junk:
        rig.harness.call(lambda text=text: rig.dialect.send_raw(text))
    await until(lambda: conn.stats.bad_frames >= bad + 2 * len(junk), what="all counted")
    assert conn.state is ConnectionState.CONNECTED
    assert conn.book(BTC).is_valid()  # type: ignore[union-attr]
    # a feed we cannot read as a book (levels off the grid) resyncs instead of guessing
    resyncs = conn.stats.resyncs
    rig.harness.call(
        lambda: rig.dialect.send_raw(
            '{"stream":"v1.book.d","selector":"BTC_USDT_Perp@100","sequence_number":"999999",'
            '"prev_sequence_number":"999998","feed":{"instrument":"BTC_USDT_Perp",'
            '"bids":[{"price":"1.05","size":"1","num_orders":1}],"asks":[]}}'
        )
    )
    await until(lambda: conn.stats.resyncs > resyncs)
    await until(lambda: conn.book(BTC).is_valid(), what="book back")  # type: ignore[union-attr]


async def test_the_dead_man_switch_cancels_when_the_console_dies(rig: Rig) -> None:
    keys = GrvtKeys(rig.creds.api_key, rig.creds.sub_account_id, rig.creds.private_key)
    with pytest.raises(ValueError, match=r"above 1\.0 s"):
        connector_for(rig.harness, keys, dead_man_switch_s=1.0)  # GRVT: <= 1000 ms is off
    conn = connector_for(rig.harness, keys, dead_man_switch_s=1.5)
    await conn.connect(lambda e: None)
    await conn.place(_post_only("mmddddd-1", BTC, Side.BUY, "0.001", _away(rig, BTC)))
    await until(lambda: len(rig.venue_orders()) == 1)
    # the process "dies": no more refreshes, no cancel on the way out
    for task in list(conn._background):
        task.cancel()
    await asyncio.gather(*conn._background, return_exceptions=True)
    await conn.market_ws.close()
    await conn.trade_ws.close()  # type: ignore[union-attr]
    await until(lambda: rig.venue_orders() == [], timeout=5, what="venue cancelled our order")
    assert rig.harness.call(lambda: rig.dialect.dead_man_triggered) == 1
    (o,) = rig.harness.call(lambda: rig.dialect.orders_of(ACCOUNT, live=False))
    assert o["state"]["reject_reason"] == "CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED"
    await conn.rest.close()


async def test_the_sdk_raw_client_logs_in_by_itself_and_trades(rig: Rig) -> None:
    """grvt-pysdk's own GrvtRawAsync, its own cookie handling and signer, unchanged
    (another tool trading the same account)."""
    config = GrvtApiConfig(
        GrvtEnv.TESTNET,
        rig.creds.sub_account_id,
        rig.creds.private_key,
        rig.creds.api_key,
        logging.getLogger("test.grvt.sdk"),
    )
    raw = GrvtRawAsync(config)
    raw.md_rpc = raw.td_rpc = raw.env.edge.rpc_endpoint = rig.harness.base_url
    try:
        # BTC is listed in the recorded integer form, which the SDK's decoder reads
        inst = await raw.get_instrument_v1(t.ApiGetInstrumentRequest(BTC))
        by_name = {BTC: inst.result}  # type: ignore[union-attr]
        from pysdk.grvt_raw_signing import sign_order

        order = t.Order(
            sub_account_id=rig.creds.sub_account_id,
            time_in_force=t.TimeInForce.GOOD_TILL_TIME,
            legs=[t.OrderLeg(BTC, "0.001", True, str(_away(rig, BTC)))],
            signature=t.Signature("", "", "", 0, str(__import__("time").time_ns() + 10**12), 7),
            metadata=t.OrderMetadata(client_order_id=str(2**63 + 5)),
            post_only=True,
        )
        sign_order(order, config, raw.account, by_name)
        created = await raw.create_order_v1(t.ApiCreateOrderRequest(order))
        assert isinstance(created, t.ApiCreateOrderResponse), created
        assert created.result.state.status is t.OrderStatus.PENDING  # type: ignore[union-attr]
        await until(lambda: len(rig.venue_orders()) == 1)
        # GRVT lists open orders with signature.v / nonce as strings (recorded): the
        # SDK 0.2.1 decoder refuses that answer; our own parsing reads it
        with pytest.raises(dacite.DaciteError):
            await raw.open_orders_v1(t.ApiOpenOrdersRequest(rig.creds.sub_account_id))
        listed = await rig.conn.open_orders()
        assert [o.venue_client_id for o in listed] == [str(2**63 + 5)]
        book = await raw.orderbook_levels_v1(t.ApiOrderbookLevelsRequest(BTC, 10))
        assert len(book.result.bids) == 10  # type: ignore[union-attr]
        ack = await raw.cancel_all_orders_v1(t.ApiCancelAllOrdersRequest(rig.creds.sub_account_id))
        assert ack.result.ack  # type: ignore[union-attr]
        rig.harness.call(rig.dialect.expire_sessions)
        raw._cookie = None  # the SDK logs in again by itself
        summary = await raw.sub_account_summary_v1(
            t.ApiSubAccountSummaryRequest(rig.creds.sub_account_id)
        )
        assert summary.result.settle_currency == "USDT"  # type: ignore[union-attr]
    finally:
        await raw._session.close()


async def test_market_ioc_and_reduce_only_orders(rig: Rig) -> None:
    conn = rig.conn
    sell = OrderRequest("mmeeeee-1", BTC, Side.SELL, Decimal("0.002"), type=OrderType.MARKET)
    await conn.place(sell)
    await until(lambda: sum(f.size for f in rig.fills("mmeeeee-1")) == Decimal("0.002"))
    await until(lambda: rig.updates("mmeeeee-1")[-1].status is OrderStatus.FILLED)
    assert all(f.liquidity.value == "taker" for f in rig.fills("mmeeeee-1"))
    (pos,) = await conn.positions()
    assert pos.size == Decimal("-0.002")  # short is negative
    # our own trades show on the public trade stream too
    await until(lambda: any(isinstance(e, Trade) and e.side is Side.SELL for e in rig.events))
    # an IOC limit that cannot trade ends CANCELLED / IOC_CANCEL without a fill
    far = _away(rig, BTC)
    await conn.place(
        OrderRequest(
            "mmeeeee-2", BTC, Side.BUY, Decimal("0.001"), price=far, time_in_force=TimeInForce.IOC
        )
    )
    await until(
        lambda: bool(rig.updates("mmeeeee-2")) and rig.updates("mmeeeee-2")[-1].status.is_terminal
    )
    ioc = rig.updates("mmeeeee-2")[-1]
    assert (ioc.status, ioc.reason) == (OrderStatus.CANCELLED, "IOC_CANCEL")
    assert rig.fills("mmeeeee-2") == []
    # a reduce-only market buy larger than the short only closes it
    close = OrderRequest(
        "mmeeeee-3", BTC, Side.BUY, Decimal("0.005"), type=OrderType.MARKET, reduce_only=True
    )
    await conn.place(close)
    await until(lambda: sum(f.size for f in rig.fills("mmeeeee-3")) == Decimal("0.002"))
    await until(lambda: rig.updates("mmeeeee-3")[-1].status.is_terminal)
    assert await conn.positions() == []


async def test_injected_rejects_are_sync_codes_or_async_reasons(rig: Rig) -> None:
    conn = rig.conn
    price = _away(rig, BTC)
    rig.harness.faults.reject_next_order(rig.creds.api_key, "2080")
    with pytest.raises(VenueError) as info:
        await conn.place(_post_only("mmfffff-1", BTC, Side.BUY, "0.001", price))
    assert info.value.code == ErrorCode.INSUFFICIENT_MARGIN and info.value.venue_code == "2080"
    rig.harness.faults.reject_next_order(rig.creds.api_key, "BELOW_MARGIN")
    ack = await conn.place(_post_only("mmfffff-2", BTC, Side.BUY, "0.001", price))
    assert ack.status is OrderStatus.PENDING
    await until(lambda: bool(rig.updates("mmfffff-2")))
    (update,) = rig.updates("mmfffff-2")
    assert (update.status, update.reason) == (OrderStatus.REJECTED, "BELOW_MARGIN")
    assert rig.venue_orders() == []


async def test_an_unknown_api_key_fails_the_connect_with_one_clear_line(rig: Rig) -> None:
    keys = GrvtKeys("not-a-key-of-this-venue", rig.creds.sub_account_id, rig.creds.private_key)
    conn = connector_for(rig.harness, keys)
    with pytest.raises(VenueError) as info:
        await conn.connect(lambda e: None)
    text = str(info.value)
    assert "login refused" in text and "1000" in text and "\n" not in text
    assert "not-a-key-of-this-venue" not in text


async def test_a_timed_out_place_has_an_unknown_outcome_and_a_resend_is_deduplicated(
    rig: Rig,
) -> None:
    """The core never resends a place whose outcome is unknown; should anything send it
    again, it is the very same signed order, which GRVT ignores (nonce + payload)."""
    keys = GrvtKeys(rig.creds.api_key, rig.creds.sub_account_id, rig.creds.private_key)
    conn = connector_for(rig.harness, keys, rest_timeout_s=0.3)
    await conn.connect(lambda e: None)
    try:
        first = _post_only("mmggggg-1", BTC, Side.BUY, "0.001", _away(rig, BTC))
        rig.harness.faults.delay(800)  # no answer in time
        with pytest.raises(VenueError) as info:
            await conn.place(first)
        assert info.value.outcome_unknown and info.value.code == ErrorCode.TIMEOUT
        rig.harness.faults.delay(0)
        # the venue books the order, then its answer is lost (a 504 from the gateway)
        request = _post_only("mmggggg-2", BTC, Side.BUY, "0.001", _away(rig, BTC, 1))
        rig.harness.faults.lose_next_answer("place", mode="status", status=504)
        with pytest.raises(VenueError) as info:
            await conn.place(request)
        assert info.value.outcome_unknown and info.value.code == ErrorCode.SERVER_ERROR
        await until(lambda: len(rig.venue_orders()) >= 1, what="the order booked")
        ack = await conn.place(request)  # the very same signed order
        assert ack.status in (OrderStatus.PENDING, OrderStatus.OPEN)
        exchange = rig.dialect.exchange
        assert rig.harness.call(lambda: exchange.duplicates_ignored) == 1
        cids = [o["metadata"]["client_order_id"] for o in rig.venue_orders()]
        assert cids.count(conn.venue_client_id("mmggggg-2")) == 1, cids
    finally:
        await conn.close()
