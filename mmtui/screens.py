"""Modal screens: confirm a dangerous action, show its progress and result, help."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
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


CLOSE_HINT = "Enter, Esc or q closes"


class ReportScreen(ModalScreen[None]):
    """Shows "working" while an action runs, then its outcome: a PASS/FAIL line per
    venue and, under it, what is flat per market. The outcome may come before the
    screen is on display (nothing to flatten): it is kept and shown at mount."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,space,q", "close", "close", id="report_close")
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self.done = False
        self.outcome: Text = Text("working: cancelling orders, closing positions ...", "yellow")

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(self.outcome, id="report-body")

    def on_mount(self) -> None:
        self.query_one("#report-body", Static).update(self.outcome)  # it may have come

    def _set(self, outcome: Text) -> None:
        self.done = True
        self.outcome = outcome
        if self.is_mounted:
            self.query_one("#report-body", Static).update(outcome)

    def show_report(self, report: FlattenReport) -> None:
        self._set(report_text(report))

    def show_error(self, message: str) -> None:
        text = Text(f"FAILED: {message}", style="bold red")
        text.append(f"\n({CLOSE_HINT})", style="dim")
        self._set(text)

    def action_close(self) -> None:
        if self.done:
            self.dismiss(None)


def report_text(report: FlattenReport) -> Text:
    """Each venue's PASS/FAIL line, what is flat per market under it, the headline."""
    lines = Text()
    for line in report.lines:
        lines.append(
            "PASS " if line.ok else "FAIL ",
            style="bold green" if line.ok else "bold white on red",
        )
        lines.append(f"{line.venue}: {line.detail}\n")
        for market in line.markets:
            lines.append(f"  {market}\n", style="" if line.ok else "red")
    if not report.lines:
        lines.append("nothing in scope: no venue to flatten\n", style="yellow")
    lines.append(report.headline(), style="bold green" if report.ok else "bold red")
    lines.append(f"\n({CLOSE_HINT})", style="dim")
    return lines


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "close", id="help_close")
    ]

    def __init__(self, keys: dict[str, str], texts: dict[str, str] | None = None) -> None:
        """``keys``: binding id -> key, for the commands to list; ``texts``: help
        texts that differ here (an attached console's quit detaches)."""
        super().__init__()
        self.keys = keys
        self.texts = texts or {}

    def compose(self) -> ComposeResult:
        table = Table(title="mmtui keys", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold cyan", justify="right")
        table.add_column()
        for command in COMMANDS:
            if command.id == "quit_ctrl" or command.id not in self.keys:
                continue
            text = self.texts.get(command.id, command.help)
            table.add_row(key_display(self.keys[command.id]), text)
        table.add_row("tab", "move between panes; arrows move between rows")
        table.add_row("ctrl+p", "command palette: every action valid now, by name")
        table.add_row(
            "ctrl+q", self.texts.get("quit_ctrl", "quit from anywhere (the same safe shutdown)")
        )
        with VerticalScroll(id="dialog", classes="help"):
            yield Static(Text("Esc, ? or q closes; arrows scroll", style="dim"))
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
