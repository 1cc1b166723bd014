"""Cheap painting: panes repaint only what changed and relayout the screen only
when their size can change; tables keep only the current renders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.text import Text
from textual.app import App, ComposeResult
from textual.screen import Screen

from mmtui.app import MMApp
from mmtui.logsetup import LogBuffer
from mmtui.session import Session
from mmtui.widgets.alerts import AlertBar
from mmtui.widgets.book import BookLadder
from mmtui.widgets.keyed_table import KeyedTable
from mmtui.widgets.pane import Pane, content_lines

from ..conftest import sim_config


@contextmanager
def counting_layouts() -> Iterator[list[int]]:
    """Counts full-screen relayouts (``Screen._refresh_layout``) while inside."""
    original = Screen._refresh_layout
    count = [0]

    def counted(self: Screen[object], *args: object, **kwargs: object) -> None:
        count[0] += 1
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    Screen._refresh_layout = counted  # type: ignore[method-assign]
    try:
        yield count
    finally:
        Screen._refresh_layout = original  # type: ignore[method-assign]


class Panes(App[None]):
    CSS = """
    #fixed { height: 3; }
    #sized { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Pane(id="fixed")
        yield Pane(id="sized")


def _text(*lines: str) -> Text:
    return Text("\n".join(lines), no_wrap=True)


async def test_a_fixed_size_pane_never_relays_out_the_screen() -> None:
    app = Panes()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one("#fixed", Pane)
        await pilot.pause()
        with counting_layouts() as layouts:
            for i in range(20):
                assert pane.show(_text(f"bid{i}", f"ask{i + 1}"))
                await pilot.pause()
        assert pane.paints == 20
        assert pane.layouts == 0
        assert layouts[0] == 0
        assert "bid19" in app.export_screenshot()


async def test_the_same_content_is_not_painted_again() -> None:
    app = Panes()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one("#fixed", Pane)
        assert pane.show(_text("one"))
        for _ in range(5):
            assert not pane.show(_text("one"))  # equal Text: nothing to do
        assert pane.show(_text("two"))
        assert pane.show(_text("three"), state="key")
        assert not pane.show(_text("changed"), state="key")  # the state decides
        assert pane.show(_text("four"), state="other")
        await pilot.pause()
        assert pane.paints == 4


async def test_a_content_sized_pane_relays_out_only_when_its_line_count_changes() -> None:
    app = Panes()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one("#sized", Pane)
        pane.show(_text("a"))
        await pilot.pause()
        assert pane.layouts == 1  # the first: its height was unknown
        pane.show(_text("b"))
        pane.show(_text("c"))
        assert pane.layouts == 1
        pane.show(_text("c", "d"))
        assert pane.layouts == 2
        await pilot.pause()
        assert pane.region.height == 2
        pane.show("markup [b]x[/b]")  # a str's height is unknown: relayout
        assert pane.layouts == 3


def test_content_lines() -> None:
    assert content_lines(_text("a", "b", "c")) == 3
    assert content_lines(Text("a\nb")) is None  # wraps: depends on the width
    assert content_lines("a") is None


async def test_console_panes_repaint_without_relayout(
    make_session: Callable[..., Session],
) -> None:
    """The status bar, ladders, tapes and log tail update at 10 Hz: none of those
    updates relays out the screen (each was a full relayout, every frame)."""
    session = make_session(sim_config())
    await session.start()
    app = MMApp(session, LogBuffer())
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await session.run_for(5)
            app.main.render_panes()
            await pilot.pause()
            ladder = app.main.query_one(BookLadder)
            painted = ladder.paints
            for _ in range(10):
                await session.run_for(0.5)
                app.main.render_panes()
                await pilot.pause()
            assert ladder.paints > painted  # the book moved and was painted
            panes = [p for p in app.main.query(Pane) if p.paints]
            names = {type(p).__name__ for p in panes}
            assert {"StatusBar", "BookLadder", "TapePane", "LogTail"} <= names, names
            # none asked for a relayout (the real relayouts are counted in the test of a
            # fixed-size pane; here tables may relayout when a column's width changes)
            assert all(p.layouts == 0 for p in panes if not isinstance(p, AlertBar))
    finally:
        await session.stop()


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield Table()


class Table(KeyedTable):
    COLUMNS = (("a", "a"), ("b", "b"), ("c", "c"))


async def test_a_table_keeps_only_the_current_renders() -> None:
    """DataTable's render caches are keyed by its update count: without clearing,
    every change leaves its renders behind (up to 10,000 cells a table)."""
    app = OneTable()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(Table)
        for i in range(60):
            table.sync({f"r{r}": [f"{r}", f"{i}", f"{i * r}"] for r in range(4)})
            await pilot.pause()
        cells = len(table._cell_render_cache)
        lines = len(table._line_cache)
        assert cells <= 2 * (4 + 1) * 3, cells  # the rows and the header, not 60 updates
        assert lines <= 2 * (4 + 1), lines
        assert "59" in app.export_screenshot()


async def test_a_text_in_another_style_is_painted() -> None:
    app = Panes()
    async with app.run_test(size=(60, 12)):
        pane = app.query_one("#fixed", Pane)
        assert pane.show(Text("same", style="red"))
        assert pane.show(Text("same", style="green"))
        assert not pane.show(Text("same", style="green"))
