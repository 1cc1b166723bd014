"""The real Lighter's recorded payloads (tests/fixtures/venues/lighter/, sources in its
README) through the connector's own parsing path: REST answers served over HTTP to the
connector's ``LighterRest`` (the common ``HttpClient`` with Lighter's error hooks), stream
frames handed to its WebSocket client's ``handle`` (parse, dispatch, the connector's
handlers). Every field the core reads is checked."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.base import (
    ErrorCode,
    Event,
    Fill,
    Liquidity,
    OrderStatus,
    OrderUpdate,
    Position,
    Side,
    Trade,
    VenueError,
)
from connectors.lighter.connector import LighterConnector
from connectors.lighter.keys import LighterKeys

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "venues" / "lighter"
D = Decimal


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class Venue:
    """Answers each path with a recorded body (and a final empty page for a cursor)."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {
            "/api/v1/orderBookDetails": recorded("http_order_book_details.json"),
            "/api/v1/accountActiveOrders": recorded("http_orders.json"),
            "/api/v1/accountInactiveOrders": {"code": 200, "orders": []},
            "/api/v1/accountOrders": recorded("http_orders.json"),
            "/api/v1/account": recorded("http_account.json"),
            "/api/v1/trades": recorded("http_recent_trades_unordered.json"),
        }
        self.status: dict[str, tuple[int, Any]] = {}
        self.seen: list[tuple[str, dict[str, str], str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.seen.append((request.path, query, request.headers.get("Authorization")))
        if request.path in self.status:
            status, body = self.status[request.path]
            return web.json_response(body, status=status)
        if query.get("cursor"):  # the recorded page names a next one: the last, empty
            return web.json_response({"code": 200, "orders": [], "trades": []})
        body = self.answers.get(request.path)
        if body is None:
            return web.json_response({"code": 20001, "message": "invalid param"}, status=404)
        return web.json_response(body)


@pytest.fixture
async def venue() -> AsyncIterator[tuple[Venue, str]]:
    v = Venue()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", v.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield v, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def connect(venue: tuple[Venue, str]) -> AsyncIterator[Any]:
    """``connect(account)``: a connector of that account on the recorded venue, reads
    only (no signer), its events collected; closed after the test."""
    _, url = venue
    opened: list[LighterConnector] = []

    def make(account: int) -> tuple[LighterConnector, list[Event]]:
        ws_url = url.replace("http", "ws") + "/stream"
        conn = LighterConnector(url, ws_url, LighterKeys(account, 3, "0x" + "ab" * 40))
        conn._token_cache = ("recorded-token", 2**40)
        events: list[Event] = []
        conn._events.sink = events.append
        opened.append(conn)
        return conn, events

    yield make
    for conn in opened:
        await conn.books.close()
        await conn.rest.close()


async def frame(conn: LighterConnector, payload: Any) -> None:
    """One frame through the WebSocket client's own path, then the event flush."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    conn.ws.handle(None, text)
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_instruments_from_order_book_details(connect: Any) -> None:
    conn, _ = connect(712440)
    (eth,) = (await conn.instruments()).values()
    assert (eth.symbol, eth.base, eth.quote) == ("ETH", "ETH", "USDC")
    assert eth.tick_size == D("0.01") and eth.step_size == D("0.0001")
    assert eth.min_size == D("0.0050") and eth.min_notional == D("10")
    assert eth.maker_fee == 0 and eth.taker_fee == 0  # "0.0000" percent


async def test_open_orders_per_market_every_page_with_the_raw_client_index(
    venue: tuple[Venue, str], connect: Any
) -> None:
    v, _ = venue
    conn, _ = connect(712440)
    (order,) = await conn.open_orders("ETH")
    assert order.symbol == "ETH" and order.side is Side.SELL
    assert order.venue_order_id == "281476929510110"
    assert order.client_id == "42" and order.venue_client_id == "42"  # another tool's
    assert order.price == D("2352.74") and order.size == D("0.0050")
    assert order.remaining_size == D("0.0050")
    assert not order.post_only and not order.reduce_only  # good-till-time
    pages = [q for p, q, _ in v.seen if p == "/api/v1/accountActiveOrders"]
    assert pages == [
        {"account_index": "712440", "market_id": "0"},
        {"account_index": "712440", "market_id": "0", "cursor": "cursor-1"},
    ]
    assert all(auth == "recorded-token" for p, _, auth in v.seen if "account" in p)


async def test_lookup_by_client_index(venue: tuple[Venue, str], connect: Any) -> None:
    v, _ = venue
    conn, _ = connect(712440)
    await conn.instruments()
    found = await conn.lookup_order("ETH", "42")
    assert found is not None
    assert (found.symbol, found.client_id, found.venue_order_id) == (
        "ETH",
        "42",
        "281476929510110",
    )
    assert found.status is OrderStatus.OPEN and found.side is Side.SELL
    assert (found.price, found.size, found.filled_size) == (D("2352.74"), D("0.0050"), 0)
    asked = [q for p, q, _ in v.seen if p == "/api/v1/accountOrders"]
    assert asked == [{"account_index": "712440", "client_order_indexes": "42"}]
    # an index the venue does not list anywhere: None, after every list was read
    assert await conn.lookup_order("ETH", "43") is None
    assert [p for p, _, _ in v.seen][-3:] == [
        "/api/v1/accountActiveOrders",
        "/api/v1/accountActiveOrders",  # the cursor's page
        "/api/v1/accountInactiveOrders",
    ]


async def test_a_venue_error_body_is_mapped_by_its_code(
    venue: tuple[Venue, str], connect: Any
) -> None:
    v, _ = venue
    conn, _ = connect(712440)
    await conn.instruments()
    v.status["/api/v1/accountActiveOrders"] = (
        429,
        {"code": 23000, "message": "Too Many Requests!"},
    )
    with pytest.raises(VenueError) as err:
        await conn.open_orders("ETH")
    assert err.value.code == ErrorCode.RATE_LIMITED and err.value.venue_code == "23000"
    v.status["/api/v1/accountActiveOrders"] = (200, {"code": 21602, "message": "bad market"})
    with pytest.raises(VenueError) as err:
        await conn.open_orders("ETH")
    assert err.value.code == ErrorCode.UNKNOWN_SYMBOL and err.value.venue_code == "21602"


async def test_fill_history_is_every_trade_since_oldest_first(
    venue: tuple[Venue, str], connect: Any
) -> None:
    v, _ = venue
    conn, _ = connect(281474976639642)  # the bid account of the recorded trades
    fills = await conn.fills_since(0, "ETH")
    assert [f.trade_id for f in fills] == ["19211490282", "19211490283", "19211490284"]
    first, second, _ = fills
    assert first.side is Side.BUY and first.symbol == "ETH"
    assert (first.price, first.size) == (D("2361.31"), D("0.0005"))
    assert first.liquidity is Liquidity.MAKER  # is_maker_ask false: the bid rested
    assert first.fee == D("2361.31") * D("0.0005") * D("0.000028")  # maker_fee 28 = 0.28 bps
    assert second.liquidity is Liquidity.TAKER and second.fee == 0  # no taker_fee recorded
    assert first.venue_order_id == "562947905454831"
    assert first.client_id == "410940644"  # not a run prefix we know: the raw index
    assert first.ts_ms == 1777945103092
    query = next(q for p, q, _ in v.seen if p == "/api/v1/trades")
    assert query == {
        "account_index": "281474976639642",
        "sort_by": "timestamp",
        "sort_dir": "desc",
        "limit": "100",
        "market_id": "0",
    }
    later = await conn.fills_since(1777945103093)
    assert [f.trade_id for f in later] == ["19211490283", "19211490284"]
    for name in ("http_recent_trades_null.json", "http_recent_trades_missing.json"):
        v.answers["/api/v1/trades"] = recorded(name)
        assert await conn.fills_since(0) == []


async def test_positions_and_balance_from_the_account(connect: Any) -> None:
    conn, _ = connect(123456)
    await conn.instruments()
    assert await conn.positions() == []  # the one position is flat (and on BTC: unknown)
    (balance,) = await conn.balances()
    assert (balance.asset, balance.total, balance.available) == ("USDC", 0, 0)


async def test_book_snapshot_delta_and_gap(connect: Any) -> None:
    conn, events = connect(1234)
    await conn.subscribe_books(["ETH"])
    book = conn.book("ETH")
    assert book is not None
    snapshot = recorded("ws_order_book_subscribed.json")
    await frame(conn, snapshot)
    assert book.synced and book.seq == 904845
    assert book.bids(5) == [(D("2000.00"), D("0.0200"))]
    assert book.asks(5) == [(D("2325.00"), D("99.0000")), (D("2341.25"), D("340.1028"))]
    assert book.last_update_ms == 1778138582602
    update = recorded("ws_order_book_update.json")
    await frame(conn, update)  # recorded elsewhere: its begin_nonce is not our nonce
    assert not book.synced and conn.stats.resyncs == 1
    # the same snapshot ending where the recorded update begins: the delta applies
    chained = copy.deepcopy(snapshot)
    chained["order_book"]["nonce"] = update["order_book"]["begin_nonce"]
    await frame(conn, chained)
    await frame(conn, update)
    assert book.synced and book.seq == 9182390020
    assert book.asks(1) == [(D("2064.54"), D("0.3285"))]  # below the old asks
    empty = recorded("ws_order_book_subscribed_empty.json")
    empty["channel"] = "order_book:0"
    await frame(conn, empty)
    assert book.synced and book.seq == 0 and not book.is_valid()
    assert any(getattr(e, "symbol", None) == "ETH" for e in events)


async def test_the_trade_snapshot_is_not_replayed_as_live_trades(connect: Any) -> None:
    conn, events = connect(1234)
    await conn.subscribe_books(["ETH"])
    await frame(conn, recorded("ws_trade_subscribed.json"))
    assert [e for e in events if isinstance(e, Trade)] == []
    await frame(conn, recorded("ws_trade_update.json"))
    (trade,) = [e for e in events if isinstance(e, Trade)]
    assert trade == Trade(
        "lighter", "ETH", Side.SELL, D("2181.83"), D("0.1336"), 1773854156654, "16164557907"
    )


async def test_order_update_fields(connect: Any) -> None:
    conn, events = connect(1234)
    await conn.instruments()
    await frame(conn, recorded("ws_account_orders_update.json"))
    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert update.symbol == "ETH" and update.client_id == "42"
    assert update.venue_order_id == "281476929510110"
    assert update.status is OrderStatus.PARTIALLY_FILLED  # open, 0.0020 filled
    assert (update.filled_size, update.remaining_size) == (D("0.0020"), D("0.0030"))
    assert update.ts_ms == 1777941383900  # updated_at, milliseconds
    assert conn.orders.live == {42: {"281476929510110"}}


async def test_account_trade_is_a_fill_with_its_fee_and_raw_client_index(connect: Any) -> None:
    conn, events = connect(1234)
    await conn.instruments()
    msg = recorded("ws_account_all_trades_update.json")
    await frame(conn, msg)
    (fill,) = [e for e in events if isinstance(e, Fill)]
    assert fill.symbol == "ETH" and fill.side is Side.BUY
    assert (fill.price, fill.size) == (D("2352.73"), D("0.1336"))
    assert fill.liquidity is Liquidity.TAKER  # the ask rested
    assert fill.fee == D("2352.73") * D("0.1336") * D("0.000196")  # taker_fee 196
    assert fill.trade_id == "19209006902" and fill.ts_ms == 1777941384181
    assert fill.venue_order_id == "562947905631053"
    # 7001011966 has a non-zero tag in the high bits: the old decoding called it an
    # earlier run's "mm~..." order (and the core would cancel it); it is not ours
    assert fill.client_id == "7001011966"
    # a liquidation of ours in the same recorded form: no client index on our side
    liquidation = copy.deepcopy(msg)
    trade = liquidation["trades"]["0"][0]
    trade.update(type="liquidation", trade_id=19209006903, trade_id_str="19209006903")
    trade.update(bid_client_id=0, bid_client_id_str="0")
    await frame(conn, liquidation)
    liq = [e for e in events if isinstance(e, Fill)][-1]
    assert liq.trade_id == "19209006903" and liq.client_id is None and liq.side is Side.BUY
    await frame(conn, msg)  # a repeat (a snapshot after a reconnect) is dropped
    assert len([e for e in events if isinstance(e, Fill)]) == 2


async def test_position_sign_and_fields(connect: Any) -> None:
    conn, events = connect(1234)
    await conn.instruments()
    await frame(conn, recorded("ws_account_all_positions_update.json"))
    (pos,) = [e for e in events if isinstance(e, Position)]
    assert pos.symbol == "ETH" and pos.size == D("1.5000")
    assert (pos.entry_price, pos.unrealized_pnl, pos.realized_pnl) == (
        D("2350.10"),
        D("3.45"),
        D("0.00"),
    )
    short = recorded("ws_account_all_positions_update.json")
    short["positions"]["0"]["sign"] = -1
    await frame(conn, short)
    assert [e for e in events if isinstance(e, Position)][-1].size == D("-1.5000")


async def test_error_frames_in_both_shapes(connect: Any) -> None:
    conn, _ = connect(1234)
    await frame(conn, {"type": "error", "code": 30003, "message": "Already Subscribed"})
    await frame(conn, {"error": {"code": 30003, "message": "Already Subscribed"}})
    assert conn.ws.error_frames == 2 and conn.ws.last_error == ""  # no problem
    await frame(conn, {"type": "error", "code": 30007, "message": "Invalid Data"})
    assert conn.ws.error_frames == 3 and "30007" in conn.ws.last_error


async def test_account_funding_and_liquidation_from_recorded_forms(
    venue: tuple[Venue, str], connect: Any
) -> None:
    """``read_account``: the recorded account, with the position object of the recorded
    positions frame (the REST and WS position share one model), and the recorded
    funding rates (plus another exchange's entry, which is not Lighter's rate)."""
    v, _ = venue
    account = recorded("http_account.json")
    position = recorded("ws_account_all_positions_update.json")["positions"]["0"]
    account["accounts"][0]["positions"] = [position]
    account["accounts"][0]["total_asset_value"] = "1000.00"
    account["accounts"][0]["cross_initial_margin_requirement"] = "176.25"
    v.answers["/api/v1/account"] = account
    rates = recorded("http_funding_rates.json")
    rates["funding_rates"].append(
        {"market_id": 0, "exchange": "binance", "symbol": "ETH", "rate": 1}
    )
    v.answers["/api/v1/funding-rates"] = rates
    conn, _ = connect(123456)
    await conn.instruments()
    state = await conn.read_account(["ETH"])
    (eth,) = state.markets
    assert (eth.symbol, eth.position_size, eth.liquidation_price) == ("ETH", D("1.5"), D("1900"))
    assert eth.funding == D("-0.05")  # total_funding_paid_out 0.05: paid
    assert eth.funding_rate == D("0.00009599999999999999")
    assert eth.next_funding_ms is not None and eth.next_funding_ms % 3_600_000 == 0
    assert eth.leverage == D("3525.15") / D("1000.00")
    assert (state.equity, state.margin_used) == (D("1000.00"), D("176.25"))
    assert state.available == D("0")  # available_balance "0.000000"
