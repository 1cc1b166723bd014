"""Lighter's start against its emulator: 503s on the markets call (the first start-up
read) are retried, and the connector connects."""

from __future__ import annotations

import logging

import pytest

import connectors.common.retry as retry_module
from connectors.common.retry import StartupRetry
from tests.contract.rigs.lighter import LighterRig

from .conftest import Connected


async def test_503s_on_the_markets_call_are_retried(
    connected: Connected, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(retry_module, "DEFAULT_RETRY", StartupRetry(base_s=0.01, cap_s=0.02))
    caplog.set_level(logging.WARNING, logger="connectors.common.retry")

    def unavailable(rig: LighterRig) -> None:
        assert rig.harness is not None
        rig.harness.faults.http_errors(2, status=503)

    _rig, conn = await connected("mmstart", before=unavailable, books=["BTC"])
    assert conn.state.value == "connected"
    retried = [r.getMessage() for r in caplog.records if "the markets failed" in r.getMessage()]
    assert len(retried) == 2, retried
