"""`libfed request show REQUEST_ID --config coordinator.toml [--json]`: one request, in full.

For the central library's staff: reads the coordinator's own state file, so it
works whether or not the coordinator is running.
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
    group = subparsers.add_parser("request", help="look at interlibrary loan requests")
    commands = group.add_subparsers(dest="request_command", metavar="COMMAND", required=True)
    show = commands.add_parser("show", help="status, current lender, rota and history")
    show.add_argument("request_id", metavar="REQUEST_ID")
    show.add_argument("--config", required=True, type=Path, help="coordinator.toml")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=show_command)


async def _load(config_path: Path, request_id: str):
    from federation.coordinator.config import CoordinatorConfig
    from federation.coordinator.store import CoordinatorStore

    config = CoordinatorConfig.load(config_path)
    store = await CoordinatorStore.open(config.state_path)
    try:
        return await store.request(request_id)
    finally:
        await store.close()


def show_command(args: argparse.Namespace) -> int:
    try:
        request = asyncio.run(_load(args.config, args.request_id))
    except LibfedError as error:
        return fail(str(error))
    if args.json:
        print_json(request.to_json())
        return EXIT_OK
    print_request(request.to_json())
    return EXIT_OK


def print_request(data: dict, console: Console | None = None) -> None:
    """A request as staff read it: the headline, the rota, the history."""
    console = console or Console()
    console.print(
        f"[bold]{data['request_id']}[/bold] {data['status']}"
        + (f" (requester: {data['last_requester_action']})" if data["last_requester_action"]
           else "")
    )
    console.print(f"{data['service_type']} of “{data['title']}” (cluster {data['cluster_id']})"
                  f" for {data['requester']}, lender now: {data['lender'] or '—'}"
                  + (f", due {data['due_time']}" if data["due_time"] else ""))
    rota = Table(title="rota")
    for column in ("#", "lender", "record", "free", "open loans", "score", "outcome", "reason"):
        rota.add_column(column)
    for entry in data["rota"]:
        rota.add_row(str(entry["position"]), entry["lender"], entry["record_id"],
                     str(entry["available_count"]), str(entry["open_loans"]),
                     f"{entry['score']:.2f}", entry["outcome"], entry["reason"])
    console.print(rota)
    history = Table(title="history")
    for column in ("time", "who", "from", "to", "action", "note"):
        history.add_column(column)
    for event in data["history"]:
        history.add_row(event["time"], event["actor"], event["from"] or "", event["to"],
                        event["action"] or "", event["note"])
    console.print(history)
