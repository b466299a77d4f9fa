"""The `libfed` command: one sub-command group per room of the federation.

Each group lives in its own module of this package and exposes
``register(subparsers)``; a handler takes the parsed arguments and returns the
process exit code. Handlers are thin: they parse, call a service, print.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from federation import __version__

#: The command modules, in the order `libfed --help` lists them.
COMMAND_MODULES = (
    "records",
    "node",
    "harvest",
    "catalog",
    "coordinator",
    "request",
    "status",
    "backup",
    "restore",
    "verify",
    "demo",
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command group, or only the one ``argv`` names
    (``argv`` None: every group).

    Why only one: each group imports the services it drives, and all of them
    together cost ~0.5 s of start-up that every `libfed harvest`, `node serve`
    or demo step paid for groups it never used. ``libfed --help`` (no group
    named) still lists them all.
    """
    parser = argparse.ArgumentParser(
        prog="libfed",
        description="libfed: an interlibrary cooperation federation "
        "(library nodes, OAI-PMH harvesting, union catalog, ISO 18626 loans).",
    )
    parser.add_argument("--version", action="version", version=f"libfed {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (repeat for debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    named = None if argv is None else _command_named(argv)
    for name in COMMAND_MODULES if named is None else (named,):
        try:
            module = importlib.import_module(f"federation.cli.{name}")
        except ModuleNotFoundError as error:
            # A command group still being written is simply not offered yet.
            if error.name == f"federation.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The command group ``argv`` asks for, when it is one (the first word that is
    no option: the top-level options take no values)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if first in COMMAND_MODULES else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `libfed` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
