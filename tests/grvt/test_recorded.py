"""GRVT's recorded traffic through the connector's real parsing path.

REST: a loopback server answers each endpoint with the recorded answer (or the
api-spec example), and the connector's own methods (``instruments``,
``open_orders``, ``lookup_order``, ``fills_since``, ``positions``, ``place``,
``cancel``) read it through ``HttpClient`` and ``parse``. Streams: each recorded
frame goes through the connector's WebSocket handler (``GrvtWs.handle`` ->
``GrvtConnector._on_frame``), the same call the live socket makes. Every result is
checked field by field. Sources: tests/fixtures/venues/grvt/README.md.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.base import (
    ErrorCode,
    Event,
    Fill,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Position,
    RateLimited,
    Side,
    Trade,
    VenueError,
)
from connectors.grvt.connector import GrvtConnector
from connectors.grvt.emulator import cookie_expiry, new_credentials
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.rest import GrvtUrls

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "venues" / "grvt"
RECORDED: dict[str, Any] = json.loads((FIXTURES / "recorded.json").read_text())
SPEC: dict[str, Any] = json.loads((FIXTURES / "api_spec_examples.json").read_text())
BTC = "BTC_USDT_Perp"
AAVE = "AAVE_USDT_Perp"
D = Decimal


def rec(name: str) -> Any:
    return copy.deepcopy(RECORDED[name])


# -- a loopback server answering with recorded payloads -----------------------------


@dataclass
class Replay:
    """Answers ``POST /full/v1/<endpoint>`` from per-endpoint queues (the last answer
    of a queue repeats); remembers every request body."""

    answers: dict[str, list[tuple[int, Any, dict[str, str]]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    logins: int = 0

    def answer(
        self, endpoint: str, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self.answers.setdefault(endpoint, []).append((status, body, headers or {}))

    def bodies(self, endpoint: str) -> list[dict[str, Any]]:
        return [b for e, b in self.requests if e == endpoint]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        body = await request.json()
        self.requests.append((endpoint, body))
        queue = self.answers.get(endpoint)
        if not queue:
            return web.json_response(
                {"code": 1004, "message": "no answer", "status": 404}, status=404
            )
        status, answer, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.json_response(answer, status=status, headers=headers)

    async def login(self, request: web.Request) -> web.StreamResponse:
        assert request.headers.get("Cookie", "").startswith("rm=true")  # as GRVT's docs, ccxt
        self.logins += 1
        resp = web.json_response({"status": "success", "location": ""})
        expires = cookie_expiry(__import__("time").time() + 3600)
        resp.headers["Set-Cookie"] = f"gravity=tok{self.logins}; Path=/; Expires={expires}"
        resp.headers["X-Grvt-Account-Id"] = "0xabc"
        return resp


@dataclass
class Recorded:
    replay: Replay
    conn: GrvtConnector
    events: list[Event]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
async def rec_conn() -> AsyncIterator[Recorded]:
    replay = Replay()
    app = web.Application()
    app.router.add_post("/auth/api_key/login", replay.login)
    app.router.add_post("/full/v1/{endpoint}", replay.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    creds = new_credentials()
    keys = GrvtKeys(creds.api_key, creds.sub_account_id, creds.private_key)
    base = str(server.make_url("")).rstrip("/")
    conn = GrvtConnector(GrvtUrls.single(base, "ws://127.0.0.1:9/ws"), keys)
    events: list[Event] = []
    conn._events.sink = events.append  # what connect() does; no sockets in these tests
    # the two recorded instruments, the second without the fields the 2026-04 spec
    # made optional
    newer = rec("instrument_strings")
    del newer["settlement_period"], newer["max_position_size"]
    replay.answer("instruments", {"result": [rec("instrument_ints"), newer]})
    await conn.rest.start()
    try:
        yield Recorded(replay, conn, events)
    finally:
        await conn.close()
        await server.close()


async def flushed(r: Recorded) -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def frame_text(payload: Any) -> str:
    return json.dumps(payload)


# -- REST ---------------------------------------------------------------------------


async def test_recorded_instruments(rec_conn: Recorded) -> None:
    insts = await rec_conn.conn.instruments()
    btc, aave = insts[BTC], insts[AAVE]
    assert (btc.base, btc.quote, btc.contract_type) == ("BTC", "USDT", "perp")
    assert (btc.tick_size, btc.step_size, btc.min_size) == (D("0.1"), D("0.001"), D("0.001"))
    assert btc.min_notional == D("100.0")  # recorded: min_notional "100.0" (was dropped)
    assert (aave.tick_size, aave.step_size, aave.min_size) == (D("0.01"), D("0.1"), D("0.1"))
    assert aave.min_notional == 0  # absent in the recording
    assert rec_conn.conn.reads.assets[AAVE].base_decimals == 9  # "9" as a string, recorded
    assert rec_conn.conn.reads.assets[BTC].instrument_hash == "0x030501"


async def test_spec_instrument_example_and_an_unreadable_entry(rec_conn: Recorded) -> None:
    bad = rec("instrument_ints") | {"instrument": "ETH_USDT_Perp", "tick_size": "1e999990"}
    spec = SPEC["Get Filtered Instruments"]["Full Response"]
    rec_conn.replay.answers["instruments"] = [(200, {"result": [*spec["result"], bad]}, {})]
    insts = await rec_conn.conn.instruments()
    assert list(insts) == [BTC]  # the unreadable one is named in the log and counted
    assert insts[BTC].min_notional == D("20.0") and insts[BTC].tick_size == D("0.01")
    assert rec_conn.conn.stats.extra["bad_instruments"] == 1


async def test_recorded_open_orders(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    rec_conn.replay.answer("open_orders", rec("open_orders"))
    (o,) = await rec_conn.conn.open_orders(BTC)
    # signature.v / nonce are strings here: grvt-pysdk 0.2.1 could not read this answer
    assert (o.symbol, o.side, o.price, o.size, o.remaining_size) == (
        BTC,
        Side.BUY,
        D("88123.0"),
        D("0.002"),
        D("0.002"),
    )
    assert o.venue_order_id == "0x0101010503e693410000000069530a7d"
    assert o.venue_client_id == "588129369"  # another tool's id, exactly as listed
    assert o.client_id == "588129369"  # not ours: shown with its raw id
    assert not o.post_only and not o.reduce_only
    (body,) = rec_conn.replay.bodies("open_orders")
    assert body["kind"] == ["PERPETUAL"] and body["base"] == ["BTC"] and body["quote"] == ["USDT"]


async def test_recorded_get_order_is_the_lookup(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    rec_conn.replay.answer("order", rec("get_order"))
    found = await rec_conn.conn.lookup_order(BTC, "1375879248")
    assert found is not None
    assert (found.status, found.side, found.price, found.size, found.filled_size) == (
        OrderStatus.FILLED,
        Side.BUY,
        D("90000.0"),
        D("0.001"),
        D("0.001"),
    )
    assert found.client_id == "1375879248"
    assert found.venue_order_id == "0x01010105034cddc7000000006621285c"
    (body,) = rec_conn.replay.bodies("order")
    assert body["client_order_id"] == "1375879248"


async def test_a_lookup_grvt_does_not_know_searches_the_history_then_says_none(
    rec_conn: Recorded,
) -> None:
    await rec_conn.conn.instruments()
    ours = rec_conn.conn.venue_client_id("mmabcde-7")
    rec_conn.replay.answer("order", {"code": 1004, "message": "Data Not Found", "status": 404}, 404)
    page1 = SPEC["Order History"]["Full Response"]  # next "Qw0918="
    done = rec("get_order")["result"]
    done["metadata"]["client_order_id"] = ours
    rec_conn.replay.answer("order_history", page1)
    rec_conn.replay.answer("order_history", {"result": [done], "next": ""})
    found = await rec_conn.conn.lookup_order(BTC, "mmabcde-7")
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.client_id == "mmabcde-7"
    cursors = [b.get("cursor") for b in rec_conn.replay.bodies("order_history")]
    assert cursors == ["", "Qw0918="]
    # unknown everywhere: None
    rec_conn.replay.answers["order_history"] = [(200, {"result": [], "next": ""}, {})]
    assert await rec_conn.conn.lookup_order(BTC, "mmabcde-8") is None


async def test_recorded_fill_history_every_page(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    rec_conn.replay.answer("fill_history", SPEC["Fill History"]["Full Response"])
    rec_conn.replay.answer("fill_history", rec("fill_history"))
    fills = await rec_conn.conn.fills_since(0, BTC)
    assert [f.trade_id for f in fills] == ["209358-2", "65424692-2"]  # oldest first
    f = fills[1]
    assert (f.symbol, f.side, f.price, f.size, f.fee, f.liquidity) == (
        BTC,
        Side.BUY,
        D("90000.0"),
        D("0.001"),
        D("-0.00009"),  # a maker rebate
        Liquidity.MAKER,
    )
    assert (f.client_id, f.venue_order_id) == ("1375879248", "0x01010105034cddc7000000006621285c")
    assert f.ts_ms == 1764945709702
    spec_fill = fills[0]  # numbers as JSON numbers in the spec example: read all the same
    assert (spec_fill.size, spec_fill.fee, spec_fill.liquidity) == (
        D("0.30"),
        D("9.75"),
        Liquidity.TAKER,
    )
    bodies = rec_conn.replay.bodies("fill_history")
    assert [b["cursor"] for b in bodies] == ["", "Qw0918="]
    assert bodies[0]["start_time"] == "0" and bodies[0]["limit"] == 1000


async def test_fills_since_filters_and_refuses_a_cursor_that_repeats(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    rec_conn.replay.answer("fill_history", rec("fill_history"))
    assert await rec_conn.conn.fills_since(1764945709703) == []  # a ms after the fill
    looping = {"result": [], "next": "Qw0918="}
    rec_conn.replay.answers["fill_history"] = [(200, looping, {})]
    with pytest.raises(VenueError, match="cursor repeats") as info:
        await rec_conn.conn.fills_since(0)
    assert info.value.code == ErrorCode.BAD_ANSWER


async def test_recorded_positions_and_the_spec_summary(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    rec_conn.replay.answer("positions", rec("positions"))
    (p,) = await rec_conn.conn.positions()
    assert (p.symbol, p.size, p.entry_price) == (BTC, D("0.001"), D("90000.0"))
    assert (p.unrealized_pnl, p.realized_pnl, p.ts_ms) == (D("-0.183099"), D("0.0"), 1765258069092)
    short = rec("positions")
    short["result"][0]["size"] = "-0.001"
    rec_conn.replay.answers["positions"] = [(200, short, {})]
    (p,) = await rec_conn.conn.positions()
    assert p.size == D("-0.001")  # signed: short is negative
    rec_conn.replay.answer("account_summary", SPEC["Sub Account Summary"]["Full Response"])
    (bal,) = await rec_conn.conn.balances()
    assert (bal.asset, bal.total, bal.available) == ("USDT", D("123456.78"), D("123456.78"))


async def test_recorded_create_and_cancel_answers(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    rec_conn.replay.answer("create_order", rec("create_order"))
    rec_conn.replay.answer("cancel_order", rec("cancel_order"))
    small = OrderRequest("mmabcde-1", BTC, Side.BUY, D("0.001"), price=D("50000.0"))
    with pytest.raises(VenueError) as info:  # 50 USDT: GRVT would refuse it (2066)
        await rec_conn.conn.place(small)
    assert info.value.code == ErrorCode.MIN_NOTIONAL
    assert rec_conn.replay.bodies("create_order") == []  # never sent
    ack = await rec_conn.conn.place(
        OrderRequest("mmabcde-2", BTC, Side.BUY, D("0.002"), price=D("50000.0"))
    )
    # recorded: PENDING with order_id "0x00" (no id yet)
    assert (ack.status, ack.venue_order_id, ack.reason) == (OrderStatus.PENDING, None, "")
    (sent,) = rec_conn.replay.bodies("create_order")
    order = sent["order"]
    assert order["metadata"]["client_order_id"] == rec_conn.conn.venue_client_id("mmabcde-2")
    assert order["legs"][0] == {
        "instrument": BTC,
        "size": "0.002",
        "limit_price": "50000.0",
        "is_buying_asset": True,
    }
    assert await rec_conn.conn.cancel(BTC, "mmabcde-2") is True
    (cancel,) = rec_conn.replay.bodies("cancel_order")
    assert cancel["client_order_id"] == rec_conn.conn.venue_client_id("mmabcde-2")


async def test_an_unreadable_create_answer_has_an_unknown_outcome(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    broken = rec("create_order")
    broken["result"]["state"]["status"] = "SOMETHING_NEW"
    rec_conn.replay.answer("create_order", broken)
    with pytest.raises(VenueError) as info:
        await rec_conn.conn.place(
            OrderRequest("mmabcde-3", BTC, Side.BUY, D("0.002"), price=D("50000.0"))
        )
    assert info.value.code == ErrorCode.BAD_ANSWER and info.value.outcome_unknown
    assert "create_order" in str(info.value) and "state.status" in str(info.value)


@pytest.mark.parametrize(
    ("status", "body", "code", "venue_code"),
    [
        (400, {"code": 2066, "message": "Order below minimum notional."}, "min_notional", "2066"),
        (
            400,
            {"code": 2062, "message": "Order size smaller than min size"},
            "invalid_size",
            "2062",
        ),
        (400, {"code": 2065, "message": "Order size too granular"}, "invalid_size", "2065"),
        (400, {"code": 2064, "message": "Invalid limit price tick"}, "invalid_price", "2064"),
        (400, {"code": 2012, "message": "Client Order ID overlaps"}, "duplicate_client_id", "2012"),
        (429, {"code": 2090, "message": "Max open orders exceeded"}, "too_many_orders", "2090"),
        (400, {"code": 2080, "message": "Insufficient margin"}, "insufficient_margin", "2080"),
        (403, {"code": 2000, "message": "unauthorized signer"}, "bad_key", "2000"),
        (
            200,
            {"code": 2001, "message": "Signature has expired", "status": 403},
            "invalid_order",
            "2001",
        ),
    ],
)
async def test_grvt_error_codes_map_to_one_code_each(
    rec_conn: Recorded, status: int, body: dict, code: str, venue_code: str
) -> None:
    await rec_conn.conn.instruments()
    rec_conn.replay.answer("create_order", body, status)
    with pytest.raises(VenueError) as info:
        await rec_conn.conn.place(
            OrderRequest("mmabcde-4", BTC, Side.BUY, D("0.002"), price=D("50000.0"))
        )
    err = info.value
    assert (err.code, err.venue_code) == (code, venue_code)
    assert not isinstance(err, RateLimited) and not err.retryable and not err.outcome_unknown


async def test_rate_limit_honours_retry_after(rec_conn: Recorded) -> None:
    await rec_conn.conn.instruments()
    body = {"code": 1006, "message": "You have surpassed the allocated rate limit", "status": 429}
    rec_conn.replay.answer("open_orders", body, 429, {"Retry-After": "3"})
    with pytest.raises(RateLimited) as info:
        await rec_conn.conn.open_orders()
    assert info.value.retry_after == 3 and info.value.venue_code == "1006"


async def test_a_401_without_status_logs_in_again(rec_conn: Recorded) -> None:
    """The spec's error form (``request_id``/``code``/``message``/``status``), and the
    same without ``status``: both are a refused session and get one new login."""
    await rec_conn.conn.instruments()
    error = SPEC["Open Orders"]["Full Error Response"]
    without_status = {k: v for k, v in error.items() if k != "status"}
    rec_conn.replay.answer("open_orders", error, 401)
    rec_conn.replay.answer("open_orders", rec("open_orders"))
    rec_conn.replay.answer("open_orders", without_status, 401)
    rec_conn.replay.answer("open_orders", rec("open_orders"))
    assert len(await rec_conn.conn.open_orders()) == 1
    assert rec_conn.replay.logins == 2  # the first session, then one after the 401
    assert len(await rec_conn.conn.open_orders()) == 1
    assert rec_conn.replay.logins == 3


# -- streams ---------------------------------------------------------------------------


async def subscribed(r: Recorded) -> None:
    await r.conn.instruments()
    await r.conn.subscribe_books([BTC])


def push(r: Recorded, payload: Any, *, private: bool = False) -> bool:
    ws = r.conn.trade_ws if private else r.conn.market_ws
    assert ws is not None
    return ws.handle(None, frame_text(payload))


async def test_recorded_book_sequence_ack_snapshot_deltas(rec_conn: Recorded) -> None:
    """The recorded numbering (ack first 1061214 / latest 1061213, snapshot 0/0, deltas
    from 1061214 with prev 1061213) on a ``v1.book.d`` subscription; the deltas are
    built in the spec's ``v1.book.d`` form around the recorded ``v1.book.s`` levels."""
    r = rec_conn
    await subscribed(r)
    book = r.conn.book(BTC)
    assert book is not None
    selector = f"{BTC}@100"
    ack = rec("ws_sub_confirm")
    ack["result"]["stream"], ack["result"]["subs"] = "v1.book.d", [selector]
    assert push(r, ack)
    assert r.conn.market_ws.acked[("v1.book.d", selector)] == (1061214, 1061213)
    snapshot = rec("ws_book_s") | {"stream": "v1.book.d", "selector": selector}
    assert push(r, snapshot)
    assert book.is_valid() and book.best_bid() == D("88107.3") and book.best_ask() == D("88107.4")
    template = SPEC["STREAM v1.book.d"]["feed"]

    def delta(seq: int, bids: list, asks: list) -> dict[str, Any]:
        out = copy.deepcopy(template)
        out["selector"] = selector
        out["sequence_number"], out["prev_sequence_number"] = str(seq), str(seq - 1)
        out["feed"] |= {"instrument": BTC, "bids": bids, "asks": asks}
        return out

    lv = lambda p, s: {"price": p, "size": s, "num_orders": 3}  # noqa: E731
    assert push(r, delta(1061214, [lv("88107.3", "0")], [lv("88107.5", "1.2")]))
    assert push(r, delta(1061215, [lv("88107.2", "0.5")], []))
    assert push(r, delta(1061215, [lv("88107.2", "9")], []))  # a repeat: ignored
    assert book.is_valid() and book.seq == 1061215
    assert (book.best_bid(), book.best_bid_size()) == (D("88107.2"), D("0.5"))
    assert book.best_ask() == D("88107.4")
    assert r.conn.stats.resyncs == 0 and "first_delta_not_acked" not in r.conn.stats.extra
    # a real gap: one resync
    assert push(r, delta(1061217, [lv("88107.1", "1")], []))
    assert not book.is_valid() and r.conn.stats.resyncs == 1
    assert "sequence gap" in book.resync_reason
    assert push(r, delta(1061218, [lv("88107.0", "1")], []))  # ignored until a snapshot
    assert r.conn.stats.resyncs == 1
    # the resubscribe's snapshot brings it back, and the next delta is taken as it comes
    assert push(r, snapshot) and book.is_valid()
    assert push(r, delta(1061300, [lv("88107.2", "0.7")], []))
    assert book.is_valid() and book.bids(2) == [
        (D("88107.3"), D("5.322")),
        (D("88107.2"), D("0.7")),
    ]
    await flushed(r)
    assert r.conn.stats.bad_frames == 0


async def test_recorded_mini_frames_and_acks_are_not_bad(rec_conn: Recorded) -> None:
    r = rec_conn
    await subscribed(r)
    for name in ("ws_sub_confirm", "ws_mini_d_snapshot", "ws_mini_d_delta"):
        assert push(r, rec(name)), name
    await flushed(r)
    assert r.conn.stats.bad_frames == 0 and r.events == []
    assert r.conn.market_ws.acked[("v1.mini.d", f"{BTC}@500")] == (1061214, 1061213)


async def test_recorded_trade_replay_is_not_a_new_trade(rec_conn: Recorded) -> None:
    r = rec_conn
    await subscribed(r)
    assert push(r, rec("ws_trade"))  # sequence 0: the subscribe's replay
    live = rec("ws_trade") | {"sequence_number": "5", "prev_sequence_number": "4"}
    assert push(r, live)
    await flushed(r)
    (t,) = r.of(Trade)
    assert (t.symbol, t.side, t.price, t.size, t.ts_ms) == (
        BTC,
        Side.BUY,
        D("87700.1"),
        D("0.001"),
        1767257046164,
    )


async def test_recorded_private_frames(rec_conn: Recorded) -> None:
    r = rec_conn
    await r.conn.instruments()
    assert push(r, rec("ws_fill"), private=True)
    assert push(r, rec("ws_position"), private=True)
    assert push(r, rec("ws_order"), private=True)
    await flushed(r)
    (f,) = r.of(Fill)
    assert (f.symbol, f.side, f.price, f.size, f.fee, f.liquidity) == (
        BTC,
        Side.BUY,
        D("89473.4"),
        D("0.001"),
        D("0.040263"),
        Liquidity.TAKER,
    )
    assert (f.trade_id, f.client_id, f.ts_ms) == ("74150425-1", "99191900", 1767354369431)
    assert f.venue_order_id == "0x0101010503a12f6e000000007791f1bd"
    (p,) = r.of(Position)
    assert (p.symbol, p.size, p.entry_price, p.unrealized_pnl) == (
        BTC,
        D("0.001"),
        D("89426.4"),
        D("0.003718"),
    )
    (u,) = r.of(OrderUpdate)
    assert (u.symbol, u.client_id, u.status, u.filled_size, u.remaining_size) == (
        BTC,
        "747860882",  # another tool's order: delivered with its raw id, never dropped
        OrderStatus.OPEN,
        D("0.0"),
        D("0.001"),
    )
    assert u.venue_order_id == "0x010101050390cd89000000007799a374" and u.ts_ms == 1767359366686
    assert r.conn.stats.bad_frames == 0


async def test_spec_stream_examples(rec_conn: Recorded) -> None:
    r = rec_conn
    await r.conn.instruments()
    assert push(r, SPEC["STREAM v1.order"]["feed"], private=True)  # PENDING: no event yet
    assert push(r, SPEC["STREAM v1.fill"]["feed"], private=True)
    assert push(r, SPEC["STREAM v1.order"]["legacy_sub_resp"], private=True)
    await flushed(r)
    assert r.of(OrderUpdate) == []
    (f,) = r.of(Fill)
    assert (f.size, f.price, f.fee, f.client_id) == (D("0.30"), D("65038.01"), D("9.75"), "23042")


async def test_a_fill_of_no_order_of_ours_has_no_client_id(rec_conn: Recorded) -> None:
    """A liquidation: the recorded ``v1.fill`` with ``is_liquidation`` true and no client
    order id (``"0"``, the spec's empty value; or the field absent)."""
    r = rec_conn
    await r.conn.instruments()
    liq = rec("ws_fill")
    liq["feed"] |= {"is_liquidation": True, "client_order_id": "0", "order_id": "0x00"}
    liq["feed"]["is_buyer"] = False
    assert push(r, liq, private=True)
    absent = rec("ws_fill")
    del absent["feed"]["client_order_id"]
    absent["feed"]["trade_id"] = "74150426-1"
    assert push(r, absent, private=True)
    await flushed(r)
    first, second = r.of(Fill)
    assert (first.client_id, first.venue_order_id, first.side) == (None, None, Side.SELL)
    assert second.client_id is None and second.size == D("0.001")


async def test_unreadable_frames_are_counted_not_guessed(rec_conn: Recorded) -> None:
    r = rec_conn
    await r.conn.instruments()
    huge = rec("ws_fill")
    huge["feed"]["size"] = "1e999990"
    assert not push(r, huge, private=True)
    no_side = rec("ws_fill")
    del no_side["feed"]["is_buyer"]
    assert not push(r, no_side, private=True)
    bad_seq = rec("ws_order") | {"sequence_number": "x" * 30}
    assert not push(r, bad_seq, private=True)
    await flushed(r)
    assert r.of(Fill) == [] and r.conn.stats.bad_frames == 3


async def test_account_from_the_spec_summary_with_a_recorded_position_and_ticker(
    rec_conn: Recorded,
) -> None:
    """``read_account``: the spec's account summary carrying the recorded live position
    (the summary's positions are the Positions model), the spec's ticker example."""
    await rec_conn.conn.instruments()
    summary = copy.deepcopy(SPEC["Sub Account Summary"]["Full Response"])
    summary["result"]["positions"] = rec("positions")["result"]
    rec_conn.replay.answer("account_summary", summary)
    rec_conn.replay.answer("ticker", SPEC["Ticker"]["Full Response"])
    state = await rec_conn.conn.read_account([BTC])
    (btc,) = state.markets
    assert (btc.symbol, btc.position_size) == (BTC, D("0.001"))
    assert btc.liquidation_price == D("77951.450008979")
    assert btc.leverage == D("28.0")  # the venue's own figure
    assert btc.funding == D("-0.033862")  # cumulative_realized_funding_payment: paid
    assert btc.funding_rate == D("0.0003") / 100  # a percentage on the wire
    assert btc.next_funding_ms == 1697788800000
    assert (state.equity, state.margin_used, state.available) == (
        D("123456.78"),
        D("123456.78"),
        D("123456.78"),
    )
    assert state.leverage == D("89.8169") / D("123456.78")
    assert rec_conn.replay.bodies("ticker") == [{"instrument": BTC}]
