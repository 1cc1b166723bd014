"""The emulator kit: the request wrapper (refusals, lost answers), the subscription
hub and the account fan-out, on a tiny dialect of their own."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
from aiohttp import web

from connectors.base import ErrorCode, Fill, Liquidity, OrderStatus, OrderUpdate, Position, Side
from connectors.common.http import HttpClient
from connectors.emulation import AccountFanout, FaultState, LostAnswer, Routes, SubscriptionHub
from connectors.emulation.harness import default_world


class Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code


def _routes(faults: FaultState, booked: list[str]) -> web.Application:
    routes = Routes(
        "toy",
        faults,
        refusal=Refused,
        render_refusal=lambda e: web.json_response({"code": e.code}, status=e.status),
        server_error=lambda: web.json_response({"code": "INTERNAL"}, status=500),
    )

    async def place(request: web.Request) -> dict[str, str]:
        body = await request.json()
        if body.get("size") == 0:
            raise Refused(400, "INVALID_QUANTITY")
        if body.get("size") == -1:
            raise RuntimeError("a bug")
        booked.append(body["id"])
        return {"status": "New", "id": body["id"]}

    app = web.Application()
    app.router.add_post("/order", routes.wrap(place, name="place"))
    return app


@pytest.fixture
async def toy():
    faults, booked = FaultState(), []
    runner = web.AppRunner(_routes(faults, booked))
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    http = HttpClient(f"http://127.0.0.1:{port}", venue="toy")
    yield faults, booked, http
    await http.close()
    await runner.cleanup()


async def test_refusals_and_bugs_take_the_venue_forms(toy) -> None:
    _faults, booked, http = toy
    assert await http.request("POST", "/order", data=b'{"id":"a","size":1}') == {
        "status": "New",
        "id": "a",
    }
    with pytest.raises(Exception) as err:
        await http.request("POST", "/order", data=b'{"id":"b","size":0}')
    assert getattr(err.value, "venue_code", "") == "INVALID_QUANTITY"
    with pytest.raises(Exception) as err:
        await http.request("POST", "/order", data=b'{"id":"c","size":-1}')
    assert getattr(err.value, "code", "") == ErrorCode.SERVER_ERROR
    assert booked == ["a"]


@pytest.mark.parametrize(("mode", "code"), [("drop", ErrorCode.NETWORK), ("status", "server")])
async def test_a_lost_answer_books_the_order_and_the_client_cannot_tell(
    toy, mode: str, code: str
) -> None:
    faults, booked, http = toy
    faults.lost_answers["place"] = LostAnswer(mode, 503, 1)
    with pytest.raises(Exception) as err:
        await http.request("POST", "/order", data=b'{"id":"x","size":1}')
    assert getattr(err.value, "outcome_unknown", False)
    assert booked == ["x"]  # the venue took it
    await http.request("POST", "/order", data=b'{"id":"y","size":1}')  # one fault only
    assert booked == ["x", "y"]


def test_hub_subscriptions_and_publish() -> None:
    hub: SubscriptionHub[str] = SubscriptionHub()
    assert hub.add("c1", "depth.BTC")
    assert not hub.add("c1", "depth.BTC")
    hub.add("c2", "depth.BTC")
    hub.add("c2", "orders", state="alice")
    renders: list[int] = []
    sent: list[tuple[str, str]] = []

    def render() -> str:
        renders.append(1)
        return "frame"

    assert hub.publish("depth.BTC", render, lambda c, t: sent.append((c, t))) == 2
    assert len(renders) == 1
    assert (
        hub.publish("orders", render, lambda c, t: sent.append((c, t)), only=lambda s: s == "bob")
        == 0
    )
    assert hub.publish("nobody", render, lambda c, t: sent.append((c, t))) == 0
    assert len(renders) == 1  # nothing rendered for nobody
    hub.forget("c2")
    assert hub.subscribers("depth.BTC") == [("c1", None)]
    assert not hub.has("orders")
    assert hub.remove("c1", "depth.BTC") and not hub.has("depth.BTC")


def test_fanout_routes_events_and_drops_sockets_before_a_fill() -> None:
    world = default_world("toy")
    venue = world.venues["toy"]
    faults = FaultState()
    seen: list[str] = []
    drops: list[int] = []

    def bad_position(handle: str, p: Position) -> None:
        raise RuntimeError("a dialect bug")

    fan: AccountFanout[str] = AccountFanout(
        venue,
        faults,
        on_order=lambda h, u: seen.append(f"{h}:order:{u.status.value}"),
        on_fill=lambda h, f: seen.append(f"{h}:fill:{drops}"),
        on_position=bad_position,
        drop_sockets=lambda: drops.append(1) or 1,
    )
    fan.attach("alice", "A")
    upd = OrderUpdate("toy", "BTC-PERP", "c1", "1", OrderStatus.OPEN)
    fill = Fill(
        "toy",
        "BTC-PERP",
        "c1",
        "1",
        Side.BUY,
        Decimal(1),
        Decimal(1),
        Decimal(0),
        Liquidity.MAKER,
        "t1",
        0,
    )
    fan.route("A", upd)
    faults.close_on_fill = 1
    fan.route("A", fill)
    fan.route("A", fill)
    fan.route("A", Position("toy", "BTC-PERP", Decimal(1), Decimal(1)))
    assert seen == ["A:order:open", "A:fill:[1]", "A:fill:[1]"]  # dropped once, before the 1st
    assert fan.failures == 1  # the bad handler did not stop the others
    fan.detach("alice")
