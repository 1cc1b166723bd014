"""How fast the journal's writer thread gets rows to disk while the event loop is busy.

Run from the repository root::

    .venv/bin/python benchmarks/bench_journal.py

The loop in a sim run at ``--speed max`` never waits: it holds the GIL, and the
writer thread gets it back only when the loop is forced to yield (every 5 ms,
``sys.getswitchinterval``). A writer that needs the GIL once per row then writes
a few hundred rows a second, whatever the disk does. This prints, for a loop that
spins in pure Python and for an idle one, the rows per second the writer commits
(orders and fills interleaved as a run journals them), and how long ``close``
takes to drain what is queued.
"""

from __future__ import annotations

import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mmtui.core.journal import Journal  # noqa: E402

ROWS = 20_000


def _record(journal: Journal, i: int) -> None:
    journal.record_order(
        ts_ms=i,
        client_id=f"mmbench-{i}",
        venue="sim",
        symbol="BTC-PERP",
        side="buy",
        order_type="limit",
        price=Decimal("100000.1"),
        size=Decimal("0.010"),
        filled=Decimal("0.005"),
        status="partially_filled",
        reason="",
        strategy="as_btc",
        venue_order_id=str(i),
        post_only=True,
        reduce_only=False,
    )
    journal.record_fill(
        ts_ms=i,
        client_id=f"mmbench-{i}",
        venue="sim",
        symbol="BTC-PERP",
        side="buy",
        price=Decimal("100000.1"),
        size=Decimal("0.005"),
        fee=Decimal("0.05"),
        liquidity="maker",
        trade_id=f"t{i}",
        strategy="as_btc",
    )


def run(work: int, seconds: float = 3.0) -> tuple[float, float, int, float]:
    """The producer records an order and a fill after ``work`` iterations of pure
    Python each time, for ``seconds``; returns (rows recorded per second, rows
    written per second meanwhile, the backlog at the end, close's drain time)."""
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal(Path(folder) / "j.sqlite", run_id="mmbench")
        journal.start()
        started = time.perf_counter()
        i = 0
        while time.perf_counter() - started < seconds:
            x = 0
            for k in range(work):
                x += k
            _record(journal, i)
            i += 1
        elapsed = time.perf_counter() - started
        written, backlog = journal.stats.written, journal.backlog
        t0 = time.perf_counter()
        journal.close(timeout=60)
        return 2 * i / elapsed, written / elapsed, backlog, time.perf_counter() - t0


def main() -> None:
    print(f"switch interval {sys.getswitchinterval() * 1000:.0f} ms")
    for work in (20_000, 2_000, 200):
        made, written, backlog, close_s = run(work)
        print(
            f"producer with {work:>6} iterations between rows: records {made:>9,.0f} rows/s, "
            f"writer {written:>9,.0f} rows/s, backlog at the end {backlog:>7,}, "
            f"close {close_s * 1000:,.0f} ms"
        )


if __name__ == "__main__":
    main()
