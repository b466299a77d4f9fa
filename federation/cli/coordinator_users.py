"""`libfed coordinator add-user` and `users`: the central library's staff accounts.

Wired into the `coordinator` command group by
``register_coordinator_commands(coordinator_subparsers)``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import LibfedError


def register_coordinator_commands(coordinator_subparsers: argparse._SubParsersAction) -> None:
    add = coordinator_subparsers.add_parser(
        "add-user", help="create a staff account for the web dashboard (or set a new password)"
    )
    add.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    add.add_argument("username")
    source = add.add_mutually_exclusive_group()
    source.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from the first line of stdin instead of asking",
    )
    source.add_argument(
        "--password-file", type=Path, metavar="FILE",
        help="read the password from the first line of FILE (for scripts; keep FILE private)",
    )
    add.set_defaults(func=_add_user)
    users = coordinator_subparsers.add_parser("users", help="list the staff accounts")
    users.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    users.add_argument("--json", action="store_true", help="one JSON document on stdout")
    users.set_defaults(func=_users)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if args.password_file:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise LibfedError(f"{args.password_file}: {error.strerror or error}") from error
        return lines[0] if lines else ""
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise LibfedError("the two passwords differ")
    return first


async def _open(config_path: Path):
    from federation.coordinator.config import CoordinatorConfig
    from federation.web.serve import staff_db_path
    from federation.web.staff import StaffStore

    return await StaffStore.open(staff_db_path(CoordinatorConfig.load(config_path)))


def _add_user(args: argparse.Namespace) -> int:
    async def run() -> bool:
        store = await _open(args.config)
        try:
            return await store.add_user(args.username, password)
        finally:
            await store.close()

    try:
        password = _password(args)
        created = asyncio.run(run())
    except LibfedError as error:
        return fail(str(error))
    print(f"staff user {args.username} {'created' if created else 'given a new password'}")
    return EXIT_OK


def _users(args: argparse.Namespace) -> int:
    async def run() -> list[str]:
        store = await _open(args.config)
        try:
            return await store.users()
        finally:
            await store.close()

    try:
        names = asyncio.run(run())
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json(names)
    else:
        print("\n".join(names))
    return EXIT_OK
