"""The coordinator's state: nodes, requests, rotas, audit trail, outbox — one SQLite file.

All SQL of the coordinator is here and in :mod:`store_sql` (schema, migrations,
the statements of one transition). One connection writes (WAL mode; each change is one
short transaction, see :meth:`CoordinatorStore._write` for why it runs on the
event loop's thread), a second one (aiosqlite) reads, so readers see only
committed state. The schema is versioned with ``PRAGMA user_version``.

Deadlines are columns (``requests.deadline_at``, ``requests.due_time``) and
calls owed to nodes are rows of ``deliveries`` (an outbox), so both survive a
restart: a restarted coordinator finds every pending duty in this file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import aiosqlite

from federation.coordinator.lifecycle import BEFORE_SHIPPING
from federation.coordinator.model import (
    Action,
    LoanRequest,
    Node,
    RotaEntry,
    Status,
    StatusEvent,
)
from federation.coordinator.store_sql import (
    FINAL_SQL,
    Delivery,
    load_request,
    migrate,
    node_from_row,
    save_transition,
)
from federation.errors import AlreadyExists, NotFound


class CoordinatorStore:
    """Async access to the coordinator's SQLite file."""

    def __init__(self, writer: sqlite3.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._read = reader

    @classmethod
    async def open(cls, path: str | Path) -> CoordinatorStore:
        """Open (creating and migrating when needed) the state database at ``path``."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        writer.row_factory = sqlite3.Row
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA synchronous=NORMAL")
        writer.execute("PRAGMA busy_timeout=5000")
        migrate(writer)
        reader = await aiosqlite.connect(str(path), isolation_level=None)
        reader.row_factory = sqlite3.Row
        await reader.execute("PRAGMA busy_timeout=5000")
        return cls(writer, reader)

    async def close(self) -> None:
        await self._read.close()
        self._writer.close()

    async def _write(self, fn, *args):
        """Run ``fn(connection, *args)`` as one transaction, on the event loop's thread.

        Why not on aiosqlite's thread like the reads: a transition is a handful of
        statements taking a fraction of a millisecond, but under load each statement's
        hand-back of the GIL to a worker thread waited for the busy event loop, so one
        transition took milliseconds and queued every other one behind it (measured:
        ~300 routed requests/s with the thread, see benchmarks/coordinator.py). Done
        inline there is no hand-off; WAL with synchronous=NORMAL does not fsync on
        commit, so the loop is never held for long.
        """
        connection = self._writer
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = fn(connection, *args)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    async def _read_with(self, fn, *args):
        """Run ``fn(connection, *args)`` (several queries, one snapshot) in one hop."""

        def run():
            connection = self._read._conn
            connection.execute("BEGIN")
            try:
                return fn(connection, *args)
            finally:
                connection.execute("COMMIT")

        return await self._read._execute(run)

    async def _one(self, sql: str, params: Iterable = ()) -> sqlite3.Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        # Execute and fetch in one step on the reader's thread: a cursor left open
        # while other coroutines read would pin an old snapshot of the WAL.
        return list(await self._read.execute_fetchall(sql, tuple(params)))

    # -- nodes -------------------------------------------------------------------

    async def add_node(self, node: Node, token_hash: str, at: float) -> None:
        """Register a node; AlreadyExists when its symbol is taken."""
        try:
            await self._write(lambda db: db.execute(
                "INSERT INTO nodes (symbol, name, grpc_address, oai_url, token_hash,"
                " priority, created, token_scheme) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (node.symbol, node.name, node.grpc_address, node.oai_url, token_hash,
                 node.priority, at, node.token_scheme),
            ))
        except sqlite3.IntegrityError as error:
            raise AlreadyExists(f"node {node.symbol} is already registered") from error

    async def replace_token(
        self, symbol: str, generation: int, token_hash: str, scheme: int
    ) -> None:
        """Store a node's new token generation, hash and scheme; NotFound for an unknown symbol."""
        await self._update_node(symbol, "token_generation = ?, token_hash = ?, token_scheme = ?",
                                (generation, token_hash, scheme))

    async def update_node(self, symbol: str, changes: dict[str, object]) -> None:
        """Change a node's name, addresses or priority; NotFound for an unknown symbol."""
        columns = ("name", "grpc_address", "oai_url", "priority")
        assert set(changes) <= set(columns), changes
        if changes:
            await self._update_node(
                symbol, ", ".join(f"{column} = ?" for column in changes), tuple(changes.values())
            )

    async def _update_node(self, symbol: str, assignments: str, values: tuple) -> None:
        def update(db: sqlite3.Connection) -> int:
            return db.execute(
                f"UPDATE nodes SET {assignments} WHERE symbol = ?", (*values, symbol)
            ).rowcount

        if await self._write(update) == 0:
            raise NotFound(f"no node {symbol} is registered")

    async def save_peer(self, peer: Node, at: float) -> None:
        """Add or update an outside ISO 18626 partner; AlreadyExists when a libfed node
        has its symbol. A peer holds no token: it is recognised by its agency id."""

        def save(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT iso18626_url FROM nodes WHERE symbol = ?",
                             (peer.symbol,)).fetchone()
            if row is not None and not row["iso18626_url"]:
                raise AlreadyExists(f"{peer.symbol} is a registered libfed node, not a peer")
            db.execute(
                "INSERT INTO nodes (symbol, name, grpc_address, oai_url, token_hash, priority,"
                " created, token_scheme, iso18626_url, agency_id)"
                " VALUES (?, ?, '', '', ?, ?, ?, 2, ?, ?) ON CONFLICT (symbol) DO UPDATE SET"
                " name = excluded.name, priority = excluded.priority,"
                " iso18626_url = excluded.iso18626_url, agency_id = excluded.agency_id",
                (peer.symbol, peer.name, f"peer:{peer.symbol}", peer.priority, at,
                 peer.iso18626_url, peer.agency_id),
            )

        await self._write(save)

    async def node(self, symbol: str) -> Node:
        row = await self._one("SELECT * FROM nodes WHERE symbol = ?", (symbol,))
        if row is None:
            raise NotFound(f"no node {symbol} is registered")
        return node_from_row(row)

    async def node_for_token_hash(self, token_hash: str) -> str | None:
        row = await self._one("SELECT symbol FROM nodes WHERE token_hash = ?", (token_hash,))
        return row["symbol"] if row else None

    async def nodes(self) -> list[Node]:
        return [node_from_row(row) for row in await self._all("SELECT * FROM nodes ORDER BY symbol")]

    async def record_health(
        self, symbol: str, *, up: bool, latency_ms: float | None, error: str, at: float
    ) -> None:
        await self._write(lambda db: db.execute(
            "UPDATE nodes SET up = ?, latency_ms = ?, last_error = ?,"
            " last_seen = CASE WHEN ? THEN ? ELSE last_seen END WHERE symbol = ?",
            (int(up), latency_ms, error, int(up), at, symbol),
        ))

    async def record_heartbeat(
        self, symbol: str, *, grpc_address: str, oai_url: str, record_count: int, at: float
    ) -> None:
        await self._write(lambda db: db.execute(
            "UPDATE nodes SET grpc_address = COALESCE(NULLIF(?, ''), grpc_address),"
            " oai_url = COALESCE(NULLIF(?, ''), oai_url), record_count = ?, last_seen = ?"
            " WHERE symbol = ?",
            (grpc_address, oai_url, record_count, at, symbol),
        ))

    # -- requests ----------------------------------------------------------------

    async def insert_request(self, request: LoanRequest, events: list[StatusEvent]) -> LoanRequest:
        """Store a new request with its rota, or return the one submitted with the same key.

        A reader's second open request for the same work is AlreadyExists.
        """
        try:
            await self._write(save_transition, request, events, request.rota, (), None, True)
        except sqlite3.IntegrityError as error:
            existing = await self.request_by_key(request.requester, request.idempotency_key)
            if existing is not None:
                return existing
            raise AlreadyExists(
                f"this reader already has an open request for cluster {request.cluster_id}"
            ) from error
        return request

    async def has_open_request(self, requester: str, patron_ref: str, cluster_id: str) -> bool:
        """Whether this reader has an open request for the work (the unique index's rule)."""
        row = await self._one(
            f"SELECT 1 FROM requests WHERE requester = ? AND patron_ref = ? AND cluster_id = ?"
            f" AND status NOT IN ({FINAL_SQL})", (requester, patron_ref, cluster_id),
        )
        return row is not None

    async def open_loans_of(self, lender: str) -> int:
        """Requests a library is supplying (or was offered) and that are not over yet."""
        row = await self._one(
            f"SELECT COUNT(*) AS n FROM requests WHERE lender = ? AND status NOT IN ({FINAL_SQL})",
            (lender,),
        )
        return row["n"]

    async def request_by_key(self, requester: str, key: str) -> LoanRequest | None:
        row = await self._one(
            "SELECT request_id FROM requests WHERE requester = ? AND idempotency_key = ?",
            (requester, key),
        )
        return await self.request(row["request_id"]) if row else None

    async def request(self, request_id: str, *, full: bool = True) -> LoanRequest:
        """One request with its rota (and, when ``full``, its history); NotFound otherwise."""
        request = await self._read_with(load_request, request_id, full)
        if request is None:
            raise NotFound(f"no request {request_id}")
        return request

    async def save(
        self,
        request: LoanRequest,
        *,
        events: list[StatusEvent] = (),
        entries: list[RotaEntry] = (),
        deliveries: list[tuple] = (),
        lending: tuple[str, str] | None = None,
    ) -> None:
        """Write one transition: the request row, changed rota entries, events, outbox rows.

        ``deliveries`` are ``(attempt, lender, status, action, due_time, note)``;
        ``lending`` is ``(lender, requester)`` when an item was just supplied.
        """
        await self._write(save_transition, request, events, entries, deliveries, lending, False)

    async def list_requests(
        self, symbol: str | None, role: str = "", statuses: Iterable[str] = (),
        limit: int = 100, offset: int = 0,
    ) -> list[LoanRequest]:
        """Requests a node is party to (requester, or any lender of the rota); all for None."""
        where, params = [], []
        if symbol is not None:
            as_requester = "requester = ?"
            as_lender = "request_id IN (SELECT request_id FROM rota WHERE lender = ?)"
            clause = {"requester": as_requester, "lender": as_lender}.get(
                role, f"({as_requester} OR {as_lender})"
            )
            where.append(clause)
            params += [symbol] * clause.count("?")
        statuses = list(statuses)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params += statuses
        sql = "SELECT request_id FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, request_id LIMIT ? OFFSET ?"

        def load(db):
            rows = db.execute(sql, (*params, limit, offset)).fetchall()
            return [load_request(db, row["request_id"], False) for row in rows]

        return await self._read_with(load)

    async def requests_needing_work(self) -> list[str]:
        """Requests the coordinator itself must move on: not yet routed, or an offer unsent.

        A RequestReceived with an answer deadline is an offer an outside peer
        acknowledged: it waits on the peer (and on its deadline), not on us.
        """
        rows = await self._all(
            "SELECT request_id FROM requests WHERE status = ? AND deadline_at IS NULL"
            " ORDER BY created",
            (str(Status.REQUEST_RECEIVED),),
        )
        return [row["request_id"] for row in rows]

    async def requests_past_deadline(self, at: float) -> list[str]:
        rows = await self._all(
            "SELECT request_id FROM requests WHERE deadline_at IS NOT NULL AND deadline_at <= ?"
            " ORDER BY deadline_at",
            (at,),
        )
        return [row["request_id"] for row in rows]

    async def requests_past_need(self, at: float) -> list[str]:
        """Requests not shipped yet whose reader needed the item before ``at``."""
        statuses = sorted(str(status) for status in BEFORE_SHIPPING)
        rows = await self._all(
            "SELECT request_id FROM requests WHERE needed_before IS NOT NULL"
            f" AND needed_before <= ? AND status IN ({', '.join('?' * len(statuses))})"
            " ORDER BY needed_before",
            (at, *statuses),
        )
        return [row["request_id"] for row in rows]

    async def requests_past_due(self, at: float) -> list[str]:
        rows = await self._all(
            "SELECT request_id FROM requests WHERE status IN (?, ?) AND due_time <= ?"
            " AND COALESCE(last_action, '') != ?",
            (str(Status.LOANED), str(Status.RECALLED), at, str(Action.SHIPPED_RETURN)),
        )
        return [row["request_id"] for row in rows]

    # -- outbox ------------------------------------------------------------------

    async def due_deliveries(self, at: float, limit: int = 200) -> list[Delivery]:
        rows = await self._all(
            "SELECT * FROM deliveries WHERE next_try <= ? ORDER BY id LIMIT ?", (at, limit)
        )
        return [Delivery(row) for row in rows]

    async def pending_deliveries(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM deliveries")
        return row["n"]

    async def delivered(self, delivery_id: int) -> None:
        await self._write(lambda db: db.execute("DELETE FROM deliveries WHERE id = ?",
                                                (delivery_id,)))

    async def delivery_failed(self, delivery_id: int, next_try: float, error: str) -> None:
        await self._write(lambda db: db.execute(
            "UPDATE deliveries SET tries = tries + 1, next_try = ?, last_error = ? WHERE id = ?",
            (next_try, error[:500], delivery_id),
        ))

    # -- statistics --------------------------------------------------------------

    async def count_by_status(self) -> dict[str, int]:
        rows = await self._all("SELECT status, COUNT(*) AS n FROM requests GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    async def turnaround_seconds(self) -> list[float]:
        """Seconds from submission until the item (or copy) reached the requester."""
        rows = await self._all(
            "SELECT supplied_time - created AS s FROM requests WHERE supplied_time IS NOT NULL"
        )
        return [row["s"] for row in rows]
