"""Recorded Tardis files as the messages a replay venue is fed: rows of one message
(one ``local_timestamp``) together, prices and amounts as integer ticks and lots.

Numbers are parsed from the files' strings to ticks / lots exactly (never through
float), through a cache per market (prices repeat). A grid a spec does not give is
inferred from the data's decimals (``infer_grid``).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from connectors.base import Side
from connectors.replay.tardis import read_all_book, read_all_trades

_BUY = Side.BUY
_SELL = Side.SELL
_CACHE_LIMIT = 1_000_000
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

    __slots__ = ("_cache", "_digits", "increment", "what")

    def __init__(self, increment: Decimal, what: str) -> None:
        if increment <= 0:
            raise ReplayDataError(f"{what}: increment {increment} must be positive")
        self.increment = increment
        self.what = what
        self._cache: dict[str, int] = {}
        exponent = increment.normalize().as_tuple().exponent
        power = isinstance(exponent, int) and increment.normalize() == Decimal(1).scaleb(exponent)
        self._digits = -exponent if power and isinstance(exponent, int) and exponent <= 0 else None
        """k when the increment is 10**-k: strings are scaled by moving the point."""

    def __call__(self, text: str) -> int:
        value = self._cache.get(text)
        if value is None:
            value = self._parse(text)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[text] = value
        return value

    def _parse(self, text: str) -> int:
        k = self._digits
        if k is not None and "e" not in text and "E" not in text and not text.startswith("-"):
            whole, _, frac = text.partition(".")
            frac = frac.rstrip("0")
            if len(frac) <= k and (whole or frac):
                return int((whole or "0") + frac.ljust(k, "0"))
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


def book_messages(paths: list[Path], ticks: Scale, lots: Scale) -> Iterator[BookMessage]:
    """The book files' rows grouped by message (one ``local_timestamp``). Rows with
    ``is_snapshot`` true after rows with it false start a snapshot (Tardis: the book is
    cleared first); a snapshot spread over several timestamps clears only once."""
    current = -1
    changes: list[tuple[Side, int, int]] = []
    snap = False
    in_snapshot = False
    for row in read_all_book(paths):
        ts = row.local_ts_us
        starts = row.is_snapshot and not in_snapshot
        if ts != current or starts:
            if changes or snap:
                yield current, changes, snap
            current, changes, snap = ts, [], starts
        in_snapshot = row.is_snapshot
        changes.append((_BUY if row.side == "bid" else _SELL, ticks(row.price), lots(row.amount)))
    if changes or snap:
        yield current, changes, snap


_TAKER = {"buy": _BUY, "sell": _SELL, "unknown": None}


def trade_messages(paths: list[Path], ticks: Scale, lots: Scale) -> Iterator[TradeMessage]:
    for row in read_all_trades(paths):
        yield row.local_ts_us, _TAKER[row.side], ticks(row.price), lots(row.amount), row.id


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
