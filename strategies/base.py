"""The strategy base class and the context a strategy runs in.

A strategy never sees a connector or the core. It reads books, positions and
its own orders through a ``StrategyContext`` and asks the context to place or
cancel; the core implements the context (order manager, risk, rate limits).
Callbacks are plain synchronous methods: they decide and return, they never
wait. Everything that takes time happens in the core, and its outcome comes
back as ``on_order`` / ``on_fill``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import Fill, Instrument, OrderStatus, OrderType, Side, TimeInForce
from connectors.book import OrderBook
from strategies.telemetry import Telemetry


class OrderView(Protocol):
    """Read-only view of one of the strategy's orders (the core's order record)."""

    @property
    def client_id(self) -> str: ...
    @property
    def venue(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def size(self) -> Decimal: ...
    @property
    def filled(self) -> Decimal: ...
    @property
    def remaining(self) -> Decimal: ...
    @property
    def status(self) -> OrderStatus: ...
    @property
    def reason(self) -> str: ...
    @property
    def post_only(self) -> bool: ...
    @property
    def reduce_only(self) -> bool: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def cancel_requested(self) -> bool: ...
    @property
    def amending(self) -> bool: ...
    @property
    def tag(self) -> str: ...
    @property
    def is_live(self) -> bool: ...


class PositionView(Protocol):
    @property
    def size(self) -> Decimal: ...
    @property
    def entry_price(self) -> Decimal: ...
    @property
    def realized_pnl(self) -> Decimal: ...
    @property
    def fees(self) -> Decimal: ...
    @property
    def volume(self) -> Decimal: ...
    @property
    def fills(self) -> int: ...

    def unrealized_pnl(self, mark: Decimal | None) -> Decimal: ...
    def net_pnl(self, mark: Decimal | None) -> Decimal: ...


class StrategyContext(Protocol):
    """What the core offers a running strategy."""

    name: str
    telemetry: Telemetry
    log: logging.Logger

    @property
    def running(self) -> bool:
        """True while the strategy may place orders (``place`` raises otherwise)."""

    def now_ms(self) -> int: ...

    def instrument(self, venue: str, symbol: str) -> Instrument: ...

    def instruments(self, venue: str) -> list[Instrument]:
        """Every market the venue lists (for pairing markets across venues)."""

    def book(self, venue: str, symbol: str) -> OrderBook | None: ...

    def position(self, venue: str, symbol: str) -> PositionView:
        """This strategy's own position (from its own fills)."""

    def account_position(self, venue: str, symbol: str) -> Decimal:
        """The account's signed position on the venue (all strategies)."""

    def orders(self, venue: str | None = None, symbol: str | None = None) -> list[OrderView]:
        """This strategy's live orders."""

    def place(
        self,
        venue: str,
        symbol: str,
        side: Side,
        size: Decimal,
        price: Decimal | None = None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        tag: str = "",
    ) -> OrderView:
        """Submit an order. Returns at once: status PENDING, or REJECTED with a reason."""

    def cancel(self, client_id: str) -> bool:
        """Ask to cancel one of this strategy's orders; False if it is not live."""

    def amend(self, client_id: str, price: Decimal, size: Decimal | None = None) -> bool:
        """Move a resting order to ``price`` (and total ``size``) in one venue request.

        False when the venue cannot (or the order is not resting, or risk refuses):
        then cancel and place instead. Default: never (a context without modify).
        """
        return False

    def cancel_all(self, venue: str | None = None, symbol: str | None = None) -> int: ...

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, ``delay_ms`` from now on the core's clock, if the
        strategy is still running then (a requote a minimum interval put off). The
        callback is guarded like every other one. Default: never (a context without
        timers); the strategy's tick comes all the same."""
        return None


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """An order a strategy would place now (for the console's launch preview)."""

    venue: str
    symbol: str
    side: Side
    price: Decimal | None
    size: Decimal
    post_only: bool = False
    reduce_only: bool = False
    note: str = ""


class StrategyParams(BaseModel):
    """Parameters every strategy accepts; each strategy extends this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    RENAMED: ClassVar[dict[str, str]] = {}
    """Old parameter name -> the one-line hint a user of the original bot gets."""

    LIVE: ClassVar[frozenset[str]] = frozenset()
    """Parameters an operator may change while the strategy runs: prices and sizes
    of its quotes, never its venue, symbol, limits or timing (the core checks a
    change against the risk limits and journals it)."""
    SIZES: ClassVar[frozenset[str]] = frozenset()
    """Of ``LIVE``, the order sizes in base units (checked against the risk limits)."""

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, hint in cls.RENAMED.items():
                if key in data:
                    raise ValueError(hint)
        return data

    tick_interval_ms: int = Field(default=500, ge=10, description="how often on_tick runs")
    max_tick_errors: int = Field(
        default=5, ge=1, description="consecutive tick errors that halt the strategy"
    )
    on_quit: Literal["cancel", "keep_exits"] = Field(
        default="cancel",
        description="at quit: cancel every order, or keep_exits: leave its resting "
        "reduce-only exits (take-profits) on the venue",
    )


class Strategy:
    """Subclass this. Set ``kind`` and ``Params``; override the callbacks you need."""

    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        self.ctx = ctx
        self.venue = venue
        self.symbol = symbol
        self.params = params
        self.inst: Instrument = ctx.instrument(venue, symbol)
        """The strategy's (primary) market: tick, step, min size, fees."""

    @classmethod
    def parse_params(cls, raw: dict[str, Any] | None) -> StrategyParams:
        return cls.Params.model_validate(raw or {})

    def apply_params(self, params: StrategyParams) -> None:
        """Take validated new parameters (only ``LIVE`` ones differ) from the next
        callback on; a strategy that derives values from its parameters overrides
        this and derives them again."""
        self.params = params

    def markets(self) -> list[tuple[str, str]]:
        """(venue, symbol) pairs whose books this strategy needs."""
        return [(self.venue, self.symbol)]

    # -- callbacks ------------------------------------------------------------

    def on_start(self) -> None:
        """Called once when the strategy starts (books are subscribed by then)."""

    def on_tick(self, now_ms: int) -> None:
        """Called every ``tick_interval_ms`` while running."""

    def on_book(self, venue: str, symbol: str) -> None:
        """A book this strategy reads changed (coalesced; may skip intermediate states)."""

    def on_order(self, order: OrderView) -> None:
        """One of this strategy's orders changed state."""

    def on_fill(self, fill: Fill, order: OrderView) -> None:
        """One of this strategy's orders filled (partly or fully)."""

    def on_pause(self) -> None:
        """Paused (or halted): the core has cancelled this strategy's orders and
        stops ticking it; fills may still arrive (``ctx.running`` is False)."""

    def on_resume(self) -> None: ...

    def on_stop(self) -> None: ...

    def preview(self) -> list[PlannedOrder]:
        """The orders the strategy would place on the current books."""
        return []
