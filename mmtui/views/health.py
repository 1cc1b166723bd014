"""Venue health: order round trip p50/p99, rate-limit use, reconnects, book age;
and the session: run id, uptime, config and journal files."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from mmtui.core.venue_views import HealthView, SessionInfo
from mmtui.views.base import ViewScreen, countdown
from mmtui.widgets.pane import Pane

STATE_STYLE = {"connected": "green", "reconnecting": "yellow", "connecting": "yellow"}


class HealthScreen(ViewScreen):
    TITLE = "Venue health (q/Esc closes)"

    def compose(self) -> ComposeResult:
        yield self.compose_title()
        yield self.body(Pane(id="health-body"))
        yield self.compose_footer()

    def refresh_view(self) -> None:
        info = self.view.session_info(self.owner.core.config_path)
        self.query_one("#health-body", Pane).show(render_health(self.view.health(), info))


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


def render_health(venues: tuple[HealthView, ...], info: SessionInfo) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"run {info.run_id}  mode {info.mode}  ", style="bold")
    text.append(f"uptime {countdown(round(info.uptime_s * 1000))}\n")
    text.append(f"config  {info.config_path}\n")
    text.append(f"journal {info.journal_path}\n")
    for v in venues:
        text.append("\n")
        text.append(f"{v.venue} ", style="bold")
        text.append(v.state.value, style=STATE_STYLE.get(v.state.value, "red"))
        text.append(f" {v.detail}\n" if v.detail else "\n")
        text.append(
            f"  order round trip p50 {_ms(v.round_trip_p50_ms)}  "
            f"p99 {_ms(v.round_trip_p99_ms)}  ({v.round_trips} orders)\n"
        )
        if v.rate_limit_used_pct is None:
            text.append("  rate limit: none configured\n")
        else:
            text.append(
                f"  rate limit used {v.rate_limit_used_pct:.0f}%  waiting {v.rate_limit_waiting}"
                f"  back-off {v.rate_limit_backoff_s:.1f} s\n"
            )
        text.append(
            f"  reconnects {v.reconnects}  resyncs {v.resyncs}  "
            f"frames {v.frames}  bad frames {v.bad_frames}\n"
        )
        if v.counters:
            shown = "  ".join(f"{k} {n:g}" for k, n in v.counters)
            text.append(f"  venue counters: {shown}\n")
        for book in v.books:
            age = "-" if book.age_ms is None else f"{book.age_ms} ms"
            state = "" if book.valid else "  (not valid)"
            text.append(f"  book {book.symbol} age {age}{state}\n")
    return text


__all__ = ["HealthScreen", "render_health"]
