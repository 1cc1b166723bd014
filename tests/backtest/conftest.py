"""A small recorded data set (a sim venue's public feed written as Tardis CSV files by
``tests/replay/recording.py``) and configs that replay it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import AS_PARAMS
from tests.replay.recording import SYMBOL, record_sim

SECONDS = 60


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recorded")
    record_sim(out, seconds=SECONDS, seed=3)
    return out


def replay_config(data: Path | None, **replay: Any) -> dict[str, Any]:
    venue = {"queue": {"model": "conservative"}, "latency": {"entry_ms": 20, "cancel_ms": 20}}
    return {
        "mode": "replay",
        "replay": {"venues": {"sim": venue}, **({"data": str(data)} if data else {}), **replay},
        "strategies": [
            {
                "name": "as_btc",
                "kind": "avellaneda_stoikov",
                "venue": "sim",
                "symbol": SYMBOL,
                "params": dict(AS_PARAMS),
            }
        ],
    }


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path
