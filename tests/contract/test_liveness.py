"""The stale-book check measures the feed, not the market (every venue in ``RIGS``):
a book that has not changed for longer than ``risk.stale_book_ms`` on a live feed
(frames, answered pings) still quotes; a feed that goes silent (no frame, no pong,
the socket still open) stops quoting within ``stale_book_ms``, and starts again
when it speaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import OrderStatus
from mmtui.core.risk import RiskLimits
from tests.contract.rig import VenueRig
from tests.contract.test_engine import start_core
from tests.waiting import until

STALE_MS = 1000


async def test_a_quiet_market_quotes_and_a_silent_feed_does_not(
    rig: VenueRig, tmp_path: Path
) -> None:
    core = await start_core(
        rig, tmp_path / "journal.sqlite", "mmlive1", risk_limits=RiskLimits(stale_book_ms=STALE_MS)
    )
    engine, conn = core.engine, core.conn
    book = engine.book(rig.name, rig.symbol)
    assert book is not None
    try:
        try:
            await rig.quiet_market()
        except NotImplementedError:
            pytest.skip(f"{rig.name}: the rig cannot hold its market still")
        now = engine.clock.now_ms
        # the book stands still for three times the limit, its feed alive
        since = book.updates
        await until(lambda: (book.age_ms(now()) or 0) > 3 * STALE_MS, timeout=15, what="quiet")
        assert book.updates == since
        assert (book.feed_age_ms(now()) or 0) < STALE_MS
        order = core.bid()
        assert order.status is not OrderStatus.REJECTED, order.reason
        await core.resting(order)

        _, _, tick = rig.touch(rig.symbol)
        await rig.freeze_feed(conn)  # nothing arrives, nothing is closed
        try:
            await until(
                lambda: (book.feed_age_ms(now()) or 0) > STALE_MS, timeout=15, what="silent"
            )
            assert book.is_valid()  # the book itself looks fine: only its feed is silent
            refused = engine.submit_order(  # the venue's touch cannot be read: frozen
                venue=rig.name,
                symbol=rig.symbol,
                side=order.side,
                size=order.size,
                price=order.price - 5 * tick,  # type: ignore[operator]
                post_only=True,
            )
            assert refused.status is OrderStatus.REJECTED
            assert refused.reason.startswith("risk: stale book: feed silent"), refused.reason
        finally:
            await rig.thaw_feed(conn)
        await until(lambda: (book.feed_age_ms(now()) or 0) < STALE_MS, timeout=15, what="alive")
        again = core.bid(ticks_below=30)
        assert again.status is not OrderStatus.REJECTED, again.reason
    finally:
        await engine.shutdown(10)
