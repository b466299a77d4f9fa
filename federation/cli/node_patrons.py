"""`libfed node patrons ...`: the library's readers, kept at the node.

Wired into the `node` command group by ``register_node_commands(node_subparsers)``.
The commands work on the node's own ``patrons.db`` (beside its database): card
numbers are shown here, on the library's own machine, and nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console

from federation.cli.common import EXIT_OK, EXIT_SOME_BAD, fail, print_json
from federation.errors import LibfedError


def register_node_commands(node_subparsers: argparse._SubParsersAction) -> None:
    """Adds `patrons import` and `patrons list` under `libfed node`."""
    patrons = node_subparsers.add_parser("patrons", help="the library's readers (cards and PINs)")
    sub = patrons.add_subparsers(dest="patrons_command", metavar="COMMAND", required=True)

    imp = sub.add_parser(
        "import",
        help="add or update readers from CSV (card_number,pin,display_name[,blocked])",
    )
    imp.add_argument("--config", required=True, type=Path, help="the node's TOML configuration")
    imp.add_argument("file", type=Path, help="UTF-8 CSV with a header line")
    imp.set_defaults(func=_import)

    lst = sub.add_parser("list", help="list the readers (never their PINs)")
    lst.add_argument("--config", required=True, type=Path, help="the node's TOML configuration")
    lst.add_argument("--json", action="store_true", help="one JSON document on stdout")
    lst.set_defaults(func=_list)


def _patrons_db(config_path: Path) -> Path:
    """``patrons.db`` beside the database the node's configuration names."""
    from node.config import load
    from node.patrons import patrons_path

    return patrons_path(load(config_path))


def _import(args: argparse.Namespace) -> int:
    from node.patrons import PatronRegister

    async def run() -> Any:
        register = await PatronRegister.open(_patrons_db(args.config))
        try:
            return await register.import_csv(args.file)
        finally:
            await register.close()

    console = Console(stderr=True)
    try:
        with console.status(f"hashing PINs from {args.file}…"):
            report = asyncio.run(run())
    except (LibfedError, OSError) as error:
        return fail(str(error))
    for message in report.errors or []:
        console.print(f"[yellow]skipped[/] {message}")
    console.print(f"{report.added} readers added, {report.updated} updated")
    return EXIT_SOME_BAD if report.errors else EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from node.patrons import PatronRegister

    async def run() -> list[Any]:
        register = await PatronRegister.open(_patrons_db(args.config))
        try:
            return await register.list()
        finally:
            await register.close()

    try:
        patrons = asyncio.run(run())
    except (LibfedError, OSError) as error:
        return fail(str(error))
    rows = [
        {"card_number": p.card_number, "display_name": p.display_name, "blocked": p.blocked,
         "patron_ref": p.patron_ref}
        for p in patrons
    ]
    if args.json:
        print_json(rows)
        return EXIT_OK
    for row in rows:
        flag = " (blocked)" if row["blocked"] else ""
        print(f"{row['card_number']}\t{row['display_name']}{flag}")
    return EXIT_OK
