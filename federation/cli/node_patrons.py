"""`libfed node patrons ...`: the library's readers, kept at the node.

Wired into the `node` command group by ``register_node_commands(node_subparsers)``.
The commands work on the node's own ``patrons.db`` (beside its database): card
numbers are shown here, on the library's own machine, and nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import tomllib
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
    from node.patrons import patrons_path

    try:
        from node.config import load_config  # the node room's loader, when present
    except ImportError:
        load_config = None
    if load_config is not None:
        return patrons_path(load_config(config_path))
    try:
        data: dict[str, Any] = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LibfedError(f"{config_path}: {error}") from error
    section = data.get("node", data)
    database = section.get("database") or section.get("db_path")
    if not database:
        raise LibfedError(f"{config_path}: no database path in the configuration")
    return (config_path.parent / database).with_name("patrons.db")


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
