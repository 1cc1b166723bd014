"""The shared socket loop is the last line of defence: a frame whose handler raises (a
bug of ours) is counted as bad and logged at a rate limit, and the loop reads on — on
the same connection, no reconnect. Bad frames and error frames in a flood are a few
log lines, each one counted."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from connectors.base import ConnectionState
from connectors.common.badframes import BadFrameLog
from connectors.common.wsclient import ReconnectingWs, WsSettings
from tests.waiting import until


class RaisingWs(ReconnectingWs):
    """A venue client whose handler has a bug: ``boom`` frames raise AttributeError."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url,
            lambda state, detail: self.states.append(state),
            venue="test",
            settings=WsSettings(backoff_base_s=0.05, backoff_cap_s=0.1),
        )
        self.states: list[ConnectionState] = []
        self.good: list[str] = []

    def handle(self, ws: Any, raw: str | bytes) -> bool:
        self.frames += 1
        text = raw if isinstance(raw, str) else raw.decode()
        if text.startswith("boom"):
            return None.missing  # type: ignore[attr-defined,no-any-return]
        self.good.append(text)
        return True


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def play(ws: Any) -> None:
        for n in range(200):
            await ws.send(f"boom {n}")
        await ws.send("after the flood")
        await ws.wait_closed()

    srv = await websockets.serve(play, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        srv.close()
        await srv.wait_closed()


async def test_a_raising_handler_is_counted_and_the_loop_reads_on(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.common.wsclient")
    client = RaisingWs(server)
    client.start()
    try:
        await until(lambda: client.good == ["after the flood"], what="the frame after the flood")
        assert client.handler_errors == 200 and client.bad_frames == 200
        assert client.reconnects == 0 and client.connected.is_set()
        assert client.states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]
        # logged with the reason and a traceback, but a few lines, not 200
        lines = [r for r in caplog.records if "bad frame skipped" in r.getMessage()]
        assert 1 <= len(lines) <= client.bad.burst
        assert "AttributeError" in lines[0].getMessage() and lines[0].exc_info
    finally:
        await client.close()


def test_a_flood_of_bad_frames_is_counted_and_logged_a_few_lines_a_window() -> None:
    now = [0.0]
    logger = logging.getLogger("tests.badframes")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keep())
    logger.propagate = False
    bad = BadFrameLog("venue ws", logger, burst=3, window_s=10.0, clock=lambda: now[0])
    for n in range(10_000):
        bad.add(f"BadNumber: price {n}" if n % 2 else f"not JSON: {n}")
    now[0] = 11.0
    bad.add("KeyError: 'type'")  # the next window: the held ones are summed up first
    assert bad.count == 10_001
    assert bad.kinds == {"BadNumber": 5000, "not JSON": 5000, "KeyError": 1}
    text = [r.getMessage() for r in records]
    assert len(text) == 3 + 1 + 1, text
    assert "9997 more (bad frame skipped) not logged one by one" in text[3], text[3]
    assert "KeyError: 'type'" in text[4]
    # a reason that quotes a huge frame is cut
    bad.add("x" * 100_000)
    assert len(bad.last_reason) <= 200
