"""Read a venue key file: YAML, owner-only permissions, errors that quote no secret.

Loading reads a small local file: call it at start-up, or through
``asyncio.to_thread`` from a running loop.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any


class KeyFileError(Exception):
    """The key file is missing, unreadable, not a mapping, or readable by others."""


def read_key_file(path: str | Path, venue: str) -> dict[str, Any]:
    """The YAML mapping in ``path``; refuses a file that group or others can access."""
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"{venue} key file {path} does not exist") from None
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            f"{venue} key file {path} is accessible by group/others "
            f"(mode {stat.S_IMODE(mode):04o}); fix it with: chmod 600 {path}"
        )
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        # the YAML error may quote file content: keep only its class name
        raise KeyFileError(
            f"{venue} key file {path} could not be read ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise KeyFileError(f"{venue} key file {path} must hold a YAML mapping")
    return data
