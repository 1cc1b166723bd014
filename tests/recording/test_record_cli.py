"""`mmtui record` as a real process: it records until SIGTERM, closes its files and
prints the one-line summary; bad input is one line and exit 2."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

from connectors.replay.tardis import discover, read_all_book
from tests.cli_process import start_mmtui

ROOT = str(Path(__file__).resolve().parents[2])
"""This checkout's code, whatever the venv has installed."""

CONFIG = """\
sim:
  seed: 4
  speed: 1.0
venues:
  sim:
    type: sim
journal:
  enabled: false
"""


def test_record_stops_cleanly_on_sigterm_with_its_summary(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "out"
    proc = start_mmtui(
        tmp_path, "record", "--venue", "sim", "--symbols", "BTC-PERP", "--out", str(out),
        "--config", str(config), PYTHONPATH=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("recording sim BTC-PERP to "), proc.communicate()[1][-2000:]
        end = time.monotonic() + 30
        while not list(out.glob("*trades*")):  # a trade came: a second or so of market
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < end, "no trade recorded in 30 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    line = rest.strip().splitlines()[-1]
    found = re.fullmatch(
        r"recorded (\d+) book rows, (\d+) trades, 0 gap\(s\) in 2 file\(s\) under (.+)", line
    )
    assert found, line
    (ds,) = discover(out)
    rows = list(read_all_book(ds.book_files))  # whole: the gzip files were closed
    assert len(rows) == int(found.group(1)) and rows[0].is_snapshot
    assert int(found.group(2)) >= 1


def test_record_refuses_a_venue_the_config_lacks(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    proc = start_mmtui(
        tmp_path, "record", "--venue", "backpack", "--symbols", "BTC-PERP",
        "--out", str(tmp_path / "out"), "--config", str(config), PYTHONPATH=ROOT,
    )  # fmt: skip
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == "record: venue 'backpack' is not in the config (its venues: sim)"
