"""The console's commands, declared once (importable without Textual).

This one table feeds the key bindings (each with an id, so keys can be
remapped from the config), the footer, the help screen and the command palette.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    key: str
    action: str
    label: str
    help: str
    show: bool = True
    priority: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("start", "s", "start_strategy", "Start", "start the selected strategy", show=False),
    Command(
        "new",
        "n",
        "launch_strategy",
        "New",
        "launch a new strategy: kind, venue, symbol, parameters, preview, confirm",
    ),
    Command("pause", "p", "pause_strategy", "Pause", "pause / resume the selected strategy"),
    Command(
        "stop",
        "x",
        "stop_strategy",
        "Stop",
        "stop the selected strategy (cancels its orders)",
        show=False,
    ),
    Command(
        "cancel",
        "c",
        "cancel_selection",
        "Cancel",
        "cancel our orders of the selected strategy (or venue, from a book pane)",
    ),
    Command(
        "flatten",
        "f",
        "flatten_selection",
        "Flatten",
        "flatten the selected strategy (or venue, from a book pane); asks y to confirm",
    ),
    Command(
        "kill",
        "K",
        "kill_switch",
        "KILL",
        "kill switch: pause all, cancel everything, flatten every venue; asks y",
    ),
    Command(
        "reset_risk",
        "R",
        "reset_risk",
        "Reset risk",
        "set risk back to ACTIVE after a halt",
        show=False,
    ),
    Command(
        "log_level",
        "l",
        "cycle_log_level",
        "Log level",
        "cycle the log pane's level filter",
        show=False,
    ),
    Command(
        "theme", "t", "cycle_theme", "Theme", "cycle dark / light / high-contrast theme", show=False
    ),
    Command("help", "question_mark", "help", "Help", "show this help"),
    Command(
        "quit",
        "q",
        "quit_safely",
        "Quit",
        "safe shutdown: stop strategies, cancel all our orders, print the summary",
    ),
    Command(
        "quit_ctrl",
        "ctrl+q",
        "quit_safely",
        "Quit",
        "the same safe shutdown",
        show=False,
        priority=True,
    ),
)

VIEW_COMMANDS: tuple[Command, ...] = tuple(
    Command(f"view_{name}", key, f"view('{name}')", label, text, show=False)
    for name, key, label, text in (
        ("fills", "h", "Fills", "fills of this run and earlier runs; filter, export CSV"),
        ("account", "b", "Account", "balances, margin, leverage, liquidation, funding"),
        ("pnl", "g", "PnL", "session PnL chart, total and per strategy"),
        ("health", "v", "Health", "venue round trips, rate limits, reconnects, uptime"),
        ("depth", "d", "Depth", "depth bars and the trade tape"),
        ("params", "e", "Params", "the strategy's parameters; edit the live ones"),
    )
)
"""The views (``mmtui.views``): one key each."""
COMMANDS += VIEW_COMMANDS


def bindings() -> list[Binding]:
    from textual.binding import Binding

    return [
        Binding(c.key, c.action, c.label, show=c.show, priority=c.priority, id=c.id)
        for c in COMMANDS
    ]


def key_display(key: str) -> str:
    return "?" if key == "question_mark" else key
