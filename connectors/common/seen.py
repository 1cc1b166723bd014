"""A bounded memory of ids already delivered (trade ids), to drop a venue's repeats
(a snapshot after a reconnect, a REST catch-up overlapping the stream).

An id may carry a stamp (its time): ``forgotten_stamp`` is then the newest stamp
of any id forgotten, so a reader can tell "not seen" from "maybe seen, forgotten"
(anything stamped at or before it)."""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, int] = OrderedDict()
        self.forgotten_stamp = 0
        """The newest stamp among the ids forgotten (0: none forgotten, or no stamps)."""

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, key: str, stamp: int = 0) -> bool:
        """Remember ``key``; True if it is new. The oldest ids are forgotten first."""
        if key in self._ids:
            return False
        self._ids[key] = stamp
        if len(self._ids) > self.capacity:
            _, forgotten = self._ids.popitem(last=False)
            if forgotten > self.forgotten_stamp:
                self.forgotten_stamp = forgotten
        return True
