"""The engine's state as Prometheus metrics, read at scrape time.

Nothing here counts anything: every figure is read from what the core already
keeps — the read model (``engine.view``: positions, strategies, the header,
the venues' health), the order manager's counts per market and strategy
(``OrderManager.by_market``), the connectors' ``stats``, the gateways and
their rate limiters, the telemetry hub, and the latency record
(``mmtui.core.latency``: the two histograms). A scrape runs on the session's
event loop, like every other reader of the engine (the state is not
thread-safe); it only reads.

Names start with ``mmtui_``; labels are ``venue``, ``symbol`` and ``strategy``
where they apply (an order of no strategy — a flatten, a shutdown's — has
``strategy=""``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from connectors.base import ConnectionState
from mmtui.core.latency import Histogram
from mmtui.core.orders import OrderCounters
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState

if TYPE_CHECKING:
    from mmtui.core.engine import Engine

MARKET = ("venue", "symbol")
STRATEGY_MARKET = ("strategy", "venue", "symbol")
ORDER_LABELS = ("venue", "symbol", "strategy")
MAX_REASONS = 50
"""Risk rejection reasons exported at most (the rest are summed as "other")."""

ORDER_COUNTS: tuple[tuple[str, str, str], ...] = (
    ("placed", "orders_placed", "Orders sent to the venue (passed the risk check)"),
    ("rejected", "orders_rejected", "Orders rejected, by the risk check or the venue"),
    ("cancelled", "orders_cancelled", "Orders that ended cancelled"),
    ("filled", "orders_filled", "Orders that ended completely filled"),
    ("expired", "orders_expired", "Orders that ended expired (IOC/FOK remainders)"),
    ("lost", "orders_lost", "Orders the venue never knew (ended LOST)"),
    ("amended", "orders_amended", "Price/size changes taken by the venue"),
    ("cancel_requests", "cancel_requests", "Cancels asked for"),
    ("fills", "order_fills", "Fills applied to our orders"),
    ("unknown_outcomes", "orders_unknown_outcome", "Places whose answer was lost"),
)


def _f(value: Decimal | float | int | None) -> float:
    """A sample's value; NaN for none, or for a number that is none (a Decimal sNaN)."""
    if value is None:
        return float("nan")
    try:
        return float(value)
    except (ValueError, OverflowError):
        return float("nan")


def _histogram(name: str, doc: str, labels: Iterable[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, labels=list(labels))


def _add_histogram(family: HistogramMetricFamily, labels: list[str], h: Histogram) -> None:
    family.add_metric(labels, [(b, float(n)) for b, n in h.cumulative()], h.sum)


class EngineCollector(Collector):
    """Registered in a session's own ``CollectorRegistry``; reads ``engine`` on scrape."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration; the names are fixed here

    def collect(self) -> Iterator[Metric]:
        yield from self._session()
        yield from self._positions()
        yield from self._strategies()
        yield from self._orders()
        yield from self._venues()
        yield from self._rate_limits()
        yield from self._latency()
        yield from self._risk()

    # -- the session ----------------------------------------------------------

    def _session(self) -> Iterator[Metric]:
        engine = self._engine
        info = InfoMetricFamily("mmtui_run", "The trading session", labels=["run_id", "mode"])
        info.add_metric([engine.run_prefix, engine.mode], {})
        yield info
        yield GaugeMetricFamily(
            "mmtui_engine_running", "1 while the engine trades", value=int(engine.running)
        )
        yield GaugeMetricFamily(
            "mmtui_session_pnl",
            "Session PnL over every venue: realized + unrealized - fees (quote currency)",
            value=_f(engine.session_pnl()),
        )
        path = engine.order_path
        yield CounterMetricFamily(
            "mmtui_fills_refused", "Fills refused as impossible", value=path.refused_fills
        )
        yield CounterMetricFamily(
            "mmtui_foreign_fills", "Fills of no order of ours", value=path.foreign_fills
        )
        yield CounterMetricFamily(
            "mmtui_late_fills",
            "Fills of orders of ours whose records were pruned, booked from the journal",
            value=path.late.found,
        )

    def _positions(self) -> Iterator[Metric]:
        view = self._engine.view
        size = GaugeMetricFamily("mmtui_position_size", "Account position (signed)", labels=MARKET)
        notional = GaugeMetricFamily(
            "mmtui_position_notional", "Account position valued at the mark", labels=MARKET
        )
        upnl = GaugeMetricFamily("mmtui_position_unrealized_pnl", "Unrealized PnL", labels=MARKET)
        rpnl = GaugeMetricFamily("mmtui_position_realized_pnl", "Realized PnL", labels=MARKET)
        fees = GaugeMetricFamily("mmtui_position_fees", "Fees paid", labels=MARKET)
        fills = CounterMetricFamily("mmtui_fills", "Fills on the account", labels=MARKET)
        for row in view.positions():
            labels = [row.venue, row.symbol]
            size.add_metric(labels, _f(row.size))
            notional.add_metric(labels, _f(row.notional))
            upnl.add_metric(labels, _f(row.unrealized_pnl))
            rpnl.add_metric(labels, _f(row.realized_pnl))
            fees.add_metric(labels, _f(row.fees))
            fills.add_metric(labels, row.fills)
        yield from (size, notional, upnl, rpnl, fees, fills)
        s_size = GaugeMetricFamily(
            "mmtui_strategy_position_size", "A strategy's own position", labels=STRATEGY_MARKET
        )
        s_fills = CounterMetricFamily(
            "mmtui_strategy_fills", "A strategy's own fills", labels=STRATEGY_MARKET
        )
        for row in view.strategy_positions():
            labels = [row.strategy or "", row.venue, row.symbol]
            s_size.add_metric(labels, _f(row.size))
            s_fills.add_metric(labels, row.fills)
        yield from (s_size, s_fills)

    def _strategies(self) -> Iterator[Metric]:
        engine = self._engine
        pnl = GaugeMetricFamily(
            "mmtui_strategy_pnl",
            "A strategy's PnL over its markets: realized + unrealized - fees",
            labels=["strategy"],
        )
        state = GaugeMetricFamily(
            "mmtui_strategy_state", "1 for the strategy's state", labels=["strategy", "state"]
        )
        live = GaugeMetricFamily("mmtui_strategy_live_orders", "Live orders", labels=["strategy"])
        for row in engine.view.strategies():
            pnl.add_metric([row.name], _f(row.pnl))
            live.add_metric([row.name], row.live_orders)
            for s in StrategyState:
                state.add_metric([row.name, s.value], int(row.state is s))
        yield from (pnl, state, live)
        values = GaugeMetricFamily(
            "mmtui_strategy_value",
            "A strategy's numeric telemetry values",
            labels=["strategy", "key"],
        )
        counts = CounterMetricFamily(
            "mmtui_strategy_count", "A strategy's telemetry counters", labels=["strategy", "key"]
        )
        for tel in engine.telemetry.frame().views:
            for key, value in tel.values:
                if isinstance(value, int | float | Decimal):
                    values.add_metric([tel.strategy, key], _f(value))
            for key, n in tel.counters:
                counts.add_metric([tel.strategy, key], n)
        yield from (values, counts)

    def _orders(self) -> Iterator[Metric]:
        orders = self._engine.orders
        tallies: list[tuple[tuple[str, str, str], OrderCounters]] = sorted(orders.by_market.items())
        for field, name, doc in ORDER_COUNTS:
            family = CounterMetricFamily(f"mmtui_{name}", doc, labels=ORDER_LABELS)
            for key, tally in tallies:
                family.add_metric(list(key), getattr(tally, field))
            yield family
        live = GaugeMetricFamily("mmtui_orders_live", "Our live orders", labels=ORDER_LABELS)
        counts: dict[tuple[str, str, str], int] = {}
        for order in orders.live():
            key = (order.venue, order.symbol, order.strategy or "")
            counts[key] = counts.get(key, 0) + 1
        for key, n in sorted(counts.items()):
            live.add_metric(list(key), n)
        yield live

    # -- venues ---------------------------------------------------------------

    def _venues(self) -> Iterator[Metric]:
        engine = self._engine
        labels = ["venue"]
        state = GaugeMetricFamily(
            "mmtui_venue_state", "1 for the connection's state", labels=["venue", "state"]
        )
        latency = GaugeMetricFamily(
            "mmtui_venue_latency_seconds", "The connector's latest measured latency", labels=labels
        )
        counters = {
            "reconnects": CounterMetricFamily(
                "mmtui_venue_reconnects", "Reconnects", labels=labels
            ),
            "resyncs": CounterMetricFamily("mmtui_venue_resyncs", "Book resyncs", labels=labels),
            "frames": CounterMetricFamily("mmtui_venue_frames", "Frames received", labels=labels),
            "bad_frames": CounterMetricFamily(
                "mmtui_venue_bad_frames", "Frames that could not be read", labels=labels
            ),
        }
        extra = GaugeMetricFamily(
            "mmtui_venue_stat", "The connector's own figures", labels=["venue", "name"]
        )
        in_flight = GaugeMetricFamily("mmtui_gateway_in_flight", "Requests running", labels=labels)
        errors = CounterMetricFamily(
            "mmtui_gateway_errors", "Requests that failed unexpectedly", labels=labels
        )
        retries = CounterMetricFamily("mmtui_gateway_retries", "Requests retried", labels=labels)
        for venue in engine.view.header().venues:
            name = venue.name
            for s in ConnectionState:
                state.add_metric([name, s.value], int(venue.state is s))
            if venue.latency_ms is not None:
                latency.add_metric([name], venue.latency_ms / 1000)
            for field, family in counters.items():
                family.add_metric([name], getattr(venue, field))
            for key, value in venue.extra:
                extra.add_metric([name, key], _f(value))
            gateway = engine.order_path.gateways.get(name)
            if gateway is not None:
                in_flight.add_metric([name], gateway.in_flight)
                errors.add_metric([name], gateway.errors)
                retries.add_metric([name], gateway.retries)
        yield from (state, latency, *counters.values(), extra, in_flight, errors, retries)
        age = GaugeMetricFamily(
            "mmtui_book_age_seconds",
            "Time since the book last changed (session clock)",
            labels=MARKET,
        )
        valid = GaugeMetricFamily("mmtui_book_valid", "1 while the book is valid", labels=MARKET)
        for health in engine.view.health():
            for book in health.books:
                if book.age_ms is not None:
                    age.add_metric([health.venue, book.symbol], book.age_ms / 1000)
                valid.add_metric([health.venue, book.symbol], int(book.valid))
        yield from (age, valid)

    def _rate_limits(self) -> Iterator[Metric]:
        labels = ["venue"]
        tokens = GaugeMetricFamily("mmtui_rate_limit_tokens", "Tokens left", labels=labels)
        ceiling = GaugeMetricFamily("mmtui_rate_limit_capacity", "Bucket size", labels=labels)
        used = GaugeMetricFamily(
            "mmtui_rate_limit_used_ratio", "Share of the bucket spent now (0..1)", labels=labels
        )
        waiting = GaugeMetricFamily(
            "mmtui_rate_limit_waiting", "Requests waiting for tokens", labels=labels
        )
        backoff = GaugeMetricFamily(
            "mmtui_rate_limit_backoff_seconds", "Back-off left after a 429", labels=labels
        )
        granted = CounterMetricFamily("mmtui_rate_limit_granted", "Requests let go", labels=labels)
        waited = CounterMetricFamily(
            "mmtui_rate_limit_wait_seconds", "Time requests waited for tokens", labels=labels
        )
        for name, gateway in self._engine.order_path.gateways.items():
            if gateway.limiter is None:
                continue
            snap = gateway.limiter.snapshot()
            tokens.add_metric([name], snap.tokens)
            ceiling.add_metric([name], snap.ceiling)
            used.add_metric([name], 1 - snap.tokens / snap.ceiling if snap.ceiling else 0.0)
            waiting.add_metric([name], snap.waiting)
            backoff.add_metric([name], snap.backoff_remaining_s)
            granted.add_metric([name], snap.granted)
            waited.add_metric([name], snap.waited_s_total)
        yield from (tokens, ceiling, used, waiting, backoff, granted, waited)

    # -- latency and risk -----------------------------------------------------

    def _latency(self) -> Iterator[Metric]:
        latency = self._engine.latency
        t2t = _histogram(
            "mmtui_tick_to_trade_seconds",
            "From the latest book change's intake to the next order request on that market",
            MARKET,
        )
        for (venue, symbol), h in sorted(latency.tick_to_trade.items()):
            _add_histogram(t2t, [venue, symbol], h)
        yield t2t
        unanswered = _histogram(
            "mmtui_book_unanswered_seconds",
            "From the first book change since the market's last order request to the next",
            MARKET,
        )
        for (venue, symbol), h in sorted(latency.unanswered.items()):
            _add_histogram(unanswered, [venue, symbol], h)
        yield unanswered
        lag = _histogram("mmtui_loop_lag_seconds", "How late the event loop wakes a timer", ())
        _add_histogram(lag, [], latency.loop_lag)
        yield lag

    def _risk(self) -> Iterator[Metric]:
        risk = self._engine.risk
        state = GaugeMetricFamily("mmtui_risk_state", "1 for the risk state", labels=["state"])
        for s in RiskState:
            state.add_metric([s.value], int(risk.state is s))
        yield state
        rejections = CounterMetricFamily(
            "mmtui_risk_rejections", "Orders the risk check refused", labels=["reason"]
        )
        ranked = sorted(risk.rejections.items(), key=lambda kv: (-kv[1], kv[0]))
        for reason, n in ranked[:MAX_REASONS]:
            rejections.add_metric([reason], n)
        rest = sum(n for _, n in ranked[MAX_REASONS:])
        if rest:
            rejections.add_metric(["other"], rest)
        yield rejections


__all__ = ["EngineCollector"]
