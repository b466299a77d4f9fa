"""Reading a whole SQLite catalog from one snapshot, for `libfed catalog migrate`.

A read-only connection of its own holds one read transaction from the first
count to the last row (WAL: the harvester may go on writing; the copy is of the
moment the snapshot began). Rows come in batches of one table at a time, each
table in its key order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from federation.catalog import jsontext
from federation.catalog.merge import ClusterRow
from federation.catalog.model import SourceState
from federation.catalog.sqlite.storage import SqliteStorage
from federation.catalog.storage import RecordRow
from federation.catalog.transfer import Batch, Counts, QuarantineRow

_SEARCH_COLUMNS = (
    "title", "authors", "authors_latin", "subjects", "publisher", "isbn", "year", "language",
    "format",
)  # fmt: skip


class Export:
    """One snapshot of the catalog: its counts, its sources, then its rows."""

    def __init__(self, conn: aiosqlite.Connection, batch: int) -> None:
        self._conn = conn
        self._batch = batch
        self.counts = Counts()
        self.sources: list[SourceState] = []

    async def _one(self, sql: str) -> int:
        async with self._conn.execute(sql) as cursor:
            (value,) = await cursor.fetchone()
        return int(value or 0)

    async def _start(self, storage: SqliteStorage) -> None:
        c = self.counts
        c.records = await self._one("SELECT count(*) FROM records")
        c.keys = await self._one("SELECT count(*) FROM match_keys")
        c.clusters = await self._one("SELECT count(*) FROM clusters")
        c.quarantine = await self._one("SELECT count(*) FROM quarantine")
        c.last_cluster = await self._one(
            "SELECT max((SELECT coalesce(max(pk), 0) FROM clusters), "
            "(SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'clusters'))"
        )
        # The storage's own query of the sources, on this snapshot's connection.
        self.sources = await SqliteStorage(storage.path, self._conn, self._conn).sources()
        c.sources = len(self.sources)

    async def batches(self) -> AsyncIterator[Batch]:
        """Records, keys, clusters, quarantine: every row once, in batches."""
        async for rows in self._rows(
            "SELECT pk, source, oai_identifier, library, record_id, datestamp, schema, raw, "
            "normalized, match, digest, score, cluster_pk, harvest_run FROM records ORDER BY pk"
        ):
            yield Batch(records=[RecordRow(*row) for row in rows])
        async for rows in self._rows("SELECT key, source, record_pk FROM match_keys"):
            yield Batch(keys=[tuple(row) for row in rows])  # type: ignore[misc]
        columns = ", ".join(f"s.{name}" for name in _SEARCH_COLUMNS)
        async for rows in self._rows(
            "SELECT c.pk, c.best_record_pk, c.title, c.authors, c.year, c.format, c.language, "
            f"c.isbns, c.size, f.libraries, {columns} FROM clusters c "
            "JOIN cluster_facets f ON f.pk = c.pk JOIN cluster_search s ON s.rowid = c.pk "
            "ORDER BY c.pk"
        ):
            yield Batch(clusters=[_cluster(row) for row in rows])
        async for rows in self._rows(
            "SELECT source, oai_identifier, reason, raw, quarantined_at FROM quarantine "
            "ORDER BY source, oai_identifier"
        ):
            yield Batch(quarantine=[QuarantineRow(*row) for row in rows])

    async def _rows(self, sql: str) -> AsyncIterator[list[tuple]]:
        async with self._conn.execute(sql) as cursor:
            while rows := await cursor.fetchmany(self._batch):
                yield [tuple(row) for row in rows]


def _cluster(row: tuple) -> ClusterRow:
    pk, best, title, authors, year, fmt, language, isbns, size, libraries, *search = row
    return ClusterRow(
        pk, best, title, jsontext.loads(authors), year, fmt, language, jsontext.loads(isbns),
        libraries.split("\x1f") if libraries else [], size,
        dict(zip(_SEARCH_COLUMNS, (value or "" for value in search), strict=True)),
    )  # fmt: skip


@asynccontextmanager
async def snapshot(storage: SqliteStorage, batch: int) -> AsyncIterator[Export]:
    """The catalog as it is now, for as long as the block runs."""
    conn = await aiosqlite.connect(Path(storage.path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        await conn.execute("BEGIN")
        export = Export(conn, batch)
        await export._start(storage)
        yield export
        await conn.execute("COMMIT")
    finally:
        await conn.close()
