"""The log pane: follows the tail of the UI log buffer, with a level filter."""

from __future__ import annotations

import logging
import time

from rich.text import Text
from textual.widgets import RichLog

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
        recent = [ln for ln in self.buffer.records()[-50:] if ln.level >= logging.INFO]
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(recent[-self.lines :]):
            if i:
                text.append("\n")
            text.append_text(format_line(line))
        self.show(text)


class LogPane(RichLog):
    """Bounded (``max_lines``); reads only lines it has not shown yet. Long lines
    wrap (a fill's size and price are at the end of its line). ``search`` keeps
    only the lines holding a text, highlighted."""

    def __init__(self, buffer: LogBuffer, **kwargs: object) -> None:
        super().__init__(  # type: ignore[misc]
            max_lines=2000, wrap=True, markup=False, min_width=20, **kwargs
        )
        self.buffer = buffer
        self.min_level = logging.INFO
        self.query_text = ""
        self.matches = 0
        self._seen = 0
        self._width = 0
        self._title()

    def on_resize(self) -> None:
        """Lines wrap at the width they were written at: rewrap on a new width."""
        width = self.scrollable_content_region.width
        if self._size_known and width != self._width:
            if self._width:
                self._rerender()
            self._width = width

    def _title(self) -> None:
        title = f"log ≥ {logging.getLevelName(self.min_level)}"
        if self.query_text:
            title += f" · search {self.query_text!r}: {self.matches} line(s)"
        self.border_title = title

    def cycle_level(self) -> None:
        i = LEVELS.index(self.min_level) if self.min_level in LEVELS else 0
        self.min_level = LEVELS[(i + 1) % len(LEVELS)]
        self._rerender()

    def search(self, text: str) -> None:
        """Show only the lines holding ``text`` (any case), highlighted; "" shows all."""
        self.query_text = text.strip()
        self._rerender()

    def _rerender(self) -> None:
        self.clear()
        self._seen = 0
        self.matches = 0
        self.render_buffer()
        self._title()

    def render_buffer(self) -> None:
        total = self.buffer.total
        fresh = total - self._seen
        if fresh <= 0:
            return
        lines = self.buffer.records()[-fresh:]
        self._seen = total
        wanted = self.query_text.lower()
        for line in lines:
            if line.level < self.min_level:
                continue
            if wanted and wanted not in f"{line.name} {line.message}".lower():
                continue
            text = format_line(line, full=True)
            if wanted:
                self.matches += 1
                text.highlight_words(
                    [self.query_text], "bold black on yellow", case_sensitive=False
                )
            self.write(text)
        if wanted:
            self._title()
