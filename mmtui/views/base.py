"""What every view shares: a full screen over the read model, redrawn on a timer,
closed by q or Esc (ctrl+q still quits safely)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from mmtui.core.readmodel import ReadModel

if TYPE_CHECKING:
    from mmtui.app import MMApp


class ViewScreen(Screen[None]):
    """Subclasses set ``TITLE`` and implement ``refresh_view`` (called on mount and
    then on the app's refresh timer, at half its rate)."""

    TITLE: ClassVar[str] = ""
    AUTO_FOCUS = None  # the view's keys act at once; nothing to type into until asked
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close_view", "Close", id="view_close"),
        Binding("down,j", "scroll_body(1)", "Down", show=False, id="view_down"),
        Binding("up,k", "scroll_body(-1)", "Up", show=False, id="view_up"),
        Binding("pagedown", "scroll_body(20)", "Page down", show=False, id="view_page_down"),
        Binding("pageup", "scroll_body(-20)", "Page up", show=False, id="view_page_up"),
    ]
    DEFAULT_CSS = """
    ViewScreen > .view-title {
        dock: top;
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    ViewScreen .view-body {
        height: 1fr;
        padding: 0 1;
        overflow-y: auto;
    }
    ViewScreen Static {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ViewScreen .view-body > Static {
        height: auto;
    }
    """

    def __init__(self, app: MMApp) -> None:
        super().__init__()
        self.owner = app
        self.view: ReadModel = app.core.view

    def compose_title(self) -> Static:
        return Static(Text(self.TITLE, style="bold"), classes="view-title", id="view-title")

    def body(self, content: Static) -> VerticalScroll:
        """The view's scrolling body around its text (the scroll keys move it)."""
        return VerticalScroll(content, classes="view-body", can_focus=False)

    def compose_footer(self) -> Footer:
        return Footer()

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(2 / max(self.owner.refresh_hz, 0.1), self.refresh_view)

    def refresh_view(self) -> None:
        raise NotImplementedError

    def action_close_view(self) -> None:
        self.dismiss(None)

    def action_scroll_body(self, lines: int) -> None:
        """Scroll the view's body (the views draw text; nothing in them takes focus)."""
        for body in self.query(".view-body"):
            body.scroll_relative(y=lines, animate=False)
            return


def fmt(value: object, places: int = 2, *, sign: bool = False) -> str:
    """A number for a view: fixed places, '-' for None."""
    if value is None:
        return "-"
    spec = f"{'+' if sign else ''},.{places}f"
    return format(value, spec)


def countdown(ms: int | None) -> str:
    """hh:mm:ss until an instant ``ms`` from now ('-' when unknown)."""
    if ms is None:
        return "-"
    s = max(0, ms) // 1000
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def clock_time(ts_ms: int) -> str:
    """UTC time of day of an instant, hh:mm:ss."""
    s = ts_ms // 1000 % 86_400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


__all__ = ["ViewScreen", "clock_time", "countdown", "fmt"]
