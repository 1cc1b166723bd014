"""Prometheus metrics from a sim session: served on 127.0.0.1 while the session
runs, read from the engine's own state, off unless the config turns them on."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from mmtui.config import Config, ConfigError, load_config
from mmtui.session import Session, SessionError
from tests.conftest import sim_config
from tests.waiting import until

MetricsOn = {"enabled": True, "host": "127.0.0.1", "port": 0}


async def _scrape(session: Session) -> dict[str, list[Sample]]:
    assert session.metrics is not None
    async with aiohttp.ClientSession() as http, http.get(session.metrics.url) as resp:
        assert resp.status == 200
        text = await resp.text()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _settled(session: Session) -> bool:
    return all(g.in_flight == 0 for g in session.engine.order_path.gateways.values())


async def test_a_scrape_matches_the_engine(make_session: Callable[..., Session]) -> None:
    session = make_session(sim_config(metrics=MetricsOn))
    before = _listening_sockets()
    await session.start()
    try:
        assert session.metrics is not None and session.metrics.port > 0
        assert len(_listening_sockets() - before) == 1  # the endpoint's listener, seen
        await session.run_for(60)  # AS quotes on its timer; the sim's takers fill some
        engine = session.engine
        await until(lambda: engine.latency.loop_lag.count > 0, what="a loop-lag sample")
        await until(lambda: _settled(session), what="the gateways idle")
        families = await _scrape(session)
        summary = session.summary()
        assert summary.orders_placed > 10 and summary.fills > 0
        assert summary.orders_cancelled > 0

        placed = families["mmtui_orders_placed"]
        assert _total(placed, "mmtui_orders_placed_total") == summary.orders_placed
        assert _total(placed, "mmtui_orders_placed_total", strategy="as_btc") == (
            summary.orders_placed
        )
        assert _total(families["mmtui_orders_cancelled"], "mmtui_orders_cancelled_total") == (
            summary.orders_cancelled
        )
        assert _total(families["mmtui_orders_rejected"], "mmtui_orders_rejected_total") == (
            summary.orders_rejected
        )
        fills = families["mmtui_fills"]
        assert _total(fills, "mmtui_fills_total", venue="sim", symbol="BTC-PERP") == summary.fills
        assert _total(families["mmtui_strategy_fills"], "mmtui_strategy_fills_total") == (
            summary.fills
        )

        (lag_count,) = [s for s in families["mmtui_loop_lag_seconds"] if s.name.endswith("_count")]
        assert lag_count.value > 0
        t2t = families["mmtui_tick_to_trade_seconds"]
        count = _total(t2t, "mmtui_tick_to_trade_seconds_count", venue="sim", symbol="BTC-PERP")
        assert count > 0
        inf = _total(
            t2t, "mmtui_tick_to_trade_seconds_bucket", venue="sim", symbol="BTC-PERP", le="+Inf"
        )
        assert inf == count
        unanswered = families["mmtui_book_unanswered_seconds"]
        assert _total(unanswered, "mmtui_book_unanswered_seconds_count") == count
        ((market, stat),) = engine.view.latency().tick_to_trade  # what a view reads
        assert market == ("sim", "BTC-PERP") and stat.count == count
        assert stat.p50_ms is not None and stat.max_ms is not None

        assert _total(families["mmtui_risk_state"], "mmtui_risk_state", state="ACTIVE") == 1
        running = _total(
            families["mmtui_strategy_state"], "mmtui_strategy_state", strategy="as_btc"
        )
        assert running == 1  # one state at a time
        (pnl,) = families["mmtui_strategy_pnl"]
        (row,) = engine.view.strategies()
        assert pnl.value == pytest.approx(float(row.pnl))
        (book_age,) = families["mmtui_book_age_seconds"]
        assert book_age.labels == {"venue": "sim", "symbol": "BTC-PERP"}
        assert _total(families["mmtui_venue_state"], "mmtui_venue_state", state="connected") == 1
    finally:
        await session.stop()
    assert session.metrics is not None
    with pytest.raises(aiohttp.ClientConnectionError):
        await _scrape(session)  # the listener goes with the session


async def test_two_sessions_serve_their_own_figures(make_session: Callable[..., Session]) -> None:
    quiet = sim_config(metrics=MetricsOn, strategies=[])
    one, two = make_session(sim_config(metrics=MetricsOn)), make_session(quiet)
    await one.start()
    await two.start()
    try:
        await one.run_for(10)
        assert one.metrics is not None and two.metrics is not None
        assert one.metrics.port != two.metrics.port
        placed_one = (await _scrape(one))["mmtui_orders_placed"]
        placed_two = (await _scrape(two))["mmtui_orders_placed"]
        assert _total(placed_one, "mmtui_orders_placed_total") > 0
        assert placed_two == []  # the quiet session placed nothing, whatever the other did
    finally:
        await one.stop()
        await two.stop()


def _listening_sockets() -> set[int]:
    """Inodes of this process's TCP sockets in LISTEN state (Linux /proc)."""
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(int(target[8:-1]))
    listening = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[3] == "0A":  # LISTEN
                    listening.add(int(parts[9]))
    return ours & listening


async def test_metrics_are_off_by_default(make_session: Callable[..., Session]) -> None:
    assert Config().metrics.enabled is False
    before = _listening_sockets()
    session = make_session(sim_config())
    await session.start()
    try:
        assert session.metrics is None
        assert _listening_sockets() == before  # no listener
    finally:
        await session.stop()


async def test_a_port_in_use_fails_the_start_in_one_line(
    make_session: Callable[..., Session],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        session = make_session(sim_config(metrics={**MetricsOn, "port": port}))
        with pytest.raises(SessionError, match=rf"^metrics: cannot listen on 127.0.0.1:{port}: "):
            await session.start()
        await session.stop()


def _load(tmp_path: Path, metrics: str) -> Config:
    path = tmp_path / "c.yaml"
    path.write_text(f"metrics: {metrics}\n", encoding="utf-8")
    return load_config(path, env={})[0]


def test_config_refuses_a_host_that_is_not_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "{enabled: true, host: 0.0.0.0}")
    message = str(info.value)
    assert "\n" not in message
    assert "key 'metrics'" in message and "'0.0.0.0' is not loopback" in message
    assert "allow_remote" in message
    remote = _load(tmp_path, "{enabled: true, host: 0.0.0.0, allow_remote: true}")
    assert remote.metrics.host == "0.0.0.0"
    for host in ("localhost", "::1", "127.0.0.2"):
        assert _load(tmp_path, f"{{host: '{host}'}}").metrics.host == host


def test_config_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 'metrics.port'"):
        _load(tmp_path, "{port: 70000}")
    with pytest.raises(ConfigError, match=r"key 'metrics.port'"):
        _load(tmp_path, "{port: -1}")
    assert _load(tmp_path, "{port: 9100}").metrics.port == 9100
