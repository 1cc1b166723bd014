"""Where a served core listens: a Unix domain socket (mode 0600) in a directory
only its user can enter (0700). No network listener, ever."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import platformdirs

SOCKET_NAME = "core.sock"
MAX_PATH = 100
"""sun_path holds 108 bytes on Linux, 104 on macOS: keep well under."""


class SocketError(OSError):
    """The socket path cannot be used; the message names it and why."""


def runtime_dir() -> Path:
    """The user's runtime dir (``$XDG_RUNTIME_DIR/mmtui``) when it exists, else the
    state dir (``~/.local/state/mmtui``)."""
    runtime = Path(platformdirs.user_runtime_dir("mmtui"))
    if runtime.parent.is_dir():
        return runtime
    return platformdirs.user_state_path("mmtui")


def default_socket_path() -> Path:
    return runtime_dir() / SOCKET_NAME


def private_dir(folder: Path) -> None:
    """Make ``folder`` (0700) or check that an existing one is ours, and make it 0700."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise SocketError(f"socket dir {folder}: owned by uid {info.st_uid}, not by us")
    if stat.S_IMODE(info.st_mode) != 0o700:
        folder.chmod(0o700)


def check_path(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_PATH:
        raise SocketError(f"socket path {path}: longer than {MAX_PATH} bytes (use --socket)")


def clear_stale(path: Path) -> None:
    """Remove a socket a dead server left; refuse when one is listening on it."""
    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise SocketError(f"socket path {path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise SocketError(f"socket path {path}: a core is already served there")


__all__ = ["SocketError", "check_path", "clear_stale", "default_socket_path", "private_dir"]
