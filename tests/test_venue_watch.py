"""VenueWatch: accounts read on each venue's own interval, a failed reading kept with
its reason (the last good one stays); PnlHistory covering the whole session."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import pairwise

from connectors.base import VenueError
from mmtui.core.pnl_history import PnlHistory
from mmtui.core.venue_watch import percentile
from mmtui.session import Session

from .conftest import sim_config


def test_percentile_is_nearest_rank() -> None:
    assert percentile((), 0.5) is None
    assert percentile((7,), 0.99) == 7
    samples = tuple(range(1, 101))  # 1..100
    assert percentile(samples, 0.5) == 50
    assert percentile(samples, 0.99) == 99
    assert percentile((5, 1, 3), 0.5) == 3


async def test_a_failed_reading_says_why_and_keeps_the_last_one(
    make_session: Callable[..., Session],
) -> None:
    session = make_session(sim_config())
    await session.start()
    try:
        engine = session.engine
        conn = engine.connectors["sim"]
        watch = engine.insight.watch
        await session.run_for(1)
        [view] = engine.view.accounts()
        assert view.supported and view.account is not None and view.error == ""
        good = view.account

        async def refuse(symbols: list[str]) -> object:
            raise VenueError("sim: account endpoint down (test)")

        conn.read_account = refuse  # type: ignore[attr-defined]
        await watch.refresh()
        [view] = engine.view.accounts()
        assert view.error == "sim: account endpoint down (test)"
        assert view.account == good  # the last good reading stays, with the reason

        async def broken(symbols: list[str]) -> object:
            raise KeyError("equity")

        conn.read_account = broken  # type: ignore[attr-defined]
        await watch.refresh()
        assert engine.view.accounts()[0].error == "connector error: KeyError('equity')"
        del conn.read_account  # type: ignore[attr-defined]
        await watch.refresh()
        assert engine.view.accounts()[0].error == ""
    finally:
        await session.stop()


async def test_a_venue_is_read_on_its_own_interval(make_session: Callable[..., Session]) -> None:
    session = make_session(sim_config())
    await session.start()
    try:
        engine = session.engine
        conn = engine.connectors["sim"]
        calls: list[int] = []
        real = conn.read_account

        async def counted(symbols: list[str]) -> object:
            calls.append(engine.clock.now_ms())
            return await real(symbols)

        conn.read_account = counted  # type: ignore[attr-defined]
        conn.account_poll_s = 12.0  # type: ignore[attr-defined]
        await session.run_for(30)
        gaps = [b - a for a, b in pairwise(calls)]
        assert len(calls) >= 2 and all(gap >= 12_000 for gap in gaps), gaps
        assert all(gap <= 12_000 + 5_000 for gap in gaps), gaps  # the watch ticks every 5 s
    finally:
        await session.stop()


def test_pnl_history_thins_out_to_cover_the_whole_session() -> None:
    class Clock:
        now = 0

        def now_ms(self) -> int:
            return self.now

    clock = Clock()
    history = PnlHistory(
        clock=clock,  # type: ignore[arg-type]
        total=lambda: Decimal(clock.now),
        strategies=lambda: {"a": Decimal(1)},
        kept=10,
    )
    last = 0
    for _ in range(25):
        last = clock.now
        history.sample()
        clock.now += round(history.interval_s * 1000)
    ts = [p.ts_ms for p in history.points]
    assert len(ts) < 10  # bounded
    assert ts[0] == 0 and ts[-1] == last  # the session's start and the newest stay
    assert history.interval_s > 1.0  # thinned: sampled less often as the session grows
    assert max(b - a for a, b in pairwise(ts)) <= 2 * history.interval_s * 1000
    assert history.points[-1].strategies == (("a", Decimal(1)),)
