"""Keep the console alive when its terminal goes away (an SSH drop).

Textual's output thread dies on the first OSError (EIO after a hang-up); every
later write then blocks forever on its full queue, inside the event loop, and
the safe shutdown would freeze half done. The driver below writes through a
file that drops output once the terminal is gone, so SIGHUP still ends in a
complete shutdown.
"""

from __future__ import annotations

from typing import Any

from textual.driver import Driver


class TerminalOutput:
    """A file wrapper that swallows OSError and drops output from then on."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return int(self._file.write(text))
            except OSError:
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError:
                self.gone = True

    def fileno(self) -> int:
        return int(self._file.fileno())


def hangup_safe(driver_class: type[Driver]) -> type[Driver]:
    """Wrap Textual's Linux driver (the one that writes to a real terminal)."""
    if driver_class.__name__ != "LinuxDriver":
        return driver_class

    class HangupSafeDriver(driver_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._file = TerminalOutput(self._file)

    return HangupSafeDriver
