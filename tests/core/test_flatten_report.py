"""A flatten says plainly what is flat — the strategy's share and the venue's
position, and whose any remainder is — and leaves every strategy's books
consistent with the accounts (two cross-venue strategies on two sim venues)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

from connectors.base import Side
from mmtui.session import Session

from ..conftest import sim_config
from ..strategies.test_cross_arbitrage import BASE_PARAMS as PARAMS

SYM = "BTC-PERP"


def two_arbs() -> Any:
    still = {"sigma": 0.0, "half_life_s": 3600}  # the test sets the gap by hand
    return sim_config(
        venues={"a": {"type": "sim", "basis": still}, "b": {"type": "sim", "basis": still}},
        strategies=[
            {"name": name, "kind": "cross_arbitrage", "venue": "a", "symbol": SYM, "params": PARAMS}
            for name in ("arb_one", "arb_two")
        ],
    )


def share(s: Session, name: str, venue: str) -> D:
    return s.engine.runner(name).position(venue, SYM).size


def venue_size(s: Session, venue: str) -> D:
    sizes = {p.symbol: p.size for p in s.world.venues[venue].positions("me")}  # type: ignore[union-attr]
    return sizes.get(SYM, D(0))


async def both_hold_pairs(s: Session) -> None:
    s.world.market.set_basis("a", "BTC", 0.0)  # type: ignore[union-attr]
    s.world.market.set_basis("b", "BTC", 0.005)  # type: ignore[union-attr]
    for _ in range(60):
        await s.run_for(1)
        if all(share(s, n, "a") == D("0.01") for n in ("arb_one", "arb_two")):
            break
    assert [share(s, n, v) for n in ("arb_one", "arb_two") for v in "ab"] == [
        D("0.01"),
        D("-0.01"),
        D("0.01"),
        D("-0.01"),
    ]
    # hold: no exit while the test flattens
    for name in ("arb_one", "arb_two"):
        s.engine.pause_strategy(name)


async def sim_until(s: Session, cond: Callable[[], bool]) -> None:
    for _ in range(100):
        if cond():
            return
        await s.run_for(0.1)
    raise AssertionError(f"not met in 10 sim seconds: {cond}")


def books_match_accounts(s: Session) -> None:
    for venue in "ab":
        held = share(s, "arb_one", venue) + share(s, "arb_two", venue)
        assert held == venue_size(s, venue), (venue, held, venue_size(s, venue))


async def test_flatten_one_strategy_names_the_other_strategys_remainder(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(two_arbs())
    await s.start()
    try:
        await both_hold_pairs(s)
        report = await s.engine.flatten(strategy="arb_one")
        assert report.ok, [str(line) for line in report.lines]
        text = [str(line) for line in report.lines]
        assert text == [
            "PASS a: strategy arb_one's share flat; strategy arb_one BTC-PERP: +0.000 (flat); "
            "venue a BTC-PERP: +0.010 — other strategies' (arb_two +0.010)",
            "PASS b: strategy arb_one's share flat; strategy arb_one BTC-PERP: +0.000 (flat); "
            "venue b BTC-PERP: -0.010 — other strategies' (arb_two -0.010)",
        ]
        books_match_accounts(s)
    finally:
        await s.stop()


async def test_flatten_closes_books_the_flat_account_no_longer_holds(
    make_session: Callable[..., Session],
) -> None:
    """A liquidation took half the account on venue a: flattening arb_one takes the
    account there to zero, so arb_two's leg on a no longer exists — its book is
    closed and the report says so (it used to keep showing a leg that was gone)."""
    s = make_session(two_arbs())
    await s.start()
    try:
        await both_hold_pairs(s)
        venue = s.world.venues["a"]
        mid = s.engine.mark("a", SYM)
        assert mid is not None
        venue.force_fill("me", SYM, Side.SELL, D("0.01"), mid)  # type: ignore[union-attr]
        await sim_until(s, lambda: s.engine.positions.get(("a", SYM)).size == D("0.01"))
        report = await s.engine.flatten(strategy="arb_one")
        line_a = str(report.lines[0])
        assert line_a.startswith("PASS a: strategy arb_one's share flat"), line_a
        assert "venue a BTC-PERP: +0.000 (flat)" in line_a, line_a
        assert "books closed (the account is flat): arb_two BTC-PERP +0.010" in line_a, line_a
        assert share(s, "arb_two", "a") == 0 and venue_size(s, "a") == 0
        books_match_accounts(s)
    finally:
        await s.stop()


async def test_a_strategy_flatten_never_says_flat_over_a_position_it_does_not_mention(
    make_session: Callable[..., Session],
) -> None:
    """The account holds what no strategy does: the strategy's share is flat (PASS),
    and the line says the venue still holds the rest, and that it is not ours."""
    s = make_session(sim_config())
    await s.start()
    try:
        await s.run_for(2)
        mid = s.engine.mark("sim", SYM)
        assert mid is not None
        s.engine.pause_strategy("as_btc")
        await s.run_for(1)
        s.world.venues["sim"].force_fill("me", SYM, Side.BUY, D("0.01"), mid)  # type: ignore[union-attr]
        await sim_until(s, lambda: s.engine.positions.get(("sim", SYM)).size != 0)
        held = s.engine.positions.get(("sim", SYM)).size
        mine = share_sim = s.engine.runner("as_btc").position("sim", SYM).size
        report = await s.engine.flatten(strategy="as_btc")
        (line,) = report.lines
        assert line.ok
        assert "strategy as_btc BTC-PERP: +0" in str(line)
        rest = held - mine
        assert f"venue sim BTC-PERP: {rest:+} — {rest:+} not ours (no strategy holds it)" in str(
            line
        ), (str(line), share_sim)
    finally:
        await s.stop()
