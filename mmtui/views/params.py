"""A running strategy's parameters: all of them to read; the live ones (marked *)
to change: Enter on one, type the value, Enter. The core validates the change by
the strategy's own rules, holds a size to the risk limits and journals it; a
refused change says why and changes nothing."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input

from mmtui.core.markets import EngineError
from mmtui.core.params import ParamRow
from mmtui.views.base import ViewScreen
from mmtui.widgets.pane import Pane


class ParamsScreen(ViewScreen):
    TITLE = "Strategy parameters  * live: Enter edits  s next strategy  q/Esc closes"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ViewScreen.BINDINGS,
        Binding("up,k", "move(-1)", "Up", show=False, id="params_up"),
        Binding("down,j", "move(1)", "Down", show=False, id="params_down"),
        Binding("enter", "edit", "Edit", id="params_edit"),
        Binding("s", "next_strategy", "Strategy", id="params_strategy"),
    ]
    DEFAULT_CSS = """
    ParamsScreen #params-input {
        dock: bottom;
        display: none;
    }
    ParamsScreen #params-input.-editing {
        display: block;
    }
    ParamsScreen #params-result {
        height: auto;
        padding: 0 1;
        text-wrap: wrap;
    }
    """

    def __init__(self, app: object) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        chosen = self.owner.selected_strategy()
        names = self.view.strategy_names()
        self.strategy: str | None = chosen.name if chosen else (names[0] if names else None)
        self.cursor = 0
        self.result = Text("")
        self.editing: str | None = None

    def compose(self) -> ComposeResult:
        yield self.compose_title()
        yield Pane(id="params-result")
        yield self.body(Pane(id="params-body"))
        yield Input(id="params-input", disabled=True)
        yield self.compose_footer()

    def rows(self) -> tuple[ParamRow, ...]:
        return self.view.params(self.strategy) if self.strategy else ()

    def refresh_view(self) -> None:
        rows = self.rows()
        self.cursor = min(self.cursor, max(0, len(rows) - 1))
        header = Text()
        if self.strategy is None:
            header.append("no strategy", style="dim")
        else:
            s = self.view.strategy(self.strategy)
            header.append(f"{self.strategy}", style="bold")
            if s is not None:
                header.append(f" ({s.kind} on {s.venue} {s.symbol}, {s.state.value})")
        if rows and not any(r.live for r in rows):
            header.append(
                "\nnone of its parameters changes while it runs (its orders are laid out "
                "from them at start): stop it and launch it again to change them",
                style="dim",
            )
        if self.result.plain:
            header.append("\n")
            header.append_text(self.result)
        self.query_one("#params-result", Pane).show(header)
        self.query_one("#params-body", Pane).show(render_params(rows, self.cursor))

    def action_move(self, step: int) -> None:
        n = len(self.rows())
        if n:
            self.cursor = (self.cursor + step) % n
            self.refresh_view()

    def action_next_strategy(self) -> None:
        names = self.view.strategy_names()
        if names:
            i = names.index(self.strategy) if self.strategy in names else -1
            self.strategy = names[(i + 1) % len(names)]
            self.cursor = 0
            self.result = Text("")
            self.refresh_view()

    def action_edit(self) -> None:
        rows = self.rows()
        if not rows:
            return
        row = rows[self.cursor]
        if not row.live:
            self.result = Text(f"{row.name} cannot change while running", style="yellow")
            self.refresh_view()
            return
        self.editing = row.name
        box = self.query_one("#params-input", Input)
        box.value = row.value
        box.placeholder = f"new {row.name} (Enter applies, Esc cancels)"
        box.add_class("-editing")
        box.disabled = False
        box.focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        name, self.editing = self.editing, None
        self._close_input()
        if name is None or self.strategy is None:
            return
        try:
            change = await self.owner.core.edit_param(self.strategy, name, event.value)
        except EngineError as exc:
            self.result = Text(f"refused: {exc}", style="bold red")
            self.notify(str(exc), severity="error")
        else:
            self.result = Text(f"applied: {change} (journaled)", style="green")
            self.notify(change)
        self.refresh_view()

    def action_close_view(self) -> None:
        if self.editing is not None:
            self.editing = None
            self._close_input()
            return
        super().action_close_view()

    def _close_input(self) -> None:
        box = self.query_one("#params-input", Input)
        box.remove_class("-editing")
        box.disabled = True


def render_params(rows: tuple[ParamRow, ...], cursor: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    width = max((len(r.name) for r in rows), default=4)
    for i, row in enumerate(rows):
        if i:
            text.append("\n")
        mark = "*" if row.live else " "
        style = "reverse" if i == cursor else ""
        text.append(f"{mark} {row.name:<{width}} {row.value:>12}", style=style)
        text.append(f"  {row.description}", style="dim")
    return text


__all__ = ["ParamsScreen", "render_params"]
