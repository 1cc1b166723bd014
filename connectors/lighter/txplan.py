"""What one Lighter transaction request holds and in which order: a queued transaction
(``TxRequest``), its kind, its result, and ``plan``, which picks the next request's
transactions from the queue (``txqueue``).

Inside a batch the cancels go first (``plan``): a cancel moves ahead of the creates and
modifies issued before it, but never ahead of a cancel-all (scheduled, aborted or
immediate: they keep their place) nor of a create or modify of the order it cancels. A
batch holds at most ``MAX_BATCH`` (*docs/ws*: "up to 50 transactions in a single
message"), and at most the Premium volume quota's allowance of creates and modifies.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.lighter.pacing import Priority
from connectors.lighter.signing import Signed

MAX_BATCH = 50


@dataclass(frozen=True, slots=True)
class TxResult:
    tx_hash: str
    nonce: int
    confirmed: bool
    """False when the answer was lost and the venue's nonce showed it was sequenced."""
    volume_quota_remaining: int | None = None


class TxKind(enum.Enum):
    CREATE = "create"
    CANCEL = "cancel"
    MODIFY = "modify"
    CANCEL_ALL = "cancel_all"
    """Immediate, scheduled or aborted: keeps its place in a batch."""


QUOTA_KINDS = frozenset({TxKind.CREATE, TxKind.MODIFY})
"""What spends Premium volume quota (*docs/volume-quota*: create, modify; not cancels)."""


class Withdrawn(Exception):
    """A create taken back before it left (``TxQueue.withdraw``): nothing was signed nor
    sent for it, no nonce spent -- the order is provably not at the venue."""


@dataclass(eq=False)
class TxRequest:
    what: str
    kind: TxKind
    sign: Callable[[int, int], Signed]
    target: int | None = None
    """The order it concerns: a create's client index, a cancel's or modify's index."""
    on_nonce: Callable[[int], None] | None = None
    future: asyncio.Future[TxResult] | None = field(default=None, repr=False)
    nonce: int | None = None
    """The nonce it was last signed with."""
    terms: Any = None
    """A create's terms (``tx.CreateTerms``): what ``restate`` changes before it leaves."""

    @property
    def priority(self) -> int:
        cancels = self.kind in (TxKind.CANCEL, TxKind.CANCEL_ALL)
        return Priority.CANCEL if cancels else Priority.PLACE

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()


def request_priority(reqs: list[TxRequest]) -> int:
    """A request that only cancels ranks as a cancel (and may use the budget's reserve);
    one that also creates or modifies ranks as an order (its cancels still go first in
    it)."""
    return max(r.priority for r in reqs)


def plan(pending: list[TxRequest], limit: int, allowance: int | None = None) -> list[TxRequest]:
    """The next request's transactions, in send order: at most ``limit``, cancels ahead of
    the creates and modifies before them (not past a cancel-all, nor past a create or
    modify of their own order), at most ``allowance`` quota-spending ones. A transaction
    held back holds back every later one of the same order, and any later cancel-all."""
    out: list[TxRequest] = []
    barrier = 0
    held: set[int | None] = set()
    blocked = False
    for req in pending:
        if req.done:
            continue
        if blocked or len(out) >= limit:
            break
        if req.kind is TxKind.CANCEL_ALL and held:
            blocked = True  # it must not overtake what it was meant to cancel
            continue
        if req.target is not None and req.target in held:
            continue
        if req.kind in QUOTA_KINDS and allowance is not None:
            if allowance <= 0:
                held.add(req.target)
                continue
            allowance -= 1
        if req.kind is TxKind.CANCEL_ALL:
            out.append(req)
            barrier = len(out)
        elif req.kind is TxKind.CANCEL:
            pos = barrier
            for i in range(barrier, len(out)):
                if req.target is not None and out[i].target == req.target:
                    pos = i + 1  # never ahead of its own order's create or modify
            while pos < len(out) and out[pos].kind is TxKind.CANCEL:
                pos += 1  # behind the cancels already moved up (they commute)
            out.insert(pos, req)
        else:
            out.append(req)
    return out


__all__ = [
    "MAX_BATCH",
    "QUOTA_KINDS",
    "TxKind",
    "TxRequest",
    "TxResult",
    "Withdrawn",
    "plan",
    "request_priority",
]
