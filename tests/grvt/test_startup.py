"""GRVT's start against its emulator: a 503 on the instruments call and on the login
is retried, and the connector connects with its book."""

from __future__ import annotations

import asyncio
import logging

import pytest

import connectors.common.retry as retry_module
from connectors.common.retry import StartupRetry
from connectors.grvt.emulator import new_credentials
from connectors.grvt.keys import GrvtKeys
from tests.waiting import until

from .conftest import BTC, connector_for, start_emulator


async def test_503s_on_the_start_up_reads_are_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(retry_module, "DEFAULT_RETRY", StartupRetry(base_s=0.01, cap_s=0.02))
    caplog.set_level(logging.WARNING, logger="connectors.common.retry")
    creds = new_credentials()
    harness = await asyncio.to_thread(start_emulator, creds)
    conn = connector_for(harness, GrvtKeys(creds.api_key, creds.sub_account_id, creds.private_key))
    try:
        harness.faults.http_errors(1, status=503)
        await conn.connect(lambda _e: None)
        await conn.subscribe_books([BTC])
        await until(lambda: conn.book(BTC) is not None and conn.book(BTC).is_valid())  # type: ignore[union-attr]
    finally:
        try:
            await conn.close()
        finally:
            await asyncio.to_thread(harness.stop)
    retried = [r.getMessage() for r in caplog.records if "failed (" in r.getMessage()]
    assert len(retried) == 1 and "the instruments failed" in retried[0], retried
