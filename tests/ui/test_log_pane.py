"""The log tab's pane: a window on the log buffer. It follows the tail, keeps the
lines a reader scrolled back to in view, wraps long lines, and holds rendered rows
only for the lines near the screen (the console's memory must not grow with the
log)."""

from __future__ import annotations

import gc
import logging

from textual.app import App, ComposeResult
from textual.strip import Strip

from mmtui.logsetup import LogBuffer, LogLine
from mmtui.widgets.log import LogPane

from .test_snapshots import screen_lines


class LogApp(App[None]):
    CSS = "LogPane { height: 1fr; border: round $primary; }"  # as themes/app.tcss

    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self.buffer = buffer

    def compose(self) -> ComposeResult:
        yield LogPane(self.buffer, id="log")


def _line(i: int, message: str | None = None, level: int = logging.INFO) -> LogLine:
    return LogLine(1_796_671_072_000 + i, level, "mmtui.test", message or f"line {i:05d}")


def _screen(app: App[None]) -> str:
    return "\n".join(screen_lines(app.export_screenshot()))


def _rows_shown(app: App[None]) -> list[str]:
    """The log rows on screen, without the scrollbar (its thumb moves as lines come)."""
    return [row[:70].rstrip() for row in screen_lines(app.export_screenshot()) if "line 0" in row]


def _strips_alive() -> int:
    """Strips alive in the process (the app under test is all that renders)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Strip)


async def test_follows_the_tail_and_a_reader_scrolled_back_keeps_the_lines() -> None:
    buffer = LogBuffer()
    app = LogApp(buffer)
    async with app.run_test(size=(80, 12)) as pilot:
        pane = app.query_one(LogPane)
        for i in range(100):
            buffer.add(_line(i))
        pane.render_buffer()
        await pilot.pause()
        assert "line 00099" in _screen(app)
        assert "line 00050" not in _screen(app)
        # scrolled back: new lines do not move what the reader is looking at
        pane.scroll_to(y=40, animate=False, immediate=True)
        await pilot.pause()
        before = _rows_shown(app)
        for i in range(100, 150):
            buffer.add(_line(i))
        pane.render_buffer()
        await pilot.pause()
        after = _rows_shown(app)
        assert after == before
        # back at the end, it follows again
        pane.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        buffer.add(_line(150))
        pane.render_buffer()
        await pilot.pause()
        assert "line 00150" in _screen(app)


async def test_scrolled_back_past_the_trim_the_same_lines_stay_in_view() -> None:
    buffer = LogBuffer(capacity=10_000)
    app = LogApp(buffer)
    async with app.run_test(size=(80, 12)) as pilot:
        pane = app.query_one(LogPane)
        for i in range(LogPane.MAX_LINES):
            buffer.add(_line(i))
        pane.render_buffer()
        await pilot.pause()
        pane.scroll_to(y=1500, animate=False, immediate=True)
        await pilot.pause()
        before = _rows_shown(app)
        for i in range(LogPane.MAX_LINES, LogPane.MAX_LINES + 400):  # trims the oldest
            buffer.add(_line(i))
        pane.render_buffer()
        await pilot.pause()
        assert len(pane.shown) <= LogPane.MAX_LINES + LogPane.MAX_LINES // 10
        assert pane.shown[0].message != "line 00000"
        after = _rows_shown(app)
        assert after == before


async def test_long_lines_wrap_so_their_end_is_on_screen() -> None:
    buffer = LogBuffer()
    app = LogApp(buffer)
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(LogPane)
        words = " ".join(f"w{i}" for i in range(40))
        buffer.add(_line(1, f"fill BUY 0.0010 {words} @ 97123.5 END"))
        buffer.add(_line(2, "short after"))
        pane.render_buffer()
        await pilot.pause()
        text = _screen(app)
        assert "97123.5 END" in text
        assert "short after" in text
        # a narrower pane wraps again: the end still shows
        await pilot.resize_terminal(40, 16)
        await pilot.pause()
        assert "END" in _screen(app)


async def test_level_filter_and_search_rebuild_from_the_buffer() -> None:
    buffer = LogBuffer()
    app = LogApp(buffer)
    async with app.run_test(size=(80, 12)) as pilot:
        pane = app.query_one(LogPane)
        buffer.add(_line(1, "debug detail", logging.DEBUG))
        buffer.add(_line(2, "a warning here", logging.WARNING))
        buffer.add(_line(3, "plain info"))
        pane.render_buffer()
        await pilot.pause()
        assert "debug detail" not in _screen(app)
        assert "plain info" in _screen(app)
        pane.cycle_level()  # INFO -> WARNING
        await pilot.pause()
        assert "plain info" not in _screen(app)
        assert "a warning here" in _screen(app)
        pane.cycle_level()  # -> ERROR
        pane.cycle_level()  # -> DEBUG
        await pilot.pause()
        assert "debug detail" in _screen(app)
        pane.search("nowhere in the log")
        await pilot.pause()
        assert pane.matches == 0
        assert "plain info" not in _screen(app)
        pane.search("warning")
        await pilot.pause()
        assert pane.matches == 1
        assert "search 'warning': 1 line(s)" in _screen(app)
        assert "plain info" not in _screen(app)


async def test_the_pane_keeps_rendered_rows_only_near_the_screen() -> None:
    """The console's memory grew with the log: a RichLog kept every row it was
    given as styled strips. The pane keeps rows for at most ``RENDERED`` lines."""
    buffer = LogBuffer(capacity=5000)
    app = LogApp(buffer)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        before = 0
        for i in range(0, 3000, 100):
            for j in range(i, i + 100):
                tail = "x" * (j % 90)
                buffer.add(_line(j, f"fill BUY 0.0010 BTC-PERP @ 97{j:05d}.5 maker {tail}"))
            pane.render_buffer()
            await pilot.pause()
            if i == 0:
                _screen(app)
                before = _strips_alive()  # a screenful shown
        assert "97029" in _screen(app)
        assert len(pane.shown) >= LogPane.MAX_LINES
        grown = _strips_alive() - before
        assert grown <= 3 * LogPane.RENDERED, f"{grown} more strips alive after 2,900 lines"
