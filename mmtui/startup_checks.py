"""What a start checks before it connects, for ``check-config`` and a run alike.

``check_start`` refuses, with one line naming the config file and the thing to
fix, what would otherwise stop a run later (or with a traceback): the log level,
the log directory and file, the journal file, and every real venue's keys (key
file mode, missing, a symlink to a wider file, a directory, a bad secret; or no
keys at all). It connects to nothing. The run calls it first, so a config that
``check-config`` passes is not refused by a start for any of these, and one it
refuses gets the same line from both.

It writes nothing that stays: a directory's writability is tried with a
temporary file, removed at once; an existing file is opened for appending, not
changed.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from pathlib import Path

from connectors.sim.world import SimWorld
from mmtui.config import Config, ConfigError, SimVenueConfig
from mmtui.config_modes import replay_data_problem
from mmtui.core.journal import SCHEMA_VERSION
from mmtui.logsetup import ENV_DIR, ENV_LEVEL, LOG_FILE_NAME, resolve_level, resolve_log_dir
from mmtui.session import default_journal_path
from mmtui.venue_factory import SessionError, venue_keys

_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_start(config: Config, source: Path) -> None:
    """Every check a start runs before connecting; ``ConfigError`` on the first problem."""

    def fail(where: str, problem: str) -> ConfigError:
        return ConfigError(f"config error: {source}: {where}: {problem}")

    level_from = f"${ENV_LEVEL}" if os.environ.get(ENV_LEVEL, "").strip() else "key 'logging.level'"
    try:
        resolve_level(config.logging.level)
    except ValueError as exc:
        raise fail(level_from, str(exc)) from None

    log_from = f"${ENV_DIR}" if os.environ.get(ENV_DIR, "").strip() else "key 'logging.dir'"
    problem = log_dir_problem(resolve_log_dir(config.logging.dir))
    if problem is not None:
        raise fail(log_from, problem)

    if config.journal.enabled:
        path = (config.journal.path or default_journal_path(config.mode)).expanduser()
        problem = journal_problem(path)
        if problem is not None:
            raise fail("key 'journal.path'", problem)

    if config.mode == "replay":
        found = replay_data_problem(config)
        if found is not None:
            raise fail(f"key '{found[0]}'", found[1])
        return  # the replay's venues are the data's: no sim, no keys

    sim_specs = config.sim_venue_specs()
    if sim_specs:
        try:  # what build_session makes of the sim: cheap, and it connects to nothing
            SimWorld(config.asset_specs(), sim_specs, seed=config.sim.seed)
        except (ValueError, ArithmeticError, KeyError) as exc:
            raise fail("key 'sim'", str(exc)) from None

    for name, venue in config.venues.items():
        if isinstance(venue, SimVenueConfig) or config.mode == "paper":
            continue  # paper: public data only, no keys
        try:
            venue_keys(name, venue)
        except SessionError as exc:  # "venue NAME: ..."
            raise ConfigError(f"config error: {source}: {exc}") from None


def log_dir_problem(directory: Path) -> str | None:
    """Why a run could not log to ``directory``/mmtui.log, or None."""
    problem = _dir_problem(directory, "log directory")
    if problem is not None:
        return problem
    log_file = directory / LOG_FILE_NAME
    if not log_file.exists():
        return None
    if not log_file.is_file():
        return f"log file {log_file} is not a regular file"
    try:
        os.close(os.open(log_file, os.O_WRONLY | os.O_APPEND))
    except OSError as exc:
        return f"log file {log_file} cannot be written ({exc.strerror})"
    return None


def journal_problem(path: Path) -> str | None:
    """Why a run could not keep its journal at ``path`` (an SQLite file), or None."""
    problem = _dir_problem(path.parent, "journal directory")
    if problem is not None or not (path.exists() or path.is_symlink()):
        return problem
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"journal {path} cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return f"journal {path} is a directory, not a journal file"
    if not stat.S_ISREG(mode):
        return f"journal {path} is not a regular file"
    try:
        with path.open("r+b") as f:  # opened for writing, nothing written
            header = f.read(100)
    except OSError as exc:
        return f"journal {path} cannot be written ({exc.strerror})"
    if not header:
        return None  # an empty file becomes a new journal
    if not header.startswith(_SQLITE_MAGIC):
        return f"journal {path} is not an SQLite database (use another path or move it away)"
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"journal {path} is not a readable SQLite database ({exc})"
    if version > SCHEMA_VERSION:
        return (
            f"journal {path} has schema version {version}; this build knows {SCHEMA_VERSION} "
            "(use a newer mmtui or another journal file)"
        )
    return None


def _dir_problem(directory: Path, what: str) -> str | None:
    """Why files cannot be created in ``directory`` (made if missing), or None."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            return f"{what} {directory}: {existing} is a broken symlink"
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == directory else f" ({existing} is not a directory)"
        return f"{what} {directory} is not a directory{where}"
    try:
        fd, probe = tempfile.mkstemp(prefix=".mmtui-check-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if existing == directory:
            return f"{what} {directory} cannot be written ({exc.strerror})"
        return f"{what} {directory} cannot be created ({exc.strerror} in {existing})"
    return None
