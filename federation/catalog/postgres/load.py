"""Loading a whole catalog into an empty PostgreSQL catalog, for `libfed catalog migrate`.

Everything in one transaction (a load that fails leaves the target as empty as
it was), through the same statements a harvested page is written with, so a
migrated cluster's search row is built exactly as a harvested one's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from federation.catalog.model import SourceState
from federation.catalog.postgres.storage import _UPSERT_RECORDS, PostgresStorage
from federation.catalog.storage import PageWrite
from federation.catalog.transfer import Batch, Counts
from federation.errors import FailedPrecondition


class Load:
    """Writes the batches of a snapshot inside the open transaction."""

    def __init__(self, storage: PostgresStorage) -> None:
        self._storage = storage
        self._conn = storage._writer

    async def sources(self, sources: list[SourceState]) -> None:
        for source in sources:
            await self._storage._save_source(source)

    async def batch(self, batch: Batch) -> None:
        conn = self._conn
        if batch.records:
            rows = [
                (r.pk, r.source, r.oai_identifier, r.library, r.record_id, r.datestamp, r.schema,
                 bytes(r.raw), r.normalized, r.match, r.digest, r.score, r.cluster, r.harvest_run)
                for r in batch.records
            ]  # fmt: skip
            await conn.execute(_UPSERT_RECORDS, [list(column) for column in zip(*rows, strict=True)])
        if batch.keys:
            await conn.execute(
                "INSERT INTO match_keys (key, source, record_pk) "
                "SELECT * FROM unnest(%b::bigint[], %b::text[], %b::bigint[]) ON CONFLICT DO NOTHING",
                [list(column) for column in zip(*batch.keys, strict=True)],
            )
        if batch.clusters:
            page = PageWrite(source=SourceState("", "", ""), clusters=batch.clusters)
            await self._storage._write_clusters(page)
        if batch.quarantine:
            q = batch.quarantine
            await conn.execute(
                "INSERT INTO quarantine (source, oai_identifier, reason, raw, quarantined_at) "
                "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bytea[], %b::text[])",
                ([e.source for e in q], [e.oai_identifier for e in q], [e.reason for e in q],
                 [bytes(e.raw) for e in q], [e.quarantined_at for e in q]),
            )  # fmt: skip

    async def finish(self, expected: Counts) -> None:
        """Keep the cluster counter, then check that every row arrived."""
        await self._conn.execute(
            "UPDATE cluster_counter SET last_pk = greatest(last_pk, %s)", (expected.last_cluster,)
        )
        cursor = await self._conn.execute(
            "SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM records), "
            "(SELECT count(*) FROM match_keys), (SELECT count(*) FROM clusters), "
            "(SELECT count(*) FROM quarantine), (SELECT last_pk FROM cluster_counter)"
        )
        found = Counts(*await cursor.fetchone())  # type: ignore[misc]
        if found != expected:
            raise FailedPrecondition(f"the copy does not add up: {found} in the target, "
                                     f"{expected} in the source; nothing was kept")  # fmt: skip


@asynccontextmanager
async def loading(storage: PostgresStorage) -> AsyncIterator[Load]:
    """A transaction on the empty catalog; FailedPrecondition when it is not empty."""
    async with storage.transaction():
        cursor = await storage._writer.execute(
            "SELECT EXISTS (SELECT 1 FROM records) OR EXISTS (SELECT 1 FROM sources) "
            "OR EXISTS (SELECT 1 FROM quarantine)"
        )
        (used,) = await cursor.fetchone()  # type: ignore[misc]
        if used:
            raise FailedPrecondition(
                "the target catalog is not empty: migrate into a new database "
                "(or drop its tables first)"
            )
        yield Load(storage)


async def analyze(storage: PostgresStorage) -> None:
    """After a bulk load: fresh planner statistics, and the search index's pending
    entries merged in (autovacuum would do both, later)."""
    await storage._writer.execute("VACUUM ANALYZE")
