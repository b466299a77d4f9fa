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
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command group registered."""
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
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"federation.cli.{name}")
        except ModuleNotFoundError as error:
            # A command group still being written is simply not offered yet.
            if error.name == f"federation.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `libfed` console script."""
    parser = build_parser()
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
