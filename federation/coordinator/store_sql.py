"""The coordinator store's SQL: schema and migrations, row mapping, the statements of
one transition. Only :mod:`federation.coordinator.store` uses it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from federation.coordinator.model import (
    FINAL_STATUSES,
    Action,
    LoanRequest,
    Node,
    Outcome,
    RotaEntry,
    ServiceType,
    Status,
    StatusEvent,
)

FINAL_SQL = ", ".join(f"'{s}'" for s in sorted(FINAL_STATUSES))

MIGRATIONS: list[str] = [
    # version 1
    f"""
    CREATE TABLE nodes (
        symbol TEXT PRIMARY KEY, name TEXT NOT NULL, grpc_address TEXT NOT NULL,
        oai_url TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, priority INTEGER NOT NULL DEFAULT 0,
        up INTEGER NOT NULL DEFAULT 0, latency_ms REAL, last_seen REAL, last_error TEXT NOT NULL DEFAULT '',
        record_count INTEGER NOT NULL DEFAULT 0, lent INTEGER NOT NULL DEFAULT 0,
        borrowed INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL
    );
    CREATE TABLE requests (
        request_id TEXT PRIMARY KEY, requester TEXT NOT NULL, idempotency_key TEXT NOT NULL,
        patron_ref TEXT NOT NULL, service_type TEXT NOT NULL, status TEXT NOT NULL,
        cluster_id TEXT NOT NULL DEFAULT '', isbn TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '',
        pickup_location TEXT NOT NULL DEFAULT '', needed_before REAL, note TEXT NOT NULL DEFAULT '',
        lender TEXT NOT NULL DEFAULT '', attempt INTEGER NOT NULL DEFAULT 0,
        routed INTEGER NOT NULL DEFAULT 0, last_action TEXT, due_time REAL, deadline_at REAL,
        created REAL NOT NULL, updated REAL NOT NULL, supplied_time REAL,
        UNIQUE (requester, idempotency_key)
    );
    -- One open request per reader and work: the database itself refuses a duplicate.
    CREATE UNIQUE INDEX requests_open_per_reader ON requests (requester, patron_ref, cluster_id)
        WHERE status NOT IN ({FINAL_SQL});
    CREATE INDEX requests_status ON requests (status, deadline_at);
    CREATE INDEX requests_lender ON requests (lender);
    CREATE TABLE rota (
        request_id TEXT NOT NULL REFERENCES requests(request_id), position INTEGER NOT NULL,
        lender TEXT NOT NULL, record_id TEXT NOT NULL, available_count INTEGER NOT NULL,
        open_loans INTEGER NOT NULL, score REAL NOT NULL, outcome TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (request_id, position)
    );
    CREATE INDEX rota_lender ON rota (lender);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, time REAL NOT NULL, actor TEXT NOT NULL,
        from_status TEXT, to_status TEXT NOT NULL, action TEXT, note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_request ON events (request_id, id);
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, attempt INTEGER NOT NULL,
        lender TEXT NOT NULL, status TEXT NOT NULL, action TEXT, due_time REAL,
        note TEXT NOT NULL DEFAULT '', tries INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX deliveries_next ON deliveries (next_try);
    """,
    # version 2: a node's token can be replaced (a leaked token is revoked by
    # `libfed coordinator rotate-token`); 0 is the token add-node issued.
    """
    ALTER TABLE nodes ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
    """,
    # version 3: renewals granted on a loan (requester action Renew).
    """
    ALTER TABLE requests ADD COLUMN renewals INTEGER NOT NULL DEFAULT 0;
    """,
    # version 4: which token scheme a node holds (auth.py): 2 = a random token and a
    # coordinator credential of its own; 1 = an lf1- token issued before, used both ways.
    """
    ALTER TABLE nodes ADD COLUMN token_scheme INTEGER NOT NULL DEFAULT 1;
    """,
    # version 5: outside ISO 18626 partners ("peers") sit in the rota like nodes; they are
    # reached over HTTP at iso18626_url and named in messages by agency_id.
    """
    ALTER TABLE nodes ADD COLUMN iso18626_url TEXT NOT NULL DEFAULT '';
    ALTER TABLE nodes ADD COLUMN agency_id TEXT NOT NULL DEFAULT '';
    """,
]

REQUEST_COLUMNS = (
    "request_id, requester, idempotency_key, patron_ref, service_type, status, cluster_id, isbn,"
    " title, pickup_location, needed_before, note, lender, attempt, routed, last_action, due_time,"
    " deadline_at, created, updated, supplied_time, renewals"
)


class Delivery:
    """A status change owed to a library, kept until it arrives.

    Usually to a lender (UpdateLoanStatus to a node, or an ISO 18626 message to an
    outside peer lending); an outside peer that is the *requester* is owed every
    status change too, since it cannot ask us over gRPC (see ``_owed_to_requester``).
    The column keeps its first name, ``lender``: the library the row is owed to.
    """

    __slots__ = ("id", "request_id", "attempt", "lender", "status", "action", "due_time", "note",
                 "tries")

    def __init__(self, row: sqlite3.Row) -> None:
        for name in self.__slots__:
            setattr(self, name, row[name])


def node_from_row(row: sqlite3.Row) -> Node:
    return Node(
        symbol=row["symbol"], name=row["name"], grpc_address=row["grpc_address"],
        oai_url=row["oai_url"], priority=row["priority"], up=bool(row["up"]),
        latency_ms=row["latency_ms"], last_seen=row["last_seen"], last_error=row["last_error"],
        record_count=row["record_count"], lent=row["lent"], borrowed=row["borrowed"],
        token_generation=row["token_generation"], token_scheme=row["token_scheme"],
        iso18626_url=row["iso18626_url"], agency_id=row["agency_id"],
    )


def request_from_row(row: sqlite3.Row) -> LoanRequest:
    return LoanRequest(
        request_id=row["request_id"], requester=row["requester"], patron_ref=row["patron_ref"],
        service_type=ServiceType(row["service_type"]), status=Status(row["status"]),
        idempotency_key=row["idempotency_key"], cluster_id=row["cluster_id"], isbn=row["isbn"],
        title=row["title"], pickup_location=row["pickup_location"],
        needed_before=row["needed_before"], note=row["note"], lender=row["lender"],
        attempt=row["attempt"], routed=bool(row["routed"]),
        last_action=Action(row["last_action"]) if row["last_action"] else None,
        due_time=row["due_time"], deadline_at=row["deadline_at"], created=row["created"],
        updated=row["updated"], supplied_time=row["supplied_time"], renewals=row["renewals"],
    )


def request_values(r: LoanRequest) -> tuple:
    return (
        r.request_id, r.requester, r.idempotency_key, r.patron_ref, str(r.service_type),
        str(r.status), r.cluster_id, r.isbn, r.title, r.pickup_location, r.needed_before, r.note,
        r.lender, r.attempt, int(r.routed), r.last_action and str(r.last_action), r.due_time,
        r.deadline_at, r.created, r.updated, r.supplied_time, r.renewals,
    )


# -- the statements of one transition ----------------------------------------------------
#
# Written once, with ``?`` placeholders, for both storages: SQLite runs them as they
# are, PostgreSQL (store_postgres.py) with ``%s``. Upserts are ON CONFLICT, which
# both know.

#: (sql, params, many): one statement, or one statement for each row of params.
Statement = tuple[str, Sequence, bool]

REQUEST_SQL = f"SELECT {REQUEST_COLUMNS} FROM requests WHERE request_id = ?"
ROTA_SQL = "SELECT * FROM rota WHERE request_id = ? ORDER BY position"
EVENTS_SQL = "SELECT * FROM events WHERE request_id = ? ORDER BY id"
_REQUEST_NAMES = [name.strip() for name in REQUEST_COLUMNS.split(",")]
_INSERT_REQUEST = (f"INSERT INTO requests ({REQUEST_COLUMNS})"
                   f" VALUES ({', '.join('?' * len(_REQUEST_NAMES))})")
_UPSERT_REQUEST = _INSERT_REQUEST + " ON CONFLICT (request_id) DO UPDATE SET " + ", ".join(
    f"{name} = excluded.{name}" for name in _REQUEST_NAMES[1:])
_UPSERT_ROTA = (
    "INSERT INTO rota (request_id, position, lender, record_id, available_count, open_loans,"
    " score, outcome, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (request_id, position) DO UPDATE SET lender = excluded.lender,"
    " record_id = excluded.record_id, available_count = excluded.available_count,"
    " open_loans = excluded.open_loans, score = excluded.score, outcome = excluded.outcome,"
    " reason = excluded.reason"
)


def migrate(db: sqlite3.Connection) -> None:
    """Bring a SQLite file's schema to the latest version, one migration per transaction."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")


def transition_statements(
    request: LoanRequest, events, entries, deliveries, lending, new: bool
) -> list[Statement]:
    """Everything one transition writes: the request row, changed rota entries, events,
    outbox rows (and those owed to an outside requester), the lending balance."""
    statements: list[Statement] = [
        (_INSERT_REQUEST if new else _UPSERT_REQUEST, request_values(request), False)]
    if entries:
        statements.append((_UPSERT_ROTA, [
            (request.request_id, e.position, e.lender, e.record_id, e.available_count,
             e.open_loans, e.score, str(e.outcome), e.reason) for e in entries], True))
    if events:
        statements.append((
            "INSERT INTO events (request_id, time, actor, from_status, to_status, action, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(request.request_id, e.time, e.actor, e.from_status and str(e.from_status),
              str(e.to_status), e.action and str(e.action), e.note) for e in events], True))
    if deliveries:
        statements.append((
            "INSERT INTO deliveries (request_id, attempt, lender, status, action,"
            " due_time, note, next_try) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(request.request_id, *d, request.updated) for d in deliveries], True))
    owed = [e for e in events if _owed_to_requester(e)]
    if owed:
        # Only an outside (ISO 18626) requester is owed these: a node asks for its
        # requests itself. Decided in SQL, so it is part of this same transaction.
        statements.append((
            "INSERT INTO deliveries (request_id, attempt, lender, status, action, due_time,"
            " note, next_try) SELECT ?, ?, symbol, ?, ?, ?, ?, ? FROM nodes"
            " WHERE symbol = ? AND iso18626_url != ''",
            [(request.request_id, request.attempt, str(e.to_status), e.action and str(e.action),
              request.due_time, e.note, request.updated, request.requester) for e in owed],
            True))
    if lending:
        # One statement for both rows, so two coordinators recording reciprocal loans
        # lock them in the same order (no deadlock).
        statements.append((
            "UPDATE nodes SET lent = lent + CASE WHEN symbol = ? THEN 1 ELSE 0 END,"
            " borrowed = borrowed + CASE WHEN symbol = ? THEN 1 ELSE 0 END"
            " WHERE symbol IN (?, ?)", (*lending, *lending), False))
    return statements


def _owed_to_requester(event: StatusEvent) -> bool:
    """Whether an outside requester must be told of this event (a supplyingAgencyMessage).

    Not the request's arrival (it was confirmed at once) nor a lender passing it on
    (the network is one supplier to the outside: it hears the next answer); yes to
    every other change of status and to the answers to a Cancel or a Renew.
    """
    if event.from_status is None or event.to_status is Status.REQUEST_RECEIVED:
        return False
    return event.to_status != event.from_status or event.action in (Action.CANCEL, Action.RENEW)


def request_from_rows(row, rota_rows, event_rows) -> LoanRequest:
    """A request with its rota (and history, when ``event_rows`` is not None)."""
    request = request_from_row(row)
    request.rota = [
        RotaEntry(
            position=r["position"], lender=r["lender"], record_id=r["record_id"],
            available_count=r["available_count"], open_loans=r["open_loans"],
            score=r["score"], outcome=Outcome(r["outcome"]), reason=r["reason"],
        )
        for r in rota_rows
    ]
    if event_rows is not None:
        request.history = [
            StatusEvent(
                time=r["time"], actor=r["actor"],
                from_status=Status(r["from_status"]) if r["from_status"] else None,
                to_status=Status(r["to_status"]),
                action=Action(r["action"]) if r["action"] else None, note=r["note"],
            )
            for r in event_rows
        ]
    return request
