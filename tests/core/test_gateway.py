"""The gateway under venue faults: 429 bursts and transient errors never lose
or duplicate an order; cancels go before places."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal as D

from connectors.base import OrderAck, OrderRequest, OrderStatus, RateLimited, Side, VenueError
from connectors.sim.connector import SimConnector
from mmtui.core.gateway import VenueGateway
from mmtui.core.orders import Order, OrderManager
from mmtui.core.ratelimit import Priority, RateLimiter
from mmtui.session import Session


class FlakyConnector:
    """Wraps a SimConnector: the next ``fail_places`` place calls fail before
    reaching the venue (as a 429 or 5xx would)."""

    def __init__(self, inner: SimConnector, error: Callable[[], Exception]) -> None:
        self.inner = inner
        self.name = inner.name
        self.stats = inner.stats
        self.fail_places = 0
        self.calls = 0
        self._error = error

    async def place(self, request: OrderRequest) -> OrderAck:
        self.calls += 1
        if self.fail_places > 0:
            self.fail_places -= 1
            raise self._error()
        return await self.inner.place(request)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def _run_burst(
    session: Session, error: Callable[[], Exception]
) -> tuple[list[Order], FlakyConnector]:
    conn = FlakyConnector(session.engine.connectors["sim"], error)  # type: ignore[arg-type]
    conn.fail_places = 7
    acks: list[tuple[Order, OrderAck]] = []
    limiter = RateLimiter(600, 60.0)
    gateway = VenueGateway(
        conn,
        limiter,
        on_ack=lambda o, a: acks.append((o, a)),  # type: ignore[arg-type]
        on_cancel_result=lambda o, ok, r: None,
        retry_delay_s=0.01,
    )
    om = OrderManager("mmtest")
    book = session.engine.book("sim", "BTC-PERP")
    assert book is not None
    price = book.best_bid() - D(50)  # type: ignore[operator]
    orders = [
        om.create(
            venue="sim", symbol="BTC-PERP", side=Side.BUY, size=D("0.001"), price=price, now_ms=0
        )
        for _ in range(5)
    ]
    for order in orders:
        gateway.place(order)
    assert await gateway.drain(30)
    assert len(acks) == 5 and all(a.status is OrderStatus.OPEN for _, a in acks)
    return orders, conn


async def test_429_burst_places_every_order_exactly_once(session: Session) -> None:
    orders, conn = await _run_burst(
        session, lambda: RateLimited("429 Too Many Requests", retry_after=0.02)
    )
    venue_ids = [o.client_id for o in session.world.venues["sim"].open_orders("me")]  # type: ignore[union-attr]
    for order in orders:
        assert venue_ids.count(order.client_id) == 1
    assert conn.calls == 5 + 7


async def test_transient_5xx_retried_without_duplicates(session: Session) -> None:
    orders, _ = await _run_burst(session, lambda: VenueError("502 Bad Gateway", retryable=True))
    venue_ids = [o.client_id for o in session.world.venues["sim"].open_orders("me")]  # type: ignore[union-attr]
    assert sorted(venue_ids) == sorted(o.client_id for o in orders)


async def test_fatal_venue_error_rejects_the_order(session: Session) -> None:
    conn = FlakyConnector(
        session.engine.connectors["sim"], lambda: VenueError("insufficient margin")
    )  # type: ignore[arg-type]
    conn.fail_places = 1
    acks: list[OrderAck] = []
    gateway = VenueGateway(
        conn, None, on_ack=lambda o, a: acks.append(a), on_cancel_result=lambda *a: None
    )  # type: ignore[arg-type]
    order = OrderManager("mmtest").create(
        venue="sim", symbol="BTC-PERP", side=Side.BUY, size=D("0.001"), price=D(90_000), now_ms=0
    )
    gateway.place(order)
    assert await gateway.drain(5)
    assert acks[0].status is OrderStatus.REJECTED and "insufficient margin" in acks[0].reason
    assert conn.calls == 1


async def test_cancels_are_served_before_places() -> None:
    clock = {"t": 0.0}

    async def sleep(seconds: float) -> None:
        clock["t"] += seconds
        await asyncio.sleep(0)

    limiter = RateLimiter(1, 1.0, time_fn=lambda: clock["t"], sleep_fn=sleep)
    await limiter.acquire("x", Priority.PLACE)  # bucket now empty
    order: list[str] = []

    async def take(name: str, priority: Priority) -> None:
        await limiter.acquire(name, priority)
        order.append(name)

    tasks = [asyncio.create_task(take("place1", Priority.PLACE))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("place2", Priority.PLACE)))
    tasks.append(asyncio.create_task(take("cancel", Priority.CANCEL)))
    await asyncio.gather(*tasks)
    assert order.index("cancel") < order.index("place2")


async def test_a_retry_that_meets_its_own_earlier_order_counts_as_placed(session: Session) -> None:
    """A timeout after the order landed: the retry is told 'duplicate client id'. The
    order is live, so it is placed, not rejected (it would otherwise rest as an orphan)."""
    from connectors.base import DUPLICATE_CLIENT_ID

    inner = session.engine.connectors["sim"]
    calls = {"n": 0}

    class LostAnswer(FlakyConnector):
        async def place(self, request: OrderRequest) -> OrderAck:
            calls["n"] += 1
            if calls["n"] == 1:
                await self.inner.place(request)  # it lands ...
                raise VenueError("timeout", retryable=True)  # ... but the answer is lost
            raise VenueError("Duplicate client id", code=DUPLICATE_CLIENT_ID)

    conn = LostAnswer(inner, lambda: VenueError("unused"))  # type: ignore[arg-type]
    acks: list[OrderAck] = []
    gateway = VenueGateway(
        conn,
        None,
        on_ack=lambda o, a: acks.append(a),  # type: ignore[arg-type]
        on_cancel_result=lambda *a: None,
        retry_delay_s=0.01,
    )
    order = OrderManager("mmtest").create(
        venue="sim", symbol="BTC-PERP", side=Side.BUY, size=D("0.001"), price=D(90_000), now_ms=0
    )
    gateway.place(order)
    assert await gateway.drain(5)
    assert acks[0].status is OrderStatus.OPEN
    venue_ids = [o.client_id for o in session.world.venues["sim"].open_orders("me")]  # type: ignore[union-attr]
    assert venue_ids.count(order.client_id) == 1
