"""The wire encoding: the console's views survive the trip unchanged; anything
that is not one of the listed forms and classes is refused, naming what."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from decimal import Decimal

import pytest

from connectors.base import Side
from mmtui.core.summary import FlattenLine, FlattenReport
from mmtui.logsetup import LogBuffer
from mmtui.remote.codec import CodecError, decode, encode, from_wire, to_wire
from mmtui.remote.publish import Publisher
from mmtui.session import Session


async def test_a_running_core_s_published_state_round_trips(
    make_session: Callable[..., Session],
) -> None:
    session = make_session()
    await session.start()
    try:
        await session.run_for(10)
        state = Publisher(session.engine, LogBuffer()).full()
        back = decode(encode(state))
        assert back["set"] == state["set"]
        assert back["set"]["orders"], "the strategy's quotes are in it"
        assert back["set"]["header"].session_pnl == session.engine.view.header().session_pnl
    finally:
        await session.stop()


def test_forms() -> None:
    value = {
        "t": (1, "a", None, True, 1.5),
        "l": [Decimal("0.1"), Side.SELL],
        "m": {("sim", "BTC-PERP"): Decimal("-2")},
    }
    assert from_wire(to_wire(value)) == value
    assert isinstance(from_wire(to_wire([1]))[0:1], list)
    report = FlattenReport("flatten", [FlattenLine("sim", True, "flat")], notes=["n"])
    back = from_wire(to_wire(report))
    assert back.lines == report.lines and back.notes == ["n"] and back.ok


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"C": "Popen", "f": []}, "unknown class 'Popen'"),
        ({"C": "OrderRow", "f": [1]}, "OrderRow: 1 fields, expected 16"),
        ({"E": "Signals", "v": 9}, "unknown enum 'Signals'"),
        ({"E": "Side", "v": "up"}, "Side has no value 'up'"),
        ({"D": "1e999999999999"}, "bad decimal"),
        ({"D": "x" * 100}, "bad decimal"),
        ({"M": [[{"L": []}, 1]]}, "unhashable mapping key"),
        ({"X": 1}, "unknown form"),
        ({"L": 5}, "expected an array"),
    ],
)
def test_what_is_not_ours_is_refused(data: object, says: str) -> None:
    with pytest.raises(CodecError, match=says.replace("(", r"\(")):
        from_wire(data)


def test_deep_nesting_and_non_json_are_refused() -> None:
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    with pytest.raises(CodecError, match="nested deeper"):
        from_wire(deep)
    with pytest.raises(CodecError, match="nested deeper than 100"):
        decode(b"[" * 100_000)  # the C parser would overflow the stack, not raise
    with pytest.raises(CodecError, match="nested deeper than 100"):
        decode(b'{"type": "x", "v": ' + b'{"L": [' * 60 + b"]}" * 60 + b"}")
    brackets_in_text = b'{"type": "x", "v": "' + b"[{" * 5000 + b'\\" [["}'
    assert decode(brackets_in_text)["v"].startswith("[{")
    with pytest.raises(CodecError, match="not JSON"):
        decode(pickle.dumps({"type": "cmd"}))
    with pytest.raises(CodecError, match="needs a string 'type'"):
        decode(b'{"op": "pause"}')


def test_only_listed_values_are_sent() -> None:
    with pytest.raises(CodecError, match="object is not on the wire's list"):
        encode({"type": "x", "v": object()})


def test_short_strings_decode_to_one_object_each() -> None:
    """A console keeps thousands of decoded log lines and PnL points: a logger's or
    a strategy's name is one object in all of them, not one per frame."""
    from mmtui.logsetup import LogLine

    def decoded_name(n: int) -> str:
        line = LogLine(1_796_671_072_000 + n, 20, "mmtui.fills" + "", f"fill {n}")
        message = decode(encode({"type": "state", "append": {"log": (line,)}}))
        back = message["append"]["log"][0]
        assert back == line
        return back.name

    assert decoded_name(1) is decoded_name(2)
    long_text = "x" * 200
    first = decode(encode({"type": "state", "text": long_text}))["text"]
    assert first == long_text  # long texts (messages) are not interned
