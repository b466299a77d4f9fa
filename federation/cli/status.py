"""`libfed status (--config coordinator.toml | --coordinator HOST:PORT) [--json]`.

The network at a glance: nodes up or down, harvest freshness, the union
catalog's size, open requests by status, fill rate, turnaround and the lending
balance of each library. With ``--config`` it reads the coordinator's files;
with ``--coordinator`` it asks a running coordinator (GetNetworkStatus is open).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console
from rich.table import Table

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import LibfedError


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="the state of the whole network")
    where = status.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="coordinator.toml")
    where.add_argument("--coordinator", metavar="HOST:PORT", help="a running coordinator")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=status_command)


async def from_files(config_path: Path) -> dict:
    from federation.coordinator.config import CoordinatorConfig
    from federation.coordinator.server import open_catalog
    from federation.coordinator.status import network_status
    from federation.coordinator.store import CoordinatorStore

    config = CoordinatorConfig.load(config_path)
    store = await CoordinatorStore.open(config.state_path)
    catalog = await open_catalog(config)
    try:
        return (await network_status(store, catalog)).to_json()
    finally:
        await catalog.close()
        await store.close()


async def from_coordinator(address: str, timeout: float = 10.0) -> dict:
    import grpc
    from google.protobuf.json_format import MessageToDict
    from libfed.v1 import coordinator_service_pb2 as pb
    from libfed.v1 import coordinator_service_pb2_grpc as pb_grpc

    from federation.errors import Unavailable

    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await pb_grpc.CoordinatorStub(channel).GetNetworkStatus(
                pb.GetNetworkStatusRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            message = error.details() or error.code().name
            raise Unavailable(f"coordinator {address}: {message}") from None
    data = MessageToDict(reply, preserving_proto_field_name=True,
                         always_print_fields_with_no_presence=True)
    # Same shape as the --config output.
    return {
        "server_time": data.get("server_time"),
        "nodes": [
            {"symbol": n["symbol"], "name": n["name"], "grpc_address": n["grpc_address"],
             "priority": n["priority"], "up": n["up"], "latency_ms": n["latency_ms"],
             "last_seen": n.get("last_seen"), "last_error": n["last_error"],
             "record_count": int(n["record_count"])}
            for n in data["nodes"]
        ],
        "sources": [
            {"name": s["name"], "library": s["library_symbol"],
             "last_harvest": s.get("last_harvest"), "last_error": s["last_error"],
             "records": int(s["records"]), "quarantined": int(s["quarantined"])}
            for s in data["sources"]
        ],
        "catalog_records": int(data["catalog_records"]),
        "catalog_clusters": int(data["catalog_clusters"]),
        "open_requests_by_status": data["open_requests_by_status"],
        "fill_rate": data["fill_rate"],
        "finished_requests": data["finished_requests"],
        "median_turnaround_seconds": data["median_turnaround_seconds"],
        "lending": data["lending"],
    }


def status_command(args: argparse.Namespace) -> int:
    try:
        if args.config:
            data = asyncio.run(from_files(args.config))
        else:
            data = asyncio.run(from_coordinator(args.coordinator))
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json(data)
    else:
        print_status(data)
    return EXIT_OK


def print_status(data: dict, console: Console | None = None) -> None:
    """The network status as rich tables."""
    console = console or Console()
    balance = {row["symbol"]: row for row in data["lending"]}
    nodes = Table(title="libraries")
    for column in ("symbol", "name", "gRPC", "up", "latency", "last seen", "records",
                   "lent", "borrowed"):
        nodes.add_column(column)
    for node in data["nodes"]:
        latency = node["latency_ms"]
        lent = balance.get(node["symbol"], {})
        nodes.add_row(
            node["symbol"], node["name"], node["grpc_address"],
            "[green]up[/green]" if node["up"] else f"[red]down[/red] {node['last_error']}"[:60],
            f"{latency:.1f} ms" if latency else "", node["last_seen"] or "",
            str(node["record_count"]), str(lent.get("lent", 0)), str(lent.get("borrowed", 0)),
        )
    console.print(nodes)
    sources = Table(title="harvest sources")
    for column in ("source", "library", "last harvest", "records", "quarantined", "last error"):
        sources.add_column(column)
    for source in data["sources"]:
        sources.add_row(source["name"], source["library"], source["last_harvest"] or "never",
                        str(source["records"]), str(source["quarantined"]),
                        source["last_error"] or "")
    console.print(sources)
    open_requests = ", ".join(f"{k}: {v}" for k, v in sorted(data["open_requests_by_status"].items()))
    console.print(
        f"union catalog: {data['catalog_records']} records in {data['catalog_clusters']} clusters\n"
        f"open requests: {open_requests or 'none'}\n"
        f"fill rate: {data['fill_rate']:.0%} of {data['finished_requests']} finished requests;"
        f" median turnaround {data['median_turnaround_seconds']:.1f} s"
    )
