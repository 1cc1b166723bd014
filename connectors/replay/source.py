"""Recorded Tardis files as the messages a replay venue is fed: rows of one message
(one ``local_timestamp``) together, prices and amounts as integer ticks and lots.

Numbers are parsed from the files' strings to ticks / lots exactly (never through
float), through a cache per market (prices repeat). A grid a spec does not give is
inferred from the data's decimals (``infer_grid``).
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from connectors.base import Side
from connectors.replay.tardis import (
    BOOK_HEADER,
    TRADES_HEADER,
    TardisError,
    open_text,
    read_all_book,
    read_all_trades,
)

_BUY = Side.BUY
_SELL = Side.SELL
_CACHE_LIMIT = 1_000_000
_NUMBER = re.compile(r"[0-9]{1,30}(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?\Z")
INFER_ROWS = 50_000
"""Rows (book and trades each) read per market to infer a grid the spec does not give."""


class ReplayDataError(ValueError):
    """Recorded data a replay cannot use: names the market and the value."""


def decimals(text: str) -> int:
    """Significant decimals of a number as written (trailing zeros do not count)."""
    if "e" in text or "E" in text:
        exponent = Decimal(text).normalize().as_tuple().exponent
        return max(0, -int(exponent))
    _, dot, frac = text.partition(".")
    return len(frac.rstrip("0")) if dot else 0


class Scale:
    """Exact conversion of number strings to integer multiples of one increment."""

    __slots__ = ("_digits", "cache", "increment", "what")

    def __init__(self, increment: Decimal, what: str) -> None:
        if increment <= 0:
            raise ReplayDataError(f"{what}: increment {increment} must be positive")
        self.increment = increment
        self.what = what
        self.cache: dict[str, int] = {}
        exponent = increment.normalize().as_tuple().exponent
        power = isinstance(exponent, int) and increment.normalize() == Decimal(1).scaleb(exponent)
        self._digits = -exponent if power and isinstance(exponent, int) and exponent <= 0 else None
        """k when the increment is 10**-k: strings are scaled by moving the point."""

    def __call__(self, text: str) -> int:
        value = self.cache.get(text)
        if value is None:
            value = self._parse(text)
            if len(self.cache) >= _CACHE_LIMIT:
                self.cache.clear()
            self.cache[text] = value
        return value

    def _parse(self, text: str) -> int:
        if _NUMBER.match(text) is None:  # int() and Decimal() take "1_0", " 1", "+1"
            raise ReplayDataError(f"{self.what}: {text[:40]!r} is not a number")
        k = self._digits
        if k is not None and "e" not in text and "E" not in text:
            whole, _, frac = text.partition(".")
            frac = frac.rstrip("0")
            if len(frac) <= k:
                return int(whole + frac.ljust(k, "0"))
        try:
            ratio = Decimal(text) / self.increment
        except (InvalidOperation, ArithmeticError):
            raise ReplayDataError(f"{self.what}: {text[:40]!r} is not a number") from None
        if ratio != ratio.to_integral_value():
            raise ReplayDataError(
                f"{self.what}: {text} is not a multiple of {self.increment} "
                "(give the grid in the replay spec)"
            )
        return int(ratio)


def last_local_ts_us(path: Path) -> int | None:
    """The ``local_timestamp`` of a Tardis file's last row (the file is read through,
    keeping only its tail: a day of a busy book takes seconds); None when it has none."""
    opener = gzip.open if path.name.endswith(".gz") else open
    tail = b""
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-65536:]
    for line in reversed(tail.splitlines()):
        cols = line.split(b",")
        if len(cols) >= 4 and cols[3].isdigit():
            return int(cols[3])
    return None


def infer_grid(book_files: list[Path], trade_files: list[Path]) -> tuple[Decimal, Decimal]:
    """(tick, step): 10**-d for the most decimals seen in the first ``INFER_ROWS`` rows of
    prices and of amounts. A guess: the venue's real tick can be coarser (0.5, 5) --
    replay prices stay on it, but our orders may use prices the venue would refuse."""
    price_d = amount_d = 0
    for rows in (read_all_book(book_files), read_all_trades(trade_files)):
        for n, row in enumerate(rows):
            if n >= INFER_ROWS:
                break
            price_d = max(price_d, decimals(row.price))
            amount_d = max(amount_d, decimals(row.amount))
    return Decimal(1).scaleb(-price_d), Decimal(1).scaleb(-amount_d)


BookMessage = tuple[int, list[tuple[Side, int, int]], bool]
"""(local time µs, [(side, price ticks, lots)], snapshot: the book is replaced)."""
TradeMessage = tuple[int, Side | None, int, int, str]
"""(local time µs, taker side or None, price ticks, lots, trade id)."""


_SIDES = {"bid": _BUY, "ask": _SELL}
_SNAPSHOT = {"true": True, "false": False}


def book_messages(
    paths: list[Path], symbol: str, ticks: Scale, lots: Scale
) -> Iterator[BookMessage]:
    """The book files' rows grouped by message (one ``local_timestamp``). Rows with
    ``is_snapshot`` true after rows with it false start a snapshot (Tardis: the book is
    cleared first); a snapshot spread over several timestamps clears only once.

    The hot loop of a replay: it reads the CSV itself (not ``tardis.read_book``) and
    checks each row as cheaply as it can: a timestamp only when it changes, a price or
    an amount only the first time that string is seen (``Scale``'s cache), sides and
    flags by a dict look-up. A bad row is a ``TardisError`` naming file and line."""
    current = -1
    current_text = ""
    changes: list[tuple[Side, int, int]] = []
    snap = False
    in_snapshot = False
    sides, flags = _SIDES, _SNAPSHOT
    cached_ticks, cached_lots = ticks.cache.get, lots.cache.get
    for path in paths:
        with open_text(path) as fh:
            reader = csv.reader(fh)
            header = tuple(next(reader, ()))
            if header != BOOK_HEADER:
                raise TardisError(f"{path.name}: not an incremental_book_L2 file ({header})")
            try:
                for row in reader:
                    _, sym, _, local, is_snap, side, price, amount = row
                    if sym != symbol:
                        raise TardisError(f"symbol {sym[:40]!r} in a file of {symbol}")
                    is_snapshot = flags[is_snap]
                    starts = is_snapshot and not in_snapshot
                    if local != current_text or starts:
                        if changes or snap:
                            yield current, changes, snap
                        if local != current_text:
                            if not local.isdigit() or len(local) > 19:
                                raise TardisError(f"local_timestamp {local[:40]!r}")
                            current, current_text = int(local), local
                        changes, snap = [], starts
                    in_snapshot = is_snapshot
                    t = cached_ticks(price)
                    if t is None:
                        t = ticks(price)
                    q = cached_lots(amount)
                    if q is None:
                        q = lots(amount)
                    changes.append((sides[side], t, q))
            except (ValueError, KeyError, csv.Error) as exc:
                raise _row_error(
                    path, reader.line_num, row, exc, "a side (bid, ask) or an is_snapshot"
                ) from None
    if changes or snap:
        yield current, changes, snap


_TAKER = {"buy": _BUY, "sell": _SELL, "unknown": None}


def trade_messages(
    paths: list[Path], symbol: str, ticks: Scale, lots: Scale
) -> Iterator[TradeMessage]:
    """The trade files' rows, checked as ``book_messages`` checks book rows."""
    current = -1
    current_text = ""
    takers = _TAKER
    for path in paths:
        with open_text(path) as fh:
            reader = csv.reader(fh)
            header = tuple(next(reader, ()))
            if header != TRADES_HEADER:
                raise TardisError(f"{path.name}: not a trades file ({header})")
            try:
                for row in reader:
                    _, sym, _, local, trade_id, side, price, amount = row
                    if sym != symbol:
                        raise TardisError(f"symbol {sym[:40]!r} in a file of {symbol}")
                    if local != current_text:
                        if not local.isdigit() or len(local) > 19:
                            raise TardisError(f"local_timestamp {local[:40]!r}")
                        current, current_text = int(local), local
                    yield current, takers[side], ticks(price), lots(amount), trade_id
            except (ValueError, KeyError, csv.Error) as exc:
                raise _row_error(
                    path, reader.line_num, row, exc, "a side (buy, sell, unknown)"
                ) from None


def _row_error(path: Path, line: int, row: list[str], exc: Exception, field: str) -> ValueError:
    """A bad row's error: the file, the line, what is wrong."""
    if isinstance(exc, ReplayDataError):
        return ReplayDataError(f"{path.name} line {line}: {exc}")
    if isinstance(exc, TardisError):
        detail = str(exc)
    elif isinstance(exc, csv.Error):
        detail = f"unreadable CSV ({exc})"
    elif len(row) != 8:
        detail = f"{len(row)} columns, expected 8"
    else:
        detail = f"{exc} is not {field}"
    return TardisError(f"{path.name} line {line}: {detail}")


__all__ = [
    "INFER_ROWS",
    "BookMessage",
    "ReplayDataError",
    "Scale",
    "TradeMessage",
    "book_messages",
    "decimals",
    "infer_grid",
    "last_local_ts_us",
    "trade_messages",
]
