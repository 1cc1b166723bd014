"""The Tardis CSV layouts: what we write reads back as Tardis documents it."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.replay.tardis import (
    BOOK,
    BOOK_HEADER,
    TRADES,
    TardisError,
    TardisWriter,
    data_type_of,
    discover,
    read_book,
    read_trades,
)

DAY1 = 1_780_000_000_000_000  # 2026-05-28T20:26:40Z in microseconds
DAY2 = DAY1 + 86_400_000_000


def test_written_rows_read_back_in_the_documented_layout(tmp_path: Path) -> None:
    w = TardisWriter(tmp_path, "backpack", "BTC-PERP")
    w.snapshot(DAY1, DAY1 + 5, [(Decimal("100.1"), Decimal("2"))], [("100.2", "1.5")])
    w.levels(DAY1 + 10, DAY1 + 15, [("bid", Decimal("100.1"), Decimal("0"))])
    w.trade(DAY1 + 20, DAY1 + 25, "t1", "sell", Decimal("100.1"), Decimal("0.5"))
    w.close()
    book_path, trade_path = w.paths
    assert book_path.name == "backpack_incremental_book_L2_2026-05-28_BTC-PERP.csv.gz"
    assert trade_path.name == "backpack_trades_2026-05-28_BTC-PERP.csv.gz"
    with gzip.open(book_path, "rt") as fh:
        text = fh.read().splitlines()
    assert text[0] == ",".join(BOOK_HEADER)
    assert text[1] == f"backpack,BTC-PERP,{DAY1},{DAY1 + 5},true,bid,100.1,2"
    assert text[3] == f"backpack,BTC-PERP,{DAY1 + 10},{DAY1 + 15},false,bid,100.1,0"
    rows = list(read_book(book_path))
    assert [(r.is_snapshot, r.side, r.price, r.amount) for r in rows] == [
        (True, "bid", "100.1", "2"),
        (True, "ask", "100.2", "1.5"),
        (False, "bid", "100.1", "0"),
    ]
    (trade,) = read_trades(trade_path)
    assert (trade.id, trade.side, trade.price, trade.amount) == ("t1", "sell", "100.1", "0.5")
    assert data_type_of(book_path) == BOOK and data_type_of(trade_path) == TRADES


def test_a_new_utc_day_opens_a_new_file_that_must_start_with_a_snapshot(tmp_path: Path) -> None:
    w = TardisWriter(tmp_path, "sim", "ETH-PERP")
    assert w.needs_snapshot(DAY1)
    w.snapshot(DAY1, DAY1, [("1", "1")], [("2", "1")])
    assert not w.needs_snapshot(DAY1 + 1)
    assert w.needs_snapshot(DAY2)
    w.snapshot(DAY2, DAY2, [("1", "1")], [("2", "1")])
    w.close()
    (ds,) = discover(tmp_path)
    assert (ds.exchange, ds.symbol) == ("sim", "ETH-PERP")
    assert [p.name[-29:] for p in ds.book_files] == [
        "L2_2026-05-28_ETH-PERP.csv.gz",
        "L2_2026-05-29_ETH-PERP.csv.gz",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x,BTC,1,2,true,bid,1.0", "7 columns, expected 8"),
        ("x,BTC,1,2,maybe,bid,1.0,1", "is_snapshot 'maybe'"),
        ("x,BTC,1,2,true,buy,1.0,1", "side 'buy'"),
        ("x,BTC,1,2,true,bid,NaN,1", "price 'NaN' is not a number"),
        ("x,BTC,1,2,true,bid,1.0,-1", "amount '-1' is not a number"),
        ("x,BTC,-1,2,true,bid,1.0,1", "timestamp '-1' is not microseconds"),
    ],
)
def test_a_bad_row_names_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(",".join(BOOK_HEADER) + "\n" + "x,BTC,1,2,true,bid,1.0,1\n" + line + "\n")
    with pytest.raises(TardisError, match=f"bad.csv line 3: {message}"):
        list(read_book(path))


def test_files_that_are_not_tardis_are_skipped_by_discovery(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    (tmp_path / "broken.csv.gz").write_bytes(b"not gzip")
    assert discover(tmp_path) == []
    with pytest.raises(TardisError, match="not a directory"):
        discover(tmp_path / "missing")
