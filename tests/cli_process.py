"""The real ``mmtui`` as a process a test starts and signals, in a folder of its own
(logs, state and config dirs there: nothing of the user's is read or written)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_mmtui(folder: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """``python -m mmtui.cli ARGS`` in ``folder`` with ``env`` on top of ours."""
    full = dict(os.environ)
    full.update(
        MMTUI_LOG_DIR=str(folder / "logs"),
        XDG_CONFIG_HOME=str(folder / "cfg"),
        XDG_STATE_HOME=str(folder / "state"),
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),  # this checkout's mmtui
    )
    full.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "mmtui.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        cwd=folder,
    )
