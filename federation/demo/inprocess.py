"""`libfed` commands run inside the demo's own process: same argv, same parser, same handler.

A `libfed` process spends ~0.8 s starting Python and importing every command
group before it does any work. The demo runs some forty short commands (``node
init``, ``node import``, ``node patrons import``, ``coordinator add-node``,
``node join``, the scripted loans…); as separate processes on a two-core machine
they took ~30 s before the first node could start, which is why the union
catalog used to appear ~40 s in. Run here, the imports are paid once and each
command costs only its own work. The servers (``node serve``, ``coordinator
serve``) stay separate processes.

Commands run one at a time (a lock), with ``sys.stdout``/``sys.stderr``
captured for that command only, so what a command prints is returned exactly as
a child process's output would be.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import threading

_lock = threading.Lock()
_parser: argparse.ArgumentParser | None = None


def _the_parser() -> argparse.ArgumentParser:
    global _parser
    if _parser is None:
        from federation.cli.main import build_parser

        _parser = build_parser()
    return _parser


def run_command(args: list[str]) -> subprocess.CompletedProcess:
    """Run `libfed args…` here; its exit code, stdout and stderr, as from a child process.

    Like the `libfed` entry point, minus its logging setup: a command's log
    records reach whatever this process logs to.
    """
    args = [str(a) for a in args]
    with _lock:
        parser = _the_parser()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                namespace = parser.parse_args(args)
                handler = getattr(namespace, "func", None)
                if handler is None:
                    parser.print_help()
                    code = 2
                else:
                    code = int(handler(namespace) or 0)
            except SystemExit as exit_:  # argparse's usage errors, a handler's sys.exit
                code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
