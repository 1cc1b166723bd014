"""Shared fixtures: sessions on the embedded sim, run faster than real time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mmtui.config import Config
from mmtui.session import Session, build_session

AS_PARAMS: dict[str, Any] = {
    "gamma": 0.01,
    "k": 0.1,
    "tau": 6,
    "size": 0.01,
    "max_position": 0.05,
    "tick_interval_ms": 500,
    "requote_ticks": 20,
}


def sim_config(**overrides: Any) -> Config:
    raw: dict[str, Any] = {
        "sim": {"seed": 11, "speed": None, "step_ms": 100},
        "venues": {"sim": {"type": "sim", "flow": {"taker_k": 1.0}}},
        "strategies": [
            {
                "name": "as_btc",
                "kind": "avellaneda_stoikov",
                "venue": "sim",
                "symbol": "BTC-PERP",
                "params": dict(AS_PARAMS),
            }
        ],
        "journal": {"enabled": False},
    }
    raw.update(overrides)
    return Config.model_validate(raw)


def btc_sim_config(
    strategy: dict[str, Any],
    *,
    takers: bool = True,
    volatility: float = 0.0,
    seed: int = 5,
    journal: bool = False,
) -> Config:
    """One sim venue with BTC at 100 000 (tick 0.1, step 0.001) and one strategy on it.
    ``takers=False``: nobody trades (only the test does), and the stale-book guard is
    off (a still book never updates)."""
    flow: dict[str, Any] = {} if takers else {"taker_rate": 0}
    return sim_config(
        sim={
            "seed": seed,
            "speed": None,
            "step_ms": 100,
            "assets": {
                "BTC": {
                    "start_price": 100_000,
                    "tick_size": 0.1,
                    "step_size": 0.001,
                    "min_size": 0.001,
                    "volatility": volatility,
                }
            },
        },
        venues={
            "sim": {"type": "sim", "flow": flow, "basis": {"sigma": 0 if not volatility else 2e-4}}
        },
        risk={} if takers else {"stale_book_ms": None},
        strategies=[{"venue": "sim", "symbol": "BTC-PERP", **strategy}],
        journal={"enabled": journal},
    )


@pytest.fixture
def make_session(tmp_path: Path) -> Callable[..., Session]:
    def make(config: Config | None = None, **kw: Any) -> Session:
        kw.setdefault("speed", "manual")
        return build_session(config or sim_config(), journal_path=tmp_path / "j.sqlite", **kw)

    return make


@pytest.fixture
def restart_session(tmp_path: Path) -> Callable[..., Any]:
    """``await restart_session(old)``: the old session dies without cancelling
    anything (a crash); a new session with the same config starts on the same
    sim venues and journal, as a restarted process would."""

    async def restart(old: Session, config: Config | None = None) -> Session:
        await old.abandon()
        new = build_session(
            config or old.config,
            speed="manual",
            journal_path=tmp_path / "j.sqlite",
            world=old.world,
            clock=old.clock,  # type: ignore[arg-type]
        )
        await new.start()
        return new

    return restart


@pytest.fixture
async def session(make_session: Callable[..., Session]) -> AsyncIterator[Session]:
    s = make_session()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture(autouse=True)
def _gc_policy_stays_in_its_test() -> Iterator[None]:
    """``mmtui.cli.main`` installs the collector's policy for its process; a test that
    calls it in-process must not leave the policy armed (a later test's console would
    freeze the whole test process)."""
    from mmtui import gc_policy

    installed = gc_policy._state["installed"]
    yield
    if gc_policy._state["installed"] and not installed:
        gc_policy._state["installed"] = False
        gc.unfreeze()
