"""Depth bars and the trade tape of every market in use, side by side."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll

from mmtui.views.base import ViewScreen
from mmtui.widgets.depth import DepthPane, TapePane


class DepthScreen(ViewScreen):
    TITLE = "Depth and trades (q/Esc closes)"
    DEFAULT_CSS = """
    DepthScreen .market-row {
        height: 1fr;
        min-height: 10;
    }
    DepthScreen DepthPane {
        width: 2fr;
        height: 1fr;
        border: round $primary 50%;
    }
    DepthScreen TapePane {
        width: 1fr;
        min-width: 31;
        height: 1fr;
        border: round $primary 50%;
    }
    """

    def compose(self) -> ComposeResult:
        yield self.compose_title()
        with VerticalScroll(classes="view-body"):
            for venue, symbol in self.owner.markets():
                with Horizontal(classes="market-row"):
                    yield DepthPane(venue, symbol)
                    yield TapePane(venue, symbol)
        yield self.compose_footer()

    def refresh_view(self) -> None:
        for pane in self.query(DepthPane):
            pane.levels = max(2, (pane.size.height - 1) // 2) if pane.size.height else 10
            pane.render_view(self.view)
        for tape in self.query(TapePane):
            tape.render_view(self.view)


__all__ = ["DepthScreen"]
