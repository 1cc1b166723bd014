"""Run ``mmtui`` command lines as separate processes that share one import of mmtui.

A test with dozens of command lines would spend most of its time importing
mmtui in each fresh interpreter. This script imports ``mmtui.cli`` once, then
forks one child per job: the child gets the job's environment (its own HOME),
working directory and stdout/stderr files, and runs ``mmtui.cli.main(argv)``
exactly as ``python -m mmtui.cli`` does (an exception escaping main prints its
traceback and exits 1). Its exit status, stdout and stderr are the job's result.

    python tests/cli_forks.py < jobs.json > results.json

jobs: ``[{"argv": [...], "env": {...}, "cwd": "...", "timeout": s}]``; results, in
order: ``[{"rc": int | null (killed at the timeout), "stdout": str, "stderr": str}]``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback

PARALLEL = 2


def _child(job: dict, out: int, err: int) -> None:
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    try:
        code = main(job["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(jobs: list[dict]) -> list[dict]:
    results: list[dict] = [{} for _ in jobs]
    running: dict[int, tuple[int, float, object, object]] = {}
    todo = list(enumerate(jobs))
    while todo or running:
        while todo and len(running) < PARALLEL:
            i, job = todo.pop(0)
            # closed when the child is reaped, below
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(job, out.fileno(), err.fileno())
            running[pid] = (i, time.monotonic() + job.get("timeout", 10.0), out, err)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            for child, (i, deadline, _, _) in list(running.items()):
                if time.monotonic() > deadline:
                    os.kill(child, signal.SIGKILL)
                    results[i]["killed"] = True
            time.sleep(0.005)
            continue
        i, _, out, err = running.pop(pid)
        rc = None if results[i].get("killed") else os.waitstatus_to_exitcode(status)
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read().decode("utf-8", "replace"))
            f.close()
        results[i] = {"rc": rc, "stdout": texts[0], "stderr": texts[1]}
    return results


if __name__ == "__main__":
    import importlib

    from mmtui.cli import main

    # Imported here only to be shared: main imports them when a command line needs them.
    # Nothing that changes the interpreter (eth_account, via py_ecc, raises the recursion
    # limit to 100000): a child must start as a fresh ``python -m mmtui.cli`` would.
    limit = sys.getrecursionlimit()
    for module in ("mmtui.startup_checks", "connectors.backpack.keys"):
        importlib.import_module(module)
    assert sys.getrecursionlimit() == limit, "a shared import changed the recursion limit"

    json.dump(run(json.load(sys.stdin)), sys.stdout)
