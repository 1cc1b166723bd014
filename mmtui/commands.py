"""The console's commands, declared once (importable without Textual).

This one table, in the order the footer shows (on a narrow terminal the last
ones give way first), feeds the key bindings (each with an id, so keys can be
remapped from the config), the footer, the help screen and the command palette.
``valid`` says which commands make sense now (the selected strategy's state,
risk, alerts): the footer shows only those, a key that is not valid does
nothing, and the palette offers only those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState

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
    Command("start", "s", "start_strategy", "Start", "start the selected strategy (when stopped)"),
    Command(
        "new",
        "n",
        "launch_strategy",
        "New",
        "launch a new strategy: kind, venue, symbol, parameters, preview, confirm",
    ),
    Command("pause", "p", "pause_strategy", "Pause", "pause the selected strategy (when running)"),
    Command(
        "resume",
        "p",
        "resume_strategy",
        "Resume",
        "resume the selected strategy (when paused or halted)",
    ),
    Command(
        "stop", "x", "stop_strategy", "Stop", "stop the selected strategy (cancels its orders)"
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
        "Flat",
        "flatten the selected strategy (or venue, from a book pane); asks y to confirm",
    ),
    Command(
        "kill",
        "K",
        "kill_switch",
        "KILL",
        "kill switch: pause all, cancel everything, flatten every venue; asks y",
    ),
    Command("reset_risk", "R", "reset_risk", "Reset", "set risk back to ACTIVE (when halted)"),
    Command(
        "ack",
        "a",
        "acknowledge_alerts",
        "Ack",
        "acknowledge the alerts (halt, disconnect, position mismatch, failed flatten)",
    ),
    Command("search", "slash", "search_log", "Find", "search the log (filters and highlights)"),
    Command("help", "question_mark", "help", "Help", "show this help"),
    Command(
        "quit",
        "q",
        "quit_safely",
        "Quit",
        "safe shutdown: stop strategies, cancel all our orders, print the summary",
    ),
    Command(
        "stop_core",
        "Q",
        "stop_core",
        "StopCore",
        "attached to a served core: stop it (its safe shutdown: stop strategies, cancel our "
        "orders); asks y. q only detaches",
    ),
    Command("log_level", "l", "cycle_log_level", "Level", "cycle the log pane's level filter"),
    Command("theme", "t", "cycle_theme", "Thm", "cycle dark / light / high-contrast theme"),
    Command(
        "record",
        "r",
        "toggle_recording",
        "Rec",
        "record the books and trades in use to files (record.dir); again: stop",
        show=False,
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

ATTACHED: dict[str, tuple[str, str]] = {
    "quit": ("Detach", "detach: the console closes, the core keeps trading"),
    "quit_ctrl": ("Detach", "detach from anywhere (the core keeps trading)"),
}
"""What q and ctrl+q are in a console attached to a served core (label, help): the
core keeps trading; Q (stop_core) is its safe shutdown."""

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

BY_ACTION = {c.action: c for c in COMMANDS}
BY_ID = {c.id: c for c in COMMANDS}

_SELECTION = {"cancel_selection", "flatten_selection"}


def valid(
    action: str,
    *,
    strategy: StrategyState | None,
    risk: RiskState,
    venue_focused: bool = False,
    alerts: int = 0,
) -> bool:
    """Whether ``action`` makes sense now: ``strategy`` is the selected strategy's
    state (None: none selected), ``venue_focused`` a book pane has the focus,
    ``alerts`` how many alerts wait for an acknowledgement."""
    halted = risk is RiskState.HALTED
    if action == "start_strategy":
        return strategy is StrategyState.STOPPED and not halted
    if action == "pause_strategy":
        return strategy is StrategyState.RUNNING
    if action == "resume_strategy":
        return strategy in (StrategyState.PAUSED, StrategyState.HALTED) and not halted
    if action == "stop_strategy":
        return strategy is not None and strategy is not StrategyState.STOPPED
    if action in _SELECTION:
        return venue_focused or strategy is not None
    if action == "reset_risk":
        return halted
    if action == "acknowledge_alerts":
        return alerts > 0
    return True


STRATEGY_VERBS: tuple[tuple[str, str], ...] = (
    ("start", "start_strategy"),
    ("pause", "pause_strategy"),
    ("resume", "resume_strategy"),
    ("stop", "stop_strategy"),
)
"""The palette's per-strategy verbs and the action whose validity each follows."""


def bindings() -> list[Binding]:
    from textual.binding import Binding

    return [
        Binding(c.key, c.action, c.label, show=c.show, priority=c.priority, id=c.id)
        for c in COMMANDS
    ]


def key_display(key: str) -> str:
    return {"question_mark": "?", "slash": "/"}.get(key, key)
