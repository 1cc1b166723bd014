"""The start's reads of the account: a transient error is retried (by the gateway),
and a venue whose positions cannot be read fails the start in one line (a position
taken for 0 would be traded blind) -- on the real sim session, its connector failing
at its boundary."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from connectors.base import ErrorCode, Side, VenueError
from mmtui.session import Session, SessionError


def _failing(session: Session, monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The sim's ``positions`` answers 503 ``times`` times, then as the venue does (the
    gateway's retries made quick: their number is the real one)."""
    monkeypatch.setattr(session.engine._gateways["sim"], "retry_delay_s", 0.01)
    conn = session.engine.connectors["sim"]
    real = conn.positions
    calls: list[int] = []

    async def positions() -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise VenueError(
                "sim: GET positions -> HTTP 503", code=ErrorCode.SERVER_ERROR, retryable=True
            )
        return await real()

    monkeypatch.setattr(conn, "positions", positions)
    return calls


async def test_a_503_reading_positions_at_start_is_retried_and_the_position_seeded(
    make_session: Callable[..., Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_session()
    venue = s.world.venues["sim"]  # type: ignore[union-attr]
    venue.force_fill("me", "BTC-PERP", Side.BUY, D("0.02"), D(100_000))
    calls = _failing(s, monkeypatch, times=1)
    await s.start()
    try:
        assert len(calls) == 2
        assert s.engine.positions.get(("sim", "BTC-PERP")).size == D("0.02")
    finally:
        await s.stop()


async def test_positions_that_cannot_be_read_fail_the_start_in_one_line(
    make_session: Callable[..., Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_session()
    _failing(s, monkeypatch, times=100)
    with pytest.raises(SessionError) as failed:
        await s.start()
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("could not start: sim: could not read the account's positions")
    assert not s.engine.running
