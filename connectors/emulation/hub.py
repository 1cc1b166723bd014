"""Who is subscribed to what, for every emulator's WebSocket side.

A dialect names its channels as its venue does (``depth.SOL_USDC``,
``order_book/0``, ``v1.book.d:BTC_USDT_Perp@500``) and keeps, per subscription,
whatever state its venue attaches to one (the account a private stream belongs
to, a running sequence number). Publishing renders the frame once, and only when
somebody listens.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

C = TypeVar("C", bound=Hashable)


class SubscriptionHub(Generic[C]):
    def __init__(self) -> None:
        self._by_channel: dict[str, dict[C, Any]] = {}
        self._by_conn: dict[C, set[str]] = {}

    def add(self, conn: C, channel: str, state: Any = None) -> bool:
        """Subscribe ``conn`` (True if it was not subscribed yet); ``state`` replaces
        any earlier state of that subscription."""
        subs = self._by_channel.setdefault(channel, {})
        fresh = conn not in subs
        subs[conn] = state
        self._by_conn.setdefault(conn, set()).add(channel)
        return fresh

    def remove(self, conn: C, channel: str) -> bool:
        """Unsubscribe; False if ``conn`` was not subscribed to ``channel``."""
        subs = self._by_channel.get(channel)
        if subs is None or conn not in subs:
            return False
        del subs[conn]
        if not subs:
            del self._by_channel[channel]
        channels = self._by_conn.get(conn)
        if channels is not None:
            channels.discard(channel)
        return True

    def forget(self, conn: C) -> None:
        """``conn`` went away: drop every subscription it had."""
        for channel in self._by_conn.pop(conn, set()):
            subs = self._by_channel.get(channel)
            if subs is not None:
                subs.pop(conn, None)
                if not subs:
                    del self._by_channel[channel]

    def subscribed(self, conn: C, channel: str) -> bool:
        return conn in self._by_channel.get(channel, {})

    def state(self, conn: C, channel: str) -> Any:
        return self._by_channel.get(channel, {}).get(conn)

    def set_state(self, conn: C, channel: str, state: Any) -> None:
        subs = self._by_channel.get(channel)
        if subs is not None and conn in subs:
            subs[conn] = state

    def has(self, channel: str) -> bool:
        return bool(self._by_channel.get(channel))

    def subscribers(self, channel: str) -> list[tuple[C, Any]]:
        return list(self._by_channel.get(channel, {}).items())

    def channels_of(self, conn: C) -> set[str]:
        return set(self._by_conn.get(conn, ()))

    def channels(self) -> list[str]:
        return list(self._by_channel)

    def publish(
        self,
        channel: str,
        render: Callable[[], str],
        send: Callable[[C, str], None],
        *,
        only: Callable[[Any], bool] | None = None,
    ) -> int:
        """Send one frame to every subscriber of ``channel`` (whose state passes
        ``only``); ``render`` runs at most once. Returns how many got it."""
        text: str | None = None
        sent = 0
        for conn, state in self.subscribers(channel):
            if only is not None and not only(state):
                continue
            if text is None:
                text = render()
            send(conn, text)
            sent += 1
        return sent


__all__ = ["SubscriptionHub"]
