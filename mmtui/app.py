"""The Textual console.

The console talks to the trading core through a ``CoreClient``
(``mmtui.coreclient``): the core in the same event loop (``LocalCore``, plain
``mmtui``) or a served core over its socket (``RemoteCore``, ``mmtui attach``).
It never blocks the core and is never pushed per event: a timer
(``ui.refresh_hz``) renders the visible panes from the core's views. Keys and
the command palette send commands. Quitting runs the safe shutdown of an
in-process core; an attached console detaches (the core keeps trading) and
stops the core only on its own command (``Q``, confirmed).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from mmtui import gc_policy
from mmtui.commands import ATTACHED, BY_ACTION, BY_ID, COMMANDS, bindings, key_display, valid
from mmtui.core.engine import EngineError
from mmtui.core.readmodel import StrategyView
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState
from mmtui.core.summary import FlattenReport, RunSummary
from mmtui.coreclient import CoreClient, LocalCore
from mmtui.launcher import LaunchScreen
from mmtui.logsetup import LogBuffer
from mmtui.palette import EngineCommands
from mmtui.screens import ConfirmScreen, HelpScreen, ReportScreen
from mmtui.session import Session
from mmtui.terminal import hangup_safe
from mmtui.views.wiring import ViewActions
from mmtui.widgets.alerts import AlertBar
from mmtui.widgets.book import BookLadder
from mmtui.widgets.depth import TapePane, fit_tapes
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


class MMApp(ViewActions, App[RunSummary | None]):
    CSS_PATH = STYLESHEET
    TITLE = "mmtui"
    BINDINGS = bindings()
    COMMANDS = App.COMMANDS | {EngineCommands}  # type: ignore[assignment]
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        core: CoreClient | Session,
        log_buffer: LogBuffer,
        *,
        keymap: dict[str, str] | None = None,
        theme: str = "mmtui-dark",
        refresh_hz: float = 10.0,
        bell: bool = True,
    ) -> None:
        super().__init__()
        self.core: CoreClient = LocalCore(core) if isinstance(core, Session) else core
        self.log_buffer = log_buffer
        self.keymap_overrides = dict(keymap or {})
        if "pause" in self.keymap_overrides:  # one key pauses and resumes, as by default
            self.keymap_overrides.setdefault("resume", self.keymap_overrides["pause"])
        self.initial_theme = theme
        self.refresh_hz = refresh_hz
        self.shutting_down = False
        self.use_bell = bell
        self.alerts_seen = 0
        """The number of the last engine event read for alerts."""
        self._action_state: object = None
        self.main: MainScreen

    def get_driver_class(self) -> type[Driver]:
        return hangup_safe(super().get_driver_class())

    # -- layout ---------------------------------------------------------------

    def markets(self) -> list[tuple[str, str]]:
        view = self.core.view
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
        await self.core.start()  # no-op when the caller started it (run_console does)
        await self.core.subscribe(self.markets())
        self.main = MainScreen(self)
        await self.push_screen(self.main)
        gc_policy.after_start()  # started and composed: what lives now, lives on

    def render_panes(self) -> None:
        self.main.render_panes()

    # -- selection ------------------------------------------------------------

    def selected_strategy(self) -> StrategyView | None:
        view = self.core.view
        key = self.main.query_one(StrategiesTable).selected_key()
        chosen = view.strategy(key) if key is not None else None
        if chosen is not None:
            return chosen
        names = view.strategy_names()
        return view.strategy(names[0]) if names else None

    def focused_venue(self) -> str | None:
        focused = self.focused
        return focused.venue if isinstance(focused, BookLadder) else None

    # -- what is valid now ----------------------------------------------------

    def action_state(self) -> tuple[StrategyState | None, RiskState, bool, int]:
        """What decides which commands are valid (``mmtui.commands.valid``)."""
        view = self.core.view
        selected = self.selected_strategy() if self._main_ready() else None
        venue = self.focused_venue() is not None if self._main_ready() else False
        alerts = len(self.main.query_one(AlertBar).pending) if self._main_ready() else 0
        return (
            selected.state if selected is not None else None,
            view.header().risk_state,
            venue,
            alerts,
        )

    def _main_ready(self) -> bool:
        return hasattr(self, "main") and self.main.is_mounted

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide (and ignore) the commands that make no sense now: Pause or Resume on
        ``p`` by the selected strategy's state, reset risk only when halted, ..."""
        if action == "stop_core":
            return self.core.attached
        if action not in BY_ACTION or not self._main_ready():
            return True
        strategy, risk, venue, alerts = self.action_state()
        return valid(action, strategy=strategy, risk=risk, venue_focused=venue, alerts=alerts)

    def refresh_actions(self) -> None:
        """Redraw the footer's keys when what is valid changed (on the render timer)."""
        state = self.action_state()
        if state != self._action_state:
            self._action_state = state
            self.refresh_bindings()
            if self._main_ready() and self.screen is not self.main:
                # the footer behind a modal shows the main screen's keys: keep it current
                self.main.refresh_bindings()

    # -- alerts ---------------------------------------------------------------

    def poll_alerts(self) -> None:
        """New alerts: shown until acknowledged, the bell, a log line each."""
        fresh = self.core.view.alerts(self.alerts_seen)
        if not fresh:
            return
        self.alerts_seen = fresh[-1].seq
        for alert in fresh:
            log.error("ALERT (%s): %s", alert.kind, alert.text)
        self.main.query_one(AlertBar).add(fresh)
        if self.use_bell:
            self.bell()

    def action_acknowledge_alerts(self) -> None:
        count = self.main.query_one(AlertBar).acknowledge()
        log.info("%d alert(s) acknowledged", count)
        self.refresh_actions()

    # -- commands -------------------------------------------------------------

    def strategy_command(self, verb: str, name: str) -> None:
        core = self.core
        try:
            if verb == "start":
                current = core.view.strategy(name)
                if current is None:
                    raise EngineError(f"no strategy named {name!r}")
                if current.state is StrategyState.PAUSED:
                    pending = core.resume_strategy(name)
                else:
                    pending = core.start_strategy(name)
            elif verb == "pause":
                pending = core.pause_strategy(name)
            elif verb == "resume":
                pending = core.resume_strategy(name)
            elif verb == "stop":
                pending = core.stop_strategy(name)
            else:
                raise EngineError(f"unknown verb {verb!r}")
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.in_background(self._then_redraw(pending, f"{verb} {name}"), f"{verb} {name}")

    async def _then_redraw(self, pending: Awaitable[object], done: str) -> None:
        """Await a command, then say so and redraw (an error is ``in_background``'s)."""
        await pending
        self.notify(done)
        if self._main_ready():
            self.render_panes()
        self.refresh_actions()

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
        if (name := self._selected_name()) is not None:
            self.strategy_command("pause", name)

    def action_resume_strategy(self) -> None:
        if (name := self._selected_name()) is not None:
            self.strategy_command("resume", name)

    def action_stop_strategy(self) -> None:
        if (name := self._selected_name()) is not None:
            self.strategy_command("stop", name)

    def cancel_scope(self, venue: str | None, strategy: str | None) -> None:
        what = f"venue {venue}" if venue else f"strategy {strategy}"

        async def run() -> None:
            left = await self.core.cancel_orders(venue, strategy)
            if left:
                self.notify(f"cancel {what}: {left} orders still live", severity="error")
            else:
                self.notify(f"cancel {what}: done")

        self.in_background(run(), f"cancel {what}")

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
                self.run_report(f"Flatten {what}", lambda: self.core.flatten(venue, strategy))

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
                self.run_report("KILL SWITCH", self.core.kill_switch)

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
                if not isinstance(report, FlattenReport):
                    raise TypeError(f"{title} returned {report!r}, not a report")
            except Exception as exc:
                log.exception("%s failed", title)
                screen.show_error(repr(exc))
                return
            screen.show_report(report)
            for line in report.lines:
                (log.info if line.ok else log.error)("%s: %s", title, line)

        self.in_background(run(), title)

    def in_background(self, work: Coroutine[Any, Any, object], what: str) -> None:
        """Run a command's coroutine as a worker; an error is logged with what it was
        and shown, never swallowed."""

        async def run() -> None:
            try:
                await work
            except EngineError as exc:
                log.warning("%s: %s", what, exc)
                self.notify(f"{what}: {exc}", severity="error")
            except Exception as exc:
                log.exception("%s failed", what)
                self.notify(f"{what} failed: {exc!r}", severity="error")

        self.run_worker(run(), exit_on_error=False)

    def action_launch_strategy(self) -> None:
        def launched(name: str | None) -> None:
            if name is None:
                return
            self.notify(f"launched {name}")
            self.main.add_book_panes()
            self.strategy_command("start", name)

        self.push_screen(LaunchScreen(self.core), launched)

    def action_reset_risk(self) -> None:
        try:
            pending = self.core.reset_risk()
        except EngineError as exc:
            self.notify(str(exc), severity="error")
            return
        self.in_background(self._then_redraw(pending, "risk reset to ACTIVE"), "reset risk")

    def action_toggle_recording(self) -> None:
        try:
            pending = self.core.toggle_recording()
        except (OSError, ValueError) as exc:
            self.notify(f"recording not started: {exc}", severity="error")
            return

        async def said() -> None:
            if text := await pending:
                self.notify(text)

        self.in_background(said(), "recording")

    def action_cycle_log_level(self) -> None:
        self.main.query_one(LogPane).cycle_level()

    def action_search_log(self) -> None:
        self.main.open_search()

    def action_cycle_theme(self) -> None:
        names = [t.name for t in THEMES]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme {self.theme}")

    def key_of(self, command_id: str) -> str:
        return self.keymap_overrides.get(command_id, BY_ID[command_id].key)

    def action_help(self) -> None:
        attached = self.core.attached
        keys = {c.id: self.key_of(c.id) for c in COMMANDS if attached or c.id != "stop_core"}
        texts = {c: text for c, (_, text) in ATTACHED.items()} if attached else {}
        self.push_screen(HelpScreen(keys, texts))

    def action_quit_safely(self) -> None:
        self.safe_exit()

    @work(exclusive=True, group="shutdown", exit_on_error=False)
    async def safe_exit(self) -> None:
        """Quit: an in-process core runs the safe shutdown; an attached console
        detaches and leaves the served core trading."""
        if self.shutting_down:
            return
        self.shutting_down = True
        if self.core.attached:
            self.notify("detaching: the core keeps trading", timeout=30)
            try:
                await self.core.detach()
            finally:
                self.exit(None)
            return
        self.notify("shutting down: stopping strategies, cancelling orders ...", timeout=30)
        summary = None
        try:
            summary = await self.core.shutdown()
        finally:
            self.exit(summary)

    def action_stop_core(self) -> None:
        """Attached: stop the served core itself (its safe shutdown), then close."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop_core()

        self.push_screen(
            ConfirmScreen(
                f"STOP THE CORE on {self.core.where}? Stops every strategy and cancels "
                "our orders (its safe shutdown); trading ends."
            ),
            answered,
        )

    @work(exclusive=True, group="shutdown", exit_on_error=False)
    async def stop_core(self) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        self.notify("stopping the core: stopping strategies, cancelling orders ...", timeout=30)
        summary = None
        try:
            summary = await self.core.shutdown()
        finally:
            self.exit(summary)

    def poll_core(self) -> None:
        """A served core that stopped or a lost connection closes the console."""
        ended = self.core.ended
        if ended is None or self.shutting_down:
            return
        self.shutting_down = True
        log.error("%s: closing the console", ended)
        self.exit(getattr(self.core, "summary", None))


class AttachedApp(MMApp):
    """The console attached to a served core: q detaches, Q stops the core."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_safely", "Detach", id="quit"),
        Binding("ctrl+q", "quit_safely", "Detach", show=False, priority=True, id="quit_ctrl"),
    ]


class MainScreen(Screen[None]):
    """Status, books, strategies and the tabbed panes, rendered on a timer."""

    def __init__(self, owner: MMApp) -> None:
        super().__init__()
        self.owner = owner
        self.view = owner.core.view
        self.renders = 0

    def compose(self) -> ComposeResult:
        if self.owner.core.attached:
            banner = Static(
                f"attached to {self.owner.core.where}: q detaches (the core keeps trading) "
                "· Q stops the core",
                id="attached",
            )
            banner.styles.height = 1
            banner.styles.background = "darkblue"
            yield banner
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
                        yield Input(
                            placeholder="search the log (Enter keeps, Esc clears)",
                            id="log-search",
                            compact=True,
                        )
                        yield LogPane(self.owner.log_buffer, id="log")
        yield AlertBar(key_display(self.owner.key_of("ack")), id="alerts")
        yield LogTail(self.owner.log_buffer, id="log-tail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#log-search", Input).display = False
        self.set_interval(1 / self.owner.refresh_hz, self.render_panes)
        self.render_panes()
        self.query_one(StrategiesTable).focus()

    def open_search(self) -> None:
        self.query_one(TabbedContent).active = "tab-log"
        search = self.query_one("#log-search", Input)
        search.display = True
        search.focus()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.query_one(LogPane).search(event.value)

    @on(Input.Submitted, "#log-search")
    def _search_kept(self) -> None:
        self.query_one(LogPane).focus()

    def key_escape(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.display:
            search.value = ""
            search.display = False
            self.query_one(LogPane).search("")
            self.query_one(StrategiesTable).focus()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        # ctrl+p stays (the help says so); its footer entry gives way to the keys
        self.query_one(Footer).show_command_palette = not narrow

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
        tapes = list(self.query(TapePane))
        fit_tapes(self.query_one("#books").size.height, tapes)
        for tape in tapes:
            if tape.region.height > 0:
                tape.render_view(view)
        self.query_one(StrategiesTable).render_strategies(view.strategies())
        self.query_one(LogTail).render_buffer()
        self.owner.poll_alerts()
        self.owner.refresh_actions()
        self.owner.poll_core()
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


__all__ = ["AttachedApp", "MMApp", "MainScreen"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `mmtui` instead")
