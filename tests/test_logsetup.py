"""Logging setup: redaction everywhere, env overrides, rotation, idempotence, the UI buffer."""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from mmtui.logsetup import (
    BACKUP_COUNT,
    LOG_FORMAT,
    MAX_BYTES,
    LogBuffer,
    RedactionFilter,
    add_handler,
    default_log_dir,
    redact,
    register_secret,
    remove_handler,
    reset_logging,
    setup_logging,
)

log = logging.getLogger("mmtui.test")

# (text logged, the part that must never appear)
PATTERN_CASES = [
    ("signing with api_secret=Zx9-secret-Q7 now", "Zx9-secret-Q7"),
    ('payload {"secret": "json-secret-value", "n": 1}', "json-secret-value"),
    (
        "config {'api_key_private_key': 'lighter-priv-123456', 'api_key_index': 3}",
        "lighter-priv-123456",
    ),
    ("api_key: AKIA-PUBLIC-ISH-99 loaded", "AKIA-PUBLIC-ISH-99"),
    ("private_key=deadbeefdeadbeef", "deadbeefdeadbeef"),
    ("headers {'X-Signature': 'sig-abcdef', 'X-API-Key': 'hdr-key-123'}", "sig-abcdef"),
    ("headers {'X-Signature': 'sig-abcdef', 'X-API-Key': 'hdr-key-123'}", "hdr-key-123"),
    ("Authorization: Bearer eyJhbGciOi.payload.sig then", "eyJhbGciOi.payload.sig"),
    ("[('Authorization', 'Basic dXNlcjpwYXNz')]", "dXNlcjpwYXNz"),
    (
        "eth key 0x" + "4c0883a69102937d6231471b5dbb6204fe512961708279f2e3c8a5e6b7a8c9d0" + " used",
        "4c0883a69102937d6231471b5dbb6204fe512961708279f2e3c8a5e6b7a8c9d0",
    ),
    (
        "key file:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk\n"
        "-----END EC PRIVATE KEY-----\nend",
        "MHcCAQEEIBkg4LVWM9nuwNSk",
    ),
]


@pytest.fixture(autouse=True)
def clean_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MMTUI_LOG_LEVEL", raising=False)
    monkeypatch.delenv("MMTUI_LOG_DIR", raising=False)
    root = logging.getLogger()
    level = root.level
    noisy = {n: logging.getLogger(n).level for n in ("asyncio", "websockets", "aiohttp", "urllib3")}
    yield
    reset_logging()
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


def our_file_handlers() -> list[logging.handlers.RotatingFileHandler]:
    return [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.handlers.RotatingFileHandler)
    ]


def read_log(path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def test_secrets_never_reach_the_file_or_a_buffer(tmp_path: Path) -> None:
    secret = "Registered-S3cret-xyz"
    register_secret(secret)
    path = setup_logging("DEBUG", tmp_path)
    buffer = LogBuffer()
    add_handler(buffer)

    log.info("connecting with %s", secret)
    log.info("creds %r", {"key": secret})
    log.debug("in text " + secret.lower())  # case variants too
    for text, _ in PATTERN_CASES:
        log.info(text)
    try:
        raise RuntimeError(f"venue rejected key {secret} api_secret=in-exception-42")
    except RuntimeError:
        log.exception("order failed for %s", "mm-abc-1")
    log.warning("with stack %s", secret, stack_info=True)

    text = read_log(path)
    buffered = "\n".join(line.message for line in buffer.records())
    for where in (text, buffered):
        assert secret not in where and secret.lower() not in where
        assert "in-exception-42" not in where
        for _, hidden in PATTERN_CASES:
            assert hidden not in where, hidden
        # context around the secrets is kept
        assert "connecting with ***" in where
        assert "order failed for mm-abc-1" in where
        assert "Traceback (most recent call last)" in where
        assert "RuntimeError: venue rejected key ***" in where
        assert "api_key_index': 3" in where  # an index is not a secret
    assert "with stack ***" in text and "Stack (most recent call last)" in text


def test_unformattable_args_neither_raise_nor_leak(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Args-Secret-4567"
    register_secret(secret)
    path = setup_logging(log_dir=tmp_path)
    # Only our handler: pytest's own capture handler would choke on the bad args first.
    isolated = logging.getLogger("mmtui.test.badargs")
    isolated.propagate = False
    isolated.addHandler(our_file_handlers()[0])
    try:
        isolated.warning("two placeholders %s %s but one arg", secret)
    finally:
        isolated.handlers.clear()
        isolated.propagate = True
    text = read_log(path)
    assert "two placeholders" in text and "unformattable args" in text
    assert secret not in text
    assert "Logging error" not in capsys.readouterr().err  # handled, no error dump


def test_handler_added_later_gets_the_filter(tmp_path: Path) -> None:
    secret = "Later-Handler-Secret"
    register_secret(secret)
    setup_logging(log_dir=tmp_path)
    stream = logging.handlers.BufferingHandler(100)
    add_handler(stream)
    assert any(isinstance(f, RedactionFilter) for f in stream.filters)
    log.info("token %s", secret)
    try:
        raise KeyError(secret)
    except KeyError:
        log.exception("lookup")
    assert [r.getMessage() for r in stream.buffer] == ["token ***", "lookup"]
    failed = stream.buffer[1]
    # the raw exception is gone: no later handler can re-render it unredacted
    assert failed.exc_info is None and failed.exc_text is not None
    assert "KeyError: '***'" in failed.exc_text and secret not in failed.exc_text
    remove_handler(stream)
    assert stream not in logging.getLogger().handlers


def test_console_handler_redacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    register_secret("Console-Secret-77")
    setup_logging("INFO", tmp_path, console=True)
    log.info("console Console-Secret-77 line")
    err = capsys.readouterr().err
    assert "INFO mmtui.test: console *** line" in err


def test_env_overrides_level_and_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMTUI_LOG_LEVEL", "debug")
    monkeypatch.setenv("MMTUI_LOG_DIR", str(tmp_path / "from-env"))
    path = setup_logging("WARNING", tmp_path / "from-arg")
    assert path == tmp_path / "from-env" / "mmtui.log"
    assert logging.getLogger().level == logging.DEBUG
    log.debug("debug line reaches the file")
    assert "debug line reaches the file" in read_log(path)
    assert not (tmp_path / "from-arg").exists()


def test_arguments_and_defaults_without_env(tmp_path: Path) -> None:
    path = setup_logging(None, tmp_path)
    assert path == tmp_path / "mmtui.log"
    assert logging.getLogger().level == logging.INFO
    log.debug("hidden debug")
    log.info("shown info")
    text = read_log(path)
    assert "shown info" in text and "hidden debug" not in text

    setup_logging("error", tmp_path, file_level="CRITICAL")
    assert logging.getLogger().level == logging.ERROR
    assert our_file_handlers()[0].level == logging.CRITICAL


def test_file_handler_parameters_and_format(tmp_path: Path) -> None:
    path = setup_logging("INFO", tmp_path)
    (handler,) = our_file_handlers()
    assert handler.maxBytes == MAX_BYTES == 10 * 1024 * 1024
    assert handler.backupCount == BACKUP_COUNT == 5
    assert handler.encoding == "utf-8"
    assert Path(handler.baseFilename) == path
    assert handler.formatter is not None and handler.formatter._fmt == LOG_FORMAT
    for name in ("asyncio", "websockets", "aiohttp", "urllib3"):
        assert logging.getLogger(name).level == logging.WARNING
    log.info("prix en € — ok")
    line = read_log(path).splitlines()[-1]
    assert line.endswith("INFO mmtui.test: prix en € — ok")
    assert line[:4].isdigit()  # asctime first


def test_rotates_past_ten_mebibytes(tmp_path: Path) -> None:
    with (tmp_path / "mmtui.log").open("wb") as f:
        f.truncate(MAX_BYTES - 50)  # an almost full log from an earlier run (sparse: fast)
    path = setup_logging("INFO", tmp_path)
    log.info("this line does not fit any more: %s", "x" * 100)
    text = read_log(path)
    assert (tmp_path / "mmtui.log.1").stat().st_size == MAX_BYTES - 50
    assert "this line does not fit any more" in text and len(text) < 1000


def test_log_files_are_created_owner_only(tmp_path: Path) -> None:
    """Under the usual umask (022) the log, every file a rollover starts, and an older
    log left world-readable are 0600; a new log directory is 0700."""
    old_umask = os.umask(0o022)
    try:
        (tmp_path / "old").mkdir()
        (tmp_path / "old" / "mmtui.log").write_text("an earlier run\n")
        (tmp_path / "old" / "mmtui.log").chmod(0o644)
        narrowed = setup_logging("INFO", tmp_path / "old")
        assert stat.S_IMODE(narrowed.stat().st_mode) == 0o600

        path = setup_logging("INFO", tmp_path / "new")
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        (handler,) = our_file_handlers()
        log.info("before the rollover")
        handler.doRollover()
        log.info("after the rollover")
        for name in ("mmtui.log", "mmtui.log.1"):
            assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
        assert "after the rollover" in read_log(path)
    finally:
        os.umask(old_umask)


def test_idempotent(tmp_path: Path) -> None:
    first = setup_logging("INFO", tmp_path / "a")
    second = setup_logging("INFO", tmp_path / "b")
    third = setup_logging("INFO", tmp_path / "b")
    assert second == third
    handlers = our_file_handlers()
    assert len(handlers) == 1 and Path(handlers[0].baseFilename) == second
    log.info("exactly once")
    assert read_log(second).count("exactly once") == 1
    assert "exactly once" not in read_log(first)


def test_bad_level_names_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'LOUD'"):
        setup_logging("LOUD", tmp_path)
    with pytest.raises(ValueError, match="'verbose'"):
        setup_logging("INFO", tmp_path, file_level="verbose")
    monkeypatch.setenv("MMTUI_LOG_LEVEL", "chatty")
    with pytest.raises(ValueError, match=r"MMTUI_LOG_LEVEL.*'chatty'"):
        setup_logging(None, tmp_path)
    assert our_file_handlers() == []  # nothing half-installed


def test_default_log_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_log_dir() == platformdirs.user_state_path("mmtui") / "logs"
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
        assert default_log_dir() == tmp_path / "mmtui" / "logs"


def test_short_secrets_are_ignored_and_hex_prefix_variants_covered() -> None:
    register_secret("abc")
    assert redact("abc abcdef") == "abc abcdef"
    register_secret("0xFeedC0ffee99")
    assert redact("raw feedc0ffee99 and 0XFEEDC0FFEE99") == "raw *** and ***"


def test_redaction_is_linear_on_hostile_input() -> None:
    hostile = [
        "secret" * 50_000,
        "a" * 300_000,
        '"secret": "' + "x" * 300_000,
        "-----BEGIN X-----" * 20_000,
        "api_key=1 " * 30_000,
        "x.secret-" * 30_000 + "=",
    ]
    started = time.monotonic()
    for text in hostile:
        redact(text)
    # linear: ~0.3 s here; a backtracking regex takes minutes on these
    assert time.monotonic() - started < 20


def test_log_buffer_is_bounded_and_counts_drops() -> None:
    buffer = LogBuffer(capacity=3)
    logger = logging.getLogger("mmtui.test.buffer")
    logger.propagate = False
    logger.addHandler(buffer)
    logger.setLevel(logging.DEBUG)
    try:
        for i, level in enumerate(
            [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.INFO]
        ):
            logger.log(level, "line %d", i)
    finally:
        logger.removeHandler(buffer)
        logger.propagate = True
    lines = buffer.records()
    assert [line.message for line in lines] == ["line 2", "line 3", "line 4"]  # newest last
    assert buffer.total == 5 and buffer.dropped == 2
    assert [line.message for line in buffer.lines(logging.WARNING)] == ["line 2", "line 3"]
    assert lines[1].level == logging.ERROR and lines[1].level_name == "ERROR"
    assert lines[0].name == "mmtui.test.buffer"
    assert abs(lines[0].ts_ms / 1000 - time.time()) < 3600
    with pytest.raises(ValueError):
        LogBuffer(capacity=0)


def test_log_buffer_redacts_on_its_own_and_keeps_tracebacks() -> None:
    register_secret("Buffer-Only-Secret")
    buffer = LogBuffer(capacity=10)
    record = logging.getLogger("x").makeRecord(
        "x", logging.ERROR, __file__, 1, "boom %s", ("Buffer-Only-Secret",), None
    )
    try:
        raise ValueError("inner Buffer-Only-Secret")
    except ValueError:
        record.exc_info = sys.exc_info()
    buffer.handle(record)
    (line,) = buffer.records()
    assert line.message.startswith("boom ***\nTraceback")
    assert "ValueError: inner ***" in line.message
    assert "Buffer-Only-Secret" not in line.message


def test_log_buffer_thread_safe() -> None:
    buffer = LogBuffer(capacity=500)
    logger = logging.getLogger("mmtui.test.threads")
    logger.propagate = False
    logger.addHandler(buffer)
    logger.setLevel(logging.INFO)

    def spam(n: int) -> None:
        for i in range(2000):
            logger.info("t%d %d", n, i)

    threads = [threading.Thread(target=spam, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        logger.removeHandler(buffer)
        logger.propagate = True
    assert buffer.total == 8000
    assert len(buffer.records()) == 500
    assert buffer.dropped == 7500
