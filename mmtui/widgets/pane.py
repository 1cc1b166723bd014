"""Cheap painting: a text pane that repaints only when what it shows changed, and
asks for a screen relayout only when its size can have changed.

A ``Static.update()`` relays out the whole screen by default; the console's panes
update at ``ui.refresh_hz`` and that relayout was most of the console's CPU. Here:

- the same content (or the same ``state`` the caller passes) as on screen: nothing;
- a pane whose CSS fixes its height and width (``height: 1fr``, ``height: 8``, not
  ``auto``): repaint itself only (``layout=False``) — its size cannot depend on what
  it shows;
- a pane sized by its content (``height: auto``): a relayout only when its number
  of lines changed (or the content's height is unknown: a Rich renderable that is
  not a no-wrap ``Text``), or always when its width is ``auto``.

The size check reads the widget's computed styles at each update, so a theme that
makes a pane ``auto`` gets its relayouts back instead of a clipped pane.
"""

from __future__ import annotations

from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Static

_NOTHING = object()


class Pane(Static):
    """A ``Static`` that paints through ``show``: see the module's docstring."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._shown_state: object = _NOTHING
        self._shown_lines: int | None = None
        self.layouts = 0
        """Updates that asked for a relayout (tests read it)."""
        self.paints = 0
        """Updates that reached the screen (anything but unchanged content)."""

    def show(self, content: VisualType, state: object = _NOTHING) -> bool:
        """Show ``content`` unless it (or ``state``, when given: a cheap key of what
        it shows) is what is on screen already. True when it painted."""
        key = content if state is _NOTHING else state
        if key is not _NOTHING and _same(key, self._shown_state):
            return False
        self._shown_state = key
        layout = self._needs_layout(content)
        self.paints += 1
        self.layouts += layout
        self.update(content, layout=layout)
        return True

    def forget(self) -> None:
        """The next ``show`` paints whatever it gets (after a change of size or style)."""
        self._shown_state = _NOTHING

    def fixed_size(self) -> bool:
        """Whether the CSS sizes this pane whatever it shows (no ``auto`` dimension)."""
        if not self.is_mounted:
            return False
        height, width = self.styles.height, self.styles.width
        return height is not None and not height.is_auto and (width is None or not width.is_auto)

    def _needs_layout(self, content: VisualType) -> bool:
        if self.fixed_size():
            return False
        lines = content_lines(content)
        grown = lines is None or lines != self._shown_lines
        self._shown_lines = lines
        width = self.styles.width if self.is_mounted else None
        return grown or (width is not None and width.is_auto)


def content_lines(content: VisualType) -> int | None:
    """The lines a content takes when they do not wrap; None: unknown."""
    if isinstance(content, Text):
        return content.plain.count("\n") + 1 if content.no_wrap else None
    if isinstance(content, str):
        return None  # markup, and wrapped by default
    return None


def _same(a: object, b: object) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, Text) and isinstance(b, Text) and a.style != b.style:
        return False  # Text's == compares the characters and spans, not its own style
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # a renderable with no equality of its own
        return False


__all__ = ["Pane", "content_lines"]
