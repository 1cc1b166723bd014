"""Recording public market data as Tardis.dev CSV files (``connectors.replay.tardis``).

``Recorder`` is fed the connectors' events (``on_event``): on each ``BookChanged``
of a market it records, it follows that market's book (``BookFollower``) and writes
what changed — a snapshot (``is_snapshot`` rows) on the first sync and after every
gap or resync, level rows otherwise; each ``Trade`` becomes a row of the trades
file. ``mmtui record`` feeds it a venue's public feed; the console's record toggle
feeds it the engine's events (``RecordSwitch``).

* A gap is never silent: when a book goes unsynced (a sequence gap, a dropped socket)
  an empty snapshot is written at once — the connector's book is empty then too — and
  the book's next sync is a full snapshot. ``gaps`` counts the breaks: every snapshot
  after a market's first, and a gap still open at the end.
* ``local_timestamp`` is the arrival time (``now_us``: the session clock); a book
  row's ``timestamp`` is the book's last update time as the connector set it (the
  venue's message time where the venue sends one), a trade's the venue's trade time;
  either falls back to the arrival time when the venue gave none.
* Prices and amounts are written from the instrument grid (ticks x tick size, lots x
  step size) as plain decimal strings; nothing goes through a float.
* Files are flushed every ``flush_s`` of arrival time and closed by ``close``; a
  write that fails (a full disk) stops the recording, logged, never the caller.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from connectors.base import BookChanged, Event, Instrument, Side, Trade
from connectors.book import Level, OrderBook
from connectors.book_follow import BookFollower
from connectors.replay.tardis import BOOK, TardisWriter, file_name

log = logging.getLogger("mmtui.recorder")

BookOf = Callable[[str, str], "OrderBook | None"]
"""(venue, symbol) -> the connector's live book."""


def _text(value: Decimal) -> str:
    return format(value, "f")


@dataclass
class _Market:
    venue: str
    instrument: Instrument
    writer: TardisWriter
    follower: BookFollower = field(default_factory=BookFollower)
    snapshots: int = 0
    gaps: int = 0
    book_rows: int = 0
    trade_rows: int = 0
    in_gap: bool = False
    """The book went unsynced after a sync: an empty snapshot was written."""
    open_snapshot: tuple[set[int], set[int]] | None = None
    """The prices (bid, ask ticks) of the snapshot written last, while no level row
    followed it: a reader joins adjacent snapshot rows into one snapshot."""


@dataclass(frozen=True, slots=True)
class RecordSummary:
    out_dir: Path
    book_rows: int
    trade_rows: int
    gaps: int
    files: tuple[Path, ...]
    error: str = ""

    def line(self) -> str:
        """The one-line summary ``mmtui record`` prints at the end."""
        text = (
            f"recorded {self.book_rows} book rows, {self.trade_rows} trades, "
            f"{self.gaps} gap(s) in {len(self.files)} file(s) under {self.out_dir}"
        )
        return f"{text}; stopped by an error: {self.error}" if self.error else text


class Recorder:
    def __init__(
        self,
        out_dir: Path,
        book_of: BookOf,
        now_us: Callable[[], int],
        *,
        flush_s: float = 1.0,
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self._book_of = book_of
        self._now_us = now_us
        self._flush_us = int(flush_s * 1_000_000)
        self._last_flush = now_us()
        self._markets: dict[tuple[str, str], _Market] = {}
        self.error = ""
        self.closed = False

    def add_market(self, venue: str, exchange: str, instrument: Instrument) -> None:
        """Record ``instrument``'s book and trades from ``venue`` as ``exchange``'s.
        ``ValueError`` when ``out_dir`` holds that market's files already (a recording
        of the same day would overwrite them) or a name cannot be a file name."""
        key = (venue, instrument.symbol)
        if key in self._markets or self.closed:
            return
        taken = {(m.writer.exchange, m.instrument.symbol) for m in self._markets.values()}
        if (exchange, instrument.symbol) in taken:
            exchange = venue  # two venues of one type: their files must not meet
        named = file_name(exchange, BOOK, dt.date.today(), instrument.symbol).rsplit("_", 1)[1]
        earlier = sorted(self.out_dir.glob(f"{exchange}_*_{named}"))
        if earlier:  # a day's file would be overwritten, or two sessions run as one
            raise ValueError(
                f"{self.out_dir} already holds {exchange} {instrument.symbol} files "
                f"({earlier[0].name}): record into a new folder"
            )
        writer = TardisWriter(self.out_dir, exchange, instrument.symbol)
        self._markets[key] = _Market(venue, instrument, writer)
        self._on_book(self._markets[key], self._now_us())  # a book already synced

    @property
    def markets(self) -> list[tuple[str, str]]:
        return list(self._markets)

    def on_event(self, event: Event) -> None:
        """A connector's event; anything but a recorded market's book or trade is ignored."""
        if self.closed or not isinstance(event, BookChanged | Trade):
            return
        market = self._markets.get((event.venue, event.symbol))
        if market is None:
            return
        now = self._now_us()
        try:
            if isinstance(event, Trade):
                self._on_trade(market, event, now)
            else:
                self._on_book(market, now)
            if now - self._last_flush >= self._flush_us:
                self._last_flush = now
                for m in self._markets.values():
                    m.writer.flush()
        except (OSError, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("recording to %s stopped: %s", self.out_dir, self.error)
            self.close()

    # -- what is written ----------------------------------------------------------------

    def _on_book(self, m: _Market, now: int) -> None:
        book = self._book_of(m.venue, m.instrument.symbol)
        if book is None:
            return
        step = m.follower.step(book)
        ts = book.last_update_ms * 1000 if book.last_update_ms > 0 else now
        if step is None:
            if not book.synced and m.snapshots and not m.in_gap:
                m.in_gap = True
                m.gaps += 1
                self._snapshot(m, now, now, [], [])  # the book is unknown: empty until synced
            return
        inst = m.instrument
        tick, lot = inst.tick_size, inst.step_size
        if step.kind == "snapshot" or m.writer.needs_snapshot(now):
            if step.kind == "snapshot":
                if m.snapshots and not m.in_gap:
                    m.gaps += 1  # a resync we did not see go unsynced: a break all the same
                m.snapshots += 1
                m.in_gap = False
                bids, asks = step.bids, step.asks
            else:  # a new day's file starts with the whole book
                bid_map, ask_map = book.level_maps()
                bids, asks = sorted(bid_map.items(), reverse=True), sorted(ask_map.items())
            self._snapshot(m, ts, now, bids, asks)
            return
        m.open_snapshot = None
        m.writer.levels(
            ts,
            now,
            [
                ("bid" if side is Side.BUY else "ask", _text(p * tick), _text(q * lot))
                for side, p, q in step.changes
            ],
        )
        m.book_rows += len(step.changes)

    def _snapshot(
        self, m: _Market, ts: int, now: int, bids: list[Level], asks: list[Level]
    ) -> None:
        """A snapshot's rows. Right after another snapshot (no level row between), a
        reader takes both for one (Tardis: snapshot rows that follow level rows start a
        new one): the earlier one's prices not in this one are written with amount 0."""
        tick, lot = m.instrument.tick_size, m.instrument.step_size
        rows_b = [(_text(p * tick), _text(q * lot)) for p, q in bids]
        rows_a = [(_text(p * tick), _text(q * lot)) for p, q in asks]
        new_b, new_a = {p for p, _ in bids}, {p for p, _ in asks}
        if m.open_snapshot is not None:
            old_b, old_a = m.open_snapshot
            rows_b += [(_text(p * tick), "0") for p in sorted(old_b - new_b, reverse=True)]
            rows_a += [(_text(p * tick), "0") for p in sorted(old_a - new_a)]
        m.writer.snapshot(ts, now, rows_b, rows_a)
        m.book_rows += max(1, len(rows_b) + len(rows_a))
        m.open_snapshot = (new_b, new_a)

    def _on_trade(self, m: _Market, trade: Trade, now: int) -> None:
        ts = trade.ts_ms * 1000 if trade.ts_ms > 0 else now
        m.writer.trade(
            ts, now, trade.trade_id, trade.side.value, _text(trade.price), _text(trade.size)
        )
        m.trade_rows += 1

    # -- the end ----------------------------------------------------------------------

    def summary(self) -> RecordSummary:
        files: list[Path] = []
        for m in self._markets.values():
            files.extend(m.writer.paths)
        return RecordSummary(
            self.out_dir,
            book_rows=sum(m.book_rows for m in self._markets.values()),
            trade_rows=sum(m.trade_rows for m in self._markets.values()),
            gaps=sum(m.gaps for m in self._markets.values()),
            files=tuple(files),
            error=self.error,
        )

    def close(self) -> RecordSummary:
        """Close every file (idempotent); what was recorded."""
        if not self.closed:
            for m in self._markets.values():
                try:
                    m.writer.close()
                except OSError as exc:
                    self.error = self.error or f"{type(exc).__name__}: {exc}"
                    log.error("closing %s failed: %s", m.writer.paths, exc)
            self.closed = True
        return self.summary()


__all__ = ["RecordSummary", "Recorder"]
