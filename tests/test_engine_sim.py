"""The core end to end on the embedded sim, faster than real time."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import ClassVar

import pytest

from connectors.base import OrderStatus, Side
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState
from mmtui.session import Session
from strategies.base import OrderView, Strategy

from .conftest import sim_config


async def test_as_run_fills_and_inventory_inside_limit(session: Session) -> None:
    engine = session.engine
    runner = engine.runner("as_btc")
    worst = D(0)
    for _ in range(120):
        await session.run_for(1.0)
        worst = max(worst, abs(runner.position("sim", "BTC-PERP").size))
        live = runner.orders()
        assert len([o for o in live if o.side is Side.BUY and not o.cancel_requested]) <= 1
        assert len([o for o in live if o.side is Side.SELL and not o.cancel_requested]) <= 1
    assert runner.state is StrategyState.RUNNING, runner.reason
    summary = engine.summary()
    assert summary.fills > 0
    assert worst <= D("0.05")
    assert runner.tick_errors == 0
    tel = runner.telemetry.values
    assert tel["state"] in ("quoting", "bid only (inventory limit)", "ask only (inventory limit)")
    assert float(tel["sigma"]) > 0  # type: ignore[arg-type]
    # the account's position from our fills equals what the venue reports
    venue_pos = {p.symbol: p.size for p in await engine.connectors["sim"].positions()}
    assert venue_pos.get("BTC-PERP", D(0)) == engine.positions.get(("sim", "BTC-PERP")).size


async def test_shutdown_leaves_no_open_orders(make_session: Callable[..., Session]) -> None:
    s = make_session()
    await s.start()
    await s.run_for(20)
    assert s.engine.orders.live_count() > 0
    report = await s.stop()
    assert report.ok and report.open_orders_left == 0
    venue = s.world.venues["sim"]  # type: ignore[union-attr]
    assert venue.open_orders("me") == []
    assert s.summary().open_orders_left == 0


async def test_kill_switch_flattens_everything(make_session: Callable[..., Session]) -> None:
    cfg = sim_config(
        venues={"a": {"type": "sim"}, "b": {"type": "sim"}},
        strategies=[
            {
                "name": "as_a",
                "kind": "avellaneda_stoikov",
                "venue": "a",
                "symbol": "BTC-PERP",
                "params": {"size": 0.01, "max_position": 0.05, "gamma": 0.01, "k": 0.5},
            },
            {
                "name": "as_b",
                "kind": "avellaneda_stoikov",
                "venue": "b",
                "symbol": "BTC-PERP",
                "params": {"size": 0.01, "max_position": 0.05, "gamma": 0.01, "k": 0.5},
            },
        ],
    )
    s = make_session(cfg)
    await s.start()
    try:
        for _ in range(120):
            await s.run_for(1)
            if all(s.engine.positions.get((v, "BTC-PERP")).size != 0 for v in ("a", "b")):
                break
        assert any(s.engine.positions.get((v, "BTC-PERP")).size != 0 for v in ("a", "b"))
        report = await s.engine.kill_switch()
        assert report.ok, [str(line) for line in report.lines]
        assert {line.venue for line in report.lines} == {"a", "b"}
        assert s.engine.risk.state is RiskState.HALTED
        for v in ("a", "b"):
            assert s.world.venues[v].open_orders("me") == []  # type: ignore[union-attr]
            assert all(p.size == 0 for p in s.world.venues[v].positions("me"))  # type: ignore[union-attr]
            assert s.engine.positions.get((v, "BTC-PERP")).size == 0
        # the strategies' own books are closed too (resuming must not trade a ghost)
        for name in ("as_a", "as_b"):
            runner = s.engine.runner(name)
            assert runner.position(runner.venue, "BTC-PERP").size == 0
        assert all(r.state is StrategyState.PAUSED for r in s.engine.strategies.values())
        await s.run_for(5)
        assert s.engine.orders.live_count() == 0  # nothing new while halted
    finally:
        await s.stop()


async def test_pause_cancels_quotes_and_resume_quotes_again(session: Session) -> None:
    engine = session.engine
    await session.run_for(15)
    assert engine.runner("as_btc").orders()
    engine.pause_strategy("as_btc")
    await session.run_for(2)
    assert engine.runner("as_btc").orders() == []
    assert session.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]
    await session.run_for(5)
    assert engine.runner("as_btc").orders() == []
    engine.resume_strategy("as_btc")
    await session.run_for(3)
    assert engine.runner("as_btc").orders()


async def test_strategy_flatten_leaves_its_position_at_zero(session: Session) -> None:
    engine = session.engine
    for _ in range(120):
        await session.run_for(1)
        if engine.runner("as_btc").position("sim", "BTC-PERP").size != 0:
            break
    assert engine.runner("as_btc").position("sim", "BTC-PERP").size != 0
    report = await engine.flatten(strategy="as_btc")
    assert report.ok, [str(line) for line in report.lines]
    assert engine.runner("as_btc").position("sim", "BTC-PERP").size == 0
    assert engine.runner("as_btc").state is StrategyState.PAUSED


class _Broken(Strategy):
    kind = "broken_test"
    paused = 0

    def on_tick(self, now_ms: int) -> None:
        raise RuntimeError("boom")

    def on_pause(self) -> None:
        type(self).paused += 1


async def test_tick_errors_are_counted_and_halt(session: Session, monkeypatch) -> None:
    from strategies import registry

    monkeypatch.setitem(registry.STRATEGY_KINDS, "broken_test", _Broken)
    engine = session.engine
    engine.add_strategy(
        "bad", "broken_test", "sim", "BTC-PERP", {"tick_interval_ms": 100, "max_tick_errors": 3}
    )
    await engine.start_strategy("bad")
    await session.run_for(2)
    runner = engine.runner("bad")
    assert runner.state is StrategyState.HALTED
    assert runner.tick_errors == 3 and "boom" in runner.reason
    assert _Broken.paused == 1 and not runner.running  # told, and it knows it may not place


async def test_risk_rejects_reach_the_strategy_not_the_venue(session: Session) -> None:
    engine = session.engine
    await session.run_for(10)
    runner = engine.runner("as_btc")
    order = runner.place("sim", "BTC-PERP", Side.BUY, D("10"), D("1000"))  # far outside limits
    assert order.status is OrderStatus.REJECTED and order.reason.startswith("risk:")
    assert engine.summary().risk_rejections


async def test_book_gap_resyncs_to_the_venue_book(session: Session) -> None:
    conn = session.engine.connectors["sim"]
    await session.run_for(3)
    conn.skip_next_seq = True  # type: ignore[attr-defined]
    await session.run_for(3)
    book = conn.book("BTC-PERP")
    assert book is not None and book.is_valid()
    assert conn.stats.resyncs >= 1
    venue = session.world.venues["sim"]  # type: ignore[union-attr]
    bids, asks, _ = venue.snapshot("BTC-PERP", 20)
    assert book.bids_ticks(20) == bids and book.asks_ticks(20) == asks


async def test_rate_limit_budget_is_used_and_respected(
    make_session: Callable[..., Session],
) -> None:
    cfg = sim_config(
        venues={
            "sim": {
                "type": "sim",
                "flow": {"taker_k": 1.0},
                "rate_limit": {"capacity": 60, "per_seconds": 60},
            }
        },
    )
    s = make_session(cfg)
    await s.start()
    try:
        await s.run_for(60)
        limiter = s.engine._gateways["sim"].limiter
        assert limiter is not None
        snap = limiter.snapshot()
        # 60 weight/minute plus the initial full bucket: never more requests than that
        assert snap.granted <= 60 + 60 + 1
        assert snap.granted > 10
        assert s.engine.summary().fills >= 0
    finally:
        report = await s.stop()
    assert report.ok and report.open_orders_left == 0


async def test_restart_hands_orders_back_and_keeps_inventory(
    make_session: Callable[..., Session], restart_session
) -> None:
    cfg = sim_config(journal={"enabled": True})
    old = make_session(cfg)
    await old.start()
    runner = old.engine.runner("as_btc")
    for _ in range(120):
        await old.run_for(1)
        if runner.position("sim", "BTC-PERP").size != 0 and runner.orders():
            break
    inventory = runner.position("sim", "BTC-PERP").size
    resting = {o.client_id for o in old.world.venues["sim"].open_orders("me")}  # type: ignore[union-attr]
    assert inventory != 0 and resting
    new = await restart_session(old)
    try:
        assert new.engine.run_prefix != old.engine.run_prefix
        new_runner = new.engine.runner("as_btc")
        # the venue's position and the strategy's inventory survive the restart
        assert new.engine.positions.get(("sim", "BTC-PERP")).size == inventory
        assert new_runner.position("sim", "BTC-PERP").size == inventory
        # its resting quotes were handed back, not cancelled and not duplicated
        assert {o.client_id for o in new_runner.orders()} == resting
        await new.run_for(2)
        venue_orders = new.world.venues["sim"].open_orders("me")  # type: ignore[union-attr]
        assert len([o for o in venue_orders if o.side.value == "buy"]) <= 1
        assert len([o for o in venue_orders if o.side.value == "sell"]) <= 1
    finally:
        report = await new.stop()
    assert report.ok and report.open_orders_left == 0
    assert new.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]


async def test_restart_cancels_orders_of_strategies_no_longer_configured(
    make_session: Callable[..., Session], restart_session
) -> None:
    old = make_session(sim_config(journal={"enabled": True}))
    await old.start()
    await old.run_for(15)
    assert old.world.venues["sim"].open_orders("me")  # type: ignore[union-attr]
    new = await restart_session(old, sim_config(journal={"enabled": True}, strategies=[]))
    try:
        assert new.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]
    finally:
        await new.stop()


async def test_quiet_book_is_not_stale(make_session: Callable[..., Session]) -> None:
    cfg = sim_config(
        sim={
            "seed": 1,
            "speed": None,
            "step_ms": 100,
            "assets": {
                "BTC": {
                    "start_price": 100000,
                    "tick_size": 0.1,
                    "step_size": 0.001,
                    "min_size": 0.001,
                    "volatility": 0,
                }
            },
        },
        venues={"sim": {"type": "sim", "basis": {"sigma": 0}, "flow": {"taker_rate": 0}}},
        risk={"stale_book_ms": 1000},
    )
    s = make_session(cfg)
    await s.start()
    try:
        await s.run_for(20)  # nothing moves for 20 s, yet the feed is alive
        book = s.engine.book("sim", "BTC-PERP")
        now = s.clock.now_ms()
        assert book is not None and book.feed_age_ms(now) <= 100  # the feed is alive
        assert book.age_ms(now) > 1000  # though the book has not changed
        rejects = s.engine.risk.rejections
        assert not any(k.startswith("stale") for k in rejects), rejects
        assert s.engine.runner("as_btc").orders()
    finally:
        await s.stop()


async def test_every_kind_previews_with_its_defaults(make_session: Callable[..., Session]) -> None:
    """The console's `n` starts from each kind's defaults: they must preview on the sim
    (cross-venue kinds get the second venue, the one thing they cannot default)."""
    from strategies.registry import STRATEGY_KINDS

    s = make_session(sim_config(venues={"sim": {"type": "sim"}, "b": {"type": "sim"}}))
    await s.start()
    try:
        await s.run_for(10)
        for kind, cls in STRATEGY_KINDS.items():
            cls.Params()  # the launcher renders these defaults
            params = {f: "b" for f in cls.Params.model_fields if f.endswith("_venue")}
            planned = await s.engine.preview_with_books(kind, "sim", "BTC-PERP", params)
            assert isinstance(planned, list), kind
            for order in planned:
                assert order.venue in ("sim", "b") and order.size > 0, (kind, order)
    finally:
        await s.stop()


async def test_amend_is_declined_where_the_venue_cannot_modify(session: Session) -> None:
    # the sim venue has no modify: strategies fall back to cancel + place
    engine = session.engine
    assert not engine.can_amend("sim")
    runner = engine.runner("as_btc")
    for _ in range(20):
        await session.run_for(1.0)
        if runner.orders():
            break
    (order, *_) = runner.orders()
    assert not engine.request_amend(order, order.price - 10)  # type: ignore[arg-type, operator]
    assert not order.amending and order.amends == 0
    assert engine.summary().orders_amended == 0


class _OverSize(Strategy):
    """Places one order far outside the risk limits and notes when it hears back."""

    kind = "oversize_test"
    placing: ClassVar[bool] = False
    heard: ClassVar[list[tuple[OrderStatus, bool]]] = []

    def on_tick(self, now_ms: int) -> None:
        if type(self).heard or self.placing:
            return
        type(self).placing = True
        try:
            self.ctx.place(self.venue, self.symbol, Side.BUY, D("10"), D("1000"))
        finally:
            type(self).placing = False

    def on_order(self, order: OrderView) -> None:
        type(self).heard.append((order.status, type(self).placing))


async def test_a_risk_reject_reaches_the_strategy_on_the_next_loop_turn(
    session: Session, monkeypatch
) -> None:
    from strategies import registry

    monkeypatch.setitem(registry.STRATEGY_KINDS, "oversize_test", _OverSize)
    monkeypatch.setattr(_OverSize, "heard", [])
    engine = session.engine
    engine.add_strategy("big", "oversize_test", "sim", "BTC-PERP", {"tick_interval_ms": 100})
    await engine.start_strategy("big")
    await session.run_for(1)
    # told exactly once, and never from inside its own place() call
    assert _OverSize.heard == [(OrderStatus.REJECTED, False)]


async def _trade_until_holding(session: Session, name: str = "as_btc") -> D:
    runner = session.engine.runner(name)
    for _ in range(240):
        await session.run_for(1)
        if runner.position("sim", "BTC-PERP").size != 0:
            break
    held = runner.position("sim", "BTC-PERP").size
    assert held != 0
    return held


@pytest.mark.parametrize("policy", ["start_flat", "adopt_account"])
async def test_a_fresh_sim_account_starts_its_strategies_flat(
    make_session: Callable[..., Session], policy: str
) -> None:
    """Quit holding a position, start again on a new sim (the journal remembers the
    inventory, the new account holds nothing): the strategy starts flat, like its
    account, and the disagreement is shown and logged with its size."""
    cfg = sim_config(journal={"enabled": True}, inventory_at_start=policy)
    first = make_session(cfg)
    await first.start()
    held = await _trade_until_holding(first)
    await first.stop()  # cancels the orders; the position stays on that (old) venue
    second = make_session(cfg)  # a fresh world: the account is flat
    await second.start()
    try:
        runner = second.engine.runner("as_btc")
        assert runner.position("sim", "BTC-PERP").size == 0
        assert second.engine.positions.get(("sim", "BTC-PERP")).size == 0
        (mismatch,) = second.engine.reconciler.inventory_mismatches
        assert (mismatch.account, mismatch.claimed) == (0, held)
        notes = [d for _, kind, d in second.engine.events if kind == "inventory_mismatch"]
        assert notes and f"differ by {-held}" in notes[0]
        assert second.engine.view.header().attention[0].startswith("inventory sim BTC-PERP")
        assert any("differ by" in note for note in second.engine.summary().notices)
    finally:
        await second.stop()
