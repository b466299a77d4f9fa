"""The coordinator's state in one SQLite file (the default storage).

One connection writes (WAL mode; each change is one short transaction run on the
event loop's thread, see :meth:`SqliteStore._transaction` for why), a second one
(aiosqlite) reads, so readers see only committed state. The schema is versioned
with ``PRAGMA user_version`` (:data:`~federation.coordinator.store_sql.MIGRATIONS`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import aiosqlite

from federation.coordinator.locks import KeyedLocks
from federation.coordinator.store import Conflict, CoordinatorStore
from federation.coordinator.store_sql import Statement, migrate


class SqliteStore(CoordinatorStore):
    """A coordinator's state file."""

    def __init__(self, writer: sqlite3.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._read = reader
        self.locks = KeyedLocks()

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStore:
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

    async def _transaction(self, statements: Sequence[Statement]) -> list[int]:
        """Run the statements as one transaction, on the event loop's thread.

        Why not on aiosqlite's thread like the reads: a transition is a handful of
        statements taking a fraction of a millisecond, but under load each statement's
        hand-back of the GIL to a worker thread waited for the busy event loop, so one
        transition took milliseconds and queued every other one behind it (measured:
        ~300 routed requests/s with the thread, see benchmarks/coordinator.py). Done
        inline there is no hand-off; WAL with synchronous=NORMAL does not fsync on
        commit, so the loop is never held for long.
        """
        connection = self._writer
        counts = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for sql, params, many in statements:
                run = connection.executemany if many else connection.execute
                counts.append(run(sql, params).rowcount)
        except sqlite3.IntegrityError as error:
            connection.execute("ROLLBACK")
            raise Conflict(str(error)) from error
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return counts

    async def _reads(self, queries: Sequence[tuple[str, Sequence]]) -> list[list]:
        """The queries in one read transaction (one snapshot), in one hop to the reader."""

        def run():
            connection = self._read._conn
            connection.execute("BEGIN")
            try:
                return [connection.execute(sql, tuple(params)).fetchall()
                        for sql, params in queries]
            finally:
                connection.execute("COMMIT")

        return await self._read._execute(run)

    async def _all(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        # Execute and fetch in one step on the reader's thread: a cursor left open
        # while other coroutines read would pin an old snapshot of the WAL.
        return list(await self._read.execute_fetchall(sql, tuple(params)))
