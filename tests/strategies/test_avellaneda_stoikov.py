"""Avellaneda–Stoikov quote math against hand-computed values, and its rules."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from connectors.base import Instrument
from strategies.avellaneda_stoikov import (
    ASParams,
    QuoteTarget,
    apply_min_spread,
    finite_horizon_quotes,
    infinite_horizon_quotes,
    to_book_prices,
)
from strategies.volatility import RealizedVolatility

INST = Instrument("v", "X-PERP", "X", "USDC", D("0.01"), D("0.001"), D("0.001"))


def test_finite_horizon_by_hand() -> None:
    # gamma*sigma^2*(T-t) = 0.1*0.25*10 = 0.25; r = 100 - 2*0.25 = 99.5
    # spread = 0.25 + (2/0.1)*ln(1 + 0.1/1.5) = 0.25 + 20*0.0645385211 = 1.5407704228
    t = finite_horizon_quotes(mid=100.0, q=2.0, sigma=0.5, gamma=0.1, k=1.5, time_left=10.0)
    assert t.reservation == pytest.approx(99.5)
    assert t.spread == pytest.approx(1.5407704228)
    assert t.bid == pytest.approx(98.7296147886)
    assert t.ask == pytest.approx(100.2703852114)


def test_finite_horizon_flat_inventory_is_symmetric() -> None:
    t = finite_horizon_quotes(mid=50.0, q=0.0, sigma=0.2, gamma=0.5, k=2.0, time_left=6.0)
    assert t.reservation == 50.0
    assert 50.0 - t.bid == pytest.approx(t.ask - 50.0)


def test_infinite_horizon_by_hand() -> None:
    # g2s2 = 0.0025, omega = 0.5*0.0025*16 = 0.02, denom = 0.04 - 0.0025 = 0.0375
    # r_ask = 100 + 10 ln(1 - 0.0025/0.0375) = 99.3100707; r_bid = 100 + 10 ln(0.8) = 97.7685645
    # half = 10 ln(1 + 0.1/1.5) = 0.6453852
    t = infinite_horizon_quotes(mid=100.0, q=1.0, sigma=0.5, gamma=0.1, k=1.5, q_max=3.0)
    assert t.ask == pytest.approx(99.3100707 + 0.6453852, abs=1e-6)
    assert t.bid == pytest.approx(97.7685645 - 0.6453852, abs=1e-6)
    with pytest.raises(ValueError):
        infinite_horizon_quotes(mid=100.0, q=4.0, sigma=0.5, gamma=0.1, k=1.5, q_max=3.0)


def test_long_inventory_skews_quotes_down() -> None:
    flat = finite_horizon_quotes(100.0, 0.0, 0.5, 0.1, 1.5, 10.0)
    long = finite_horizon_quotes(100.0, 3.0, 0.5, 0.1, 1.5, 10.0)
    short = finite_horizon_quotes(100.0, -3.0, 0.5, 0.1, 1.5, 10.0)
    assert long.bid < flat.bid and long.ask < flat.ask
    assert short.bid > flat.bid and short.ask > flat.ask


def test_min_spread_floor() -> None:
    t = apply_min_spread(QuoteTarget(100.0, 99.9, 100.1), 1.0)
    assert t.bid == pytest.approx(99.5) and t.ask == pytest.approx(100.5)


def test_rounding_is_passive_and_never_crosses_opposite_touch() -> None:
    bid, ask = to_book_prices(QuoteTarget(100, 99.987, 100.013), INST, D("99.99"), D("100.01"))
    assert (bid, ask) == (D("99.98"), D("100.02"))
    # a target through the opposite touch is pulled back one tick behind it
    bid, ask = to_book_prices(QuoteTarget(100, 100.5, 100.9), INST, D("99.99"), D("100.01"))
    assert bid == D("100.00") and ask == D("100.90")
    bid, ask = to_book_prices(QuoteTarget(100, 99.0, 99.5), INST, D("99.99"), D("100.01"))
    assert ask == D("100.00") and bid == D("99.00")


def test_params_validation() -> None:
    with pytest.raises(ValidationError, match="gamma_max"):
        ASParams(gamma=0.1, gamma_max=0.05)
    with pytest.raises(ValidationError, match="max_position"):
        ASParams(horizon="infinite")
    with pytest.raises(ValidationError):
        ASParams(k=0)
    with pytest.raises(ValidationError, match="extra"):
        ASParams.model_validate({"gama": 0.1})


def test_volatility_warmup_and_units() -> None:
    vol = RealizedVolatility(window_ms=60_000, warmup_ms=5_000, min_samples=5)
    # mid alternates +-1 every second: variance per second = 1 -> sigma = 1
    for i in range(4):
        vol.add(i * 1000, 100.0 + (i % 2))
    assert vol.sigma() is None  # warming up
    for i in range(4, 30):
        vol.add(i * 1000, 100.0 + (i % 2))
    assert vol.sigma() == pytest.approx(1.0)
    # samples closer than min_gap are ignored; a window drops old samples
    vol.add(29_050, 500.0)
    assert vol.sigma() == pytest.approx(1.0)
    for i in range(30, 200):
        vol.add(i * 1000, 100.0)
    assert vol.sigma() == pytest.approx(0.0)
