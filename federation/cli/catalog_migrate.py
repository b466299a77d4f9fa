"""`libfed catalog migrate --from catalog.sqlite --to postgresql://…`: move the catalog.

A thin adapter over :func:`federation.catalog.transfer.migrate`: every source
with its harvest state, record, dedup key, cluster and quarantined record, from
one snapshot of the SQLite file into an empty PostgreSQL catalog, in one
transaction, with a progress bar per kind of row on stderr. Wired into the
`catalog` group by ``register(catalog_subparsers)``.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import LibfedError


def register(catalog_subparsers: argparse._SubParsersAction) -> None:
    migrate = catalog_subparsers.add_parser(
        "migrate",
        help="copy a SQLite catalog into an empty PostgreSQL one",
        description="Copy every record, cluster, source state and quarantined record of a "
        "SQLite union catalog into an empty PostgreSQL catalog (one snapshot, one "
        "transaction: a failed copy leaves the target empty). Then set catalog_db in "
        "coordinator.toml to the URL; the next harvest fetches what came after the snapshot.",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="DB",
                         help="the SQLite catalog file")  # fmt: skip
    migrate.add_argument("--to", dest="target", required=True, metavar="URL",
                         help="postgresql://user@host/database (the database must exist)")
    migrate.add_argument("--json", action="store_true", help="print what was copied as JSON")
    migrate.set_defaults(func=migrate_command)


def migrate_command(args: argparse.Namespace) -> int:
    from federation.catalog.transfer import migrate

    console = Console(stderr=True)
    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, disable=args.json) as progress:
        tasks: dict[str, int] = {}

        def report(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = progress.add_task(what, total=total)
            progress.update(tasks[what], completed=done)

        try:
            result = asyncio.run(migrate(args.source, args.target, report))
        except LibfedError as error:
            return fail(f"migrate: {error}")
    copied = result.copied
    if args.json:
        print_json({"from": result.source, "to": result.target, "seconds": round(result.seconds, 2),
                    **asdict(copied)})  # fmt: skip
    else:
        console.print(
            f"copied {copied.records:,} records in {copied.clusters:,} clusters, "
            f"{copied.sources} sources, {copied.quarantine:,} quarantined records "
            f"to {result.target} in {result.seconds:.1f} s"
        )
    return EXIT_OK
