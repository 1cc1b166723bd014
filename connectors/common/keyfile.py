"""Read a venue key file: YAML, owner-only permissions, errors that quote no secret.

Loading reads a small local file: call it at start-up, or through
``asyncio.to_thread`` from a running loop.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

MAX_BYTES = 64 * 1024  # a key file holds a few keys


class KeyFileError(Exception):
    """The key file is missing, unreadable, not a mapping, or readable by others."""


def read_key_file(path: str | Path, venue: str) -> dict[str, Any]:
    """The YAML mapping in ``path``; refuses anything but a small regular file (a symlink
    to one is followed) that only its owner can access."""
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"{venue} key file {path} does not exist") from None
    except OSError as exc:  # a symlink loop, a path through a file, no permission
        raise KeyFileError(f"{venue} key file {path} could not be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise KeyFileError(f"{venue} key file {path} is {kind}")
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        link = f" (a link to {path.resolve()})" if path.is_symlink() else ""
        raise KeyFileError(
            f"{venue} key file {path}{link} is accessible by group/others "
            f"(mode {stat.S_IMODE(mode):04o}); fix it with: chmod 600 {path}"
        )
    import yaml

    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise KeyFileError(f"{venue} key file {path} is larger than {MAX_BYTES} bytes")
        data = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        # the YAML error may quote file content: keep only its class name
        raise KeyFileError(
            f"{venue} key file {path} could not be read ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise KeyFileError(f"{venue} key file {path} must hold a YAML mapping")
    return data
