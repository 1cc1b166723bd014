"""The ``mmtui`` command.

    mmtui [--config FILE]                 the console (embedded sim by default)
    mmtui --headless [--duration S] [--speed X] [--json]
    mmtui serve [--config FILE] [--socket PATH]   the core headless, with a local control socket
    mmtui serve --stop [--socket PATH]    the served core's safe shutdown; prints its summary
    mmtui attach [--socket PATH]          the console on a served core (q detaches)
    mmtui check-config FILE               every check a start runs, without connecting
    mmtui emulate backpack|lighter [--port P] [--dir D]   a loopback venue to rehearse against
    mmtui backtest --data DIR --config FILE [--out DIR]  strategies on recorded data + report
    mmtui record --venue V --symbols A,B --out DIR        public books + trades to files

Exit codes: 0 ok, 1 the run ended badly (orders left open or unverified at a venue
that did not answer, a FAIL line in the shutdown report — a journal that could not
write every row is one), 2 bad input (config, arguments).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mmtui import gc_policy
from mmtui.config import Config, ConfigError, load_config
from mmtui.logsetup import file_log_error, setup_logging

log = logging.getLogger("mmtui.cli")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _speed(text: str) -> float | None:
    if text.lower() in ("max", "inf", "fast"):
        return None
    return _positive_float(text)


SUBCOMMANDS = """\
subcommands:
  mmtui serve [--config FILE] [--socket PATH] [--stop]
                                the core headless behind a local socket (0600); --stop
                                asks a served core for its safe shutdown
  mmtui attach [--socket PATH]  the console on a served core: q detaches (the core keeps
                                trading), Q stops it
  mmtui check-config FILE       every check a start runs, without connecting
  mmtui emulate VENUE [--port P] [--dir D]
                                a loopback venue to rehearse against (backpack, lighter,
                                grvt): writes its keys and a config to run mmtui on
  mmtui backtest --data DIR --config FILE [--out DIR] [--speed max]
                                the config's strategies on recorded data (Tardis CSV),
                                headless, then a report (docs/backtest.md)
  mmtui record --venue V --symbols A,B --out DIR [--config F] [--seconds N]
                                a venue's public books and trades as Tardis.dev CSV
                                files (no keys needed; docs/recording.md)
  (see `mmtui check-config --help`, `mmtui emulate --help`, `mmtui backtest --help`,
  `mmtui record --help`)

exit codes: 0 ok; 1 the run ended badly (orders left open or unverified, a FAIL line
in the shutdown report); 2 bad input (config, arguments)
"""


def _prepared(args: argparse.Namespace) -> tuple[Config, Path] | int:
    """The config read and checked (``--seed`` applied) and the file log set up; an exit
    code after one line on stderr when either fails."""
    try:
        config, source = checked_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.seed is not None:
        config.sim.seed = args.seed
    error = file_log_error(config.logging.level, config.logging.dir, source)
    if error is not None:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    return config, source


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmtui",
        usage="mmtui [options] | mmtui serve|attach|record|backtest ... | "
        "mmtui check-config FILE | mmtui emulate VENUE ...",
        description="Terminal trading console for market makers on perp DEXes.\n"
        "Without options: the console on the config's venues (the embedded sim by default).",
        epilog=SUBCOMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", "-c", metavar="FILE", help="config file (YAML)")
    parser.add_argument("--headless", action="store_true", help="run without the console")
    parser.add_argument(
        "--duration",
        type=_positive_float,
        metavar="S",
        help="headless: stop after S seconds of the session clock (sim time in sim mode)",
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        metavar="X",
        default=argparse.SUPPRESS,
        help="sim speed: X times real time, or 'max' (default: from the config)",
    )
    parser.add_argument("--json", action="store_true", help="headless: print the summary as JSON")
    parser.add_argument("--seed", type=int, help="sim seed (overrides the config)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    gc_policy.install()  # a long-running process: freeze once started (after_start)
    if args_list and args_list[0] == "check-config":
        return check_config(args_list[1:])
    if args_list and args_list[0] == "serve":
        return serve(args_list[1:])
    if args_list and args_list[0] == "attach":
        return attach(args_list[1:])
    if args_list and args_list[0] == "backtest":
        from mmtui.backtest import main as backtest_main

        return backtest_main(args_list[1:])
    if args_list and args_list[0] == "emulate":
        from mmtui.emulate import main as emulate_main

        return emulate_main(args_list[1:])
    if args_list and args_list[0] == "record":
        from mmtui.record import main as record_main

        return record_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    prepared = _prepared(args)
    if isinstance(prepared, int):
        return prepared
    config, source = prepared
    speed = getattr(args, "speed", "config")
    if args.headless:
        return asyncio.run(run_headless(config, args.duration, speed, args.json))
    if config.ui.core == "process":
        from mmtui.remote.attach import CONSOLE_LOG, run_process_console

        # the child core writes the main log; two processes never rotate one file
        setup_logging(config.logging.level, config.logging.dir, file_name=CONSOLE_LOG)

        return asyncio.run(run_process_console(config, source, speed))
    from mmtui.console_run import run_console

    return run_console(config, source, speed=speed)


def _socket_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="the control socket (default: $XDG_RUNTIME_DIR/mmtui/core.sock, "
        "else ~/.local/state/mmtui/core.sock)",
    )


def _socket_path(text: str | None) -> Path:
    from mmtui.remote.sockets import default_socket_path

    return Path(text).expanduser().absolute() if text else default_socket_path()


def serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmtui serve",
        description="Run the trading core headless with a local control socket (a Unix "
        "socket, 0600, in a 0700 dir; no network listener). Viewers: `mmtui attach`. "
        "SIGINT, SIGTERM, SIGHUP or `mmtui serve --stop`: the safe shutdown.",
    )
    parser.add_argument("--config", "-c", metavar="FILE", help="config file (YAML)")
    _socket_arg(parser)
    parser.add_argument("--stop", action="store_true", help="stop the served core and exit")
    parser.add_argument(
        "--speed",
        type=_speed,
        metavar="X",
        default=argparse.SUPPRESS,
        help="sim speed: X times real time, or 'max' (default: from the config)",
    )
    parser.add_argument("--seed", type=int, help="sim seed (overrides the config)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--owned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv))
    path = _socket_path(args.socket)
    if args.stop:
        from mmtui.remote.serve import stop_served

        return asyncio.run(stop_served(path, args.json))
    prepared = _prepared(args)
    if isinstance(prepared, int):
        return prepared
    config, source = prepared
    from mmtui.remote.serve import run_serve

    speed = getattr(args, "speed", "config")
    return asyncio.run(
        run_serve(config, source, path, speed=speed, as_json=args.json, owner=args.owned)
    )


def attach(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmtui attach",
        description="Open the console on a served core (`mmtui serve`). q detaches and "
        "leaves it trading; Q (confirmed) stops it. Over SSH: ssh -t host mmtui attach",
    )
    _socket_arg(parser)
    parser.add_argument("--config", "-c", metavar="FILE", help="config file: its ui: keys")
    args = parser.parse_args(list(argv))
    from mmtui.config import UiConfig

    ui = UiConfig()
    if args.config:
        try:
            config, _ = load_config(args.config)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return EXIT_BAD_INPUT
        ui = config.ui
        level, folder = config.logging.level, config.logging.dir
    else:
        level, folder = None, None
    from mmtui.remote.attach import CONSOLE_LOG, run_attach

    with contextlib.suppress(ValueError, OSError):
        setup_logging(level, folder, file_name=CONSOLE_LOG)

    return asyncio.run(run_attach(_socket_path(args.socket), ui))


def checked_config(path: str | None) -> tuple[Config, Path]:
    """The config loaded and put through every check a start runs before connecting:
    ``check-config`` and a run call this one function, so they give the same verdict."""
    from mmtui.startup_checks import check_start

    config, source = load_config(path)
    check_start(config, source)
    return config, source


def check_config(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmtui check-config", description="Validate a config file."
    )
    parser.add_argument("file")
    args = parser.parse_args(list(argv))
    try:
        config, source = checked_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    names = ", ".join(s.name for s in config.strategies) or "none"
    replay = config.mode == "replay"
    venues = len(config.replay.venues if replay else config.venues) or "the data's"
    print(f"{source}: ok ({config.mode} mode, {venues} venue(s), strategies: {names})")
    return EXIT_OK


async def run_headless(
    config: Config, duration: float | None, speed: float | str | None, as_json: bool
) -> int:
    from mmtui.session import SessionError, build_session

    try:
        session = build_session(config, speed=speed)
    except SessionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await session.start()
        except SessionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        gc_policy.after_start()
        waiters = [loop.create_task(stop.wait())]
        if duration is not None:
            waiters.append(loop.create_task(session.run_for(duration)))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    finally:
        report = await session.stop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    summary = session.summary()
    if as_json:
        print(json.dumps(summary.to_dict()))
    else:
        print(summary.render())
    return EXIT_OK if report.ok and summary.open_orders_left == 0 else EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
