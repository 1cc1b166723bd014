"""Where our resting order stands in the recorded queue at its price: the queue models.

The replayed book is L2 (a total per price level), so nobody knows where in a level's
queue our order is; a model estimates the quantity ahead of it (``front``, in lots)
from what the recording shows. Both models follow hftbacktest
(https://github.com/nkaz001/hftbacktest, ``hftbacktest/src/backtest/models/queue.rs``:
``RiskAdverseQueueModel``, ``ProbQueueModel`` with ``PowerProbQueueFunc`` /
``LogProbQueueFunc``; documented at https://hftbacktest.readthedocs.io/en/latest/
order_fill.html):

- An order joins at the back: ``front`` = the recorded level's amount at its price.
- A recorded trade at our price by a taker on the other side eats the queue ahead:
  ``front -= traded``; once ``front`` goes below zero by whole lots, those lots fill
  us (``filled = floor(-front)``, at most the order's remainder), and the order is at
  the front from then on.
- A change of the level's amount (``depth``) moves us only as the model says:
  **conservative** (hftbacktest's risk-averse model): a level that shrinks is
  assumed to have lost orders *behind* us — we never advance by a cancel, except
  that the queue ahead can never exceed the level (``front = min(front, new)``);
  **probabilistic**: the decrease (less the trades already counted since the last
  depth change, so a trade is not counted twice) is split between ahead and behind
  us: the share behind is ``p = f(back) / (f(back) + f(front))`` with
  ``f(x) = x ** n`` (power) or ``f(x) = log(1 + x)`` (log), ``back = prev - front``,
  and ``front`` becomes ``front - (1 - p) * chg + min(back - p * chg, 0)``, capped by
  the new level. With ``sampled=True`` (our addition, seeded) the whole decrease is
  instead drawn ahead with probability ``1 - p``, else behind (the overflow past
  ``back`` comes from the front): the same mean, a random path.

``front`` is an estimate (a float in the probabilistic model); what fills is always
whole lots. A level increase never moves us (new orders join behind).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from connectors.base import Side


class Resting:
    """One of our orders on the replayed book: where it is and what is left."""

    __slots__ = ("account", "cum_trade", "front", "lots", "order_id", "price", "side", "symbol")

    def __init__(
        self, order_id: int, account: str, symbol: str, side: Side, price: int, lots: int
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.price = price
        self.lots = lots
        """What remains of the order, in lots."""
        self.front: float = 0
        """The estimated quantity ahead of us at our price, in lots."""
        self.cum_trade = 0
        """Lots traded at our price since the last depth change (probabilistic model)."""

    def __repr__(self) -> str:
        return (
            f"Resting({self.order_id}, {self.side.value} {self.lots}@{self.price}, "
            f"front={self.front})"
        )


class QueueModel:
    """The conservative model (hftbacktest's ``RiskAdverseQueueModel``)."""

    name = "conservative"

    def join(self, order: Resting, level_lots: int) -> None:
        order.front = level_lots
        order.cum_trade = 0

    def trade(self, order: Resting, lots: int) -> int:
        """A trade of ``lots`` at our price: the lots of ours it filled."""
        order.cum_trade += lots
        front = order.front - lots
        if front <= -1:
            filled = min(math.floor(-front), order.lots)
            order.front = front + filled
            return filled
        order.front = front
        return 0

    def depth(self, order: Resting, prev: int, new: int) -> None:
        """The recorded level at our price went from ``prev`` to ``new`` lots."""
        order.cum_trade = 0
        if new < order.front:
            order.front = new


ProbFunc = Callable[[float, float], float]


def power_prob(n: float) -> ProbFunc:
    """hftbacktest's ``PowerProbQueueFunc``: ``back**n / (back**n + front**n)``."""

    def prob(front: float, back: float) -> float:
        fb, ff = back**n, front**n
        total = fb + ff
        return fb / total if total > 0 else 1.0

    return prob


def log_prob(front: float, back: float) -> float:
    """hftbacktest's ``LogProbQueueFunc``: ``log(1+back) / (log(1+back) + log(1+front))``."""
    fb, ff = math.log1p(back), math.log1p(front)
    total = fb + ff
    return fb / total if total > 0 else 1.0


class ProbQueueModel(QueueModel):
    """hftbacktest's ``ProbQueueModel``: a level decrease is partly ahead of us."""

    name = "probabilistic"

    def __init__(self, prob: ProbFunc, *, sampled: bool = False, seed: int = 1) -> None:
        self.prob = prob
        self.sampled = sampled
        self._rng = random.Random(seed)

    def depth(self, order: Resting, prev: int, new: int) -> None:
        chg = prev - new - order.cum_trade
        order.cum_trade = 0
        front = order.front
        if chg <= 0:
            if new < front:
                order.front = new
            return
        back = max(prev - front, 0)
        p = self.prob(max(front, 0), back)
        if not 0 <= p <= 1:  # nan / inf from an odd function: all behind (hftbacktest)
            p = 1.0
        if self.sampled:
            # ahead with probability 1 - p; behind otherwise (what overflows ``back``
            # must have come from ahead)
            est = front - chg if self._rng.random() >= p else front + min(back - chg, 0)
        else:
            est = front - (1 - p) * chg + min(back - p * chg, 0)
        order.front = max(0.0, min(est, new))


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """Which queue model a replay venue uses, and its parameters."""

    model: Literal["conservative", "probabilistic"] = "conservative"
    function: Literal["power", "log"] = "power"
    """The probabilistic model's ``f``: ``x ** n`` (power) or ``log(1 + x)`` (log)."""
    n: float = 2.0
    """The power function's exponent (hftbacktest's examples use 2 and 3)."""
    sampled: bool = False
    """Draw each decrease ahead or behind at random (seeded) instead of the expected share."""
    seed: int = 1

    def build(self) -> QueueModel:
        if self.model == "conservative":
            return QueueModel()
        if self.model != "probabilistic":
            raise ValueError(f"queue model {self.model!r}: conservative or probabilistic")
        if self.function == "power":
            if not self.n > 0:
                raise ValueError(f"queue model power exponent {self.n}: must be > 0")
            prob = power_prob(self.n)
        elif self.function == "log":
            prob = log_prob
        else:
            raise ValueError(f"queue function {self.function!r}: power or log")
        return ProbQueueModel(prob, sampled=self.sampled, seed=self.seed)


__all__ = [
    "ProbQueueModel",
    "QueueModel",
    "QueueSpec",
    "Resting",
    "log_prob",
    "power_prob",
]
