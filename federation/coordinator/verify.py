"""What a sound coordinator store looks like: the coordinator's checks for `libfed verify`.

Run by :mod:`federation.backup` on a snapshot of ``state.sqlite``, after
SQLite's integrity and foreign-key checks: every library a request, rota entry
or undelivered message names is a registered node (or outside peer); a
request's lender is on its rota; every rota line, event and outbox row belongs
to a request; statuses are ISO 18626 statuses. Also: the coordinator's stores
(state, staff accounts, and the union catalog when it is a file of its own).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from federation.backup.model import Progress, Store, StoreKind, StoreReport
from federation.backup.room_checks import known_schema, run_checks
from federation.catalog.sqlite.verify import CATALOG
from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.model import Outcome, ServiceType, Status
from federation.coordinator.store_sql import MIGRATIONS

#: The staff accounts' file beside the state (federation.web.serve.staff_db_path: the web
#: owns the accounts; the coordinator's backup keeps them with its state).
STAFF_DB = "staff.sqlite"


def check_state(db: sqlite3.Connection, report: StoreReport, progress: Progress | None) -> None:
    """The coordinator's checks (see the module's docstring)."""
    if known_schema(db, report, len(MIGRATIONS)) is None:
        return
    steps = [("libraries", "requests", _parties), ("libraries", "rota", _lenders),
             ("libraries", "deliveries", _owed), ("requests", "rota", _orphans),
             ("requests", "requests", _statuses)]
    run_checks(db, report, progress, steps)


_NO_NODE = "NOT EXISTS (SELECT 1 FROM nodes n WHERE n.symbol = {})"


def _parties(db: sqlite3.Connection, report: StoreReport) -> None:
    """A request's requester and lender are registered, and its lender is on its rota."""
    for request_id, requester in db.execute(
        f"SELECT request_id, requester FROM requests r WHERE {_NO_NODE.format('r.requester')}"
    ):
        report.problem("libraries", f"its requester {requester} is no registered library",
                       table="requests", key=request_id)
    for request_id, lender in db.execute(
        f"SELECT request_id, lender FROM requests r WHERE r.lender != ''"
        f" AND {_NO_NODE.format('r.lender')}"
    ):
        report.problem("libraries", f"its lender {lender} is no registered library",
                       table="requests", key=request_id)
    for request_id, lender in db.execute(
        "SELECT request_id, lender FROM requests r WHERE r.lender != '' AND NOT EXISTS"
        " (SELECT 1 FROM rota o WHERE o.request_id = r.request_id AND o.lender = r.lender)"
    ):
        report.problem("libraries", f"its lender {lender} is not on its rota", table="requests",
                       key=request_id)


def _lenders(db: sqlite3.Connection, report: StoreReport) -> None:
    for request_id, position, lender in db.execute(
        "SELECT request_id, position, lender FROM rota o"
        f" WHERE {_NO_NODE.format('o.lender')} ORDER BY request_id, position"
    ):
        report.problem("libraries", f"rota position {position} names {lender}, no registered "
                       "library", table="rota", key=request_id)


def _owed(db: sqlite3.Connection, report: StoreReport) -> None:
    for delivery, request_id, lender in db.execute(
        f"SELECT id, request_id, lender FROM deliveries d WHERE {_NO_NODE.format('d.lender')}"
    ):
        report.problem("libraries", f"message {delivery} is owed to {lender}, no registered "
                       "library", table="deliveries", key=request_id)


def _orphans(db: sqlite3.Connection, report: StoreReport) -> None:
    """Rota lines, events and outbox rows all belong to a request the store has."""
    for table in ("rota", "events", "deliveries"):
        for request_id, count in db.execute(
            f"SELECT t.request_id, count(*) FROM {table} t WHERE NOT EXISTS"
            " (SELECT 1 FROM requests r WHERE r.request_id = t.request_id)"
            " GROUP BY t.request_id"
        ):
            report.problem("requests", f"{count} row(s) of a request the store does not have",
                           table=table, key=request_id)


def _statuses(db: sqlite3.Connection, report: StoreReport) -> None:
    statuses, services = {str(s) for s in Status}, {str(s) for s in ServiceType}
    for request_id, status, service in db.execute(
        "SELECT request_id, status, service_type FROM requests"
    ):
        if status not in statuses:
            report.problem("requests", f"status {status!r} is no ISO 18626 status",
                           table="requests", key=request_id)
        if service not in services:
            report.problem("requests", f"service type {service!r} is no ISO 18626 service type",
                           table="requests", key=request_id)
    outcomes = {str(o) for o in Outcome}
    for request_id, position, outcome in db.execute(
        "SELECT request_id, position, outcome FROM rota"
    ):
        if outcome not in outcomes:
            report.problem("requests", f"rota position {position}: outcome {outcome!r} is "
                           "unknown", table="rota", key=request_id)


STATE = StoreKind("state", "SELECT count(*) FROM requests", check_state)
#: Staff accounts: SQLite's own checks only (the web room owns the file's meaning).
STAFF = StoreKind("staff", "SELECT count(*) FROM users", optional=True)
KINDS = {kind.name: kind for kind in (STATE, STAFF, CATALOG)}


def coordinator_stores(config: CoordinatorConfig, *,
                       catalog: bool = True) -> tuple[list[Store], list[str]]:
    """The coordinator's SQLite stores (its state, its staff accounts and, with ``catalog``,
    the union catalog), and what is left out because it lives in PostgreSQL (pg_dump's
    work, not a file to copy)."""
    stores, elsewhere = [], []
    places = [(STATE, config.state_path), (STAFF, Path(config.home) / STAFF_DB)]
    if catalog:
        places.append((CATALOG, config.catalog_path))
    for kind, place in places:
        stores.append(kind.at(place))  # a file, or a database (pg_dump)
    return stores, elsewhere
