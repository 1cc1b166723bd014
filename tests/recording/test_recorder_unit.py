"""The recorder on a hand-driven book: adjacent snapshots, a write that fails."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from connectors.base import BookChanged, Instrument, Side, Trade
from connectors.book import OrderBook
from connectors.replay.tardis import discover, read_all_book, read_all_trades
from mmtui.core.recorder import Recorder
from tests.recording.rebuild import book_sides, rebuild

INST = Instrument("v", "X-PERP", "X", "USD", Decimal("0.5"), Decimal("0.01"), Decimal("0.01"))


class Clock:
    def __init__(self) -> None:
        self.us = 1_800_000_000_000_000

    def __call__(self) -> int:
        self.us += 1000
        return self.us


def _recorder(tmp_path: Path) -> tuple[Recorder, OrderBook]:
    book = OrderBook("X-PERP", INST.tick_size, INST.step_size)
    recorder = Recorder(tmp_path, lambda _v, _s: book, Clock())
    recorder.add_market("v", "test", INST)
    return recorder, book


def _changed(recorder: Recorder) -> None:
    recorder.on_event(BookChanged("v", "X-PERP", 0))


def test_a_snapshot_right_after_a_snapshot_removes_what_the_first_had(tmp_path: Path) -> None:
    recorder, book = _recorder(tmp_path)
    book.apply_snapshot([(200, 5), (199, 1)], [(202, 3)], seq=1, ts_ms=1_800_000_000_000)
    _changed(recorder)
    book.apply_snapshot([(198, 2)], [(203, 4), (204, 1)], seq=9, ts_ms=1_800_000_000_500)
    _changed(recorder)  # a resync: no level row between the two snapshots
    summary = recorder.close()
    rows = list(read_all_book(discover(tmp_path)[0].book_files))
    assert all(r.is_snapshot for r in rows)  # one run of snapshot rows to a reader
    assert (
        rebuild(rows)
        == book_sides(book)
        == (
            {Decimal("99.0"): Decimal("0.02")},
            {Decimal("101.5"): Decimal("0.04"), Decimal("102.0"): Decimal("0.01")},
        )
    )
    assert summary.gaps == 1
    assert [r.ts_us for r in rows][-1] == 1_800_000_000_500_000  # the venue's time


def test_prices_and_amounts_are_the_grid_as_plain_decimals(tmp_path: Path) -> None:
    recorder, book = _recorder(tmp_path)
    book.apply_snapshot([(200, 5)], [(202, 300)], seq=1, ts_ms=0)
    _changed(recorder)
    book.apply_delta([(200, 0), (201, 7)], [], prev_seq=1, seq=2, ts_ms=0)
    _changed(recorder)
    recorder.on_event(Trade("v", "X-PERP", Side.SELL, Decimal("100.5"), Decimal("1E-2"), 0, "7"))
    recorder.on_event(Trade("v", "OTHER", Side.SELL, Decimal(1), Decimal(1), 0, "8"))  # ignored
    recorder.close()
    (ds,) = discover(tmp_path)
    rows = [(r.is_snapshot, r.side, r.price, r.amount) for r in read_all_book(ds.book_files)]
    assert rows[:2] == [(True, "bid", "100.0", "0.05"), (True, "ask", "101.0", "3.00")]
    assert sorted(rows[2:]) == [(False, "bid", "100.0", "0.00"), (False, "bid", "100.5", "0.07")]
    (trade,) = read_all_trades(ds.trade_files)
    assert (trade.id, trade.side, trade.price, trade.amount) == ("7", "sell", "100.5", "0.01")
    assert trade.ts_us == trade.local_ts_us  # no venue time given: the arrival time


def test_a_write_that_fails_stops_the_recording_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, book = _recorder(tmp_path)
    book.apply_snapshot([(200, 5)], [(202, 3)], seq=1, ts_ms=0)
    _changed(recorder)

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    market = recorder._markets[("v", "X-PERP")]
    monkeypatch.setattr(market.writer, "levels", full)
    book.apply_delta([(201, 1)], [], prev_seq=1, seq=2, ts_ms=0)
    _changed(recorder)  # never raises into the connector's sink
    assert recorder.closed
    assert "No space left on device" in recorder.summary().line()
    _changed(recorder)  # closed: nothing more
