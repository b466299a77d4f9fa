"""`libfed verify node|coordinator|catalog|backup`: check every store, name what is wrong.

Thin adapter over :mod:`federation.backup` and the rooms' own checks: SQLite's
integrity and foreign-key checks, the row counts (against a backup's manifest
with ``--backup``), then the room's (MARCXML and checksums, the deletion log,
clusters and search index, loans and nodes). The stores may be in use: each is
checked on a consistent snapshot. ``verify backup`` checks a backup itself,
its files against the manifest first. Exit 0 when all is sound, 1 when
something is wrong (each problem on stdout: store, table, record, what), 2 for
unusable arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from federation.cli.common import EXIT_OK, EXIT_SOME_BAD, fail, print_json
from federation.cli.stores import (
    TARGETS,
    add_target,
    every_kind,
    progress_bar,
    target,
    tell_elsewhere,
)
from federation.errors import LibfedError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `verify` command group."""
    parser = subparsers.add_parser(
        "verify",
        help="check a node's, the coordinator's or a catalog's stores, or a backup",
        description="Check every store on a consistent snapshot and name what is wrong "
        "(store, table, record). Exit 1 when anything is.",
    )
    commands = parser.add_subparsers(dest="verify_command", metavar="COMMAND", required=True)
    for kind in TARGETS:
        command = commands.add_parser(kind, help=f"check the {kind}'s stores")
        add_target(command, kind)
        command.add_argument("--backup", type=Path, metavar="BACKUP",
                             help="compare the row counts with this backup's manifest "
                             "(a backup folder, or a folder of backups: the newest)")
        command.add_argument("--json", action="store_true", help="the reports as JSON")
        command.set_defaults(func=verify_command, kind=kind)
    backup = commands.add_parser("backup", help="check a backup: files, counts, content")
    backup.add_argument("backup", type=Path, metavar="BACKUP",
                        help="a backup folder, or a folder of backups (the newest)")
    backup.add_argument("--json", action="store_true", help="the reports as JSON")
    backup.set_defaults(func=verify_backup_command)


def verify_command(args: argparse.Namespace) -> int:
    from federation.backup import Manifest, backup_folder, verify_store

    try:
        chosen = target(args.kind, args)
        tell_elsewhere(chosen, "verified")
        manifest = None
        if args.backup is not None:
            manifest = Manifest.read(backup_folder(args.backup, chosen.kind, chosen.name))
        with progress_bar() as progress:
            reports = [verify_store(store, expected=manifest.file(store.name) if manifest
                                    else None, progress=progress) for store in chosen.stores]
    except LibfedError as error:
        return fail(str(error))
    return _print(reports, args.json, {"kind": chosen.kind, "name": chosen.name})


def verify_backup_command(args: argparse.Namespace) -> int:
    from federation.backup import backup_folder, verify_backup

    try:
        folder = backup_folder(args.backup)
        with progress_bar() as progress:
            manifest, reports = verify_backup(folder, every_kind(), progress=progress)
    except LibfedError as error:
        return fail(str(error))
    return _print(reports, args.json, {"backup": str(folder), "kind": manifest.kind,
                                       "name": manifest.name, "created": manifest.created})


def _print(reports, as_json: bool, about: dict) -> int:
    ok = all(report.ok for report in reports)
    if as_json:
        print_json({**about, "ok": ok, "stores": [report.as_json() for report in reports]})
        return EXIT_OK if ok else EXIT_SOME_BAD
    for report in reports:
        records = "" if report.records is None else f"{report.records} records, "
        state = "ok" if report.ok else f"{len(report.problems) + sum(report.omitted.values())} " \
            "problem(s)"
        checks = f" ({', '.join(report.checks)})" if report.checks else ""
        print(f"{report.store:9} {report.path}: {records}{state}{checks}")
        for problem in report.problems:
            print(f"  {problem}")
        for check, count in report.omitted.items():
            print(f"  {report.store}: … and {count} more {check} problem(s)")
        for note in report.notes:
            print(f"  note: {note}")
    bad = [report.store for report in reports if not report.ok]
    print("all stores are sound" if ok else f"problems in {', '.join(bad)}")
    return EXIT_OK if ok else EXIT_SOME_BAD
