"""Logging for mmtui: a rotating file, optional console, secret redaction, a UI ring buffer.

Every handler installed here (and via ``add_handler``) carries ``RedactionFilter``,
which rewrites each record once, before any handler formats it: registered
secrets and well-known secret patterns in the message, its %-args, the
exception text and the stack are replaced by ``***``.
"""

from __future__ import annotations

import io
import itertools
import logging
import logging.handlers
import os
import re
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import platformdirs

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_NAME = "mmtui.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5
ENV_LEVEL = "MMTUI_LOG_LEVEL"
ENV_DIR = "MMTUI_LOG_DIR"
NOISY_LOGGERS = ("asyncio", "websockets", "aiohttp", "urllib3")
MIN_SECRET_LEN = 6
REDACTED = "***"

_LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def default_log_dir() -> Path:
    """Per-user state directory for logs, e.g. ``~/.local/state/mmtui/logs``."""
    return platformdirs.user_state_path("mmtui") / "logs"


def parse_level(value: str | int, source: str = "log level") -> int:
    """A level name (any case) or number -> int; ``ValueError`` naming the value otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    level = logging.getLevelNamesMapping().get(text.upper())
    if level is None and text.isdigit():
        level = int(text)
    if level is None:
        raise ValueError(f"invalid {source} {value!r}: expected one of {', '.join(_LEVEL_NAMES)}")
    return level


# -- redaction -------------------------------------------------------------------

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None

_PEM_RE = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----.*?(?:-----END (?P=label)-----|\Z)", re.DOTALL
)
_KEY_WORD = (
    r"(?:secret|private[_-]?key|api[_-]?key|passphrase|password|passwd|signature"
    r"|authorization|(?:access|auth|api|refresh|session|bearer)[_-]?token)"
)
_KV_RE = re.compile(
    # A key: one whole token (optionally quoted) that contains a secret word. It is
    # anchored at the start of a token, checked by a look-ahead and then consumed
    # possessively, so matching stays linear even on huge tokens.
    r"(?P<key>(?P<kq>[\"']?)(?<![\w.-])(?=[\w.-]*?" + _KEY_WORD + r")[\w.-]++(?P=kq)"
    # then ':' or '=' (or ', ' after a quoted key, as in a tuple of headers)
    r"(?:\s*[:=]\s*|(?<=[\"'])\s*,\s*))"
    # and the value: quoted, or a bare run (with an optional auth scheme)
    r"(?:(?P<dq>b?\"[^\"]*\"?)|(?P<sq>b?'[^']*'?)"  # an unclosed quote runs to the end
    r"|(?P<bare>(?:(?:bearer|basic|digest|token)\s+)?[^\s,;&'\"}\])>]+))",
    re.IGNORECASE,
)
# Names that look like secrets but only index them.
_NOT_SECRET_SUFFIXES = ("_index", "_idx", "_id", "index")
_HEX_KEY_RE = re.compile(r"(?<![0-9a-fA-F])0x[0-9a-fA-F]{64}(?![0-9a-fA-F])")


def register_secret(value: str) -> None:
    """Redact ``value`` from all log output from now on (ignored if shorter than 6 chars).

    A ``0x``-prefixed value is also redacted without the prefix. Matching ignores case.
    """
    global _secret_re
    if not isinstance(value, str):
        raise TypeError(f"secret must be a str, got {type(value).__name__}")
    variants = {value}
    if value[:2].lower() == "0x":
        variants.add(value[2:])
    variants = {v for v in variants if len(v) >= MIN_SECRET_LEN}
    with _secrets_lock:
        if variants <= _secrets:
            return
        _secrets.update(variants)
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)


def _redact_kv(match: re.Match[str]) -> str:
    key = match.group("key")
    name = key.strip("\"' \t:=,").lower()
    if name.endswith(_NOT_SECRET_SUFFIXES):
        return match.group(0)
    for group in ("dq", "sq"):
        quoted = match.group(group)
        if quoted is not None:
            opening = quoted[:2] if quoted.startswith("b") else quoted[0]
            return f"{key}{opening}{REDACTED}{opening[-1]}"
    return key + REDACTED


def redact(text: str) -> str:
    """``text`` with registered secrets and secret-looking values replaced by ``***``."""
    pattern = _secret_re
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "-----BEGIN " in text:
        text = _PEM_RE.sub(REDACTED, text)
    text = _KV_RE.sub(_redact_kv, text)
    if "0x" in text or "0X" in text:
        text = _HEX_KEY_RE.sub(REDACTED, text)
    return text


_exc_formatter = logging.Formatter()


class RedactionFilter(logging.Filter):
    """Rewrites a record (message with args merged, exception and stack text) redacted.

    The record is changed in place, once, so every later handler sees only the
    redacted text; ``exc_info`` is replaced by the redacted ``exc_text``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_mmtui_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep the content, redacted, and do not raise
            message = f"{record.msg!r} (unformattable args: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _exc_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.__dict__["_mmtui_redacted"] = True
        return True


_REDACTION = RedactionFilter()


# -- handlers --------------------------------------------------------------------

_setup_lock = threading.RLock()
_installed: list[logging.Handler] = []  # by setup_logging; replaced on each call
_added: list[logging.Handler] = []  # by add_handler


def _with_redaction(handler: logging.Handler) -> logging.Handler:
    if not any(isinstance(f, RedactionFilter) for f in handler.filters):
        handler.addFilter(_REDACTION)
    return handler


def resolve_level(level: str | None) -> int:
    """The root level a run uses: ``$MMTUI_LOG_LEVEL``, else ``level``, else INFO;
    ``ValueError`` naming where a bad one came from."""
    env_level = os.environ.get(ENV_LEVEL, "").strip()
    if env_level:
        return parse_level(env_level, f"log level from ${ENV_LEVEL}")
    return parse_level(level if level is not None else "INFO")


def resolve_log_dir(log_dir: str | Path | None) -> Path:
    """The log directory a run uses: ``$MMTUI_LOG_DIR``, else ``log_dir``, else the
    per-user default."""
    env_dir = os.environ.get(ENV_DIR, "").strip()
    if env_dir:
        directory = Path(env_dir)
    elif log_dir is not None:
        directory = Path(log_dir)
    else:
        directory = default_log_dir()
    return directory.expanduser()


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file only its owner can read: each file (the first and every one
    a rollover starts) is created 0600, and an older, wider file is narrowed to 0600."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
        except OSError:  # not ours to change: log on, as before
            pass
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def file_log_error(level: str | None, log_dir: str | Path | None, source: object) -> str | None:
    """Set up a run's file log; the one-line error naming the config's ``logging`` key
    when it cannot be (a bad level, a directory that cannot be written), else None."""
    try:
        setup_logging(level, log_dir, console=False)
    except (ValueError, OSError) as exc:
        where = f"{source}: " if source else ""
        return f"config error: {where}key 'logging': {exc}"
    return None


def setup_logging(
    level: str | None = None,
    log_dir: str | Path | None = None,
    *,
    console: bool = False,
    file_level: str = "DEBUG",
    file_name: str | None = None,
) -> Path:
    """Configure the root logger; return the log file path. Safe to call again.

    ``MMTUI_LOG_LEVEL`` / ``MMTUI_LOG_DIR`` override ``level`` / ``log_dir``.
    ``level`` (default INFO) is the root and console level; ``file_level``
    filters the file further. A second call replaces the handlers of the first.
    ``file_name``: another file in the same dir (a console attached to a served core
    logs apart from the core, whose log is the main one).
    """
    root_level = resolve_level(level)
    file_threshold = parse_level(file_level, "file log level")
    directory = resolve_log_dir(log_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / (file_name or LOG_FILE_NAME)

    formatter = logging.Formatter(LOG_FORMAT)
    file_handler = PrivateRotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
    )
    file_handler.setLevel(file_threshold)
    handlers: list[logging.Handler] = [file_handler]
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(root_level)
        handlers.append(stream)
    for handler in handlers:
        handler.setFormatter(formatter)
        _with_redaction(handler)

    root = logging.getLogger()
    with _setup_lock:
        for old in _installed:
            root.removeHandler(old)
            old.close()
        _installed[:] = handlers
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(root_level)
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    return path


def add_handler(handler: logging.Handler) -> None:
    """Attach ``handler`` to the root logger with the redaction filter (e.g. the UI log pane)."""
    _with_redaction(handler)
    root = logging.getLogger()
    with _setup_lock:
        if handler not in _added:
            _added.append(handler)
        root.addHandler(handler)


def remove_handler(handler: logging.Handler) -> None:
    """Detach a handler attached with ``add_handler`` (the caller closes it)."""
    with _setup_lock:
        if handler in _added:
            _added.remove(handler)
        logging.getLogger().removeHandler(handler)


def reset_logging() -> None:
    """Remove everything ``setup_logging``/``add_handler`` attached; close our own handlers."""
    root = logging.getLogger()
    with _setup_lock:
        for handler in _installed:
            root.removeHandler(handler)
            handler.close()
        for handler in _added:
            root.removeHandler(handler)
        _installed.clear()
        _added.clear()


# -- UI ring buffer --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogLine:
    """One formatted log line for the UI."""

    ts_ms: int
    level: int
    name: str
    message: str

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class LogBuffer(logging.Handler):
    """Bounded, thread-safe ring buffer of recent log lines (newest last).

    Each record is formatted once, at emit; the oldest lines are dropped when
    full. The redaction filter is always installed.
    """

    def __init__(self, capacity: int = 5000, level: int = logging.NOTSET) -> None:
        if capacity < 1:
            raise ValueError(f"LogBuffer capacity must be >= 1, got {capacity}")
        super().__init__(level)
        self.capacity = capacity
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._total = 0
        self._dropped = 0
        self._buffer_lock = threading.Lock()
        _with_redaction(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = _exc_formatter.formatException(record.exc_info)
            if record.exc_text:
                message = f"{message}\n{record.exc_text}"
            if record.stack_info:
                message = f"{message}\n{record.stack_info}"
            line = LogLine(int(record.created * 1000), record.levelno, record.name, message)
        except Exception:
            self.handleError(record)
            return
        with self._buffer_lock:
            if len(self._lines) == self.capacity:
                self._dropped += 1
            self._lines.append(line)
            self._total += 1

    def add(self, line: LogLine) -> None:
        """A line formatted elsewhere (a served core's log, shown by an attached console)."""
        with self._buffer_lock:
            if len(self._lines) == self.capacity:
                self._dropped += 1
            self._lines.append(line)
            self._total += 1

    def records(self) -> list[LogLine]:
        """All buffered lines, oldest first."""
        with self._buffer_lock:
            return list(self._lines)

    def tail(self, count: int) -> list[LogLine]:
        """The newest ``count`` lines, oldest first (without copying the rest)."""
        with self._buffer_lock:
            newest = list(itertools.islice(reversed(self._lines), max(0, count)))
        newest.reverse()
        return newest

    def lines(self, min_level: int = logging.NOTSET) -> list[LogLine]:
        """Buffered lines at ``min_level`` or above, oldest first."""
        with self._buffer_lock:
            return [line for line in self._lines if line.level >= min_level]

    @property
    def total(self) -> int:
        """Lines ever emitted into the buffer."""
        return self._total

    @property
    def dropped(self) -> int:
        """Lines pushed out of the buffer by newer ones."""
        return self._dropped

    def clear(self) -> None:
        with self._buffer_lock:
            self._lines.clear()
