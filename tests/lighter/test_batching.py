"""Requote bursts as one ``sendTxBatch`` (connectors/lighter/txqueue.py): what goes in one
request and in which order, and the nonce protocol kept exact for a batch -- a refused
batch, a lost batch answer, a caller that gives up -- our connector against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import ErrorCode, OrderRequest, OrderStatus, Side, VenueError
from connectors.lighter import wire
from connectors.lighter.connector import LighterConnector
from connectors.lighter.pacing import Priority
from connectors.lighter.txqueue import TxKind, TxRequest, plan, request_priority
from tests.contract.rigs.lighter import ACCOUNT_INDEX, OUR_KEY, LighterRig
from tests.lighter.conftest import Connected
from tests.waiting import until

PREFIX = "mmbatch"


# -- plan: the order inside one request ----------------------------------------------------


def _req(kind: TxKind, target: int | None = None, name: str = "") -> TxRequest:
    return TxRequest(
        name or f"{kind.value} {target}", kind, lambda n, k: (0, "{}", "", None), target
    )


def _names(reqs: list[TxRequest]) -> list[str]:
    return [r.what for r in reqs]


def test_cancels_go_ahead_of_the_orders_issued_before_them() -> None:
    burst = [
        _req(TxKind.CREATE, 11, "new 11"),
        _req(TxKind.CREATE, 12, "new 12"),
        _req(TxKind.CANCEL, 1, "cancel 1"),
        _req(TxKind.MODIFY, 3, "modify 3"),
        _req(TxKind.CANCEL, 2, "cancel 2"),
    ]
    assert _names(plan(burst, 50)) == ["cancel 1", "cancel 2", "new 11", "new 12", "modify 3"]


def test_a_cancel_never_overtakes_its_own_order_nor_a_cancel_all() -> None:
    burst = [
        _req(TxKind.CREATE, 7, "new 7"),
        _req(TxKind.CANCEL_ALL, None, "abort"),
        _req(TxKind.CANCEL_ALL, None, "schedule"),
        _req(TxKind.CREATE, 8, "new 8"),
        _req(TxKind.CANCEL, 8, "cancel 8"),  # created in this very batch: stays after it
        _req(TxKind.CANCEL, 1, "cancel 1"),
    ]
    assert _names(plan(burst, 50)) == [
        "new 7",
        "abort",
        "schedule",
        "cancel 1",
        "new 8",
        "cancel 8",
    ]


def test_a_batch_holds_at_most_the_limit_and_nothing_overtakes_past_it() -> None:
    burst = [_req(TxKind.CREATE, i) for i in range(60)] + [_req(TxKind.CANCEL, 99)]
    first = plan(burst, 50)
    assert len(first) == 50 and all(r.kind is TxKind.CREATE for r in first)


def test_out_of_volume_quota_the_orders_wait_and_what_concerns_them_too() -> None:
    burst = [
        _req(TxKind.CREATE, 1, "new 1"),
        _req(TxKind.CREATE, 2, "new 2"),
        _req(TxKind.CANCEL, 2, "cancel 2"),  # its create is held: held with it
        _req(TxKind.CANCEL, 5, "cancel 5"),  # spends no quota: goes
        _req(TxKind.CANCEL_ALL, None, "cancel all"),  # must not overtake "new 2"
        _req(TxKind.CANCEL, 6, "cancel 6"),
    ]
    assert _names(plan(burst, 50, allowance=1)) == ["cancel 5", "new 1"]


# -- against the emulator ---------------------------------------------------------------


class Trading:
    def __init__(self, rig: LighterRig, conn: LighterConnector) -> None:
        self.rig, self.conn = rig, conn
        self.n = 0

    def cid(self) -> str:
        self.n += 1
        return f"{PREFIX}-{self.n}"

    def bid(self, cid: str, ticks_below: int = 20, size: Decimal | None = None) -> OrderRequest:
        bid, _, tick = self.rig.touch("BTC")
        return OrderRequest(
            cid,
            "BTC",
            Side.BUY,
            size or self.rig.min_size("BTC"),
            price=bid - ticks_below * tick,
            post_only=True,
        )

    def stats(self, name: str) -> Any:
        return self.rig.stat(name)

    def nonce_expected(self) -> int:
        h = self.rig._harness
        return h.call(lambda: h.dialect.next_nonce(ACCOUNT_INDEX, OUR_KEY))


Make = Callable[..., Awaitable[Trading]]


@pytest.fixture
def make(connected: Connected) -> Make:
    """``await make(connector_options, **emulator_options)``."""

    async def start(connector_options: dict[str, Any] | None = None, **emu: Any) -> Trading:
        return Trading(*await connected(PREFIX, connector_options, books=["BTC"], **emu))

    return start


@pytest.fixture
async def t(make: Make) -> Trading:
    return await make()


async def ladder(t: Trading, levels: int, first: int = 20) -> list[str]:
    cids = [t.cid() for _ in range(levels)]
    await asyncio.gather(*(t.conn.place(t.bid(c, first + i)) for i, c in enumerate(cids)))
    await until(lambda: len(t.rig.venue_orders()) == levels, what="the ladder rests")
    await until(lambda: all(t.conn.orders.live.get(int(t.conn.venue_client_id(c))) for c in cids))
    return cids


async def test_a_ten_level_requote_is_one_batch_cancels_first(t: Trading) -> None:
    old = await ladder(t, 10)
    batches, requests = t.stats("batches_accepted"), t.conn.tx.queue.requests
    first_nonce = t.nonce_expected()
    new = [t.cid() for _ in range(10)]
    # the strategy's burst: cancel the old ladder, place the new one, in one loop turn
    results = await asyncio.gather(
        *(t.conn.place(t.bid(c, 40 + i)) for i, c in enumerate(new)),
        *(t.conn.cancel("BTC", c) for c in old),
    )
    assert all(r.status is OrderStatus.PENDING for r in results[:10])
    assert all(results[10:])
    assert t.stats("batches_accepted") == batches + 1
    assert t.conn.tx.queue.requests == requests + 1  # twenty transactions, one request
    await until(
        lambda: (
            sorted(o.client_id for o in t.rig.venue_orders())
            == sorted(t.conn.venue_client_id(c) for c in new)
        ),
        what=lambda: t.rig.venue_orders(),
    )
    # the ten cancels took the batch's first ten nonces, the new orders the next ten
    h = t.rig._harness
    indexes = {int(t.conn.venue_client_id(c)) for c in new}
    nonces = h.call(
        lambda: sorted(
            o.nonce for o in h.dialect._accounts[ACCOUNT_INDEX].orders.values() if o.coi in indexes
        )
    )
    assert nonces == list(range(first_nonce + 10, first_nonce + 20))


async def test_the_same_burst_without_batching_is_one_request_each(make: Make) -> None:
    t = await make({"batch_txs": False})
    await ladder(t, 3)
    assert t.stats("batches_accepted") == 0
    assert t.conn.tx.queue.requests == 3


async def test_a_refused_batch_is_sent_again_one_by_one(make: Make) -> None:
    """A repeated live client index (21728) refuses the whole batch; sent again one at a
    time, the others are placed and only the repeat is refused."""
    t = await make()
    (live,) = await ladder(t, 1)
    index = int(t.conn.venue_client_id(live))
    m = t.conn.markets.market("BTC")
    bid, _, tick = t.rig.touch("BTC")
    size = wire.base_amount(t.rig.min_size("BTC"), m)

    def create(client_index: int, ticks: int) -> Any:
        return t.conn.tx.create_order(
            market=m.market_id,
            client_index=client_index,
            base_amount=size,
            price=wire.price_int(bid - ticks * tick, m),
            is_ask=False,
            order_type=0,
            time_in_force=2,
            reduce_only=False,
            order_expiry=-1,
        )

    done = await asyncio.gather(
        create(index + 1000, 30),
        create(index, 31),
        create(index + 1001, 32),
        return_exceptions=True,
    )
    assert not isinstance(done[0], BaseException) and not isinstance(done[2], BaseException)
    assert isinstance(done[1], VenueError) and done[1].code == ErrorCode.DUPLICATE_CLIENT_ID
    assert t.conn.tx.queue.split == 1
    await until(lambda: len(t.rig.venue_orders()) == 3, what="the two others rest")
    assert t.conn.tx.nonce_resyncs == 0  # nonces given back exactly
    assert t.nonce_expected() == done[2].nonce + 1


async def test_a_lost_batch_answer_the_nonce_shows_executed_is_pending(make: Make) -> None:
    t = await make(apply_delay_ms=0, lost_answer_delay_ms=0)
    t.rig._harness.faults.lose_next_answer("sendTxBatch")
    cids = [t.cid() for _ in range(4)]
    acks = await asyncio.gather(*(t.conn.place(t.bid(c, 20 + i)) for i, c in enumerate(cids)))
    assert all(a.status is OrderStatus.PENDING for a in acks)
    assert t.conn.tx.unknown_outcomes == 0
    await until(lambda: len(t.rig.venue_orders()) == 4)


async def test_a_lost_batch_answer_still_queued_is_unknown_for_each_and_never_resent(
    make: Make,
) -> None:
    t = await make()
    t.rig._harness.faults.lose_next_answer("sendTxBatch")
    cids = [t.cid() for _ in range(4)]
    done = await asyncio.gather(
        *(t.conn.place(t.bid(c, 20 + i)) for i, c in enumerate(cids)), return_exceptions=True
    )
    assert all(isinstance(e, VenueError) and e.outcome_unknown for e in done)
    assert t.conn.tx.unknown_outcomes == 4
    await until(lambda: len(t.rig.venue_orders()) == 4, what="the held batch executes")
    for cid in cids:
        found = await t.conn.lookup_order("BTC", cid)
        assert found is not None and found.status is OrderStatus.OPEN
    # the next transaction finds its nonce after the queued four
    cid = t.cid()
    assert (await t.conn.place(t.bid(cid, 30))).status is OrderStatus.PENDING
    await until(lambda: len(t.rig.venue_orders()) == 5)


async def test_a_caller_that_gives_up_before_its_tx_left_spends_no_nonce(t: Trading) -> None:
    expected = t.nonce_expected()
    task = asyncio.get_running_loop().create_task(t.conn.place(t.bid(t.cid())))
    await asyncio.sleep(0)  # queued, not taken
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await t.conn.place(t.bid(t.cid(), 21))).status is OrderStatus.PENDING
    assert t.conn.tx.nonce_resyncs == 0
    assert t.nonce_expected() == expected + 1
    await until(lambda: len(t.rig.venue_orders()) == 1)


def test_only_a_request_that_just_cancels_ranks_as_a_cancel() -> None:
    """The budget's reserve is for cancels: a requote's batch (cancels and new orders)
    ranks as an order, so quoting cannot spend what a shutdown needs."""
    cancels = [_req(TxKind.CANCEL, 1), _req(TxKind.CANCEL_ALL)]
    assert request_priority(cancels) == Priority.CANCEL
    assert request_priority([*cancels, _req(TxKind.CREATE, 2)]) == Priority.PLACE
    assert request_priority([_req(TxKind.MODIFY, 3)]) == Priority.PLACE
