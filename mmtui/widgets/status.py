"""The status bar: mode, venues, risk, session PnL, clock."""

from __future__ import annotations

import time

from rich.text import Text

from connectors.base import ConnectionState
from mmtui.core.readmodel import HeaderView
from mmtui.core.risk import RiskState
from mmtui.widgets.pane import Pane

_CONN_STYLE = {
    ConnectionState.CONNECTED: ("●", "green"),
    ConnectionState.CONNECTING: ("◐", "yellow"),
    ConnectionState.RECONNECTING: ("◐", "yellow"),
    ConnectionState.DISCONNECTED: ("○", "red"),
    ConnectionState.CLOSED: ("○", "grey50"),
}
_RISK_STYLE = {
    RiskState.ACTIVE: "bold green",
    RiskState.REDUCING: "bold yellow",
    RiskState.HALTED: "bold white on red",
}

_MODE_STYLE = {
    "live": ("LIVE", "bold white on red"),
    "sim": ("SIM", "bold black on cyan"),
    "replay": ("REPLAY", "bold black on magenta"),
    "paper": ("PAPER", "bold black on yellow"),
}


class StatusBar(Pane):
    """One line at the top; rendered from the engine's header view on the UI timer,
    repainted when its text changed (the clock: once a second)."""

    def render_header(self, header: HeaderView) -> None:
        self.show(status_text(header))


def status_text(header: HeaderView) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    label, style = _MODE_STYLE.get(header.mode, _MODE_STYLE["sim"])
    text.append(f" {label} ", style=style)
    if header.recording is not None:
        text.append("  ● REC", style="bold red")
    for venue in header.venues:
        glyph, style = _CONN_STYLE.get(venue.state, ("?", "red"))
        latency = venue.latency_ms
        text.append(f"  {venue.name} ", style="bold")
        text.append(glyph, style=style)
        if latency is not None:
            text.append(f" {latency:.0f}ms", style="dim")
    state = header.risk_state
    text.append("  risk ", style="dim")
    text.append(f" {state.value} ", style=_RISK_STYLE[state])
    pnl = header.session_pnl
    text.append("  acct PnL ", style="dim")
    text.append(f"{pnl:+.2f}", style="green" if pnl >= 0 else "red")
    clock = time.strftime("%H:%M:%S", time.gmtime(header.now_ms / 1000))
    text.append(f"  {clock}Z", style="dim")
    if header.attention:
        more = f" (+{len(header.attention) - 1})" if len(header.attention) > 1 else ""
        text.append(f"  ! {header.attention[0]}{more}", style="bold yellow")
    return text
