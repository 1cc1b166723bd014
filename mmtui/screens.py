"""Modal screens: confirm a dangerous action, show its progress and result, help."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from mmtui.commands import COMMANDS, key_display
from mmtui.core.summary import FlattenReport


class ConfirmScreen(ModalScreen[bool]):
    """Ask for ``y``; anything else declines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes", id="confirm_yes"),
        Binding("n,escape", "answer(False)", "no", id="confirm_no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.question, style="bold"))
            yield Static(Text("press y to confirm, n or Esc to cancel", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ReportScreen(ModalScreen[None]):
    """Shows "working" while an action runs, then its PASS/FAIL line per venue."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,space", "close", "close", id="report_close")
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self.done = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(
                Text("working: cancelling orders, closing positions ...", style="yellow"),
                id="report-body",
            )

    def show_report(self, report: FlattenReport) -> None:
        self.done = True
        lines = Text()
        for line in report.lines:
            lines.append(
                "PASS " if line.ok else "FAIL ",
                style="bold green" if line.ok else "bold white on red",
            )
            lines.append(f"{line.venue}: {line.detail}\n")
        lines.append(report.headline(), style="bold green" if report.ok else "bold red")
        lines.append("\n(Enter or Esc closes)", style="dim")
        self.query_one("#report-body", Static).update(lines)

    def show_error(self, message: str) -> None:
        self.done = True
        self.query_one("#report-body", Static).update(Text(f"FAILED: {message}", style="bold red"))

    def action_close(self) -> None:
        if self.done:
            self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark", "close", "close", id="help_close")
    ]

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(title="mmtui keys", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold cyan", justify="right")
        table.add_column()
        for command in COMMANDS:
            table.add_row(key_display(self.keys.get(command.id, command.key)), command.help)
        table.add_row("tab", "move between panes; arrows move between rows")
        table.add_row("ctrl+p", "command palette: every action by name")
        with Vertical(id="dialog"):
            yield Static(table)
            yield Static(Text("Esc closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
