"""`libfed coordinator migrate --config C --to postgresql://…`: the state into PostgreSQL.

A thin adapter over :func:`federation.coordinator.transfer.migrate_state`. Wired
into the `coordinator` group by ``register_coordinator_commands``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import LibfedError


def register_coordinator_commands(coordinator_subparsers: argparse._SubParsersAction) -> None:
    migrate = coordinator_subparsers.add_parser(
        "migrate", help="move the coordinator's state from its SQLite file into PostgreSQL",
        description="Copy nodes, requests, rotas, the audit trail and the outbox from the "
        "state file into an empty PostgreSQL database (one transaction), check the copy "
        "table by table, and set state_db in coordinator.toml to the URL. Stop the "
        "coordinator first; the file is left as it was. The catalog moves with "
        "`libfed catalog migrate`.")
    migrate.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL",
                         help="postgresql://user@host/database (the database must exist)")
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from federation.coordinator.transfer import migrate_state

    try:
        moved = asyncio.run(migrate_state(args.config, args.target))
    except LibfedError as error:
        return fail(f"{args.config}: {error}")
    if args.json:
        print_json({"from": moved.source, "to": moved.target, "rows": moved.rows,
                    "seconds": round(moved.seconds, 2)})
    else:
        rows = ", ".join(f"{n:,} {table}" for table, n in moved.rows.items())
        print(f"copied {rows} from {moved.source} to {moved.target} in {moved.seconds:.1f} s; "
              f"{args.config} now names the database (state_db). Start the coordinator.")
    return EXIT_OK
