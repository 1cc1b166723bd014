"""How long ``mmtui --headless`` takes to shut down against a frozen venue.

Run from the repository root::

    .venv/bin/python benchmarks/bench_frozen_shutdown.py [TIMEOUT_S ...]

For each venue emulator (Backpack, Lighter, GRVT) and each ``shutdown_timeout_s``
(default 2 and 10): the real CLI trades a grid until ten orders rest, the
emulator freezes (its REST accepts requests and never answers; its sockets stay
up), SIGTERM; prints the seconds from the signal to the process's exit, the exit
code, what the summary says is left and unverified, and how many orders still
rest at the venue. The documented bound: ``shutdown_timeout_s`` for cancelling
and verifying, ``CLOSE_MARGIN_S`` (1 s) more for closing the connections, then the
journal's flush (milliseconds: its backlog is bounded) and the process's exit.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.test_frozen_venue import freeze_and_stop  # noqa: E402


def main(argv: list[str]) -> None:
    timeouts = [float(a) for a in argv] or [2.0, 10.0]
    for timeout in timeouts:
        for venue in ("backpack", "lighter", "grvt"):
            with tempfile.TemporaryDirectory() as folder:
                code, summary, _, left, took = freeze_and_stop(venue, Path(folder), timeout)
            print(
                f"{venue:9} shutdown_timeout_s {timeout:>4g}: exit {code} after {took:5.1f} s "
                f"(bound {timeout + 1:g} s + journal + exit); open_orders_left "
                f"{summary['open_orders_left']}, unverified {summary['orders_unverified']}, "
                f"resting at the venue {left}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
