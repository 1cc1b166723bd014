"""The log pane: follows the tail of the UI log buffer, with a level filter."""

from __future__ import annotations

import logging
import time
from bisect import bisect_right

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mmtui.logsetup import LogBuffer, LogLine
from mmtui.widgets.pane import Pane

LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
_STYLE = {
    logging.DEBUG: "dim",
    logging.INFO: "",
    logging.WARNING: "yellow",
    logging.ERROR: "bold red",
    logging.CRITICAL: "bold white on red",
}


def format_line(line: LogLine, full: bool = False) -> Text:
    stamp = time.strftime("%H:%M:%S", time.gmtime(line.ts_ms / 1000))
    text = Text(f"{stamp} {logging.getLevelName(line.level)[:4]} ", style="dim")
    text.append(f"{line.name.removeprefix('mmtui.')}: ", style="cyan")
    message = line.message if full else (line.message.splitlines() or [""])[0]
    text.append(message, style=_STYLE.get(line.level, ""))
    return text


class LogTail(Pane):
    """The last few log lines, always on screen (the full log is a tab)."""

    def __init__(self, buffer: LogBuffer, lines: int = 2, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.buffer = buffer
        self.lines = lines
        self._seen = -1

    def render_buffer(self) -> None:
        if self.buffer.total == self._seen:
            return
        self._seen = self.buffer.total
        recent = [ln for ln in self.buffer.tail(50) if ln.level >= logging.INFO]
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(recent[-self.lines :]):
            if i:
                text.append("\n")
            text.append_text(format_line(line))
        self.show(text)


class LogPane(ScrollView, can_focus=True):
    """The log tab: a window on the log buffer that keeps no copy of its lines.

    It holds the buffer's lines that pass the level filter and the search (at most
    ``MAX_LINES``, the newest) and how many rows each wraps to at the pane's width;
    only the rows on screen are rendered, and only the last ``RENDERED`` lines'
    rows are kept. (A ``RichLog`` kept every row it was ever given as styled strips,
    ~2 KB a line, ~9 MB an hour at the example's log rate: the console's memory grew
    with the log.) Follows the tail while scrolled to the end; scrolled back, the
    same lines stay in view as new ones arrive. Long lines wrap (a fill's size and
    price are at the end of its line); ``search`` keeps only the lines holding a
    text, highlighted."""

    DEFAULT_CSS = """
    LogPane {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        overflow-x: hidden;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    MAX_LINES = 2000
    """Lines the pane can scroll back through (the buffer keeps more for a search)."""
    RENDERED = 256
    """Lines whose rendered rows are kept (those on screen and near it)."""

    def __init__(self, buffer: LogBuffer, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.buffer = buffer
        self.min_level = logging.INFO
        self.query_text = ""
        self.matches = 0
        self._seen = 0  # buffer.total when last read
        self._width = 0  # the width the rows were counted at; 0 before the first layout
        self._lines: list[LogLine] = []  # shown, oldest first
        self._starts: list[int] = []  # each shown line's first row, counted from the run start
        self._end = 0  # the row after the last shown line
        self._rendered: LRUCache[int, list[Strip]] = LRUCache(self.RENDERED)
        self._title()

    # -- what is shown ---------------------------------------------------------

    @property
    def shown(self) -> tuple[LogLine, ...]:
        """The lines the pane can show, oldest first."""
        return tuple(self._lines)

    def _passes(self, line: LogLine) -> bool:
        if line.level < self.min_level:
            return False
        wanted = self.query_text.lower()
        return not wanted or wanted in f"{line.name} {line.message}".lower()

    def _text(self, line: LogLine) -> Text:
        text = format_line(line, full=True)
        if self.query_text:
            text.highlight_words([self.query_text], "bold black on yellow", case_sensitive=False)
        return text

    def _rows(self, line: LogLine) -> list[Strip] | int:
        """How many rows ``line`` wraps to at the pane's width (its rows when it wraps)."""
        text = self._text(line)
        if "\n" not in text.plain and text.cell_len <= self._width:
            return 1
        return self._render(text)

    def _render(self, text: Text) -> list[Strip]:
        console = self.app.console
        return [
            Strip(list(part.render(console)), part.cell_len)
            for part in text.wrap(console, self._width)
        ] or [Strip.blank(self._width)]

    def _append(self, lines: list[LogLine]) -> int:
        """Show ``lines`` (those passing the filters, at most the newest ``MAX_LINES``)
        after the others; how many passed."""
        passing = [line for line in lines if self._passes(line)]
        for line in passing[-self.MAX_LINES :]:
            rows = self._rows(line)
            self._lines.append(line)
            self._starts.append(self._end)
            if isinstance(rows, list):
                self._rendered[self._end] = rows
                self._end += len(rows)
            else:
                self._end += rows
        return len(passing)

    def _trim(self) -> int:
        """Drop the oldest shown lines past ``MAX_LINES`` (in batches); rows dropped."""
        excess = len(self._lines) - self.MAX_LINES
        if excess < max(1, self.MAX_LINES // 10):
            return 0
        dropped = self._starts[excess] - self._starts[0]
        del self._lines[:excess]
        del self._starts[:excess]
        return dropped

    @property
    def _first(self) -> int:
        return self._starts[0] if self._starts else self._end

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self._width, self._end - self._first)

    # -- updates ---------------------------------------------------------------

    def render_buffer(self) -> None:
        """Show the lines logged since the last call."""
        total = self.buffer.total
        fresh = total - self._seen
        if fresh <= 0 or not self._width:
            return
        self._seen = total
        following = self.scroll_y >= self.max_scroll_y
        passed = self._append(self.buffer.tail(min(fresh, self.buffer.capacity)))
        if not passed:
            return
        if self.query_text:
            self.matches += passed
            self._title()
        dropped = self._trim()
        self._resize_virtual()
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif dropped:
            self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
        self.refresh()

    def _rebuild(self) -> None:
        """Everything again from the buffer: a new filter, search or width."""
        self._lines.clear()
        self._starts.clear()
        self._end = 0
        self._rendered.clear()
        self._seen = self.buffer.total
        passed = self._append(self.buffer.records()) if self._width else 0
        self.matches = passed if self.query_text else 0
        self._resize_virtual()
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._title()
        self.refresh()

    def on_resize(self) -> None:
        """Rows are counted at a width: count them again at a new one."""
        width = self.scrollable_content_region.width
        if width > 0 and width != self._width:
            self._width = width
            self._rebuild()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rendered.clear()

    def _title(self) -> None:
        title = f"log ≥ {logging.getLevelName(self.min_level)}"
        if self.query_text:
            title += f" · search {self.query_text!r}: {self.matches} line(s)"
        self.border_title = title

    def cycle_level(self) -> None:
        i = LEVELS.index(self.min_level) if self.min_level in LEVELS else 0
        self.min_level = LEVELS[(i + 1) % len(LEVELS)]
        self._rebuild()

    def search(self, text: str) -> None:
        """Show only the lines holding ``text`` (any case), highlighted; "" shows all."""
        self.query_text = text.strip()
        self._rebuild()

    # -- painting --------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = self._first + self.scroll_offset.y + y
        style = self.rich_style
        if row >= self._end or not self._lines:
            return Strip.blank(width, style)
        i = bisect_right(self._starts, row) - 1
        start = self._starts[i]
        rows = self._rendered.get(start)
        if rows is None:
            rows = self._render(self._text(self._lines[i]))
            self._rendered[start] = rows
        index = row - start
        if index >= len(rows):  # counted at another width: blank until the rebuild
            return Strip.blank(width, style)
        return rows[index].crop_extend(0, width, style).apply_style(style)
