"""`libfed coordinator init | add-node | rotate-token | set-node | nodes | serve | harvest`
(and `add-peer | peers`, `migrate`, `add-user | users` from their own modules).

The central library's side of the federation.

Thin adapters: each command opens the coordinator's files, calls a service and
prints. ``serve`` runs :class:`~federation.coordinator.server.CoordinatorServer`
(and the web pages when ``web_listen`` is set) until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from pathlib import Path

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import LibfedError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("coordinator", help="run the federation's coordinator")
    commands = group.add_subparsers(dest="coordinator_command", metavar="COMMAND", required=True)

    init = commands.add_parser("init", help="create DIR/coordinator.toml and its databases")
    init.add_argument("--dir", required=True, type=Path)
    init.add_argument("--grpc-port", type=int, default=50100)
    init.add_argument("--web-port", type=int, default=0, help="serve the web pages on this port")
    init.add_argument("--json", action="store_true")
    init.set_defaults(func=init_command)

    add = commands.add_parser("add-node", help="register a library node; prints its token")
    add.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    add.add_argument("--symbol", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--grpc", required=True, metavar="HOST:PORT")
    add.add_argument("--oai", required=True, metavar="URL", help="the node's OAI-PMH base URL")
    add.add_argument("--priority", type=int, default=0, help="higher is asked first among equals")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=add_node_command)

    rotate = commands.add_parser(
        "rotate-token", help="replace a node's token (say it leaked); prints the new one"
    )
    rotate.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    rotate.add_argument("--symbol", required=True)
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(func=rotate_token_command)

    change = commands.add_parser(
        "set-node", help="change a registered node's name, addresses or priority"
    )
    change.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    change.add_argument("--symbol", required=True)
    change.add_argument("--name")
    change.add_argument("--grpc", metavar="HOST:PORT",
                        help="until the node's next heartbeat, which reports its own")
    change.add_argument("--oai", metavar="URL",
                        help="the node's OAI-PMH base URL (a node with advertise_oai reports its own)")
    change.add_argument("--priority", type=int, help="higher is asked first among equals")
    change.add_argument("--json", action="store_true")
    change.set_defaults(func=set_node_command)

    nodes = commands.add_parser("nodes", help="list the registered nodes")
    nodes.add_argument("--config", required=True, type=Path)
    nodes.add_argument("--json", action="store_true")
    nodes.set_defaults(func=nodes_command)

    serve = commands.add_parser("serve", help="serve the Coordinator gRPC service")
    serve.add_argument("--config", required=True, type=Path)
    serve.add_argument("--no-web", action="store_true", help="do not serve the web pages")
    serve.set_defaults(func=serve_command)

    harvest = commands.add_parser(
        "harvest", help="harvest every node and partner source once, now (schedules aside)"
    )
    harvest.add_argument("--config", required=True, type=Path)
    harvest.add_argument("--json", action="store_true")
    harvest.set_defaults(func=harvest_command)

    from federation.cli import coordinator_peers, coordinator_state

    coordinator_peers.register_coordinator_commands(commands)
    coordinator_state.register_coordinator_commands(commands)
    try:
        users = importlib.import_module("federation.cli.coordinator_users")
    except ModuleNotFoundError as error:
        if error.name != "federation.cli.coordinator_users":
            raise
    else:
        users.register_coordinator_commands(commands)


def _config(path: Path):
    from federation.coordinator.config import CoordinatorConfig

    return CoordinatorConfig.load(path)


def init_command(args: argparse.Namespace) -> int:
    from federation.coordinator.config import CoordinatorConfig
    from federation.coordinator.store import CoordinatorStore

    async def create():
        config, path = CoordinatorConfig.create(args.dir, args.grpc_port)
        if args.web_port:
            config.web_listen = f"127.0.0.1:{args.web_port}"
            config.write(path)
        store = await CoordinatorStore.open(config.state_path)
        await store.close()
        return config, path

    try:
        config, path = asyncio.run(create())
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json({"config": str(path), "listen": config.listen,
                    "state_db": str(config.state_path), "catalog_db": str(config.catalog_path)})
    else:
        print(f"wrote {path}: coordinator on {config.listen}, state in {config.state_path},"
              f" union catalog in {config.catalog_path}")
        print("keep this file private: its secret derives the coordinator's credentials")
    return EXIT_OK


async def _with_registry(config, work):
    """Open the store and the catalog, run ``work(registry)``, close both."""
    from federation.coordinator.registry import NodeRegistry
    from federation.coordinator.server import open_catalog
    from federation.coordinator.store import CoordinatorStore

    store = await CoordinatorStore.open(config.state_path)
    catalog = await open_catalog(config)
    try:
        return await work(NodeRegistry(store, config.secret, catalog))
    finally:
        await catalog.close()
        await store.close()


def add_node_command(args: argparse.Namespace) -> int:
    try:
        config = _config(args.config)
        token = asyncio.run(_with_registry(config, lambda registry: registry.add_node(
            args.symbol, args.name, args.grpc, args.oai, args.priority)))
    except LibfedError as error:
        return fail(f"{args.config}: {error}")
    if args.json:
        print_json({"symbol": args.symbol, "token": token, "coordinator": config.listen})
    else:
        print(token)
    return EXIT_OK


def rotate_token_command(args: argparse.Namespace) -> int:
    try:
        config = _config(args.config)
        token = asyncio.run(_with_registry(config, lambda registry: registry.rotate_token(
            args.symbol)))
    except LibfedError as error:
        return fail(f"{args.config}: {error}")
    if args.json:
        print_json({"symbol": args.symbol, "token": token, "coordinator": config.listen})
    else:
        print(token)
        print(f"give {args.symbol} this token (coordinator.token in its node.toml) and restart "
              "it; the old one stops working within seconds", file=sys.stderr)
    return EXIT_OK


def set_node_command(args: argparse.Namespace) -> int:
    if all(value is None for value in (args.name, args.grpc, args.oai, args.priority)):
        return fail("nothing to change: give --name, --grpc, --oai or --priority")
    try:
        config = _config(args.config)
        node = asyncio.run(_with_registry(config, lambda registry: registry.update_node(
            args.symbol, name=args.name, grpc_address=args.grpc, oai_url=args.oai,
            priority=args.priority)))
    except LibfedError as error:
        return fail(f"{args.config}: {error}")
    if args.json:
        print_json(node.to_json())
    else:
        print(f"{node.symbol}\t{node.name}\t{node.grpc_address}\t{node.oai_url}\t"
              f"priority {node.priority}")
    return EXIT_OK


def nodes_command(args: argparse.Namespace) -> int:
    try:
        config = _config(args.config)
        nodes = asyncio.run(_with_registry(config, lambda registry: registry.store.nodes()))
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json([node.to_json() for node in nodes])
        return EXIT_OK
    for node in nodes:
        state = "up" if node.up else "down"
        where = f"ISO 18626 {node.iso18626_url}" if node.is_peer else (
            f"{node.grpc_address}\t{node.oai_url}")
        print(f"{node.symbol}\t{node.name}\t{where}\t{state}")
    return EXIT_OK


def serve_command(args: argparse.Namespace) -> int:
    try:
        config = _config(args.config)
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO)
        logging.getLogger("federation").setLevel(logging.INFO)
        asyncio.run(_serve(config, web=not args.no_web))
    except LibfedError as error:
        return fail(f"{args.config}: {error}")
    except OSError as error:
        return fail(f"cannot serve: {error}")
    return EXIT_OK


async def _serve(config, *, web: bool) -> None:
    from federation.coordinator.server import CoordinatorServer

    server = await CoordinatorServer(config).start()
    handle = None
    if web and config.web_listen:
        try:
            from federation.web.serve import serve_coordinator_web
        except ModuleNotFoundError:
            log.warning("the web pages are not installed; serving gRPC only")
        else:
            handle = await serve_coordinator_web(server)
            log.info("web pages on %s", handle.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"coordinator listening on {config.listen}", flush=True)
    try:
        await stop.wait()
    finally:
        if handle is not None:
            await handle.stop()
        await server.stop()


def harvest_command(args: argparse.Namespace) -> int:
    from federation.coordinator.partners import PartnerHarvests, partner_sources
    from federation.coordinator.server import harvest_nodes

    async def everything(registry):
        nodes = await harvest_nodes(registry.store, registry.catalog)
        partners = PartnerHarvests(sources, registry.catalog, config.harvest_interval)
        return nodes + await partners.harvest_all()

    try:
        config = _config(args.config)
        sources = partner_sources(config)
        summaries = asyncio.run(_with_registry(config, everything))
    except LibfedError as error:
        return fail(str(error))
    rows = [{"source": s.source, "records": s.records, "deleted": s.deleted,
             "quarantined": s.quarantined, "error": s.error} for s in summaries]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['source']}: {row['records']} records, {row['deleted']} deleted,"
                  f" {row['quarantined']} quarantined" + (f" — {row['error']}" if row["error"]
                                                         else ""))
    return EXIT_OK if all(not row["error"] for row in rows) else 1
