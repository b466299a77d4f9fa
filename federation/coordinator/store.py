"""The coordinator's state: nodes, requests, rotas, audit trail, outbox.

:class:`CoordinatorStore` is every question and change the services make, each
written once in SQL that both storages run (``?`` placeholders; the statements
of one transition are in :mod:`store_sql`). Under it, a storage gives four
primitives — read rows, read several queries in one snapshot, write statements
in one transaction, and the request locks — and nothing else:

- :class:`~federation.coordinator.store_sqlite.SqliteStore`: one SQLite file in
  WAL mode (the default; ``state_db = "state.sqlite"``);
- :class:`~federation.coordinator.store_postgres.PostgresStore`: a PostgreSQL
  database (``state_db = "postgresql://…"``), which two coordinators may share:
  its locks and duties are taken in the database too.

Deadlines are columns (``requests.deadline_at``, ``requests.due_time``) and
calls owed to libraries are rows of ``deliveries`` (an outbox), so both survive a
restart: a restarted coordinator finds every pending duty in its database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

from federation.coordinator.lifecycle import BEFORE_SHIPPING
from federation.coordinator.locks import KeyedLocks
from federation.coordinator.model import (
    Action,
    LoanRequest,
    Node,
    RotaEntry,
    Status,
    StatusEvent,
)
from federation.coordinator.store_sql import (
    EVENTS_SQL,
    FINAL_SQL,
    REQUEST_COLUMNS,
    REQUEST_SQL,
    ROTA_SQL,
    Delivery,
    Statement,
    node_from_row,
    request_from_rows,
    transition_statements,
)
from federation.database_url import is_url
from federation.errors import AlreadyExists, NotFound


class Conflict(Exception):
    """A write broke a unique rule (a key, the one-open-request index)."""


class CoordinatorStore:
    """Async access to the coordinator's database; ``open`` picks the storage."""

    #: The per-request locks (LoanService.locks): in this process, or shared.
    locks: KeyedLocks

    @staticmethod
    async def open(location: str | Path) -> CoordinatorStore:
        """Open (creating and migrating when needed) the state at ``location``: a
        SQLite file path or a ``postgresql://`` URL."""
        if is_url(location):
            from federation.coordinator.store_postgres import PostgresStore

            return await PostgresStore.open(str(location))
        from federation.coordinator.store_sqlite import SqliteStore

        return await SqliteStore.open(location)

    # -- what a storage provides ----------------------------------------------------

    async def close(self) -> None:
        raise NotImplementedError

    async def _all(self, sql: str, params: Iterable = ()) -> list:
        """Every row of one query (rows are mappings by column name)."""
        raise NotImplementedError

    async def _reads(self, queries: Sequence[tuple[str, Sequence]]) -> list[list]:
        """The rows of several queries, all from one snapshot."""
        raise NotImplementedError

    async def _transaction(self, statements: Sequence[Statement]) -> list[int]:
        """Run statements as one transaction; each one's rowcount. Conflict on a unique
        rule (nothing is written)."""
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def exclusive(self, duty: str) -> AsyncIterator[bool]:
        """Whether this coordinator may do ``duty`` (the outbox, a harvest) now. One
        coordinator alone on its file always may; coordinators sharing a database
        take turns, and one that is refused skips this round."""
        yield True

    async def _one(self, sql: str, params: Iterable = ()):
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _execute(self, sql: str, params: Sequence = ()) -> int:
        (count,) = await self._transaction([(sql, tuple(params), False)])
        return count

    # -- nodes -------------------------------------------------------------------

    async def add_node(self, node: Node, token_hash: str, at: float) -> None:
        """Register a node; AlreadyExists when its symbol is taken."""
        try:
            await self._execute(
                "INSERT INTO nodes (symbol, name, grpc_address, oai_url, token_hash,"
                " priority, created, token_scheme) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (node.symbol, node.name, node.grpc_address, node.oai_url, token_hash,
                 node.priority, at, node.token_scheme),
            )
        except Conflict as error:
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
        sql = f"UPDATE nodes SET {assignments} WHERE symbol = ?"
        if await self._execute(sql, (*values, symbol)) == 0:
            raise NotFound(f"no node {symbol} is registered")

    async def save_peer(self, peer: Node, at: float) -> None:
        """Add or update an outside ISO 18626 partner; AlreadyExists when a libfed node
        has its symbol. A peer holds no token: it is recognised by its agency id."""
        changed = await self._execute(
            "INSERT INTO nodes (symbol, name, grpc_address, oai_url, token_hash, priority,"
            " created, token_scheme, iso18626_url, agency_id)"
            " VALUES (?, ?, '', '', ?, ?, ?, 2, ?, ?) ON CONFLICT (symbol) DO UPDATE SET"
            " name = excluded.name, priority = excluded.priority,"
            " iso18626_url = excluded.iso18626_url, agency_id = excluded.agency_id"
            " WHERE nodes.iso18626_url != ''",
            (peer.symbol, peer.name, f"peer:{peer.symbol}", peer.priority, at,
             peer.iso18626_url, peer.agency_id),
        )
        if changed == 0:
            raise AlreadyExists(f"{peer.symbol} is a registered libfed node, not a peer")

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
        await self._execute(
            "UPDATE nodes SET up = ?, latency_ms = ?, last_error = ?,"
            " last_seen = CASE WHEN ? = 1 THEN ? ELSE last_seen END WHERE symbol = ?",
            (int(up), latency_ms, error, int(up), at, symbol),
        )

    async def record_heartbeat(
        self, symbol: str, *, grpc_address: str, oai_url: str, record_count: int, at: float
    ) -> None:
        await self._execute(
            "UPDATE nodes SET grpc_address = COALESCE(NULLIF(?, ''), grpc_address),"
            " oai_url = COALESCE(NULLIF(?, ''), oai_url), record_count = ?, last_seen = ?"
            " WHERE symbol = ?",
            (grpc_address, oai_url, record_count, at, symbol),
        )

    # -- requests ----------------------------------------------------------------

    async def insert_request(self, request: LoanRequest, events: list[StatusEvent]) -> LoanRequest:
        """Store a new request with its rota, or return the one submitted with the same key.

        A reader's second open request for the same work is AlreadyExists.
        """
        try:
            await self._transaction(
                transition_statements(request, events, request.rota, (), None, True))
        except Conflict as error:
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
            f"SELECT 1 AS open FROM requests WHERE requester = ? AND patron_ref = ?"
            f" AND cluster_id = ? AND status NOT IN ({FINAL_SQL})",
            (requester, patron_ref, cluster_id),
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
        queries = [(REQUEST_SQL, (request_id,)), (ROTA_SQL, (request_id,))]
        if full:
            queries.append((EVENTS_SQL, (request_id,)))
        rows, rota, *events = await self._reads(queries)
        if not rows:
            raise NotFound(f"no request {request_id}")
        return request_from_rows(rows[0], rota, events[0] if full else None)

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
        await self._transaction(
            transition_statements(request, events, entries, deliveries, lending, False))

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
        sql = f"SELECT {REQUEST_COLUMNS} FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, request_id LIMIT ? OFFSET ?"
        rows = await self._all(sql, (*params, limit, offset))
        if not rows:
            return []
        ids = [row["request_id"] for row in rows]
        rota = await self._all(
            f"SELECT * FROM rota WHERE request_id IN ({', '.join('?' * len(ids))})"
            " ORDER BY request_id, position", ids)
        by_request: dict[str, list] = {}
        for entry in rota:
            by_request.setdefault(entry["request_id"], []).append(entry)
        return [request_from_rows(row, by_request.get(row["request_id"], []), None)
                for row in rows]

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
        # A library's rows go in order: none is due while an earlier one waits to be tried
        # again (the peer that was down hears WillSupply before Loaned).
        rows = await self._all(
            "SELECT * FROM deliveries d WHERE next_try <= ? AND NOT EXISTS (SELECT 1 FROM"
            " deliveries e WHERE e.lender = d.lender AND e.id < d.id AND e.next_try > ?)"
            " ORDER BY id LIMIT ?", (at, at, limit)
        )
        return [Delivery(row) for row in rows]

    async def pending_deliveries(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM deliveries")
        return row["n"]

    async def delivered(self, delivery_id: int) -> None:
        await self._execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))

    async def delivery_failed(self, delivery_id: int, next_try: float, error: str) -> None:
        await self._execute(
            "UPDATE deliveries SET tries = tries + 1, next_try = ?, last_error = ? WHERE id = ?",
            (next_try, error[:500], delivery_id),
        )

    # -- moving a whole state (libfed coordinator migrate) --------------------------

    #: Every table of the state, in an order that keeps references whole.
    TABLES = ("nodes", "requests", "rota", "events", "deliveries")

    async def table_rows(self, table: str) -> list[dict]:
        """Every row of one of :data:`TABLES`, as column → value."""
        assert table in self.TABLES, table
        rows = await self._all(f"SELECT * FROM {table}")
        return [dict(row) if isinstance(row, dict) else dict(zip(row.keys(), row, strict=True))
                for row in rows]

    async def row_counts(self) -> dict[str, int]:
        return {table: (await self._one(f"SELECT COUNT(*) AS n FROM {table}"))["n"]
                for table in self.TABLES}

    async def load_tables(self, tables: dict[str, list[dict]]) -> None:
        """Write whole tables into an empty state, in one transaction (ids kept)."""
        statements: list[Statement] = []
        for table in self.TABLES:
            rows = tables.get(table) or []
            if rows:
                columns = list(rows[0])
                statements.append((
                    f"INSERT INTO {table} ({', '.join(columns)})"
                    f" VALUES ({', '.join('?' * len(columns))})",
                    [tuple(row[c] for c in columns) for row in rows], True))
        await self._transaction([*statements, *self._after_load()])

    def _after_load(self) -> list[Statement]:
        """Statements a storage needs after rows came in with their own ids."""
        return []

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
