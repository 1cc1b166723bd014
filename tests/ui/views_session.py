"""One sim session for the view tests: funding every 10 s at 0.1 %, a journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmtui.config import Config
from mmtui.session import Session, build_session

from ..conftest import sim_config

START_MS = 1_700_000_000_000
RUN_PREFIX = "mmview0"
FUNDING_S = 10
FUNDING_RATE = "0.001"


def views_config(**overrides: Any) -> Config:
    return sim_config(
        venues={
            "sim": {
                "type": "sim",
                "flow": {"taker_k": 1.0},
                "funding_interval_s": FUNDING_S,
                "funding_rate": FUNDING_RATE,
            }
        },
        journal={"enabled": True},
        **overrides,
    )


def views_session(journal: Path, run_prefix: str = RUN_PREFIX, **kw: Any) -> Session:
    session = build_session(
        views_config(),
        speed="manual",
        start_ms=kw.pop("start_ms", START_MS),
        run_prefix=run_prefix,
        journal_path=journal,
        **kw,
    )
    session.config_path = Path("/etc/mmtui/views.yaml")
    return session
