"""The command palette (ctrl+p): the console's commands and one entry per strategy
and venue, built from the current state — only what is valid now is offered."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from mmtui.commands import ATTACHED, BY_ID, COMMANDS, STRATEGY_VERBS, valid

if TYPE_CHECKING:
    from mmtui.app import MMApp

Entry = tuple[str, Callable[[], object], str]


def entries(app: MMApp) -> list[Entry]:
    view = app.core.view
    risk = view.header().risk_state
    named = {"kill": ("Kill switch", BY_ID["kill"].help)}
    if app.core.attached:
        named |= ATTACHED  # q detaches: the core keeps trading
    out: list[Entry] = []
    for c in COMMANDS:
        if c.id == "quit_ctrl" or app.check_action(c.action, ()) is not True:
            continue
        label, text = named.get(c.id, (c.label, c.help))
        out.append((label, partial(app.run_action, c.action), text))
    for s in view.strategies():
        for verb, action in STRATEGY_VERBS:
            if valid(action, strategy=s.state, risk=risk):
                out.append(
                    (
                        f"{verb.capitalize()} strategy {s.name}",
                        partial(app.strategy_command, verb, s.name),
                        f"{s.name} is {s.state.value}",
                    )
                )
        out += [
            (f"Cancel orders of strategy {s.name}", partial(app.cancel_scope, None, s.name), ""),
            (f"Flatten strategy {s.name}", partial(app.confirm_flatten, None, s.name), ""),
        ]
    for venue in view.venue_names():
        out += [
            (f"Cancel orders on venue {venue}", partial(app.cancel_scope, venue, None), ""),
            (f"Flatten venue {venue}", partial(app.confirm_flatten, venue, None), ""),
        ]
    return out


class EngineCommands(Provider):
    def _entries(self) -> list[Entry]:
        return entries(self.app)  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for text, callback, help_text in self._entries():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)
