"""`libfed restore node|coordinator|catalog --from BACKUP`: put a backup's stores back.

Thin adapter over :func:`federation.backup.restore_backup`: the backup's files
are checked against its manifest first, a store a running process holds is
refused (``--force`` restores anyway), and each store is swapped in whole; the
one it replaces is kept beside it as ``<file>.replaced-<time>``. ``--from``
names a backup folder, or a folder of backups (the newest of this target is
taken). Exit 0; 1 when refused (held, or the backup damaged); 2 for unusable
arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from federation.cli.common import EXIT_OK, EXIT_SOME_BAD, fail, print_json
from federation.cli.stores import TARGETS, add_target, target, tell_elsewhere
from federation.errors import FailedPrecondition, LibfedError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `restore` command group."""
    parser = subparsers.add_parser(
        "restore",
        help="restore a node, the coordinator or a catalog from a backup",
        description="Check a backup against its manifest, then swap each store in whole "
        "(the replaced one is kept beside it). Stop the server that holds the stores first.",
    )
    commands = parser.add_subparsers(dest="restore_command", metavar="COMMAND", required=True)
    for kind in TARGETS:
        command = commands.add_parser(kind, help=f"restore the {kind}'s stores")
        add_target(command, kind)
        command.add_argument("--from", dest="backup", required=True, type=Path,
                             metavar="BACKUP", help="a backup folder, or a folder of backups "
                             "(the newest one of this target)")
        command.add_argument("--force", action="store_true",
                             help="restore even while a process holds a store")
        command.add_argument("--json", action="store_true", help="what was restored, as JSON")
        command.set_defaults(func=restore_command, kind=kind)


def restore_command(args: argparse.Namespace) -> int:
    from federation.backup import backup_folder, restore_backup

    try:
        chosen = target(args.kind, args)
        tell_elsewhere(chosen, "restored")
        folder = backup_folder(args.backup, chosen.kind, chosen.name)
        targets = {store.name: store.url or store.path for store in chosen.stores}
        restored, warnings = restore_backup(
            folder, targets, force=args.force, kind=chosen.kind,
            name=chosen.name if chosen.kind == "node" else None,  # a node is its symbol
        )
    except FailedPrecondition as error:
        return fail(str(error), EXIT_SOME_BAD)
    except LibfedError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot restore from {args.backup}: {error.strerror or error}")
    for warning in warnings:
        sys.stderr.write(f"libfed: {warning}\n")
    if args.json:
        print_json({"from": str(folder), "restored": [r.as_json() for r in restored],
                    "warnings": warnings})
        return EXIT_OK
    for item in restored:
        kept = f"; the store it replaced is kept as {item.replaced}" if item.replaced else ""
        print(f"restored {item.store} to {item.path}{kept}")
    print(f"from {folder}; check it with: libfed verify {args.kind} "
          f"{_target_argument(args)} --backup {folder}")
    return EXIT_OK


def _target_argument(args: argparse.Namespace) -> str:
    return f"--catalog {args.catalog}" if args.kind == "catalog" else f"--config {args.config}"
