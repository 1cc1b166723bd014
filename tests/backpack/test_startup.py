"""Backpack's start against its emulator: a transient error on a start-up read (the
markets call answering 503) is retried, a refusal is not, and a key the venue refuses
fails the start with one line naming it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import connectors.common.retry as retry_module
from connectors.backpack.connector import BackpackConnector
from connectors.backpack.emulator import backpack_emulator
from connectors.backpack.keys import BackpackKeys
from connectors.base import ErrorCode, Event, VenueError
from connectors.common.retry import StartupRetry
from connectors.emulation.harness import EmulatorHarness
from connectors.sim.venue import FlowParams
from mmtui.emulate import new_keypair

from .test_signing import SECRET

KEYS = BackpackKeys(SECRET)


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHarness]:
    # the retry policy of a start, with short waits (the attempts are the real ones)
    monkeypatch.setattr(retry_module, "DEFAULT_RETRY", StartupRetry(base_s=0.01, cap_s=0.02))
    with backpack_emulator({KEYS.api_key: "me"}, flow=FlowParams(taker_rate=0.0), seed=11) as h:
        yield h


def _conn(harness: EmulatorHarness, keys: BackpackKeys = KEYS) -> BackpackConnector:
    return BackpackConnector(harness.base_url, harness.ws_url, keys, connect_timeout_s=5)


async def test_a_503_on_the_markets_call_is_retried(
    harness: EmulatorHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.common.retry")
    attempts = retry_module.DEFAULT_RETRY.attempts
    # the time read takes every try it has (then signs with the local clock), the
    # markets read gets the last 503
    harness.faults.http_errors(attempts + 1, status=503)
    conn = _conn(harness)
    events: list[Event] = []
    try:
        await conn.connect(events.append)
        assert "BTC_USDC_PERP" in await conn.instruments()
    finally:
        await conn.close()
    retried = [r.getMessage() for r in caplog.records if "the markets failed" in r.getMessage()]
    assert len(retried) == 1 and "try 2 of" in retried[0], retried


async def test_a_refusal_is_not_retried(
    harness: EmulatorHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = _conn(harness)
    asked: list[int] = []

    async def refused() -> None:
        asked.append(1)
        raise VenueError("backpack: GET /api/v1/markets -> HTTP 404", code=ErrorCode.NOT_FOUND)

    monkeypatch.setattr(conn, "instruments", refused)
    with pytest.raises(VenueError) as failed:
        await conn.connect(lambda _e: None)
    assert failed.value.code == ErrorCode.NOT_FOUND and asked == [1]


async def test_a_key_the_venue_does_not_know_fails_the_start_in_one_line(
    harness: EmulatorHarness,
) -> None:
    _wrong_key, wrong_secret = new_keypair()
    conn = _conn(harness, BackpackKeys(wrong_secret))
    with pytest.raises(VenueError) as failed:
        await conn.connect(lambda _e: None)
    text = str(failed.value)
    assert failed.value.code == ErrorCode.AUTH
    assert text.startswith("backpack: the venue refused the API key (") and "\n" not in text
    assert wrong_secret not in text
    assert conn.ws.frames == 0  # the socket was never opened


async def test_backpacks_own_refusal_form_names_the_key(
    harness: EmulatorHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backpack answers a request it cannot authenticate with ``INVALID_CLIENT_REQUEST``
    "Invalid signature" (its support FAQ); without a 401 status that is still the key."""
    conn = _conn(harness)

    async def refused(*_args: object, **_kw: object) -> None:
        raise VenueError(
            "backpack: Invalid signature",
            code=ErrorCode.VENUE,
            venue_code="INVALID_CLIENT_REQUEST",
        )

    monkeypatch.setattr(conn.rest, "signed", refused)
    with pytest.raises(VenueError) as failed:
        await conn.connect(lambda _e: None)
    assert failed.value.code == ErrorCode.AUTH
    assert str(failed.value) == (
        "backpack: the venue refused the API key (Invalid signature); check key_file"
    )
