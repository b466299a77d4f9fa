"""Interlibrary loan at a node, for its staff: join, request, requests, answer, ship,
receive, return, checkin, cancel.

Wired into `libfed node` by ``register_node_commands``. Every command talks to
the coordinator with the node's token from node.toml ``[coordinator]``. A
reader's card number never leaves the node: ``request --patron CARD`` turns it
into the node's opaque patron reference (HMAC under the node's own secret, the
same reference the reader pages use) before anything is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from federation.cli.common import EXIT_OK, fail, print_json
from federation.errors import InvalidArgument, LibfedError

_STATUS_WORDS = {
    "REQUEST_RECEIVED": "RequestReceived", "EXPECT_TO_SUPPLY": "ExpectToSupply",
    "WILL_SUPPLY": "WillSupply", "LOANED": "Loaned", "OVERDUE": "Overdue",
    "RECALLED": "Recalled", "RETRY_POSSIBLE": "RetryPossible", "UNFILLED": "Unfilled",
    "COPY_COMPLETED": "CopyCompleted", "LOAN_COMPLETED": "LoanCompleted",
    "COMPLETED_WITHOUT_RETURN": "CompletedWithoutReturn", "CANCELLED": "Cancelled",
    "RECEIVED": "Received", "SHIPPED_RETURN": "ShippedReturn", "CANCEL": "Cancel",
    "RENEW": "Renew", "LOAN": "Loan", "COPY": "Copy", "COPY_OR_LOAN": "CopyOrLoan",
}


def register_node_commands(commands: argparse._SubParsersAction) -> None:
    join = commands.add_parser("join", help="store the coordinator's address and this node's token")
    join.add_argument("--config", required=True, type=Path, help="node.toml")
    join.add_argument("--coordinator", required=True, metavar="HOST:PORT")
    join.add_argument("--token", required=True, help="the token `coordinator add-node` printed")
    join.set_defaults(func=join_command)

    request = commands.add_parser("request", help="ask the network for a book for a reader")
    request.add_argument("--config", required=True, type=Path)
    request.add_argument("--patron", required=True, metavar="CARD", help="the reader's card")
    target = request.add_mutually_exclusive_group(required=True)
    target.add_argument("--cluster", metavar="ID", help="a union catalog cluster id")
    target.add_argument("--isbn")
    request.add_argument("--copy", action="store_true", help="a copy (scan), not a loan")
    request.add_argument("--pickup", default="", help="where the reader collects it")
    request.add_argument("--key", default="", help="idempotency key (default: a new one)")
    request.add_argument("--needed-before", metavar="YYYY-MM-DD", type=_date,
                         help="give up unless shipped before this day (UTC)")
    request.add_argument("--json", action="store_true")
    request.set_defaults(func=request_command)

    requests = commands.add_parser("requests", help="requests this library borrows or lends")
    requests.add_argument("--config", required=True, type=Path)
    requests.add_argument("--json", action="store_true")
    requests.set_defaults(func=requests_command)

    helps = {
        "answer": "lender: will supply (or, with --reason, cannot supply: Unfilled)",
        "ship": "lender: the item (or copy) was sent: Loaned / CopyCompleted",
        "receive": "requester: the item arrived: Received",
        "return": "requester: the item was sent back: ShippedReturn",
        "renew": "requester: ask for a later due date (Renew; the network's policy decides)",
        "checkin": "lender: the item is back on the shelf: LoanCompleted",
        "recall": "lender: ask for the item back before its due date: Recalled",
        "cancel": "requester: withdraw the request before it was shipped",
    }
    for name, text in helps.items():
        step = commands.add_parser(name, help=text)
        step.add_argument("--config", required=True, type=Path)
        step.add_argument("request_id", metavar="REQUEST_ID")
        reason = ("why it cannot be supplied: an ISO 18626 reasonUnfilled (NotOnShelf, "
                  "InUse, NotHeld...)" if name == "answer" else
                  "a note for the other library (never a reader's name or card)")
        step.add_argument("--reason", default="", help=reason)
        if name == "answer":
            step.add_argument("--unfilled", action="store_true", help="cannot supply")
        if name == "ship":
            step.add_argument("--due", default="", help="due date (ISO 8601); default 28 days")
        step.add_argument("--json", action="store_true")
        step.set_defaults(func=step_command, step=name)


def join_command(args: argparse.Namespace) -> int:
    from node import config as node_config

    try:
        config = node_config.load(args.config)
        table = dict(config.coordinator)
        table.update(address=args.coordinator, token=args.token.strip())
        config.extra["coordinator"] = table
        node_config.save(config, args.config)
    except LibfedError as error:
        return fail(str(error))
    print(f"{args.config}: joined the coordinator at {args.coordinator} as {config.symbol};"
          " restart `libfed node serve` to start its heartbeat")
    return EXIT_OK


def request_json(message) -> dict:
    """A LoanRequest message as JSON with ISO 18626 names."""
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(message, preserving_proto_field_name=True)

    def name(value: str) -> str:
        for prefix in ("LOAN_STATUS_", "REQUESTER_ACTION_", "SERVICE_TYPE_"):
            if isinstance(value, str) and value.startswith(prefix):
                return _STATUS_WORDS.get(value[len(prefix):], value)
        return value

    for key in ("status", "service_type", "last_requester_action"):
        if key in data:
            data[key] = name(data[key])
    for event in data.get("history", []):
        for key in ("from_status", "to_status", "action"):
            if key in event:
                event[key] = name(event[key])
    return data


def _run(config_path: Path, work):
    from node import config as node_config
    from node.coordinator_link import CoordinatorLink

    async def main():
        config = node_config.load(config_path)
        async with CoordinatorLink.require(config) as link:
            return await work(config, link)

    return asyncio.run(main())


def _show(message, as_json: bool) -> None:
    data = request_json(message)
    if as_json:
        print_json(data)
        return
    lender = data.get("lender_symbol") or "—"
    print(f"{data['request_id']}: {data['status']} (lender {lender}, "
          f"attempt {data.get('attempt', 0)}) {data.get('title', '')}")


def _date(text: str) -> float:
    """``--needed-before``: a YYYY-MM-DD day as the epoch time of its start (UTC)."""
    from federation.coordinator.model import day_start

    try:
        return day_start(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-31") from None


def request_command(args: argparse.Namespace) -> int:
    async def work(config, link):
        from node.patrons import PatronRegister, patrons_path

        register = await PatronRegister.open(patrons_path(config))
        try:
            patron_ref = register.patron_ref(args.patron)
        finally:
            await register.close()
        return await link.submit(patron_ref, cluster_id=args.cluster or "", isbn=args.isbn or "",
                                 copy=args.copy, pickup_location=args.pickup,
                                 idempotency_key=args.key, needed_before=args.needed_before)

    try:
        _show(_run(args.config, work), args.json)
    except LibfedError as error:
        return fail(str(error))
    return EXIT_OK


def requests_command(args: argparse.Namespace) -> int:
    try:
        found = _run(args.config, lambda config, link: _list(config, link))
    except LibfedError as error:
        return fail(str(error))
    symbol, found = found
    rows = [request_json(message) for message in found]
    if args.json:
        print_json(rows)
        return EXIT_OK
    table = Table(title=f"interlibrary loans of {symbol}")
    for column in ("request", "role", "status", "requester", "lender", "title"):
        table.add_column(column)
    for row in rows:
        role = "borrowing" if row.get("requester_symbol") == symbol else "lending"
        table.add_row(row["request_id"], role, row["status"], row.get("requester_symbol", ""),
                      row.get("lender_symbol", ""), row.get("title", ""))
    Console().print(table)
    return EXIT_OK


async def _list(config, link):
    return config.symbol, await link.list()


def _due(text: str):
    from google.protobuf.timestamp_pb2 import Timestamp

    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"--due {text!r} is not an ISO 8601 date") from None
    stamp = Timestamp()
    seconds = when.timestamp() if when.tzinfo else time.mktime(when.timetuple())
    stamp.FromSeconds(int(seconds))
    return stamp


def step_command(args: argparse.Namespace) -> int:
    from libfed.v1 import common_pb2 as c

    async def work(config, link):
        current = await link.get(args.request_id)
        step, attempt = args.step, current.attempt
        if step == "answer":
            if args.unfilled or args.reason:
                return await link.report_supplier(args.request_id, c.LOAN_STATUS_UNFILLED,
                                                  attempt=attempt, reason=args.reason or "Other")
            return await link.report_supplier(args.request_id, c.LOAN_STATUS_WILL_SUPPLY,
                                              attempt=attempt, note=args.reason)
        if step == "ship":
            return await link.ship(current, due_time=_due(args.due), note=args.reason)
        if step == "checkin":
            return await link.report_supplier(args.request_id, c.LOAN_STATUS_LOAN_COMPLETED,
                                              attempt=attempt, note=args.reason)
        if step == "recall":
            return await link.report_supplier(args.request_id, c.LOAN_STATUS_RECALLED,
                                              attempt=attempt, note=args.reason)
        if step == "cancel":
            return await link.cancel(args.request_id, args.reason)
        action = {"receive": c.REQUESTER_ACTION_RECEIVED,
                  "return": c.REQUESTER_ACTION_SHIPPED_RETURN,
                  "renew": c.REQUESTER_ACTION_RENEW}[step]
        return await link.report_requester(args.request_id, action, args.reason)

    try:
        _show(_run(args.config, work), args.json)
    except LibfedError as error:
        return fail(f"{args.request_id}: {error}")
    return EXIT_OK
