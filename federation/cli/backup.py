"""`libfed backup node|coordinator|catalog|list`: an online copy of a room's stores.

Thin adapters over :mod:`federation.backup`: ``node`` copies a node's holdings
and readers (node.toml), ``coordinator`` its state, staff accounts and union
catalog (coordinator.toml), ``catalog`` one catalog file; each into a new
folder under ``--to DIR`` with a manifest. The stores may be in use: the copy is
consistent while the servers go on writing. Exit 0, or 2 for unusable
arguments (a missing config or store).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from federation.cli.common import EXIT_OK, fail, print_json
from federation.cli.stores import TARGETS, add_target, progress_bar, target, tell_elsewhere
from federation.errors import LibfedError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `backup` command group."""
    parser = subparsers.add_parser(
        "backup",
        help="back up a node, the coordinator or a catalog (online, with a manifest)",
        description="Copy a room's SQLite stores while they are in use (SQLite's backup "
        "API: one consistent moment) into a new folder with manifest.json (each file's "
        "size, SHA-256, schema version and row counts).",
    )
    commands = parser.add_subparsers(dest="backup_command", metavar="COMMAND", required=True)
    for kind in TARGETS:
        command = commands.add_parser(kind, help=f"back up the {kind}'s stores")
        add_target(command, kind)
        command.add_argument("--to", required=True, type=Path, metavar="DIR",
                             help="the folder the backup is made in (a new folder inside)")
        command.add_argument("--json", action="store_true", help="the manifest as JSON")
        command.set_defaults(func=backup_command, kind=kind)
    listing = commands.add_parser("list", help="the backups in a folder, oldest first")
    listing.add_argument("directory", type=Path, metavar="DIR")
    listing.add_argument("--json", action="store_true", help="one JSON array of manifests")
    listing.set_defaults(func=list_command)


def backup_command(args: argparse.Namespace) -> int:
    from federation.backup import take_backup

    try:
        chosen = target(args.kind, args)
        tell_elsewhere(chosen, "backed up")
        started = time.monotonic()
        with progress_bar() as progress:
            backup = take_backup(chosen.kind, chosen.name, chosen.stores, args.to, progress)
    except LibfedError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot back up into {args.to}: {error.strerror or error}")
    if args.json:
        print_json({"path": str(backup.path), **backup.manifest.as_json()})
        return EXIT_OK
    print(f"backed up {chosen.kind} {chosen.name} to {backup.path} in "
          f"{time.monotonic() - started:.1f} s")
    for entry in backup.manifest.files:
        records = "" if entry.records is None else f"{entry.records} records, "
        print(f"  {entry.store:9} {records}{entry.size / 1e6:.1f} MB, sha256 {entry.sha256[:16]}…"
              f"  (from {entry.source})")
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from federation.backup import backups_in

    found = backups_in(args.directory)
    if args.json:
        print_json([{"path": str(path), **manifest.as_json()} for path, manifest in found])
        return EXIT_OK
    if not found:
        print(f"no backups in {args.directory}")
    for path, manifest in found:
        stores = ", ".join(f"{f.store} {f.records}" if f.records is not None else f.store
                           for f in manifest.files)
        print(f"{manifest.created}  {manifest.kind} {manifest.name}  {path}  ({stores})")
    return EXIT_OK
