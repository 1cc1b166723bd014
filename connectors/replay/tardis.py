"""Market data files in the Tardis.dev CSV layouts: ``incremental_book_L2`` and ``trades``.

The layouts, as Tardis documents them (https://docs.tardis.dev/downloadable-csv-files/
data-types): comma delimited, LF lines, a header row, ``.`` decimal mark, timestamps
in microseconds since the epoch (UTC), gzip when the name ends in ``.gz``.

    incremental_book_L2: exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount
    trades:              exchange,symbol,timestamp,local_timestamp,id,side,price,amount

``timestamp`` is the venue's time of the message, ``local_timestamp`` when it arrived
at the recorder. A book row sets the total ``amount`` resting at ``price`` on ``side``
(``bid`` / ``ask``); 0 removes the level. Rows with ``is_snapshot`` true that follow
rows with it false start a new snapshot: the book is cleared first. Rows of one
message share ``local_timestamp``. A trade's ``side`` is the taker's (``buy`` / ``sell``,
or ``unknown``).

File names follow Tardis' downloads: ``{exchange}_{data_type}_{YYYY-MM-DD}_{symbol}.csv.gz``
(any ``*.csv`` / ``*.csv.gz`` with the right header is read, whatever its name).

Numbers are kept as the strings the file holds (a reader converts them to ticks /
lots with the instrument's grid, caching repeated prices); nothing here uses floats.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

BOOK = "incremental_book_L2"
TRADES = "trades"
BOOK_HEADER = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "is_snapshot",
    "side",
    "price",
    "amount",
)
TRADES_HEADER = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "id",
    "side",
    "price",
    "amount",
)
BOOK_SIDES = frozenset(("bid", "ask"))
TRADE_SIDES = frozenset(("buy", "sell", "unknown"))
_NUMBER = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?$")


class TardisError(ValueError):
    """A file that is not in the layout it claims: names the file and the line."""


class BookRow(NamedTuple):
    exchange: str
    symbol: str
    ts_us: int
    local_ts_us: int
    is_snapshot: bool
    side: str  # "bid" | "ask"
    price: str
    amount: str


class TradeRow(NamedTuple):
    exchange: str
    symbol: str
    ts_us: int
    local_ts_us: int
    id: str
    side: str  # "buy" | "sell" | "unknown"
    price: str
    amount: str


# -- names --------------------------------------------------------------------


def file_name(exchange: str, data_type: str, day: dt.date, symbol: str) -> str:
    # in the name only, a symbol's "_" "/" ":" become "-" (Backpack's BTC_USDC_PERP);
    # the rows keep the symbol as it is
    symbol = re.sub(r"[_/:]", "-", symbol)
    for what, value in (("exchange", exchange), ("symbol", symbol)):
        if not value or "_" in value or "/" in value or value.startswith("."):
            raise ValueError(f"{what} {value!r} cannot be part of a Tardis file name")
    return f"{exchange}_{data_type}_{day.isoformat()}_{symbol}.csv.gz"


def day_of(ts_us: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts_us / 1_000_000, tz=dt.UTC).date()


# -- reading ------------------------------------------------------------------


def open_text(path: Path) -> IO[str]:
    """A Tardis file as text (gunzipped when the name ends in ``.gz``)."""
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def data_type_of(path: Path) -> str | None:
    """``incremental_book_L2`` or ``trades`` by the file's header; None for another file."""
    try:
        with open_text(path) as fh:
            header = tuple(next(csv.reader(fh), ()))
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None
    if header == BOOK_HEADER:
        return BOOK
    if header == TRADES_HEADER:
        return TRADES
    return None


def _int(value: str, path: Path, line: int, what: str) -> int:
    if not value.isdigit() or len(value) > 19:
        raise TardisError(f"{path.name} line {line}: {what} {value[:40]!r} is not microseconds")
    return int(value)


def _number(value: str, path: Path, line: int, what: str) -> str:
    if _NUMBER.match(value) is None:
        raise TardisError(f"{path.name} line {line}: {what} {value[:40]!r} is not a number")
    return value


def read_book(path: Path) -> Iterator[BookRow]:
    """The rows of an ``incremental_book_L2`` file, checked, in file order."""
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = tuple(next(reader, ()))
        if header != BOOK_HEADER:
            raise TardisError(f"{path.name}: not an incremental_book_L2 file (header {header})")
        for line, row in enumerate(reader, start=2):
            if len(row) != 8:
                raise TardisError(f"{path.name} line {line}: {len(row)} columns, expected 8")
            exchange, symbol, ts, local_ts, snap, side, price, amount = row
            if snap not in ("true", "false"):
                raise TardisError(f"{path.name} line {line}: is_snapshot {snap[:20]!r}")
            if side not in BOOK_SIDES:
                raise TardisError(f"{path.name} line {line}: side {side[:20]!r} (bid or ask)")
            yield BookRow(
                exchange,
                symbol,
                _int(ts, path, line, "timestamp"),
                _int(local_ts, path, line, "local_timestamp"),
                snap == "true",
                side,
                _number(price, path, line, "price"),
                _number(amount, path, line, "amount"),
            )


def read_trades(path: Path) -> Iterator[TradeRow]:
    """The rows of a ``trades`` file, checked, in file order."""
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = tuple(next(reader, ()))
        if header != TRADES_HEADER:
            raise TardisError(f"{path.name}: not a trades file (header {header})")
        for line, row in enumerate(reader, start=2):
            if len(row) != 8:
                raise TardisError(f"{path.name} line {line}: {len(row)} columns, expected 8")
            exchange, symbol, ts, local_ts, trade_id, side, price, amount = row
            if side not in TRADE_SIDES:
                raise TardisError(f"{path.name} line {line}: side {side[:20]!r}")
            yield TradeRow(
                exchange,
                symbol,
                _int(ts, path, line, "timestamp"),
                _int(local_ts, path, line, "local_timestamp"),
                trade_id,
                side,
                _number(price, path, line, "price"),
                _number(amount, path, line, "amount"),
            )


@dataclass
class Dataset:
    """The files of one (exchange, symbol) in a data directory, in time order."""

    exchange: str
    symbol: str
    book_files: list[Path] = field(default_factory=list)
    trade_files: list[Path] = field(default_factory=list)


def discover(data_dir: Path) -> list[Dataset]:
    """Every (exchange, symbol) with Tardis files under ``data_dir`` (not recursive).

    A file's exchange and symbol are read from its first row; files of one pair are
    ordered by their first row's ``local_timestamp``.
    """
    if not data_dir.is_dir():
        raise TardisError(f"{data_dir}: not a directory")
    found: dict[tuple[str, str], tuple[list[tuple[int, Path]], list[tuple[int, Path]]]] = {}
    for path in sorted(data_dir.iterdir()):
        if not (path.name.endswith(".csv") or path.name.endswith(".csv.gz")):
            continue
        kind = data_type_of(path)
        if kind is None:
            continue
        first = next(iter(read_book(path) if kind == BOOK else read_trades(path)), None)
        if first is None:
            continue
        books, trades = found.setdefault((first.exchange, first.symbol), ([], []))
        (books if kind == BOOK else trades).append((first.local_ts_us, path))
    return [
        Dataset(ex, sym, [p for _, p in sorted(b)], [p for _, p in sorted(t)])
        for (ex, sym), (b, t) in sorted(found.items())
    ]


def read_all_book(paths: Iterable[Path]) -> Iterator[BookRow]:
    for path in paths:
        yield from read_book(path)


def read_all_trades(paths: Iterable[Path]) -> Iterator[TradeRow]:
    for path in paths:
        yield from read_trades(path)


# -- writing ------------------------------------------------------------------


class _CsvGz:
    def __init__(self, path: Path, header: tuple[str, ...]) -> None:
        self.path = path
        self._raw = gzip.open(path, "wt", encoding="utf-8", newline="")  # noqa: SIM115 (closed by close())
        self._csv = csv.writer(self._raw, lineterminator="\n")
        self._csv.writerow(header)
        self.rows = 0

    def write(self, row: tuple[object, ...]) -> None:
        self._csv.writerow(row)
        self.rows += 1

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.close()


class TardisWriter:
    """Writes one (exchange, symbol)'s book and trades as Tardis CSV files in ``out_dir``.

    ``snapshot`` writes a whole book (``is_snapshot`` true: a reader clears its book
    first), ``levels`` changed levels (amount 0 removes), ``trade`` one trade. Prices and
    amounts are written as the caller gives them (Decimal or str), never through float.
    A file is opened per UTC day of the rows' ``local_timestamp``; a new day's book file
    starts with the snapshot the caller must write (``needs_snapshot`` says so).
    """

    def __init__(self, out_dir: Path, exchange: str, symbol: str) -> None:
        self.out_dir = out_dir
        self.exchange = exchange
        self.symbol = symbol
        self._book: _CsvGz | None = None
        self._trades: _CsvGz | None = None
        self._book_day: dt.date | None = None
        self._trades_day: dt.date | None = None
        self.paths: list[Path] = []
        file_name(exchange, BOOK, dt.date.today(), symbol)  # the names are valid

    def needs_snapshot(self, local_ts_us: int) -> bool:
        """True when a row at this time would open a new book file (a new day, or none)."""
        return self._book is None or day_of(local_ts_us) != self._book_day

    def _book_file(self, local_ts_us: int) -> _CsvGz:
        day = day_of(local_ts_us)
        if self._book is None or day != self._book_day:
            if self._book is not None:
                self._book.close()
            path = self.out_dir / file_name(self.exchange, BOOK, day, self.symbol)
            self._book = _CsvGz(path, BOOK_HEADER)
            self._book_day = day
            self.paths.append(path)
        return self._book

    def _trade_file(self, local_ts_us: int) -> _CsvGz:
        day = day_of(local_ts_us)
        if self._trades is None or day != self._trades_day:
            if self._trades is not None:
                self._trades.close()
            path = self.out_dir / file_name(self.exchange, TRADES, day, self.symbol)
            self._trades = _CsvGz(path, TRADES_HEADER)
            self._trades_day = day
            self.paths.append(path)
        return self._trades

    def snapshot(
        self,
        ts_us: int,
        local_ts_us: int,
        bids: Iterable[tuple[object, object]],
        asks: Iterable[tuple[object, object]],
    ) -> None:
        out = self._book_file(local_ts_us)
        wrote = False
        for side, levels in (("bid", bids), ("ask", asks)):
            for price, amount in levels:
                out.write(
                    (self.exchange, self.symbol, ts_us, local_ts_us, "true", side, price, amount)
                )
                wrote = True
        if not wrote:
            # An empty book is still a snapshot: one row removing nothing says so.
            out.write((self.exchange, self.symbol, ts_us, local_ts_us, "true", "bid", "0", "0"))

    def levels(
        self, ts_us: int, local_ts_us: int, changes: Iterable[tuple[str, object, object]]
    ) -> None:
        """``changes``: (``bid``/``ask``, price, new total amount) rows."""
        out = self._book_file(local_ts_us)
        for side, price, amount in changes:
            if side not in BOOK_SIDES:
                raise ValueError(f"book side {side!r} (bid or ask)")
            out.write(
                (self.exchange, self.symbol, ts_us, local_ts_us, "false", side, price, amount)
            )

    def trade(
        self,
        ts_us: int,
        local_ts_us: int,
        trade_id: str,
        side: str,
        price: object,
        amount: object,
    ) -> None:
        if side not in TRADE_SIDES:
            raise ValueError(f"trade side {side!r} (buy, sell or unknown)")
        self._trade_file(local_ts_us).write(
            (self.exchange, self.symbol, ts_us, local_ts_us, trade_id, side, price, amount)
        )

    @property
    def book_rows(self) -> int:
        return self._book.rows if self._book is not None else 0

    @property
    def trade_rows(self) -> int:
        return self._trades.rows if self._trades is not None else 0

    def flush(self) -> None:
        for f in (self._book, self._trades):
            if f is not None:
                f.flush()

    def close(self) -> None:
        for f in (self._book, self._trades):
            if f is not None:
                f.close()
        self._book = self._trades = None


__all__ = [
    "BOOK",
    "BOOK_HEADER",
    "TRADES",
    "TRADES_HEADER",
    "BookRow",
    "Dataset",
    "TardisError",
    "TardisWriter",
    "TradeRow",
    "data_type_of",
    "day_of",
    "discover",
    "file_name",
    "open_text",
    "read_all_book",
    "read_all_trades",
    "read_book",
    "read_trades",
]
