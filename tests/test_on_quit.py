"""``on_quit: keep_exits``: what a quit leaves resting, and what the summary says
(the trend ladder's own case and the dead-man's switches on real connectors are in
tests/strategies/test_trend_ladder.py and tests/grvt, tests/lighter)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from connectors.base import OrderStatus, OrderType, Side, TimeInForce
from mmtui.core.on_quit import dead_man_notes, is_resting_exit
from mmtui.core.orders import Order

CONFIG = """\
sim: {seed: 3, speed: null}
venues: {sim: {type: sim}}
strategies:
  - name: tl
    kind: trend_ladder
    venue: sim
    symbol: BTC-PERP
    params: {quantity_base: 0.002, take_profit_abs: 300, entry_offset_ticks: 0, base_wait: 1,
             min_wait: 0, max_wait: 10, idle_wait: 1, on_quit: keep_exits}
  - name: pmm
    kind: perp_market_maker
    venue: sim
    symbol: BTC-PERP
    params: {order_quantity: 0.01, max_position: 0.05}
"""


def _order(**kw: Any) -> Order:
    fields: dict[str, Any] = {
        "client_id": "mmabcde-1",
        "venue": "v",
        "symbol": "BTC-PERP",
        "side": Side.SELL,
        "size": D("0.002"),
        "type": OrderType.LIMIT,
        "price": D(100_100),
        "time_in_force": TimeInForce.GTC,
        "post_only": True,
        "reduce_only": True,
        "strategy": "tl",
        "created_ms": 0,
        "status": OrderStatus.OPEN,
    }
    fields.update(kw)
    return Order(**fields)


def test_what_counts_as_a_resting_exit() -> None:
    assert is_resting_exit(_order())
    assert is_resting_exit(_order(status=OrderStatus.PARTIALLY_FILLED))
    assert not is_resting_exit(_order(reduce_only=False))  # an entry
    assert not is_resting_exit(_order(status=OrderStatus.PENDING))  # not known to rest
    assert not is_resting_exit(_order(type=OrderType.MARKET, price=None))
    assert not is_resting_exit(_order(time_in_force=TimeInForce.IOC))
    assert not is_resting_exit(_order(cancel_requested=True))


class _Switched:
    def __init__(self, armed: bool | None) -> None:
        self.dead_man_armed = armed


def test_the_summary_says_whether_a_dead_man_switch_will_cancel_the_kept_exits() -> None:
    kept = [_order(venue="a"), _order(venue="a", client_id="mmabcde-2"), _order(venue="b")]
    notes = dead_man_notes(
        {"a": _Switched(True), "b": _Switched(False), "c": _Switched(True)},  # type: ignore[dict-item]
        kept,
    )
    assert notes == [
        "WARNING a: its dead-man's switch could not be disarmed at close: the venue will "
        "cancel the 2 kept exit(s) at the switch's deadline",
        "b: dead-man's switch disarmed at close: the 1 kept exit(s) stay",
    ]
    # no switch configured, or a venue without one: nothing to say
    assert dead_man_notes({"a": _Switched(None)}, kept) == []  # type: ignore[dict-item]
    assert dead_man_notes({"a": object()}, kept) == []  # type: ignore[dict-item]


def test_a_headless_quit_keeps_the_exits_and_the_journal_shows_them_open(tmp_path: Path) -> None:
    """The real command: a timed headless run on the sim. The trend ladder
    (keep_exits) leaves its take-profits; its entry and the perp market maker's
    ladder (cancel) go; exit 0."""
    config = tmp_path / "keep.yaml"
    config.write_text(CONFIG)
    journal = tmp_path / "journal.sqlite"
    env = dict(os.environ)
    env.update(
        MMTUI_LOG_DIR=str(tmp_path / "logs"),
        MMTUI_JOURNAL__PATH=str(journal),
        XDG_CONFIG_HOME=str(tmp_path / "cfg"),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    args = ["--headless", "--config", str(config), "--duration", "30", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "mmtui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["open_orders_left"] == 0
    kept = summary["exits_kept"]
    assert kept and all("reduce-only" in line and " of tl " in line for line in kept)
    assert any("kept resting (on_quit: keep_exits)" in line for line in summary["shutdown"])
    kept_ids = [line.split(", ")[1].split()[0] for line in kept]
    with sqlite3.connect(journal) as db:
        last = dict(
            db.execute(
                "SELECT client_id, status FROM orders WHERE id IN "
                "(SELECT MAX(id) FROM orders GROUP BY client_id)"
            ).fetchall()
        )
        events = [
            row[0]
            for row in db.execute("SELECT detail FROM events WHERE kind = ?", ("exits_kept",))
        ]
    assert {last[cid] for cid in kept_ids} <= {"open", "partially_filled"}
    still_open = {cid for cid, status in last.items() if status in ("open", "partially_filled")}
    assert still_open == set(kept_ids)  # everything else of the run was cancelled or done
    assert len(events) == 1 and all(cid in events[0] for cid in kept_ids)
