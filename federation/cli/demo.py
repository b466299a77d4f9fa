"""`libfed demo [--dir DIR] [--once]`: a working federation of real libraries, locally.

Starts a coordinator and seven library nodes, each its own process with its own
database and ports under DIR (default ./demo-run), prints where everything
listens as soon as the web pages answer, harvests them into the union catalog
(printing how long it took), runs a handful of loans through their lifecycle,
prints the network status and the URLs again, and runs until Ctrl-C (or exits at
once with --once), stopping every process it started.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from federation.cli.common import fail
from federation.errors import LibfedError


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run a federation of real libraries on this machine")
    demo.add_argument("--dir", type=Path, default=Path("demo-run"),
                      help="folder for the run (default ./demo-run; replaced on each run)")
    demo.add_argument("--once", "--no-wait", action="store_true", dest="once",
                      help="exit after the scripted loans instead of running until Ctrl-C")
    demo.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    from federation.demo.runner import run_demo

    try:
        return run_demo(args.dir, once=args.once)
    except LibfedError as error:
        return fail(str(error), 1)
