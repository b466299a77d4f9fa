"""`libfed node init|import|serve|stats|delete`: run one library's node.

The CLI contract (scripts rely on it): ``init`` writes DIR/node.toml with free
ports unless given; ``import`` reports bad records as ``PATH:#N: reason`` on
stderr and exits 0 (all good), 1 (some bad) or 2 (unusable arguments or
unreadable files); ``stats`` has ``--json``. Handlers only parse, call the node's
services and print.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from pathlib import Path

from federation.cli.common import EXIT_OK, EXIT_SOME_BAD, EXIT_USAGE, fail, print_json
from federation.errors import LibfedError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `node` command group (and, when present, the loan and reader commands)."""
    parser = subparsers.add_parser(
        "node",
        help="run a library node: holdings, gRPC service, OAI-PMH provider",
        description="One library's node: its holdings store, the LibraryNode gRPC service "
        "and an OAI-PMH 2.0 data provider at /oai.",
    )
    commands = parser.add_subparsers(dest="node_command", metavar="COMMAND", required=True)
    init = commands.add_parser("init", help="create DIR/node.toml for a library")
    init.add_argument("--symbol", required=True, help="the library's symbol, e.g. RU-NLR")
    init.add_argument("--name", required=True, help="the library's name")
    init.add_argument("--dir", required=True, type=Path, help="folder for node.toml and data")
    init.add_argument("--grpc-port", type=int, help="gRPC port (default: a free one)")
    init.add_argument("--http-port", type=int, help="OAI-PMH HTTP port (default: a free one)")
    init.add_argument("--admin-email", default="", help="OAI-PMH adminEmail")
    init.add_argument("--force", action="store_true", help="overwrite an existing node.toml")
    init.set_defaults(func=init_command)

    imp = commands.add_parser("import", help="import MARC files (ISO 2709 or MARCXML)")
    imp.add_argument("--config", required=True, type=Path, help="the node's node.toml")
    imp.add_argument("paths", nargs="+", metavar="FILE", help="MARC file or folder")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.set_defaults(func=import_command)

    serve = commands.add_parser("serve", help="serve gRPC and OAI-PMH until SIGINT/SIGTERM")
    serve.add_argument("--config", required=True, type=Path)
    serve.set_defaults(func=serve_command)

    stats = commands.add_parser("stats", help="records by schema, items by status, deletions")
    stats.add_argument("--config", required=True, type=Path)
    stats.add_argument("--json", action="store_true", help="one JSON object on stdout")
    stats.set_defaults(func=stats_command)

    delete = commands.add_parser("delete", help="delete a record (OAI-PMH shows it deleted)")
    delete.add_argument("--config", required=True, type=Path)
    delete.add_argument("record_id", metavar="ID")
    delete.set_defaults(func=delete_command)

    for extension in ("federation.cli.node_loans", "federation.cli.node_patrons"):
        try:
            module = importlib.import_module(extension)
        except ModuleNotFoundError as error:
            if error.name == extension:
                continue  # that room's commands are not written yet
            raise
        module.register_node_commands(commands)


def init_command(args: argparse.Namespace) -> int:
    from node.config import NodeConfig, save

    path = args.dir / "node.toml"
    if path.exists() and not args.force:
        return fail(f"{path} exists already (use --force to overwrite it)")
    try:
        config = NodeConfig(
            symbol=args.symbol,
            name=args.name,
            database=Path("holdings.sqlite"),
            grpc_listen=f"127.0.0.1:{args.grpc_port or _free_port()}",
            http_listen=f"127.0.0.1:{args.http_port or _free_port()}",
            admin_email=args.admin_email,
        )
        save(config, path)
    except LibfedError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {path}: {error.strerror or error}")
    print(f"node {config.symbol} ({config.name}) configured in {path}")
    print(f"  gRPC   {config.grpc_listen}")
    print(f"  OAI    http://{config.http_listen}/oai")
    print(f"  import records: libfed node import --config {path} FILE...")
    return EXIT_OK


def import_command(args: argparse.Namespace) -> int:
    from federation.cli.records import Tally, expand

    tally = Tally()
    files = expand(args.paths, tally)
    try:
        report = _run(args.config, lambda config, store: _import(config, store, files))
    except LibfedError as error:
        return fail(str(error))
    for line in report.unusable:
        fail(f"cannot read {line}")
    report.unusable.extend(tally.unreadable)
    summary = (
        f"{report.read} records in {report.files} files: {report.new} new, "
        f"{report.updated} updated, {len(report.bad)} bad"
    )
    if report.unusable:
        summary += f"; {len(report.unusable)} file(s) could not be read"
    if args.json:
        print_json(report.as_dict())
    sys.stderr.write(summary + "\n")
    if report.unusable:
        return EXIT_USAGE
    return EXIT_SOME_BAD if report.bad else EXIT_OK


async def _import(config, store, files: list[Path]):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from federation.errors import RecordError
    from node.importer import Importer

    importer = Importer(store, default_location=config.name)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[records]} records"),
        console=Console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("importing", total=len(files), records=0)
        count = 0

        def on_record(path: Path, outcome) -> None:
            nonlocal count
            count += 1
            if isinstance(outcome, RecordError):
                if progress.live.is_started:
                    progress.console.print(
                        str(outcome), markup=False, highlight=False, soft_wrap=True
                    )
                else:
                    sys.stderr.write(f"{outcome}\n")
            progress.update(task, records=count)

        report = None
        for path in files:
            progress.update(task, description=path.name)
            if report is None:
                report = await importer.import_files([path], on_record)
            else:
                await importer.import_file(path, report, on_record)
            progress.advance(task)
    if report is None:
        from node.importer import ImportReport

        report = ImportReport()
    return report


def serve_command(args: argparse.Namespace) -> int:
    from node.config import load
    from node.server import serve

    try:
        config = load(args.config)
        logging.getLogger("node").setLevel(logging.INFO)
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO)
        logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
        asyncio.run(serve(config))
    except LibfedError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot serve: {error}")
    return EXIT_OK


def stats_command(args: argparse.Namespace) -> int:
    try:
        stats = _run(args.config, lambda config, store: store.stats())
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json(stats)
        return EXIT_OK
    print(f"records: {stats['records']}")
    for schema, count in sorted(stats["records_by_schema"].items()):
        print(f"  {schema}: {count}")
    print(f"items: {stats['items']}")
    for status, count in sorted(stats["items_by_status"].items()):
        print(f"  {status}: {count}")
    print(f"deleted records: {stats['deleted_records']}")
    for status, count in sorted(stats["loans_by_status"].items()):
        print(f"loans {status}: {count}")
    return EXIT_OK


def delete_command(args: argparse.Namespace) -> int:
    try:
        stamp = _run(args.config, lambda config, store: store.delete_record(args.record_id))
    except LibfedError as error:
        return fail(str(error))
    import time

    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    print(f"deleted {args.record_id} at {when}; OAI-PMH now lists it as deleted")
    return EXIT_OK


def _run(config_path: Path, work):
    """Open the node's config and store, run ``work(config, store)``, close."""
    from node.config import load
    from node.store import HoldingsStore

    async def main():
        config = load(config_path)
        store = await HoldingsStore.open(config.database_path())
        try:
            return await work(config, store)
        finally:
            await store.close()

    return asyncio.run(main())


def _free_port() -> int:
    """A port nobody listens on now, chosen once at init and kept in node.toml."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
