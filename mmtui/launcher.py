"""The launch screen (`n`): pick a kind, venue and symbol, edit the parameters,
preview the orders it would place on the current book, then confirm."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from connectors.base import Side
from mmtui.config_reader import ConfigReadError, first_non_finite, parse_yaml
from mmtui.core.engine import EngineError
from mmtui.coreclient import CoreClient
from strategies.base import PlannedOrder
from strategies.registry import STRATEGY_KINDS

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def default_params_yaml(kind: str) -> str:
    params = STRATEGY_KINDS[kind].Params().model_dump(mode="json")
    return yaml.safe_dump(params, sort_keys=False)


def preview_table(planned: list[PlannedOrder]) -> Table | Text:
    if not planned:
        return Text("it would place nothing on the current book", style="yellow")
    table = Table(box=None, padding=(0, 1))
    for col in ("side", "price", "size", "flags", "note"):
        table.add_column(col)
    for p in planned:
        flags = "".join(f for f, on_ in (("P", p.post_only), ("R", p.reduce_only)) if on_)
        table.add_row(
            Text(p.side.value, style="green" if p.side is Side.BUY else "red"),
            f"{p.price}" if p.price is not None else "market",
            f"{p.size}",
            flags,
            p.note,
        )
    return table


class LaunchScreen(ModalScreen[str | None]):
    """Dismisses with the new strategy's name, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel", id="launch_cancel"),
        Binding("ctrl+r", "preview", "preview", id="launch_preview"),
        Binding("ctrl+s", "launch", "launch", id="launch_confirm"),
    ]

    def __init__(self, core: CoreClient) -> None:
        super().__init__()
        self.core = core
        self.previewed: list[PlannedOrder] | None = None
        self.auto_name = ""

    def compose(self) -> ComposeResult:
        kinds = sorted(STRATEGY_KINDS)
        venues = sorted(self.core.view.venue_names())
        with Vertical(id="dialog", classes="launcher"):
            yield Label(Text("Launch a strategy", style="bold"))
            with Horizontal(classes="launch-row"):
                yield Select(
                    [(k, k) for k in kinds],
                    value=kinds[0],
                    allow_blank=False,
                    id="kind",
                    compact=True,
                )
                yield Select(
                    [(v, v) for v in venues],
                    value=venues[0],
                    allow_blank=False,
                    id="venue",
                    compact=True,
                )
                yield Select(self._symbols(venues[0]), allow_blank=False, id="symbol", compact=True)
            yield Input(placeholder="name (letters, digits, _ . -)", id="name", compact=True)
            yield TextArea(
                default_params_yaml(kinds[0]), language="yaml", id="params", compact=True
            )
            yield Static(
                Text("ctrl+r preview · ctrl+s launch · Esc cancel", style="dim"), id="launch-status"
            )
            with Horizontal(classes="launch-row"):
                yield Button("Preview", id="preview", compact=True)
                yield Button("Launch", id="launch", variant="primary", compact=True)

    def on_mount(self) -> None:
        self._set_name()

    def _set_name(self) -> None:
        """The name follows kind and symbol until the operator types one of their own."""
        name = self.query_one("#name", Input)
        if name.value in ("", self.auto_name):
            self.auto_name = self._free_name()
            name.value = self.auto_name

    def _symbols(self, venue: str) -> list[tuple[str, str]]:
        return [(s, s) for v, s in self.core.view.markets() if v == venue]

    def _free_name(self) -> str:
        kind = str(self.query_one("#kind", Select).value)
        symbol = str(self.query_one("#symbol", Select).value).split("-")[0].lower()
        base = f"{kind.split('_')[0]}_{symbol}"
        name, i = base, 2
        while name in self.core.view.strategy_names():
            name, i = f"{base}_{i}", i + 1
        return name

    @on(Select.Changed, "#kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self.query_one("#params", TextArea).text = default_params_yaml(str(event.value))
        self._set_name()
        self.previewed = None

    @on(Select.Changed, "#venue")
    def _venue_changed(self, event: Select.Changed) -> None:
        self.query_one("#symbol", Select).set_options(self._symbols(str(event.value)))
        self._set_name()
        self.previewed = None

    @on(Select.Changed, "#symbol")
    def _symbol_changed(self) -> None:
        self._set_name()
        self.previewed = None

    def _status(self, text: Text | Table) -> None:
        self.query_one("#launch-status", Static).update(text)

    def _spec(self) -> tuple[str, str, str, str, dict[str, Any]] | None:
        kind = str(self.query_one("#kind", Select).value)
        venue = str(self.query_one("#venue", Select).value)
        symbol = str(self.query_one("#symbol", Select).value)
        name = self.query_one("#name", Input).value.strip()
        if not _NAME_RE.match(name):
            self._status(Text(f"name {name!r}: use 1-40 letters, digits, _ . -", style="red"))
            return None
        if name in self.core.view.strategy_names():
            self._status(Text(f"name {name!r} is taken", style="red"))
            return None
        try:  # the config file's limits: duplicate keys, aliases, depth, bounded numbers
            params = parse_yaml(self.query_one("#params", TextArea).text) or {}
        except ConfigReadError as exc:
            self._status(Text(f"params: {exc}", style="red"))
            return None
        if not isinstance(params, dict):
            self._status(Text("params: must be a mapping of name: value", style="red"))
            return None
        try:
            parsed = STRATEGY_KINDS[kind].parse_params(params)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            self._status(Text(f"params.{key}: {err['msg']}", style="red"))
            return None
        key = first_non_finite(parsed, "params")
        if key is not None:
            self._status(Text(f"{key}: not a finite number", style="red"))
            return None
        return kind, venue, symbol, name, params

    async def action_preview(self) -> None:
        spec = self._spec()
        if spec is None:
            return
        kind, venue, symbol, _, params = spec
        try:
            self.previewed = await self.core.preview(kind, venue, symbol, params)
        except (EngineError, KeyError, ValueError) as exc:
            self._status(Text(f"preview failed: {exc}", style="red"))
            return
        self._status(preview_table(self.previewed))

    async def action_launch(self) -> None:
        spec = self._spec()
        if spec is None:
            return
        kind, venue, symbol, name, params = spec
        try:
            await self.core.add_strategy(name, kind, venue, symbol, params)
        except (EngineError, KeyError, ValueError) as exc:
            self._status(Text(f"launch failed: {exc}", style="red"))
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#preview")
    async def _preview_pressed(self) -> None:
        await self.action_preview()

    @on(Button.Pressed, "#launch")
    async def _launch_pressed(self) -> None:
        await self.action_launch()
