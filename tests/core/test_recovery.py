"""Fills missed by the stream come back from the venue's history, once."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.base import Fill, Liquidity, Side, VenueError
from connectors.common.seen import SeenIds
from mmtui.core.recovery import SEEN_KEPT, FillRecovery


def fill(trade: str, ts: int, side: Side = Side.BUY, cid: str | None = "mm1-1") -> Fill:
    return Fill("v", "BTC", cid, "9", side, D(100), D(1), D(0), Liquidity.MAKER, trade, ts)


def rig(history: list[Fill], now: int = 1_000_000):
    delivered: list[Fill] = []
    asked: list[int] = []
    state = {"fail": False}

    async def read(venue: str, since: int) -> list[Fill]:
        asked.append(since)
        if state["fail"]:
            raise VenueError("down", retryable=True)
        return [f for f in history if f.ts_ms >= since]

    rec = FillRecovery(
        ["v"],
        history=read,
        deliver=delivered.append,
        now_ms=lambda: now,
        overlap_s=30,
        prime_window_s=300,
    )

    def deliver(f: Fill) -> None:  # the engine's intake: first_sight, then apply
        if rec.first_sight(f):
            delivered.append(f)

    rec._deliver = deliver  # type: ignore[attr-defined]
    return rec, delivered, asked, state


async def test_prime_marks_history_seen_and_recover_delivers_only_new_fills() -> None:
    history = [fill("t1", 900_000)]
    rec, delivered, asked, _ = rig(history)
    assert await rec.prime("v") == 1
    assert asked == [1_000_000 - 300_000]
    assert rec.watermark("v") == 900_000
    assert rec.first_sight(fill("t2", 950_000))  # the stream delivered t2
    history += [fill("t2", 950_000), fill("t3", 960_000), fill("t3", 960_000, Side.SELL)]
    assert await rec.recover("v", "reconnect") == 2  # t3 both sides; t1, t2 seen
    assert [(f.trade_id, f.side) for f in delivered] == [("t3", Side.BUY), ("t3", Side.SELL)]
    assert asked[-1] == 950_000 - 30_000  # from the watermark minus the overlap
    assert await rec.recover("v", "timer") == 0
    assert not rec.first_sight(fill("t3", 960_000))  # a late stream repeat is dropped
    assert rec.duplicates == 1


async def test_fills_without_client_id_are_recovered_too() -> None:
    rec, delivered, _, _ = rig([fill("liq-1", 999_000, Side.SELL, cid=None)])
    rec._watermark["v"] = 998_000  # type: ignore[attr-defined]
    assert await rec.recover("v", "reconnect") == 1
    assert delivered[0].client_id is None


async def test_a_failed_history_read_is_counted_and_retried_later() -> None:
    rec, _delivered, _, state = rig([fill("t9", 999_000)])
    rec._watermark["v"] = 998_000  # type: ignore[attr-defined]
    state["fail"] = True
    assert await rec.recover("v", "reconnect") == 0
    assert rec.failures == 1
    state["fail"] = False
    assert await rec.recover("v", "timer") == 1


async def test_after_a_drop_recovery_reads_from_the_drop_whatever_came_since() -> None:
    history = [fill("t1", 900_000)]
    rec, delivered, asked, _ = rig(history)
    await rec.prime("v")
    rec.stream_down("v")  # at watermark 900_000
    history.append(fill("t2", 905_000))  # missed while down
    assert rec.first_sight(fill("t3", 990_000))  # the stream is back and busy
    assert await rec.recover("v", "reconnect") == 1
    assert asked[-1] == 900_000 - 30_000
    assert delivered[-1].trade_id == "t2"
    assert await rec.recover("v", "order looked up", since_ms=800_000) == 0
    assert asked[-1] == 800_000 - 30_000


async def test_seen_keeps_its_cap_and_never_redelivers_what_it_forgot() -> None:
    """ "Seen" holds SEEN_KEPT (10,000) keys per venue; a history read reaching back
    past them (an order's whole life) does not deliver the forgotten fills again."""
    assert SEEN_KEPT == 10_000
    extra = 300
    history = [fill(f"t{i}", 100_000 + i) for i in range(SEEN_KEPT + extra)]
    rec, delivered, _, _ = rig(history)
    for f in history:  # the stream delivered every one
        assert rec.first_sight(f)
    assert len(rec._seen["v"]) == SEEN_KEPT  # type: ignore[attr-defined]
    history.append(fill("missed", 100_000 + SEEN_KEPT + extra))  # one the stream missed
    assert await rec.recover("v", "order looked up", since_ms=0) == 1
    assert [f.trade_id for f in delivered] == ["missed"]
    assert rec.beyond_memory == extra
    assert len(rec._seen["v"]) == SEEN_KEPT  # type: ignore[attr-defined]


def test_seen_ids_remember_the_newest_stamp_forgotten() -> None:
    seen = SeenIds(capacity=3)
    for i, stamp in enumerate((50, 10, 40, 30, 20)):
        assert seen.add(f"k{i}", stamp)
    assert len(seen) == 3
    assert "k0" not in seen and "k1" not in seen and "k4" in seen
    assert seen.forgotten_stamp == 50  # k0 and k1 forgotten: the newer of their stamps
    assert not seen.add("k4", 99)
