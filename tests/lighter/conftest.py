"""Lighter tests' shared fixture: our connector, connected to its own emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from connectors.lighter.connector import LighterConnector
from tests.contract.rigs.lighter import LighterRig
from tests.waiting import until

Connected = Callable[..., Awaitable[tuple[LighterRig, LighterConnector]]]


@pytest.fixture
async def connected() -> AsyncIterator[Connected]:
    """``await connected(prefix, connector_options, before=fn, books=["BTC"], **emulator)``:
    a started emulator (``before(rig)`` runs before the connector connects) and our
    connected connector, its books synced; all stopped after the test."""
    rigs: list[LighterRig] = []

    async def start(
        prefix: str,
        connector_options: dict[str, Any] | None = None,
        *,
        before: Callable[[LighterRig], None] | None = None,
        books: Sequence[str] = (),
        **emulator: Any,
    ) -> tuple[LighterRig, LighterConnector]:
        rig = LighterRig(connector_options=connector_options, **emulator)
        rigs.append(rig)
        await rig.start()
        if before is not None:
            before(rig)
        conn = rig.connector(prefix)
        assert isinstance(conn, LighterConnector)
        await conn.connect(lambda e: None)
        if books:
            await conn.subscribe_books(list(books))
            for symbol in books:
                await until(lambda s=symbol: conn.book(s).is_valid(), what=f"{symbol} book")  # type: ignore[union-attr,misc]
        return rig, conn

    try:
        yield start
    finally:
        for rig in rigs:
            await rig.stop()
