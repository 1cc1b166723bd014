"""The Textual console.

The trading core runs in the same event loop; the console never blocks it and
is never pushed per event: a timer (``ui.refresh_hz``) renders the visible
panes from engine state. Keys and the command palette send commands to the
engine. Quitting runs the safe shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from mmtui.commands import COMMANDS, bindings
from mmtui.config import Config
from mmtui.core.engine import Engine, EngineError
from mmtui.core.readmodel import StrategyView
from mmtui.core.runner import StrategyState
from mmtui.core.summary import FlattenReport, RunSummary
from mmtui.launcher import LaunchScreen
from mmtui.logsetup import LogBuffer, add_handler, remove_handler
from mmtui.screens import ConfirmScreen, HelpScreen, ReportScreen
from mmtui.session import Session, SessionError, build_session
from mmtui.terminal import hangup_safe
from mmtui.views.wiring import ViewActions
from mmtui.widgets.book import BookLadder
from mmtui.widgets.depth import TapePane
from mmtui.widgets.keyed_table import KeyedTable
from mmtui.widgets.log import LogPane, LogTail
from mmtui.widgets.orders import OrdersTable
from mmtui.widgets.positions import PositionsTable
from mmtui.widgets.status import StatusBar
from mmtui.widgets.strategies import StrategiesTable
from mmtui.widgets.telemetry import TelemetryPane
from themes import STYLESHEET, THEMES

log = logging.getLogger("mmtui.app")

NARROW_WIDTH = 120


class EngineCommands(Provider):
    """Every console action by name, plus one entry per strategy and venue."""

    def _entries(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        assert isinstance(app, MMApp)
        out: list[tuple[str, Callable[[], object], str]] = [
            (
                c.label if c.id != "kill" else "Kill switch",
                partial(app.run_action, c.action),
                c.help,
            )
            for c in COMMANDS
        ]
        view = app.engine.view
        for name in view.strategy_names():
            out += [
                (f"Start strategy {name}", partial(app.strategy_command, "start", name), ""),
                (f"Pause strategy {name}", partial(app.strategy_command, "pause", name), ""),
                (f"Resume strategy {name}", partial(app.strategy_command, "resume", name), ""),
                (f"Stop strategy {name}", partial(app.strategy_command, "stop", name), ""),
                (f"Cancel orders of strategy {name}", partial(app.cancel_scope, None, name), ""),
                (f"Flatten strategy {name}", partial(app.confirm_flatten, None, name), ""),
            ]
        for venue in view.venue_names():
            out += [
                (f"Cancel orders on venue {venue}", partial(app.cancel_scope, venue, None), ""),
                (f"Flatten venue {venue}", partial(app.confirm_flatten, venue, None), ""),
            ]
        return out

    async def discover(self) -> Hits:
        for text, callback, help_text in self._entries():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)


class MMApp(ViewActions, App[RunSummary | None]):
    CSS_PATH = STYLESHEET
    TITLE = "mmtui"
    BINDINGS = bindings()
    COMMANDS = App.COMMANDS | {EngineCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        session: Session,
        log_buffer: LogBuffer,
        *,
        keymap: dict[str, str] | None = None,
        theme: str = "mmtui-dark",
        refresh_hz: float = 10.0,
    ) -> None:
        super().__init__()
        self.session = session
        self.engine: Engine = session.engine
        self.log_buffer = log_buffer
        self.keymap_overrides = dict(keymap or {})
        self.initial_theme = theme
        self.refresh_hz = refresh_hz
        self.shutting_down = False
        self.main: MainScreen

    def get_driver_class(self) -> type[Driver]:
        return hangup_safe(super().get_driver_class())

    # -- layout ---------------------------------------------------------------

    def markets(self) -> list[tuple[str, str]]:
        view = self.engine.view
        seen: list[tuple[str, str]] = []
        for strategy in view.strategies():
            for market in strategy.markets:
                if market not in seen:
                    seen.append(market)
        if not seen:
            seen = list(view.markets()[:1])
        return seen

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self.initial_theme
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        await self.session.start()  # no-op when the caller started it (run_console does)
        await self.engine.subscribe(self.markets())
        self.main = MainScreen(self)
        await self.push_screen(self.main)

    def render_panes(self) -> None:
        self.main.render_panes()

    # -- selection ------------------------------------------------------------

    def selected_strategy(self) -> StrategyView | None:
        view = self.engine.view
        key = self.main.query_one(StrategiesTable).selected_key()
        chosen = view.strategy(key) if key is not None else None
        if chosen is not None:
            return chosen
        names = view.strategy_names()
        return view.strategy(names[0]) if names else None

    def focused_venue(self) -> str | None:
        focused = self.focused
        return focused.venue if isinstance(focused, BookLadder) else None

    # -- commands -------------------------------------------------------------

    def strategy_command(self, verb: str, name: str) -> None:
        engine = self.engine
        try:
            if verb == "start":
                current = engine.view.strategy(name)
                if current is None:
                    raise EngineError(f"no strategy named {name!r}")
                if current.state is StrategyState.PAUSED:
                    engine.resume_strategy(name)
                else:
                    self.run_worker(engine.start_strategy(name), exit_on_error=False)
            elif verb == "pause":
                engine.pause_strategy(name)
            elif verb == "resume":
                engine.resume_strategy(name)
            elif verb == "stop":
                engine.stop_strategy(name)
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"{verb} {name}")
        self.render_panes()

    def _selected_name(self) -> str | None:
        selected = self.selected_strategy()
        if selected is None:
            self.notify("no strategy selected", severity="warning")
            return None
        return selected.name

    def action_start_strategy(self) -> None:
        if (name := self._selected_name()) is not None:
            self.strategy_command("start", name)

    def action_pause_strategy(self) -> None:
        chosen = self.selected_strategy()
        if chosen is None:
            self.notify("no strategy selected", severity="warning")
            return
        verb = "resume" if chosen.state in (StrategyState.PAUSED, StrategyState.HALTED) else "pause"
        self.strategy_command(verb, chosen.name)

    def action_stop_strategy(self) -> None:
        if (name := self._selected_name()) is not None:
            self.strategy_command("stop", name)

    def cancel_scope(self, venue: str | None, strategy: str | None) -> None:
        what = f"venue {venue}" if venue else f"strategy {strategy}"

        async def run() -> None:
            left = await self.engine.cancel_orders(venue=venue, strategy=strategy)
            if left:
                self.notify(f"cancel {what}: {len(left)} orders still live", severity="error")
            else:
                self.notify(f"cancel {what}: done")

        self.run_worker(run(), exit_on_error=False)

    def action_cancel_selection(self) -> None:
        venue = self.focused_venue()
        if venue is not None:
            self.cancel_scope(venue, None)
        elif (name := self._selected_name()) is not None:
            self.cancel_scope(None, name)

    def confirm_flatten(self, venue: str | None, strategy: str | None) -> None:
        what = f"venue {venue}" if venue else f"strategy {strategy}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_report(
                    f"Flatten {what}", lambda: self.engine.flatten(venue=venue, strategy=strategy)
                )

        self.push_screen(
            ConfirmScreen(f"Flatten {what}? Cancels its orders and closes its position."), answered
        )

    def action_flatten_selection(self) -> None:
        venue = self.focused_venue()
        if venue is not None:
            self.confirm_flatten(venue, None)
        elif (name := self._selected_name()) is not None:
            self.confirm_flatten(None, name)

    def action_kill_switch(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.run_report("KILL SWITCH", self.engine.kill_switch)

        self.push_screen(
            ConfirmScreen(
                "KILL SWITCH: pause every strategy, cancel everything, flatten every venue?"
            ),
            answered,
        )

    def run_report(self, title: str, action: Callable[[], object]) -> None:
        screen = ReportScreen(title)
        self.push_screen(screen)

        async def run() -> None:
            try:
                report = await action()  # type: ignore[misc]
            except Exception as exc:
                log.exception("%s failed", title)
                screen.show_error(repr(exc))
                return
            assert isinstance(report, FlattenReport)
            screen.show_report(report)
            for line in report.lines:
                (log.info if line.ok else log.error)("%s: %s", title, line)

        self.run_worker(run(), exit_on_error=False)

    def action_launch_strategy(self) -> None:
        def launched(name: str | None) -> None:
            if name is None:
                return
            self.notify(f"launched {name}")
            self.main.add_book_panes()
            self.strategy_command("start", name)

        self.push_screen(LaunchScreen(self.engine), launched)

    def action_reset_risk(self) -> None:
        self.engine.reset_risk()
        self.notify("risk reset to ACTIVE")

    def action_cycle_log_level(self) -> None:
        self.main.query_one(LogPane).cycle_level()

    def action_cycle_theme(self) -> None:
        names = [t.name for t in THEMES]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme {self.theme}")

    def action_help(self) -> None:
        keys = {c.id: self.keymap_overrides.get(c.id, c.key) for c in COMMANDS}
        self.push_screen(HelpScreen(keys))

    def action_quit_safely(self) -> None:
        self.safe_exit()

    @work(exclusive=True, group="shutdown", exit_on_error=False)
    async def safe_exit(self) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        self.notify("shutting down: stopping strategies, cancelling orders ...", timeout=30)
        try:
            await self.session.stop()
        finally:
            self.exit(self.session.summary())


class MainScreen(Screen[None]):
    """Status, books, strategies and the tabbed panes, rendered on a timer."""

    def __init__(self, owner: MMApp) -> None:
        super().__init__()
        self.owner = owner
        self.view = owner.engine.view
        self.renders = 0

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            with VerticalScroll(id="books"):
                for venue, symbol in self.owner.markets():
                    yield BookLadder(venue, symbol, id=f"book-{venue}-{symbol}")
                    yield TapePane(venue, symbol, rows=6, classes="book-tape")
            with Vertical(id="right"):
                yield StrategiesTable(id="strategies")
                with TabbedContent(id="panes"):
                    with TabPane("Positions", id="tab-positions"):
                        yield PositionsTable(id="positions")
                    with TabPane("Orders", id="tab-orders"):
                        yield OrdersTable(id="orders")
                    with TabPane("Telemetry", id="tab-telemetry"):
                        yield TelemetryPane(id="telemetry")
                    with TabPane("Log", id="tab-log"):
                        yield LogPane(self.owner.log_buffer, id="log")
        yield LogTail(self.owner.log_buffer, id="log-tail")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1 / self.owner.refresh_hz, self.render_panes)
        self.render_panes()
        self.query_one(StrategiesTable).focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW_WIDTH, "-narrow")

    def add_book_panes(self) -> None:
        """A ladder for every market in use that has none yet (after a launch)."""
        books = self.query_one("#books", VerticalScroll)
        have = {(b.venue, b.symbol) for b in self.query(BookLadder)}
        for venue, symbol in self.owner.markets():
            if (venue, symbol) not in have:
                books.mount(BookLadder(venue, symbol, id=f"book-{venue}-{symbol}"))
                books.mount(TapePane(venue, symbol, rows=6, classes="book-tape"))

    def render_panes(self) -> None:
        """Render what is visible; hidden panes cost nothing."""
        self.renders += 1
        view = self.view
        narrow = self.size.width < NARROW_WIDTH
        for table in self.query(KeyedTable):
            table.set_narrow(narrow)  # no-op unless the width class changed
        self.query_one(StatusBar).render_header(view.header())
        for ladder in self.query(BookLadder):
            if ladder.region.height > 0:
                ladder.render_view(view)
        for tape in self.query(TapePane):
            if tape.region.height > 0:
                tape.render_view(view)
        self.query_one(StrategiesTable).render_strategies(view.strategies())
        self.query_one(LogTail).render_buffer()
        active = self.query_one(TabbedContent).active
        if active == "tab-positions":
            self.query_one(PositionsTable).render_positions(view.positions())
        elif active == "tab-orders":
            self.query_one(OrdersTable).render_orders(view.orders())
        elif active == "tab-telemetry":
            selected = self.owner.selected_strategy()
            telemetry = view.telemetry(selected.name) if selected is not None else None
            self.query_one(TelemetryPane).render_telemetry(telemetry)
        elif active == "tab-log":
            self.query_one(LogPane).render_buffer()


def run_console(config: Config, source: Path, *, speed: float | str | None = "config") -> int:
    """Run the console; after it closes, print the same summary as ``--headless``."""
    return asyncio.run(_console(config, source, speed))


async def _console(config: Config, source: Path, speed: float | str | None) -> int:
    try:
        session = build_session(config, speed=speed)
        session.config_path = source
    except SessionError as exc:
        print(f"error: {exc}", file=sys.stderr)  # before the UI opens
        return 2
    buffer = LogBuffer(capacity=5000)
    add_handler(buffer)
    app = MMApp(
        session,
        buffer,
        keymap=config.ui.keys,
        theme=config.ui.theme,
        refresh_hz=config.ui.refresh_hz,
    )
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        log.warning("%s: safe shutdown", sig.name)
        if app.is_running:
            app.call_later(app.safe_exit)

    try:
        try:
            await session.start()
        except SessionError as exc:
            print(f"error: {exc}", file=sys.stderr)  # before the UI opens
            return 1
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, on_signal, sig)
        await app.run_async()
    finally:
        # Whatever ended the app (q, a signal, a lost terminal, a crash): safe shutdown.
        report = await session.stop()
        remove_handler(buffer)
    summary = session.summary()
    try:
        print(summary.render())
    except OSError:
        log.warning("terminal gone; summary not printed: %s", summary.to_dict())
    return 0 if report.ok and summary.open_orders_left == 0 else 1


__all__ = ["MMApp", "run_console"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `mmtui` instead")
