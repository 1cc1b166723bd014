"""Alerts that stay until acknowledged: a halt, a venue disconnect, a position
mismatch, a failed flatten (``ReadModel.alerts``)."""

from __future__ import annotations

import time

from rich.text import Text

from mmtui.core.alerts import Alert
from mmtui.widgets.pane import Pane

_STYLE = {
    "halt": "bold white on red",
    "flatten_failed": "bold white on red",
    "disconnect": "bold black on yellow",
    "position_mismatch": "bold black on yellow",
}


class AlertBar(Pane):
    """Hidden while nothing waits; else the latest alerts, newest last, and the key
    that acknowledges them."""

    def __init__(self, ack_key: str = "a", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ack_key = ack_key
        self.pending: list[Alert] = []
        self.display = False

    def add(self, alerts: tuple[Alert, ...]) -> None:
        self.pending.extend(alerts)
        self._show()

    def acknowledge(self) -> int:
        count = len(self.pending)
        self.pending.clear()
        self._show()
        return count

    def _show(self) -> None:
        self.display = bool(self.pending)
        self.show(alert_text(self.pending, self.ack_key))


def alert_text(pending: list[Alert], ack_key: str, lines: int = 2) -> Text:
    """Newest first; the count and the acknowledging key lead, so a narrow terminal
    cuts only the end of an alert's text."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if not pending:
        return text
    newest = pending[::-1][:lines]
    for i, alert in enumerate(newest):
        if i:
            text.append("\n")
            text.append(" " * len(_badge(pending, ack_key)))
        else:
            text.append(_badge(pending, ack_key), style="bold white on red")
        stamp = time.strftime("%H:%M:%S", time.gmtime(alert.ts_ms / 1000))
        text.append(f" {stamp} ", style="dim")
        text.append(alert.text, style=_STYLE.get(alert.kind, "bold"))
    return text


def _badge(pending: list[Alert], ack_key: str) -> str:
    return f" {len(pending)} ALERT{'S' if len(pending) > 1 else ''} ({ack_key}: ack) "
