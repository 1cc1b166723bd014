"""What the take-profit ladders share (strategies/ladder_lots.py), the order forms
(strategies/order_forms.py) and the parameter checks (strategies/param_checks.py),
by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

import pytest

from connectors.base import Fill, Instrument, Liquidity, OrderType, Side, TimeInForce
from strategies import hedge_ladder, trend_ladder
from strategies.ladder_lots import (
    ENTRY,
    TP_PREFIX,
    LadderLot,
    entry_ended,
    entry_filled,
    take_profit_filled,
    take_profit_price,
    trim_lots,
)
from strategies.order_forms import place_exit, place_market_ioc
from strategies.param_checks import require_at_most, require_room_for_an_entry

INST = Instrument("v", "X-PERP", "X", "USDC", D("0.1"), D("0.001"), D("0.001"))


@dataclass
class _Entry:
    client_id: str
    price: D | None
    is_live: bool = True


def _fill(size: str, price: str = "99") -> Fill:
    return Fill(
        "v", "X-PERP", "e1", None, Side.BUY, D(price), D(size), D(0), Liquidity.MAKER, "t", 0
    )


def _new_lot(entry_id: str, price: D) -> LadderLot:
    return LadderLot(entry_id, price, take_profit_price(Side.BUY, price, D(5), INST))


def test_take_profit_price_is_rounded_away_from_the_entry() -> None:
    assert take_profit_price(Side.BUY, D("100.0"), D("0.55"), INST) == D("100.6")
    assert take_profit_price(Side.SELL, D("100.0"), D("0.55"), INST) == D("99.4")
    assert take_profit_price(Side.SELL, D("1.0"), D(5), INST) == INST.tick_size  # never <= 0


def test_an_entry_fill_opens_its_lot_at_the_limit_price_then_adds_to_it() -> None:
    lots: dict[str, LadderLot] = {}
    lot = entry_filled(lots, _Entry("e1", D("100")), _fill("0.002"), _new_lot)  # type: ignore[arg-type]
    assert lots == {"e1": lot} and lot.entry_price == D("100") and lot.tp_price == D("105.0")
    assert lot.filled == D("0.002") and not lot.entry_done
    again = entry_filled(lots, _Entry("e1", D("100"), False), _fill("0.001"), _new_lot)  # type: ignore[arg-type]
    assert again is lot and lot.filled == D("0.003") and lot.entry_done  # the entry is done
    # an entry without a limit price (a market entry): the lot opens at the fill's price
    market = entry_filled(lots, _Entry("e2", None), _fill("0.001", "98.7"), _new_lot)  # type: ignore[arg-type]
    assert market.entry_price == D("98.7") and list(lots) == ["e1", "e2"]


def test_an_ended_entry_drops_its_lot_only_when_nothing_of_it_is_open() -> None:
    held = LadderLot("a", D(100), D(105), filled=D("0.002"), closed=D("0.001"))
    done = LadderLot("b", D(100), D(105), filled=D("0.002"), closed=D("0.002"))
    lots = {"a": held, "b": done}
    entry_ended(lots, "a")
    entry_ended(lots, "b")
    entry_ended(lots, "unknown")  # an entry that never filled: no lot, nothing to do
    assert lots == {"a": held} and held.entry_done


def test_a_take_profit_fill_closes_its_lot_and_drops_it_once_its_entry_ended() -> None:
    live = LadderLot("a", D(100), D(105), filled=D("0.002"))
    ended = LadderLot("b", D(100), D(105), filled=D("0.002"), entry_done=True)
    lots = {"a": live, "b": ended}
    assert take_profit_filled(lots, "a", D("0.005")) is live
    assert live.closed == D("0.002") and live.open == 0  # never closes more than filled
    assert "a" in lots  # its entry may fill more: the lot stays
    assert take_profit_filled(lots, "b", D("0.001")) is ended and "b" in lots
    assert take_profit_filled(lots, "b", D("0.001")) is ended and "b" not in lots
    assert take_profit_filled(lots, "x", D("0.001")) is None
    assert take_profit_filled(lots, None, D("0.001")) is None  # an unreadable tag


def test_trim_lots_takes_the_excess_lot_after_lot_in_the_order_given() -> None:
    lots = [LadderLot(k, D(100), D(105), filled=D("0.002")) for k in "abc"]
    trimmed = trim_lots(lots, D("0.003"))
    assert [lot.entry_id for lot in trimmed] == ["a", "b"]
    assert [lot.open for lot in lots] == [D(0), D("0.001"), D("0.002")]
    assert trim_lots(lots, D(0)) == [] and lots[2].open == D("0.002")


def test_each_ladder_tags_its_take_profits_through_the_shared_lot() -> None:
    trend = trend_ladder.Lot("e1", D(100), D(105), side=Side.BUY)
    hedge = hedge_ladder.Lot("e1", D("100.5"), D(105), trigger=D(99), release=D("99.5"))
    assert isinstance(trend, LadderLot) and isinstance(hedge, LadderLot)
    assert trend.tag == f"{TP_PREFIX}e1" and hedge.tag == f"{TP_PREFIX}e1@100.5"
    assert hedge_ladder.parse_tp_tag(hedge.tag) == ("e1", D("100.5"))
    assert ENTRY == "entry" and TP_PREFIX == "tp:"


@dataclass
class _Ctx:
    placed: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def place(self, *args: Any, **kw: Any) -> str:
        self.placed.append((args, kw))
        return "order"


def test_the_order_forms() -> None:
    ctx = _Ctx()
    assert place_exit(ctx, "v", "X", Side.SELL, D(1), D(105), "tp:e1") == "order"  # type: ignore[arg-type]
    place_market_ioc(ctx, "v", "X", Side.BUY, D(1), "stop", reduce_only=True)  # type: ignore[arg-type]
    place_market_ioc(ctx, "h", "Y", Side.SELL, D(2), "hedge", reduce_only=False)  # type: ignore[arg-type]
    assert ctx.placed == [
        (
            ("v", "X", Side.SELL, D(1), D(105)),
            {"post_only": True, "reduce_only": True, "tag": "tp:e1"},
        ),
        (
            ("v", "X", Side.BUY, D(1), None),
            {
                "order_type": OrderType.MARKET,
                "time_in_force": TimeInForce.IOC,
                "reduce_only": True,
                "tag": "stop",
            },
        ),
        (
            ("h", "Y", Side.SELL, D(2), None),
            {
                "order_type": OrderType.MARKET,
                "time_in_force": TimeInForce.IOC,
                "reduce_only": False,
                "tag": "hedge",
            },
        ),
    ]


def test_parameter_checks_say_which_parameters_disagree() -> None:
    require_at_most("a", 1, "b", 1)
    with pytest.raises(ValueError, match=r"^a \(2\) must not exceed b \(1\)$"):
        require_at_most("a", 2, "b", 1)
    require_room_for_an_entry("cap", None, D("0.01"))
    require_room_for_an_entry("cap", D("0.01"), D("0.01"))
    with pytest.raises(
        ValueError,
        match=r"^cap \(0.005\) is below quantity_base \(0.01\): no entry could ever be placed$",
    ):
        require_room_for_an_entry("cap", D("0.005"), D("0.01"))
