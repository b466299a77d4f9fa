"""`libfed coordinator add-peer` and `peers`: outside libraries that speak ISO 18626.

A peer (a ReShare tenant, a Koha ILL backend, another network) lends to and
borrows from the network over HTTP; it is configured in coordinator.toml
(``[[coordinator.peers]]``), which ``add-peer`` writes as a person would, and
the running coordinator takes it up when it restarts (docs/iso18626.md).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import LibfedError


def register_coordinator_commands(coordinator_subparsers: argparse._SubParsersAction) -> None:
    add = coordinator_subparsers.add_parser(
        "add-peer", help="add an outside ISO 18626 library (ReShare, Koha ILL) to coordinator.toml")
    add.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    add.add_argument("--symbol", required=True,
                     help="its name in rotas: the `library` of its records in the sources file")
    add.add_argument("--url", required=True, help="its ISO 18626 endpoint (http or https)")
    add.add_argument("--agency-id", required=True, metavar="TYPE:VALUE",
                     help="how its messages name it, e.g. ISIL:RU-MOS-12")
    add.add_argument("--name", default="")
    add.add_argument("--priority", type=int, default=0, help="higher is asked first among equals")
    add.add_argument("--security-code-file", type=Path, metavar="FILE",
                     help="a shared secret both sides put in message headers (first line of FILE)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=_add_peer)
    peers = coordinator_subparsers.add_parser(
        "peers", help="list the ISO 18626 peers: where they are, up or down, what they lent")
    peers.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    peers.add_argument("--json", action="store_true", help="one JSON document on stdout")
    peers.set_defaults(func=_peers)


def _add_peer(args: argparse.Namespace) -> int:
    from federation.coordinator.config import CoordinatorConfig, peer_config

    try:
        config = CoordinatorConfig.load(args.config)
        code = ""
        if args.security_code_file:
            try:
                code = args.security_code_file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError) as error:
                raise LibfedError(f"{args.security_code_file}: no security code in it") from error
        peer = peer_config(args.config, len(config.peers) + 1, {
            "symbol": args.symbol, "url": args.url, "agency_id": args.agency_id,
            "name": args.name, "priority": args.priority, "security_code": code})
        if any(p.symbol == peer.symbol for p in config.peers):
            raise LibfedError(f"a peer {peer.symbol} is already in {args.config}")
        asyncio.run(_check_not_a_node(config, peer.symbol))
        config.peers.append(peer)
        config.write(args.config)
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json({"symbol": peer.symbol, "url": peer.url, "agency_id": peer.agency_id,
                    "network_agency_id": config.agency_id})
    else:
        print(f"added peer {peer.symbol} ({peer.agency_id}) at {peer.url}; restart the "
              f"coordinator. Give {peer.symbol} this network's agency id {config.agency_id} "
              "and the coordinator's /iso18626 URL.")
    return EXIT_OK


async def _check_not_a_node(config, symbol: str) -> None:
    from federation.coordinator.store import CoordinatorStore
    from federation.errors import AlreadyExists, NotFound

    store = await CoordinatorStore.open(config.state_path)
    try:
        node = await store.node(symbol)
    except NotFound:
        return
    finally:
        await store.close()
    if not node.is_peer:
        raise AlreadyExists(f"{symbol} is a registered libfed node; give the peer another symbol")


def _peers(args: argparse.Namespace) -> int:
    from federation.coordinator.config import CoordinatorConfig

    try:
        config = CoordinatorConfig.load(args.config)
        rows = asyncio.run(_peer_rows(config))
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json({"network_agency_id": config.agency_id, "peers": rows})
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ISO 18626 peers of {config.agency_id}")
    for column in ("symbol", "agency id", "url", "state", "lent", "borrowed", "open"):
        table.add_column(column, overflow="fold")
    for row in rows:
        state = {True: "up", False: f"down {row['last_error']}".strip(),
                 None: "not seen yet"}[row["up"]]
        table.add_row(row["symbol"], row["agency_id"], row["url"], state, str(row["lent"]),
                      str(row["borrowed"]), str(row["open_requests"]))
    Console().print(table)
    return EXIT_OK


async def _peer_rows(config) -> list[dict]:
    """Each configured peer with what the coordinator's state knows of it."""
    from federation.coordinator.store import CoordinatorStore
    from federation.errors import NotFound

    store = await CoordinatorStore.open(config.state_path)
    rows = []
    try:
        for peer in config.peers:
            row = {"symbol": peer.symbol, "name": peer.name, "url": peer.url,
                   "agency_id": peer.agency_id, "priority": peer.priority, "up": None,
                   "last_error": "", "lent": 0, "borrowed": 0, "open_requests": 0}
            try:
                node = await store.node(peer.symbol)
            except NotFound:
                pass  # the coordinator has not run since the peer was added
            else:
                seen = node.last_seen is not None or bool(node.last_error)
                row.update(up=node.up if seen else None, last_error=node.last_error,
                           lent=node.lent, borrowed=node.borrowed,
                           open_requests=await store.open_loans_of(peer.symbol))
            rows.append(row)
    finally:
        await store.close()
    return rows
