"""Fills of this run and earlier runs, read from the journal on a thread (never on
the event loop), filtered by run / strategy / venue, exported to CSV."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from mmtui.core.fill_history import FillRecord, select, write_csv
from mmtui.views.base import ViewScreen, clock_time
from mmtui.widgets.pane import Pane

log = logging.getLogger("mmtui.views.fills")

ROWS_SHOWN = 500
RELOAD_S = 2.0
ALL = "all"


class FillsScreen(ViewScreen):
    TITLE = "Fills (journal)  r run  s strategy  v venue  x export CSV  q/Esc closes"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ViewScreen.BINDINGS,
        Binding("r", "cycle('run')", "Run", id="fills_run"),
        Binding("s", "cycle('strategy')", "Strategy", id="fills_strategy"),
        Binding("v", "cycle('venue')", "Venue", id="fills_venue"),
        Binding("x", "export", "Export CSV", id="fills_export"),
    ]

    def __init__(self, app: object) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.fills: tuple[FillRecord, ...] = ()
        self.loaded = False
        self.loading = False
        self.filters: dict[str, str] = {
            "run": self.view.header().run_id,
            "strategy": ALL,
            "venue": ALL,
        }
        self.exported: Path | None = None
        self.message = ""

    def compose(self) -> ComposeResult:
        yield self.compose_title()
        yield Pane(id="fills-filter")
        yield self.body(Pane(id="fills-body"))
        yield self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.reload()
        self.set_interval(RELOAD_S, self.reload)

    def reload(self) -> None:
        if self.loading or not self.view.has_journal:
            return
        self.loading = True
        self.run_worker(self._load(), exit_on_error=False, group="fills")

    async def _load(self) -> None:
        try:
            self.fills = await self.owner.core.journal_fills()
        except Exception as exc:  # a locked or damaged file: say so, keep the last list
            log.exception("reading fills from the journal failed")
            self.message = f"reading the journal failed: {exc!r}"
        finally:
            self.loading = False
        self.loaded = True
        self.refresh_view()

    def shown(self) -> tuple[FillRecord, ...]:
        f = self.filters
        return select(
            self.fills,
            run_id=None if f["run"] == ALL else f["run"],
            strategy=None if f["strategy"] == ALL else f["strategy"],
            venue=None if f["venue"] == ALL else f["venue"],
        )

    def refresh_view(self) -> None:
        filt = self.query_one("#fills-filter", Pane)
        body = self.query_one("#fills-body", Pane)
        if not self.view.has_journal:
            filt.show(Text("the journal is off (journal.enabled: false): no fills kept"))
            body.show("")
            return
        shown = self.shown()
        f = self.filters
        line = Text(no_wrap=True, overflow="ellipsis")
        run = "this run" if f["run"] == self.view.header().run_id else f["run"]
        line.append(f"run {run}  strategy {f['strategy']}  venue {f['venue']}  ", style="bold")
        line.append(f"{len(shown)} of {len(self.fills)} fills")
        if not self.loaded:
            line.append("  loading ...", style="yellow")
        if self.exported is not None:
            line.append(f"\nexported to {self.exported}", style="green")
        if self.message:
            line.append(f"\n{self.message}", style="red")
        filt.show(line)
        body.show(render_fills(shown[-ROWS_SHOWN:][::-1]))

    def _choices(self, key: str) -> list[str]:
        if key == "run":
            return [self.view.header().run_id, ALL]
        field = "strategy" if key == "strategy" else "venue"
        values = sorted({getattr(f, field) for f in self.fills})
        return [ALL, *values]

    def action_cycle(self, key: str) -> None:
        choices = self._choices(key)
        now = self.filters[key]
        i = choices.index(now) if now in choices else -1
        self.filters[key] = choices[(i + 1) % len(choices)]
        self.refresh_view()

    def action_export(self) -> None:
        if not self.view.has_journal:
            self.notify("the journal is off: nothing to export", severity="warning")
            return
        shown = self.shown()
        path = export_path(Path(self.view.session_info().journal_path), self.filters)
        self.run_worker(self._export(shown, path), exit_on_error=False, group="fills-export")

    async def _export(self, fills: tuple[FillRecord, ...], path: Path) -> None:
        try:
            await asyncio.to_thread(write_csv, fills, path)
        except OSError as exc:
            log.error("exporting %d fills to %s failed: %s", len(fills), path, exc)
            self.message = f"export to {path} failed: {exc}"
            self.notify(self.message, severity="error")
        else:
            self.exported = path
            self.message = ""
            log.info("exported %d fills to %s", len(fills), path)
            self.notify(f"{len(fills)} fills exported to {path}")
        self.refresh_view()


def export_path(journal: Path, filters: dict[str, str]) -> Path:
    """Beside the journal, named by the filters: one file per selection."""
    parts = [filters["run"], filters["strategy"], filters["venue"]]
    name = "-".join(p.replace("/", "_") for p in parts)
    return journal.parent / f"fills-{name}.csv"


def render_fills(fills: tuple[FillRecord, ...]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(
        f"{'time':<8} {'run':<7} {'strategy':<8} {'venue':<5} {'symbol':<8} {'side':<4} "
        f"{'size':>8} {'price':>10} {'fee':>7} l",
        style="dim",
    )
    if not fills:
        text.append("\nno fills", style="dim")
    for f in fills:
        text.append("\n")
        text.append(
            f"{clock_time(f.ts_ms):<8} {f.run_id[:7]:<7} {f.strategy[:8]:<8} "
            f"{f.venue[:5]:<5} {f.symbol[:8]:<8} "
        )
        text.append(f"{f.side:<4}", style="green" if f.side == "buy" else "red")
        text.append(f" {f.size:>8} {f.price:>10} {f.fee:>7.4f} {f.liquidity[:1]}")
    return text


__all__ = ["FillsScreen", "export_path", "render_fills"]
