"""ReplayWorld: recorded Tardis files played through replay venues, on one clock.

The same surface as the sim's ``SimWorld`` (``prime``, ``step``, ``run``, ``venues``)
so a session drives it the same way, plus ``start_ms`` / ``end_ms`` / ``finished`` /
``progress()``. The clock is the files' ``local_timestamp`` (when the recorder got
each message), in ms: ``step(now_ms)`` applies every message stamped at or before
``now_ms`` (all venues' book and trade files merged in time order; at one timestamp
trades before book rows; the rows of one message together), then lets each venue
``advance`` to ``now_ms`` (latency releases, heartbeats).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from connectors.base import Instrument
from connectors.replay.source import (
    ReplayDataError,
    Scale,
    book_messages,
    infer_grid,
    last_local_ts_us,
    trade_messages,
)
from connectors.replay.spec import InstrumentSpec, ReplayVenueSpec
from connectors.replay.tardis import BOOK, Dataset, data_type_of, discover, read_book, read_trades
from connectors.replay.venue import QueueVenue

log = logging.getLogger("connectors.replay.world")

_QUOTES = ("USDT", "USDC", "USD", "PERP", "BUSD", "FDUSD")


class _Clock(Protocol):
    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


def base_of(symbol: str) -> str:
    """The base asset a symbol names: ``BTC-PERP`` -> BTC, ``BTCUSDT`` -> BTC (a guess
    from common quote suffixes; give ``base`` in the spec where it is wrong)."""
    for sep in ("-", "_", "/", ":"):
        if sep in symbol:
            return symbol.split(sep, 1)[0]
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


def _instrument(venue: str, ds: Dataset, spec: InstrumentSpec, v: ReplayVenueSpec) -> Instrument:
    tick, step = spec.tick_size, spec.step_size
    if tick is None or step is None:
        inferred_tick, inferred_step = infer_grid(ds.book_files, ds.trade_files)
        tick = tick if tick is not None else inferred_tick
        step = step if step is not None else inferred_step
        log.info(
            "%s %s: grid tick %s step %s (inferred from the data)", venue, ds.symbol, tick, step
        )
    return Instrument(
        venue=venue,
        symbol=ds.symbol,
        base=spec.base or base_of(ds.symbol),
        quote=spec.quote,
        tick_size=tick,
        step_size=step,
        min_size=spec.min_size if spec.min_size is not None else step,
        max_leverage=spec.max_leverage,
        maker_fee=spec.maker_fee if spec.maker_fee is not None else v.maker_fee,
        taker_fee=spec.taker_fee if spec.taker_fee is not None else v.taker_fee,
    )


_Message = tuple[int, int, int, Callable[..., None], tuple[Any, ...]]
"""(local time µs, 0 trade / 1 book, stream index, venue method, its arguments)."""


def _stream(
    idx: int, venue: QueueVenue, symbol: str, ds: Dataset, inst: Instrument
) -> list[Iterator[_Message]]:
    ticks = Scale(inst.tick_size, f"{ds.exchange} {symbol} price")
    lots = Scale(inst.step_size, f"{ds.exchange} {symbol} amount")

    def books() -> Iterator[_Message]:
        apply = venue.apply_book
        for ts, changes, snap in book_messages(ds.book_files, symbol, ticks, lots):
            yield ts, 1, idx, apply, (symbol, ts // 1000, changes, snap)

    def trades() -> Iterator[_Message]:
        apply = venue.apply_trade
        for ts, side, price, qty, trade_id in trade_messages(ds.trade_files, symbol, ticks, lots):
            yield ts, 0, idx + 1, apply, (symbol, ts // 1000, side, price, qty, trade_id)

    return [books(), trades()]


class ReplayWorld:
    def __init__(self, data_dir: Path, specs: list[ReplayVenueSpec]) -> None:
        if not specs:
            raise ReplayDataError("a replay needs at least one venue")
        datasets = discover(Path(data_dir))
        if not datasets:
            raise ReplayDataError(f"{data_dir}: no Tardis incremental_book_L2 or trades files")
        self.data_dir = Path(data_dir)
        self.venues: dict[str, QueueVenue] = {}
        streams: list[Iterator[_Message]] = []
        starts: list[int] = []
        ends: list[int] = []
        for spec in specs:
            if spec.name in self.venues:
                raise ReplayDataError(f"replay venue {spec.name!r} given twice")
            exchange = spec.recorded_exchange
            chosen = [
                ds
                for ds in datasets
                if ds.exchange == exchange and (spec.symbols is None or ds.symbol in spec.symbols)
            ]
            found = {ds.symbol for ds in chosen}
            missing = sorted(set(spec.symbols or ()) - found)
            if missing or not chosen:
                have = sorted({f"{d.exchange}:{d.symbol}" for d in datasets})
                raise ReplayDataError(
                    f"replay venue {spec.name}: no data for {exchange} "
                    f"{', '.join(missing) or 'any symbol'} in {data_dir} (have {', '.join(have)})"
                )
            instruments = [
                _instrument(spec.name, ds, spec.instruments.get(ds.symbol, InstrumentSpec()), spec)
                for ds in chosen
            ]
            venue = QueueVenue(
                spec.name,
                instruments,
                queue=spec.queue,
                latency=spec.latency,
                starting_collateral=spec.starting_collateral,
                collateral_asset=spec.collateral_asset,
            )
            self.venues[spec.name] = venue
            for ds, inst in zip(chosen, instruments, strict=True):
                streams.extend(_stream(len(streams), venue, ds.symbol, ds, inst))
                for files in (ds.book_files, ds.trade_files):
                    if files:
                        first = _first_ts_us(files[0])
                        last = last_local_ts_us(files[-1])
                        if first is not None:
                            starts.append(first)
                        if last is not None:
                            ends.append(last)
        if not starts:
            raise ReplayDataError(f"{data_dir}: the replayed files hold no rows")
        self.start_ms = min(starts) // 1000
        self.end_ms = max(ends) // 1000 if ends else self.start_ms
        self._messages: Iterator[_Message] = heapq.merge(*streams)
        self._next: _Message | None = next(self._messages, None)
        self.now_ms = self.start_ms
        self.messages = 0
        self.steps = 0

    @property
    def finished(self) -> bool:
        """Every recorded message has been applied."""
        return self._next is None

    def progress(self) -> float:
        """How far through the recording the clock is, 0..1."""
        if self._next is None:
            return 1.0
        span = self.end_ms - self.start_ms
        if span <= 0:
            return 0.0
        return min(1.0, max(0.0, (self.now_ms - self.start_ms) / span))

    def _play_until(self, now_ms: int) -> None:
        limit_us = (now_ms + 1) * 1000
        nxt = self._next
        messages = self._messages
        count = 0
        while nxt is not None and nxt[0] < limit_us:
            nxt[3](*nxt[4])
            count += 1
            nxt = next(messages, None)
        self._next = nxt
        self.messages += count
        if now_ms > self.now_ms:
            self.now_ms = now_ms
        live = nxt is not None
        for venue in self.venues.values():
            venue.advance(now_ms, heartbeat=live)

    def prime(self, now_ms: int) -> None:
        """Apply what was recorded up to ``now_ms`` (the opening snapshots at
        ``start_ms``) before anyone trades."""
        self._play_until(now_ms)

    def step(self, now_ms: int, dt_ms: int) -> None:
        self._play_until(now_ms)
        self.steps += 1

    async def run(
        self, clock: _Clock, step_ms: int, on_error: Callable[[Exception], None] | None = None
    ) -> None:
        """Step every ``step_ms`` of ``clock`` until cancelled. Once the recording has
        ended (``finished``) the feed sends nothing more, not even heartbeats (the core's
        stale-book check sees the end), while the venues still take orders and cancels
        (a shutdown's cancels complete)."""
        self.prime(clock.now_ms())
        ended = False
        while True:
            await clock.sleep(step_ms / 1000)
            try:
                self.step(clock.now_ms(), step_ms)
            except Exception as exc:  # a broken step must not end the replay silently
                log.exception("replay step failed at %d ms", clock.now_ms())
                if on_error is not None:
                    on_error(exc)
                raise
            if self.finished and not ended:
                ended = True
                log.info("replay finished at %d ms (%d messages)", self.now_ms, self.messages)


def _first_ts_us(path: Path) -> int | None:
    rows = read_book(path) if data_type_of(path) == BOOK else read_trades(path)
    try:
        first = next(rows, None)
    finally:
        rows.close()
    return first.local_ts_us if first is not None else None


__all__ = ["ReplayWorld", "base_of"]
