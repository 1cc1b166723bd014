"""Every kind of broken config, through the real command line: ``mmtui check-config FILE``
and a run (``mmtui --headless --config FILE --duration 1``) each exit 2 with the same
single line on stderr, naming the file, and no traceback.

Both command lines of every case run as their own processes with a temp HOME:
``cli_forks.py`` imports mmtui once and forks a child per command line that runs
``mmtui.cli.main`` as ``python -m mmtui.cli`` would (``test_forks_match_fresh_processes``
checks a few against fresh interpreters).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORKS = ROOT / "tests" / "cli_forks.py"
LOOPBACK = "'http://127.0.0.1:9'"
WS = "'ws://127.0.0.1:9'"
# The 342-byte "billion laughs": nine levels of nine aliases, 9^9 strings expanded.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{','.join([f'*{prev}'] * 9) if prev else ','.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
).replace("lol", '"lol"')
assert len(ALIAS_BOMB) == 342


@dataclass(frozen=True)
class Case:
    id: str
    config: str | bytes | None  # None: the test's setup makes config.yaml (or not)
    expect: str  # part of the one line on stderr
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def _venue(kind: str, key_file: str | None = "key.yaml") -> str:
    urls = {
        "backpack": f"rest_url: {LOOPBACK}, ws_url: {WS}",
        "lighter": f"url: {LOOPBACK}, ws_url: {WS}",
        "grvt": f"base_url: {LOOPBACK}, ws_url: {WS}",
    }[kind]
    key = f", key_file: {key_file}" if key_file else ""
    return f"venues:\n  v: {{type: {kind}, {urls}{key}}}\n"


def _key(text: str, mode: int = 0o600, name: str = "key.yaml") -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        (d / name).write_text(text)
        (d / name).chmod(mode)

    return setup


def _symlink_to_wide_key(d: Path) -> None:
    _key("api_secret: x\n", 0o644, "real.yaml")(d)
    (d / "key.yaml").symlink_to(d / "real.yaml")


def _key_dir(d: Path) -> None:
    (d / "key.yaml").mkdir(mode=0o700)


def _file(name: str, content: bytes = b"not a directory\n") -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        (d / name).write_bytes(content)

    return setup


def _dir(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir(parents=True)


def _journal_version(version: int) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        conn = sqlite3.connect(d / "j.sqlite")
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()

    return setup


def _config_dir(d: Path) -> None:
    (d / "config.yaml").mkdir()


def _config_fifo(d: Path) -> None:
    os.mkfifo(d / "config.yaml")


def _config_loop(d: Path) -> None:
    (d / "config.yaml").symlink_to(d / "config.yaml")


DEEP = 20_000
STRATEGY = "{name: a, kind: avellaneda_stoikov, venue: sim, symbol: BTC-PERP, params: %s}"
BP = _venue("backpack")
CASES = [
    # -- duplicate keys: an error naming both lines, never "last wins" --
    Case(
        "dup-risk-block",
        "risk:\n  max_loss: 500\nrisk:\n  max_loss: 50000\n",
        "line 3, column 1: duplicate key 'risk' (first at line 1)",
    ),
    Case(
        "dup-nested",
        "risk:\n  max_loss: 500\n  max_loss: 50000\n",
        "line 3, column 3: duplicate key 'max_loss' (first at line 2)",
    ),
    Case("dup-flow", "risk: {max_loss: 1, max_loss: 2}\n", "duplicate key 'max_loss'"),
    Case(
        "dup-in-list-item",
        "strategies:\n  - name: a\n    kind: avellaneda_stoikov\n    venue: sim\n"
        "    symbol: BTC-PERP\n    venue: sim\n",
        "line 6, column 5: duplicate key 'venue' (first at line 4)",
    ),
    Case("dup-quoted", "'risk': {}\nrisk: {}\n", "duplicate key 'risk' (first at line 1)"),
    # -- aliases and anchors --
    Case("alias-bomb-342-bytes", ALIAS_BOMB, "more than 50000 values (aliases expanded)"),
    Case("alias-contains-itself", "risk: &a [*a]\n", "an alias that contains itself"),
    Case(
        "alias-deep-chain",
        "".join(
            f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]\n" if i else "a0: &a0 [1]\n"
            for i in range(120)  # 1,200 levels expanded: a RecursionError unchecked
        ),
        "nested deeper than 32 levels (through aliases)",
    ),
    Case(
        "alias-too-many",
        "venues:\n  sim:\n    type: sim\n    symbols: [&x BTC-PERP, "
        + ", ".join(["*x"] * 1001)
        + "]\n",
        "more than 1000 aliases",
    ),
    Case("alias-undefined", "risk: *nowhere\n", "found undefined alias"),
    Case("anchor-twice", "a: &x 1\nb: &x 2\n", "duplicate anchor"),
    # -- encoding and characters --
    Case(
        "non-utf8-byte",
        b"mode: sim\nrisk:\n  max_loss: \xff500\n",
        "line 3, column 13: not UTF-8 text (byte 0xff)",
    ),
    Case("latin-1", "mode: sim\n# caf\xe9\n".encode("latin-1"), "line 2, column 6: not UTF-8"),
    Case("utf-16", "mode: sim\n".encode("utf-16"), "line 1, column 1: not UTF-8 text (byte 0xff)"),
    Case("nul-byte", "mode: sim\nrisk: {max_loss: 5\x00}\n", "line 2, column 19: character #x0000"),
    # -- nesting --
    Case("deep-flow-sequences", "a: " + "[" * DEEP + "]" * DEEP + "\n", "nested deeper than 32"),
    Case(
        "deep-flow-mappings",
        "a: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n",
        "nested deeper than 32",
    ),
    Case(
        "deep-block",
        "".join(" " * i + f"k{i}:\n" for i in range(600)) + " " * 600 + "1\n",
        "nested deeper than 32",
    ),
    # -- numbers --
    Case(
        "int-5000-digits",
        "risk:\n  max_loss: " + "9" * 5000 + "\n",
        "line 2, column 13: a number of 5000 characters (at most 48)",
    ),
    Case(
        "quoted-5000-digits", f"risk:\n  max_loss: '{'9' * 5000}'\n", "a number of 5000 characters"
    ),
    Case("exponent-1e999990", "risk:\n  max_loss: 1e999990\n", "'1e999990' is out of range"),
    Case(
        "exponent-tiny-negative",
        "venues:\n  sim: {type: sim, maker_fee: -1e-999990}\n",
        "'-1e-999990' is out of range",
    ),
    Case("exponent-tiny", "risk:\n  price_band_pct: 1e-999990\n", "is out of range"),
    Case("float-overflow", "risk:\n  max_orders_per_second: 1.0e+999\n", "out of range"),
    Case("float-inf", "sim:\n  speed: .inf\n", "'.inf' is not a finite number"),
    Case("float-nan", "risk:\n  max_orders_per_second: .nan\n", "'.nan' is not a finite number"),
    Case("string-inf-in-float", "sim:\n  speed: 'inf'\n", "key 'sim.speed': not a finite number"),
    Case("hex-int-huge", "sim:\n  seed: 0x" + "f" * 100 + "\n", "a number of 102 characters"),
    Case(
        "params-huge-exponent",
        f"strategies:\n  - {STRATEGY % '{gamma: 1e999990}'}\n",
        "is out of range",
    ),
    Case(
        "params-inf",
        f"strategies:\n  - {STRATEGY % '{gamma: inf}'}\n",
        "key 'strategies.0.params.gamma': not a finite number",
    ),
    Case(
        "sizes-far-apart",
        "sim:\n  assets:\n    BTC: {start_price: 1, tick_size: 1, step_size: 1e-30, "
        "min_size: 1e30}\n",
        "key 'sim.assets.BTC': min_size",
    ),
    Case(
        "env-5000-digits",
        "mode: sim\n",
        "MMTUI_RISK__MAX_LOSS: a number of 5000 characters",
        env={"MMTUI_RISK__MAX_LOSS": "9" * 5000},
    ),
    Case(
        "env-huge-exponent",
        "mode: sim\n",
        "MMTUI_SIM__SPEED: '1e999' is out of range",
        env={"MMTUI_SIM__SPEED": "1e999"},
    ),
    # -- what a start builds: the sim, the rate limiters --
    Case("sim-without-assets", "sim:\n  assets: {}\n", "a sim venue needs at least one asset"),
    Case(
        "rate-limit-unservable",
        "venues:\n  sim: {type: sim, rate_limit: {capacity: 10, weights: {place: 11}}}\n",
        "key 'venues.sim.rate_limit': 'place' has weight 11, above the bucket ceiling 10",
    ),
    # -- empty and shapeless --
    Case("empty-file", "", "the file has no settings (empty)"),
    Case("only-comments", "# nothing here\n\n# yet\n", "the file has no settings"),
    Case("only-document-marker", "---\n", "the file has no settings"),
    Case("null-document", "~\n", "the file has no settings"),
    Case("over-256-kib", "mode: sim\n" + "# padding\n" * 27_000, "larger than 256 KiB"),
    Case(
        "too-many-values",
        "venues:\n  sim:\n    symbols: [" + "x," * 50_001 + "]\n",
        "more than 50000 values",
    ),
    Case("two-documents", "mode: sim\n---\nmode: live\n", "expected a single document"),
    Case("top-level-list", "- 1\n- 2\n", "the top level must be a mapping, not list"),
    Case("top-level-scalar", "hello\n", "the top level must be a mapping, not str"),
    Case("syntax-unclosed", "risk: [1, 2\n", "invalid YAML"),
    Case("tab-indent", "risk:\n\tmax_loss: 5\n", "invalid YAML"),
    Case(
        "python-tag",
        "risk: !!python/object/apply:os.system ['true']\n",
        "could not determine a constructor",
    ),
    Case("unhashable-key", "? [a, b]\n: 1\n", "unhashable key"),
    Case("unknown-key", "risk:\n  max_los: 5\n", "key 'risk.max_los': Extra inputs"),
    Case(
        "secret-in-config",
        "venues:\n  sim: {type: sim, api_secret: abc}\n",
        "secrets do not belong",
    ),
    Case("wrong-type", "risk:\n  max_loss: lots\n", "key 'risk.max_loss'"),
    Case("config-is-a-directory", None, "is a directory, not a config file", _config_dir),
    Case("config-missing", None, "file not found"),
    Case("config-is-a-fifo", None, "is not a regular file", _config_fifo),
    Case(
        "config-symlink-loop", None, "cannot read (Too many levels of symbolic links)", _config_loop
    ),
    # -- key files: every check a start runs, without connecting --
    Case(
        "key-file-0644",
        BP,
        "is accessible by group/others (mode 0644)",
        _key("api_secret: x\n", 0o644),
    ),
    Case("key-file-missing", BP, "Backpack key file key.yaml does not exist"),
    Case("key-file-symlink-to-0644", BP, "(a link to", _symlink_to_wide_key),
    Case("key-file-is-a-directory", BP, "Backpack key file key.yaml is a directory", _key_dir),
    Case(
        "key-bad-secret", BP, "api_secret is not valid base64", _key("api_secret: 'not base64!'\n")
    ),
    Case("key-file-not-a-mapping", BP, "must hold a YAML mapping", _key("- a\n")),
    Case("key-file-field-missing", BP, "needs a string field api_secret", _key("api_key: x\n")),
    Case(
        "key-file-huge-number",
        _venue("lighter"),
        "could not be read (ValueError)",
        _key("account_index: " + "9" * 5000 + "\n"),
    ),
    Case(
        "key-lighter-bad-private-key",
        _venue("lighter"),
        "must be 40 bytes of hex",
        _key("account_index: 1\napi_key_index: 3\napi_private_key: '0x1234'\n"),
    ),
    Case(
        "key-grvt-bad-private-key",
        _venue("grvt"),
        "must be 32 bytes of hex",
        _key("api_key: k\ntrading_account_id: 1\nprivate_key: '0xzz'\n"),
    ),
    Case("keys-none", _venue("backpack", None), "venue v: no Backpack keys"),
    Case(
        "keys-env-bad-secret",
        _venue("backpack", None),
        "api_secret is not valid base64",
        env={"BACKPACK_API_SECRET": "garbage!"},
    ),
    # -- logging --
    Case("log-level-bad", "logging:\n  level: LOUD\n", "key 'logging.level': invalid log level"),
    Case(
        "log-level-bad-env",
        "mode: sim\n",
        "$MMTUI_LOG_LEVEL: invalid log level",
        env={"MMTUI_LOG_LEVEL": "LOUD"},
    ),
    Case(
        "log-dir-is-a-file",
        "logging:\n  dir: afile\n",
        "log directory afile is not a directory",
        _file("afile"),
    ),
    Case(
        "log-dir-under-a-file",
        "logging:\n  dir: afile/logs\n",
        "(afile is not a directory)",
        _file("afile"),
    ),
    Case(
        "log-dir-unwritable",
        "logging:\n  dir: /sys/mmtui-logs\n",
        "log directory /sys/mmtui-logs cannot be created",
    ),
    Case(
        "log-file-is-a-directory",
        "logging:\n  dir: logs\n",
        "is not a regular file",
        _dir("logs/mmtui.log"),
    ),
    Case(
        "log-dir-env-is-a-file",
        "mode: sim\n",
        "$MMTUI_LOG_DIR: log directory",
        _file("afile"),
        env={"MMTUI_LOG_DIR": "afile"},
    ),
    # -- journal --
    Case(
        "journal-dir-unwritable",
        "journal:\n  path: /sys/mmtui-journal.sqlite\n",
        "journal directory /sys cannot be written",
    ),
    Case(
        "journal-dir-uncreatable",
        "journal:\n  path: /sys/mmtui/journal.sqlite\n",
        "journal directory /sys/mmtui cannot be created",
    ),
    Case(
        "journal-not-a-database",
        "journal:\n  path: j.sqlite\n",
        "is not an SQLite database",
        _file("j.sqlite", b"hello, not sqlite\n"),
    ),
    Case(
        "journal-is-a-directory", "journal:\n  path: j.sqlite\n", "is a directory", _dir("j.sqlite")
    ),
    Case(
        "journal-under-a-file",
        "journal:\n  path: afile/j.sqlite\n",
        "journal directory afile is not a directory",
        _file("afile"),
    ),
    Case(
        "journal-schema-too-new",
        "journal:\n  path: j.sqlite\n",
        "has schema version 99",
        _journal_version(99),
    ),
    Case(
        "journal-corrupt",
        "journal:\n  path: j.sqlite\n",
        "is not a readable SQLite database",
        _file("j.sqlite", b"SQLite format 3\x00" + b"\x00" * 4080),
    ),
]


def _env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MMTUI_", "BACKPACK_", "LIGHTER_", "GRVT_", "XDG_"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
    )
    env.update(extra)
    return env


def _prepare(case: Case, d: Path) -> Path:
    (d / "home").mkdir(parents=True)
    path = d / "config.yaml"
    if isinstance(case.config, bytes):
        path.write_bytes(case.config)
    elif case.config is not None:
        path.write_text(case.config, encoding="utf-8")
    if case.setup is not None:
        case.setup(d)
    return path


def _commands(path: Path) -> tuple[list[str], list[str]]:
    return (["check-config", str(path)], ["--headless", "--config", str(path), "--duration", "1"])


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict, dict]]:
    base = tmp_path_factory.mktemp("broken-configs")
    jobs, paths = [], {}
    for case in CASES:
        d = base / case.id
        path = paths[case.id] = _prepare(case, d)
        for argv in _commands(path):
            jobs.append({"argv": argv, "env": _env(d / "home", case.env), "cwd": str(d)})
    done = subprocess.run(
        [sys.executable, str(FORKS)],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    return {
        case.id: (paths[case.id], results[2 * i], results[2 * i + 1])
        for i, case in enumerate(CASES)
    }


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES) == 81


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_config_is_one_line_exit_2_from_check_and_run(
    case: Case, verdicts: dict[str, tuple[Path, dict, dict]]
) -> None:
    path, check, run = verdicts[case.id]
    for name, result in (("check-config", check), ("run", run)):
        assert result["rc"] == 2, f"{name}: exit {result['rc']}\n{result['stderr'][-2000:]}"
        assert "Traceback" not in result["stderr"], f"{name}:\n{result['stderr'][-2000:]}"
        lines = result["stderr"].splitlines()
        assert len(lines) == 1, f"{name}: {len(lines)} lines\n{result['stderr'][-2000:]}"
        assert result["stdout"] == "", f"{name}: {result['stdout'][-500:]}"
    line = check["stderr"].strip()
    assert run["stderr"].strip() == line, "check-config and the run disagree"
    assert line.startswith(f"config error: {path}: "), line
    assert case.expect in line, line


@pytest.mark.parametrize(
    "case_id",
    [
        "dup-risk-block",
        "deep-flow-sequences",
        "alias-bomb-342-bytes",
        "key-file-0644",
        "journal-corrupt",
    ],
)
def test_forks_match_fresh_processes(
    case_id: str, tmp_path: Path, verdicts: dict[str, tuple[Path, dict, dict]]
) -> None:
    """The forked children give what a fresh ``python -m mmtui.cli`` gives."""
    case = next(c for c in CASES if c.id == case_id)
    path = _prepare(case, tmp_path)
    forked = verdicts[case_id]
    for argv, result in zip(_commands(path), forked[1:], strict=True):
        fresh = subprocess.run(
            [sys.executable, "-m", "mmtui.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(tmp_path / "home", case.env),
            cwd=tmp_path,
        )
        assert fresh.returncode == result["rc"] == 2
        assert fresh.stderr.replace(str(tmp_path), "D") == result["stderr"].replace(
            str(forked[0].parent), "D"
        )
