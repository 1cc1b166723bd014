"""What the real venue sends, through the connector's real parsing path.

Stream frames enter where the socket hands them over (``BackpackWs.handle``, which
parses and dispatches to the connector); REST answers are served as recorded by a
loopback server to the connector's own methods. Every event and return value is
checked field by field. Sources: ``tests/fixtures/venues/backpack/README.md``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from connectors.backpack.connector import BackpackConnector
from connectors.backpack.depth import Delta, DepthSync, Snapshot
from connectors.backpack.keys import BackpackKeys
from connectors.base import (
    ConnectionChanged,
    ConnectionState,
    ErrorCode,
    Event,
    Fill,
    Instrument,
    Liquidity,
    OpenOrder,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    Trade,
    VenueError,
    VenueOrder,
)

from .test_rest import loopback

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "venues" / "backpack"
KEYS = BackpackKeys("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


WS = {f["label"]: f["frame"] for f in _load("ws_frames.json")}
LIVE = {f["label"].split(":")[0]: f["frames"] for f in _load("ws_frames_live.json")}
REST = _load("rest_answers.json")


def rest(label: str) -> dict[str, Any]:
    """The recorded answer labelled ``label``, else the one whose label starts so."""
    exact = [a for a in REST if a["label"] == label]
    (found,) = exact or [a for a in REST if a["label"].startswith(label)]
    return found


def _inst(symbol: str, base: str, tick: str, step: str, kind: str = "perp") -> Instrument:
    return Instrument(
        "backpack", symbol, base, "USDC", D(tick), D(step), D(step), contract_type=kind
    )


# The markets the recorded frames trade on (not in the frames themselves; the
# decimals follow the recorded numbers).
INSTRUMENTS = {
    i.symbol: i
    for i in (
        _inst("ETH_USDC", "ETH", "0.01", "0.0001", "spot"),
        _inst("ETH_USDC_PERP", "ETH", "0.01", "0.0001"),
        _inst("SOL_USDC", "SOL", "0.01", "0.01", "spot"),
        _inst("SOL_USDC_PERP", "SOL", "0.01", "0.01"),
        _inst("BTC_USDC_PERP", "BTC", "0.1", "0.00001"),
        _inst("USDT_USDC", "USDT", "0.0001", "1", "spot"),
    )
}


@dataclass
class Stream:
    conn: BackpackConnector
    events: list[Event] = field(default_factory=list)
    resyncs: list[str] = field(default_factory=list)

    async def feed(self, frame: Any) -> list[Event]:
        """One frame as the socket delivers it; the events it produced."""
        before = len(self.events)
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self.conn.ws.handle(None, text)
        await asyncio.sleep(0)  # events are delivered on the next loop turn
        return [e for e in self.events[before:] if not isinstance(e, ConnectionChanged)]


def _stream(*books: str) -> Stream:
    conn = BackpackConnector("http://127.0.0.1:9", "ws://127.0.0.1:9/", KEYS)
    conn._instruments = dict(INSTRUMENTS)
    conn._state = ConnectionState.CONNECTED  # frames arrive on a live socket
    s = Stream(conn)
    conn._events.sink = s.events.append
    conn.books.resync = lambda symbol, reason: s.resyncs.append(reason)  # type: ignore[method-assign]
    for symbol in books:
        conn._depth[symbol] = DepthSync(conn.books.add(INSTRUMENTS[symbol]))
    return s


# -- the shared recordings, frame by frame -------------------------------------------------


async def test_trade_frame() -> None:
    s = _stream()
    assert await s.feed(WS["trade ETH_USDC_PERP (ccxt)"]) == [
        # m false: the buyer took; E/T are strings of microseconds
        Trade(
            "backpack",
            "ETH_USDC_PERP",
            Side.BUY,
            D("3870.25"),
            D("0.0008"),
            1754601477744,
            "10782547",
        )
    ]


async def test_market_order_accepted_and_filled_without_a_client_id() -> None:
    s = _stream()
    (accepted,) = await s.feed(WS["orderAccepted MARKET, no c, t:null (ccxt)"])
    assert accepted == OrderUpdate(
        venue="backpack",
        symbol="ETH_USDC",
        client_id=None,
        venue_order_id="5406825793",
        status=OrderStatus.OPEN,
        filled_size=D("0"),
        remaining_size=D("0.0010"),
        reason="",
        ts_ms=1754939110175,
    )
    fill, done = await s.feed(WS["orderFill MARKET Filled (ccxt)"])
    assert fill == Fill(
        venue="backpack",
        symbol="ETH_USDC",
        client_id=None,
        venue_order_id="5406825793",
        side=Side.BUY,
        price=D("4299.16"),
        size=D("0.0010"),
        fee=D("0.000001") * D("4299.16"),  # charged in ETH (N): in quote terms
        liquidity=Liquidity.TAKER,
        trade_id="ETH_USDC:2888471",
        ts_ms=1754939110174,  # T, the engine's time of the fill
    )
    assert isinstance(done, OrderUpdate) and done.status is OrderStatus.FILLED
    assert (done.filled_size, done.remaining_size) == (D("0.0010"), D("0"))


async def test_trigger_orders_and_a_limit_accept() -> None:
    s = _stream()
    (placed,) = await s.feed(WS["triggerPlaced (bpx-api-client test)"])
    assert (placed.status, placed.client_id, placed.venue_order_id) == (  # type: ignore[union-attr]
        OrderStatus.PENDING,
        None,
        "114575813313101824",
    )
    assert placed.remaining_size is None  # type: ignore[union-attr]  # q "0": no size yet
    (accepted,) = await s.feed(WS["orderAccepted LIMIT (bpx-api-client test)"])
    assert accepted == OrderUpdate(
        "backpack",
        "SOL_USDC",
        None,
        "114575842681290753",
        OrderStatus.OPEN,
        D("0"),
        D("20.03"),
        "",
        1748288615134,  # integer µs here: both forms are recorded
    )
    (cancelled,) = await s.feed(WS["orderCancelled trigger MARKET q=0 Y=80% (bpx-api-client test)"])
    assert cancelled.status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert cancelled.remaining_size is None  # type: ignore[union-attr]


async def test_expiry_and_modify_of_another_tools_order() -> None:
    s = _stream()
    (expired,) = await s.feed(WS["orderExpired IOC with R (docs shape, R=ImmediateOrCancel)"])
    assert expired == OrderUpdate(
        "backpack",
        "SOL_USDC_PERP",
        "771751945",  # not a run prefix we know: the raw id, never claimed as ours
        "1111343026172067",
        OrderStatus.EXPIRED,
        D("0.40"),
        D("0.60"),
        "ImmediateOrCancel",
        1694687692980,
    )
    (modified,) = await s.feed(WS["orderModified reduce-only (docs event)"])
    assert (modified.status, modified.filled_size, modified.remaining_size) == (  # type: ignore[union-attr]
        OrderStatus.OPEN,
        D("0"),
        D("0.50"),
    )


async def test_a_liquidation_fill_is_delivered_without_a_client_id() -> None:
    s = _stream()
    fill, update = await s.feed(WS["liquidation fill (O=LIQUIDATION_AUTOCLOSE, no c)"])
    assert fill == Fill(
        "backpack",
        "SOL_USDC_PERP",
        None,
        "999",
        Side.SELL,
        D("120.00"),
        D("0.01"),
        D("0.001"),
        Liquidity.TAKER,
        "SOL_USDC_PERP:123",
        1754939110174,
    )
    assert isinstance(update, OrderUpdate) and update.status is OrderStatus.FILLED
    assert update.client_id is None


async def test_positions_opened_and_the_subscribe_snapshot() -> None:
    s = _stream()
    assert await s.feed(WS["positionOpened (ccxt)"]) == [
        Position(
            "backpack",
            "ETH_USDC_PERP",
            D("0.0010"),
            D("4236.36"),
            D("-0.000473"),
            D("0"),
            1754943862040,
        )
    ]
    assert await s.feed(WS["position snapshot, no e (hummingbot fixture)"]) == [
        Position(
            "backpack",
            "SOL_USDC_PERP",
            D("-0.01"),
            D("126.97"),
            D("0.0009"),
            D("0.0592"),
            1769366599828,
        )
    ]


async def test_error_and_ack_frames_are_not_bad_frames() -> None:
    s = _stream()
    assert await s.feed(WS["error frame (ccxt)"]) == []
    assert s.conn.ws.error_frames == 1 and "Invalid stream" in s.conn.ws.last_error
    (changed,) = [e for e in s.events if isinstance(e, ConnectionChanged)]
    assert "server refused" in changed.detail  # the console shows why
    assert await s.feed(WS["ack-like {result:null,id:1} (hummingbot fixture)"]) == []
    assert s.conn.stats.bad_frames == 0 and s.conn.stats.frames == 2


async def test_depth_frames_wait_for_and_continue_a_snapshot() -> None:
    s = _stream("BTC_USDC_PERP", "ETH_USDC")
    btc = s.conn._depth["BTC_USDC_PERP"]
    assert await s.feed(WS["depth BTC_USDC_PERP raw (ccxt get_cache_index)"]) == []
    assert btc.on_snapshot(Snapshot([(1173570, 100), (1173560, 5)], [(1173580, 7)], 1662976170, 0))
    book = btc.book
    assert book.synced and book.seq == 1662976171
    assert book.best_bid() == D("117356.0")  # the recorded "0.00000" removed 117357.0
    assert book.last_update_ms == 1759338824895  # T (a string)
    heartbeat = WS["depth ETH_USDC empty heartbeat (ccxt)"]
    eth = s.conn._depth["ETH_USDC"]
    await s.feed(heartbeat)
    assert eth.on_snapshot(Snapshot([(400000, 1)], [(400100, 1)], 1345937435, 0))
    assert eth.book.seq == 1345937436  # an empty push still moves the update id
    assert s.conn.stats.bad_frames == 0 and s.resyncs == []


# -- live recordings (bbgo testdata) ---------------------------------------------------------


async def test_live_private_frames() -> None:
    s = _stream()
    accepted, balance, cancelled, balance2 = LIVE["private stream of a live account"]
    (open_,) = await s.feed(accepted)
    assert open_ == OrderUpdate(
        "backpack",
        "USDT_USDC",
        None,
        "59887375336",
        OrderStatus.OPEN,
        D("0"),
        D("20"),
        "",
        1788368290063,
    )
    assert await s.feed(balance) == []  # an undocumented stream: not ours to read, not bad
    (gone,) = await s.feed(cancelled)
    assert (gone.status, gone.venue_order_id, gone.remaining_size) == (  # type: ignore[union-attr]
        OrderStatus.CANCELLED,
        "59887375336",
        D("20"),
    )
    await s.feed(balance2)
    assert s.conn.stats.bad_frames == 0 and s.conn.stats.extra["unknown_frames"] == 2


async def test_live_depth_sequence_syncs_and_a_later_push_is_a_gap() -> None:
    s = _stream("SOL_USDC")
    frames = LIVE["public streams of SOL_USDC, recorded live"]
    sync = s.conn._depth["SOL_USDC"]
    for frame in frames[:13]:
        await s.feed(frame)
    assert not sync.book.synced and len(sync.buffer) == 10  # ten depth pushes, three tickers
    # a snapshot one id before the first push (its levels are ours, the ids the venue's)
    snapshot = Snapshot([(9896, 28877)], [(9897, 2239), (9900, 10000)], 4330360994, 0)
    assert sync.on_snapshot(snapshot)
    book = sync.book
    assert book.seq == 4330361004 and book.best_ask_size() == D("31.64")
    assert book.best_bid() == D("98.96") and book.size_at(Side.BUY, 9894) == 24258
    assert book.size_at(Side.SELL, 9900) == 16502 and book.last_update_ms == 1788367430396
    for frame in frames[13:15]:  # markPrice, ticker
        assert await s.feed(frame) == []
    await s.feed(frames[15])  # update 4330361031 after 4330361004: ids were missed
    assert not book.synced and s.resyncs and "gap" in s.resyncs[0]
    assert s.conn.stats.bad_frames == 0


# -- REST answers, served as recorded to the connector's own methods ---------------------------


class Venue:
    """A loopback venue that answers each path with the recording it is given."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.asked: list[tuple[str, str, dict[str, str]]] = []

    def serve(self, *labels: str, path: str | None = None) -> None:
        for label in labels:
            a = rest(label)
            key = (a["method"], path or a["path"].split("?")[0])
            self.answers.setdefault(key, []).append(a)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = (request.method, request.path)
        self.asked.append((request.method, request.path, dict(request.query)))
        queue = self.answers.get(key)
        if not queue:
            return web.json_response(
                {"code": "RESOURCE_NOT_FOUND", "message": "Not Found"}, status=404
            )
        a = queue.pop(0) if len(queue) > 1 else queue[0]
        headers = a.get("headers")
        if "body_text" in a:
            return web.Response(
                text=a["body_text"],
                status=a["status"],
                content_type=a.get("content_type", "text/plain"),
            )
        return web.Response(
            body=orjson.dumps(a["body"]),
            status=a["status"],
            headers=headers,
            content_type="application/json",
        )


@pytest.fixture
async def venue() -> AsyncIterator[tuple[Venue, BackpackConnector, list[Event]]]:
    v = Venue()
    async with loopback(v.handle) as url:
        conn = BackpackConnector(url, "ws://127.0.0.1:1/", KEYS)
        v.serve("time (bare integer ms, text/plain)")
        events: list[Event] = []
        conn._events.sink = events.append
        try:
            yield v, conn, events
        finally:
            await conn.close()


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


async def test_markets_become_instruments_and_closed_or_hidden_ones_do_not(venue) -> None:
    v, conn, _ = venue
    markets = rest("markets:")
    one = [
        rest(label)["body"]
        for label in (
            "market USDT_USDC (spot, Open)",
            "market SOL_USDC_PERP (perp fields)",
            "market WEN_USDC (spot, Closed, not visible)",
        )
    ]
    v.answers[("GET", "/api/v1/markets")] = [markets | {"body": markets["body"] + one}]
    insts = await conn.instruments()
    assert sorted(insts) == ["AVNT_USDC_PERP", "PENDLE_USDC_PERP", "SOL_USDC_PERP", "USDT_USDC"]
    avnt, pendle, sol, usdt = (insts[s] for s in sorted(insts))
    assert (avnt.tick_size, avnt.step_size, avnt.min_size, avnt.min_notional) == (
        D("0.00001"),
        D("1"),
        D("1"),
        D(0),  # Backpack has no notional filter
    )
    assert (pendle.tick_size, pendle.step_size, pendle.min_size) == (
        D("0.0001"),
        D("0.1"),
        D("0.1"),
    )
    assert (sol.tick_size, sol.step_size, sol.min_size) == (D("0.01"), D("0.01"), D("0.01"))
    assert (avnt.base, avnt.quote, avnt.contract_type) == ("AVNT", "USDC", "perp")
    assert (usdt.contract_type, usdt.tick_size, usdt.step_size) == ("spot", D("0.0001"), D("1"))


async def test_the_venue_clock_is_the_signing_clock(venue) -> None:
    _, conn, _ = venue
    conn.rest._local_ms = lambda: 1788285151000
    await conn.rest.sync_time()
    assert conn.rest.offset_ms == 83 and conn.rest.now_ms() == 1788285151083


@pytest.mark.parametrize(
    ("label", "inst", "best_bid", "best_ask", "last_id"),
    [
        (
            "depth BTC_USDC",
            INSTRUMENTS["BTC_USDC_PERP"],
            "12.9",  # the last bid listed is the best
            "118318.3",
            1504999670,
        ),
        (
            "depth SOL_USDC (lastUpdateId a string)",
            INSTRUMENTS["SOL_USDC"],
            "100.98",
            "101.01",
            4324419962,
        ),
        (
            "depth (lastUpdateId an integer)",
            _inst("SOL_USDC", "SOL", "0.01", "0.001", "spot"),  # sizes had 3 decimals then
            "18.67",
            None,  # the only ask is recorded with size "0.000"
            94978271,
        ),
    ],
)
async def test_depth_snapshots_bridge_to_the_stream(
    venue, label: str, inst: Instrument, best_bid: str, best_ask: str | None, last_id: int
) -> None:
    v, conn, _ = venue
    v.serve(label, path="/api/v1/depth")
    symbol = inst.symbol
    conn._instruments = dict(INSTRUMENTS) | {symbol: inst}
    sync = conn._depth[symbol] = DepthSync(conn.books.add(inst))
    await conn._refetch(symbol)
    assert not sync.book.synced and sync.pending is not None  # waits for a delta
    assert sync.on_delta(Delta(last_id + 1, last_id + 1, [], [], 0)) == DepthSync.APPLIED
    book = sync.book
    ask = D(best_ask) if best_ask else None
    assert (book.best_bid(), book.best_ask(), book.seq) == (D(best_bid), ask, last_id + 1)
    assert v.asked[-1][2] == {"symbol": symbol, "limit": "1000"}
    assert "off_grid_levels" not in conn.stats.extra


async def test_place_answers(venue) -> None:
    v, conn, _ = venue
    conn._instruments = dict(INSTRUMENTS)
    v.serve("place: limit post-only order, no clientId", "market order answer, Filled")
    req = OrderRequest(
        "mmab12c-1", "USDT_USDC", Side.SELL, D("20"), price=D("1.0077"), post_only=True
    )
    # the answer as recorded: "New" with the order's id (the core still waits for the
    # stream, or looks the order up, before it believes the order rests)
    assert await conn.place(req) == OrderAck("mmab12c-1", "59669287267", OrderStatus.OPEN)
    mkt = OrderRequest("mmab12c-2", "ETH_USDC", Side.BUY, D("0.001"), type=OrderType.MARKET)
    assert await conn.place(mkt) == OrderAck("mmab12c-2", "4227701917", OrderStatus.FILLED)


@pytest.mark.parametrize(
    ("label", "code", "outcome_unknown"),
    [
        (
            "refusal: a live duplicate client id (no code of its own: INVALID_ORDER)",
            ErrorCode.INVALID_ORDER,
            False,
        ),
        ("refusal: a crossing post-only order", ErrorCode.INVALID_ORDER, False),
        ("refusal: a payload the venue cannot parse (plain text, no JSON)", ErrorCode.VENUE, False),
        ("overload: a place that may have landed", ErrorCode.SERVER_ERROR, True),
    ],
)
async def test_place_refusals(venue, label: str, code: ErrorCode, outcome_unknown: bool) -> None:
    v, conn, _ = venue
    conn._instruments = dict(INSTRUMENTS)
    v.serve(label)
    req = OrderRequest("mmab12c-3", "USDT_USDC", Side.BUY, D("20"), price=D("1.0001"))
    with pytest.raises(VenueError) as err:
        await conn.place(req)
    assert err.value.code == code and err.value.outcome_unknown is outcome_unknown
    recorded = rest(label)
    assert recorded.get("body", {}).get("code", "") == err.value.venue_code
    assert err.value.code != ErrorCode.DUPLICATE_CLIENT_ID  # the venue has no such code


async def test_open_orders_ours_and_another_tools(venue) -> None:
    v, conn, _ = venue
    v.serve("open orders")
    (ours,) = await conn.open_orders("USDT_USDC")
    assert ours == OpenOrder(
        "backpack",
        "USDT_USDC",
        None,
        "59669287267",
        Side.SELL,
        D("1.0077"),
        D("20"),
        D("20"),
        post_only=True,
        reduce_only=False,
        venue_client_id=None,
    )
    v.answers.clear()
    v.serve("open orders: another tool's order with a plain integer clientId")
    (foreign,) = await conn.open_orders()
    assert (
        foreign.client_id,
        foreign.venue_client_id,
        foreign.side,
        foreign.price,
        foreign.size,
    ) == (
        "123456789",
        "123456789",
        Side.BUY,
        D("3000"),
        D("0.001"),
    )


async def test_lookup_resting_then_in_the_history_then_unknown(venue) -> None:
    v, conn, _ = venue
    v.serve("open order by orderId", path="/api/v1/order")
    found = await conn.lookup_order("USDT_USDC", "mmab12c-7")
    assert found == VenueOrder(
        "backpack",
        "USDT_USDC",
        "mmab12c-7",
        "59669287267",
        OrderStatus.OPEN,
        Side.SELL,
        D("1.0077"),
        D("20"),
        D("0"),
    )
    assert v.asked[-1][2]["clientId"] == conn.venue_client_id("mmab12c-7")
    # not resting: the order history is read (newest first), and the recorded items
    # carry no client id, so the venue does not know ours
    v.answers.clear()
    v.serve("order history (newest first by default; paging headers)")
    assert await conn.lookup_order("USDT_USDC", "mmab12c-7") is None
    (_, _, query) = v.asked[-1]
    assert query["sortDirection"] == "Desc" and query["symbol"] == "USDT_USDC"
    # the same recorded history with our client id on its newest item
    hist = rest("order history")
    ours = int(conn.venue_client_id("mmab12c-7"))
    mine = [dict(hist["body"][0], clientId=ours), *hist["body"][1:]]
    v.answers[("GET", "/wapi/v1/history/orders")] = [hist | {"body": mine}]
    done = await conn.lookup_order("USDT_USDC", "mmab12c-7")
    assert done is not None and done.status is OrderStatus.CANCELLED
    assert (done.venue_order_id, done.filled_size, done.reason) == ("59669287267", D("0"), "")


async def test_cancel_answers(venue) -> None:
    v, conn, events = venue
    v.serve("cancel: the order object, status Cancelled")
    assert await conn.cancel("USDT_USDC", "mmab12c-9")
    await asyncio.sleep(0)
    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert (update.status, update.venue_order_id, update.filled_size) == (
        OrderStatus.CANCELLED,
        "59669287267",
        D("0"),
    )
    v.answers.clear()
    assert not await conn.cancel("USDT_USDC", "mmab12c-9")  # RESOURCE_NOT_FOUND


async def test_fill_history(venue) -> None:
    v, conn, _ = venue
    conn._instruments = dict(INSTRUMENTS)
    v.serve("fill history item (tradeId an integer, no clientId key)")
    (fill,) = await conn.fills_since(0, "USDT_USDC")
    assert fill == Fill(
        "backpack",
        "USDT_USDC",
        None,
        "59669287267",
        Side.SELL,
        D("1.0077"),
        D("20"),
        D("0.01"),
        Liquidity.MAKER,
        "USDT_USDC:381731330",  # the same form the stream's t gives
        _ms("2026-09-01T17:54:04.094"),
    )
    (_, _, query) = v.asked[-1]
    assert query == {
        "from": "0",
        "sortDirection": "Asc",
        "symbol": "USDT_USDC",
        "limit": "1000",
        "offset": "0",
    }  # no fillType: liquidations and ADL fills come too
    v.answers.clear()
    v.serve("fill history item without tradeId and clientId (null)")
    (bare,) = await conn.fills_since(0)
    assert (bare.trade_id, bare.client_id, bare.ts_ms, bare.liquidity) == (
        "SOL_USDC:o1:1000:100@1",
        None,
        1000,
        Liquidity.TAKER,
    )
    v.answers.clear()
    v.serve("fill history, empty page")
    assert await conn.fills_since(1788285000000) == []


async def test_positions_balances_collateral(venue) -> None:
    v, conn, _ = venue
    v.serve("positions: a long with 28-digit prices")
    (long,) = await conn.positions()
    assert (long.symbol, long.size, long.entry_price, long.unrealized_pnl, long.realized_pnl) == (
        "ETH_USDC_PERP",
        D("0.0036"),
        D("3826.8888888888888888888888889"),
        D("-0.141914"),
        D("0"),
    )
    v.answers.clear()
    v.serve("positions: a short (netQuantity negative); symbol as templated in the fixture")
    (short,) = await conn.positions()
    assert (short.size, short.entry_price, short.realized_pnl) == (
        D("-0.01"),
        D("126.93"),
        D("0.051"),
    )
    v.answers.clear()
    v.serve("positions: flat", "capital", "collateral")
    assert await conn.positions() == []
    (usdt,) = await conn.balances()
    assert (usdt.asset, usdt.total, usdt.available) == ("USDT", D("30"), D("30"))
    collateral = await conn.collateral()
    assert collateral["netEquity"] == D("28.49145") and "marginFraction" not in collateral
