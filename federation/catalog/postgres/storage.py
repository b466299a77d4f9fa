"""The union catalog in a PostgreSQL database, through psycopg 3 (async).

Two connections, as the SQLite storage has: a writer, used only inside
:meth:`PostgresStorage.transaction` (serialized in this process by a lock and
across processes by an advisory lock, so two harvesters never pick the same new
pks), and a reader in autocommit, whose statements never see a page before its
transaction commits. A connection the server dropped is opened again on its
next use.

The writer runs with ``synchronous_commit = off``, as SQLite runs with
``synchronous = NORMAL``: a crash may lose the last pages committed, never
half of one, and their checkpoint is lost with them, so the harvester fetches
them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from federation.catalog import jsontext
from federation.catalog.merge import Member
from federation.catalog.model import (
    CatalogStats,
    Holding,
    QuarantineEntry,
    SourceState,
    SourceStats,
)
from federation.catalog.postgres.reading import SearchReader, connect
from federation.catalog.postgres.schema import MIGRATIONS, VERSION_TABLE, WRITER_LOCK, statements
from federation.catalog.postgres.textsearch import sort_title, to_tsvector
from federation.catalog.storage import Neighbour, PageWrite, StoredRecord
from federation.errors import FailedPrecondition, NotFound, Unavailable

log = logging.getLogger(__name__)

#: Candidates read per dedup key (see :meth:`PostgresStorage.neighbours`).
MAX_PER_KEY = 200
_SOURCE_COLUMNS = (
    "name, library, base_url, metadata_prefix, set_spec, next_from, run_from, "
    "run_response_date, resumption_token, last_harvest, last_error, full_run"
)
_RECORD_COLUMNS = (
    "pk, source, oai_identifier, library, record_id, datestamp, schema, raw, normalized, "
    "match, digest, score, cluster_pk, harvest_run"
)
_RECORD_TYPES = (
    "bigint, text, text, text, text, text, text, bytea, text, text, text, integer, bigint, integer"
)


def _upsert(table: str, columns: str, types: str, key: str) -> str:
    """INSERT … SELECT FROM unnest(arrays) …, replacing the row with the same ``key``.

    One statement for a whole page's rows: one array parameter per column.
    """
    names = [c.strip() for c in columns.split(",")]
    arrays = ", ".join(f"%b::{t.strip()}[]" for t in types.split(","))
    keys = {k.strip() for k in key.split(",")}
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
    return (
        f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


_UPSERT_RECORDS = _upsert("records", _RECORD_COLUMNS, _RECORD_TYPES, "pk")
_UPSERT_CLUSTERS = _upsert(
    "clusters",
    "pk, best_record_pk, title, authors, year, format, language, isbns, size",
    "bigint, bigint, text, text, integer, text, text, text, integer",
    "pk",
)
_UPSERT_SEARCH = (
    "INSERT INTO cluster_search (pk, doc, sort_title, year) SELECT pk, doc::tsvector, t, y "
    "FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::integer[]) AS u(pk, doc, t, y) "
    "ON CONFLICT (pk) DO UPDATE SET doc = excluded.doc, sort_title = excluded.sort_title, "
    "year = excluded.year"
)
_UPSERT_QUARANTINE = (
    "INSERT INTO quarantine (source, oai_identifier, reason, raw) "
    "SELECT %s, * FROM unnest(%b::text[], %b::text[], %b::bytea[]) "
    "ON CONFLICT (source, oai_identifier) DO UPDATE SET reason = excluded.reason, "
    "raw = excluded.raw, quarantined_at = excluded.quarantined_at"
)


class PostgresStorage(SearchReader):
    """:class:`federation.catalog.storage.CatalogStorage` on a PostgreSQL database."""

    def __init__(self, url: str, writer: psycopg.AsyncConnection, reader: psycopg.AsyncConnection):
        super().__init__(url, reader)
        self._writer = writer
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str, *, create: bool = True) -> PostgresStorage:
        """Open the catalog in the database at ``url``, creating (unless ``create``
        is false: then NotFound) or migrating its tables as needed."""
        try:
            writer = await _writer(url)
        except psycopg.OperationalError as error:
            raise Unavailable(f"cannot reach the PostgreSQL catalog: {error}".strip()) from error
        try:
            await _migrate(writer, url, create)
            reader = await connect(url)
        except BaseException:
            await writer.close()
            raise
        return cls(url, writer, reader)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    # -- the write path ----------------------------------------------------------
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._lock:
            if self._writer.closed or self._writer.broken:
                self._writer = await _writer(self.url)
            async with self._writer.transaction():
                await self._writer.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                yield

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self._writer.execute(sql, params)
        return await cursor.fetchall()

    async def stored_records(self, source: str, oai_ids: Sequence[str]) -> dict[str, StoredRecord]:
        rows = await self._rows(
            "SELECT oai_identifier, pk, cluster_pk, digest, match FROM records "
            "WHERE source = %s AND oai_identifier = ANY(%b::text[])",
            (source, list(oai_ids)),
        )
        return {oai: StoredRecord(pk, cluster, digest, match) for oai, pk, cluster, digest, match in rows}

    async def unlisted_records(self, source: str, full_run: int) -> list[str]:
        rows = await self._rows(
            "SELECT oai_identifier FROM records WHERE source = %s AND harvest_run < %s",
            (source, full_run),
        )
        return [oai for (oai,) in rows]

    async def next_pks(self) -> tuple[int, int]:
        [(record_max, cluster_max)] = await self._rows(
            "SELECT (SELECT coalesce(max(pk), 0) FROM records), "
            "(SELECT last_pk FROM cluster_counter)"
        )
        return record_max + 1, cluster_max + 1

    async def neighbours(
        self, keys: Sequence[int], other_than: str | None = None
    ) -> list[Neighbour]:
        """Stored records sharing a key; at most the newest MAX_PER_KEY of a key,
        leaving out ``other_than``'s records in the index itself (see the SQLite
        storage for why both)."""
        if not keys:
            return []
        if other_than is None:
            where, params = "", [sorted(set(keys))]
        else:
            where, params = "AND m.source <> %s", [sorted(set(keys)), other_than]
        rows = await self._rows(
            "SELECT q.key, r.pk, r.source, r.cluster_pk, r.match "
            "FROM unnest(%b::bigint[]) AS q(key) CROSS JOIN LATERAL ("
            f"  SELECT m.record_pk FROM match_keys m WHERE m.key = q.key {where} "
            f"  ORDER BY m.record_pk DESC LIMIT {MAX_PER_KEY}"
            ") k JOIN records r ON r.pk = k.record_pk",
            params,
        )
        return [Neighbour(*row) for row in rows]

    async def cluster_members(self, clusters: Sequence[int]) -> list[tuple[int, int, str]]:
        rows = await self._rows(
            "SELECT pk, cluster_pk, source FROM records WHERE cluster_pk = ANY(%b::bigint[])",
            (sorted(set(clusters)),),
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    async def match_data(self, pks: Sequence[int]) -> dict[int, str]:
        rows = await self._rows(
            "SELECT pk, match FROM records WHERE pk = ANY(%b::bigint[])", (sorted(set(pks)),)
        )
        return dict(rows)  # type: ignore[arg-type]

    async def merge_members(self, clusters: Sequence[int]) -> list[tuple[int, Member]]:
        rows = await self._rows(
            "SELECT cluster_pk, pk, library, normalized, score FROM records "
            "WHERE cluster_pk = ANY(%b::bigint[])",
            (sorted(set(clusters)),),
        )
        return [
            (cluster, Member(pk, library, jsontext.loads(normalized), score))
            for cluster, pk, library, normalized, score in rows
        ]

    async def write_page(self, page: PageWrite) -> None:
        """Apply a page's changes; the caller holds the transaction."""
        source = page.source.name
        w = self._writer
        if page.keys_removed:
            await w.execute(
                "DELETE FROM match_keys m USING unnest(%b::bigint[], %b::bigint[]) AS d(key, pk) "
                "WHERE m.key = d.key AND m.source = %s AND m.record_pk = d.pk",
                ([k for k, _ in page.keys_removed], [pk for _, pk in page.keys_removed], source),
            )
        if page.deleted:
            await w.execute("DELETE FROM records WHERE pk = ANY(%b::bigint[])", (page.deleted,))
        if page.records:
            rows = [
                (r.pk, r.source, r.oai_identifier, r.library, r.record_id, r.datestamp, r.schema,
                 r.raw, r.normalized, r.match, r.digest, r.score, r.cluster, r.harvest_run)
                for r in page.records
            ]  # fmt: skip
            await w.execute(_UPSERT_RECORDS, [list(column) for column in zip(*rows, strict=True)])
        if page.quarantined:
            # A listed record whose new version went to quarantine keeps its old copy:
            # it is still listed, so a full run must not remove it.
            await w.execute(
                "UPDATE records SET harvest_run = %s WHERE source = %s AND oai_identifier = ANY(%b::text[])",
                (page.source.full_run, source, [q.oai_identifier for q in page.quarantined]),
            )
        if page.moved:
            await w.execute(
                "UPDATE records r SET cluster_pk = m.cluster FROM "
                "unnest(%b::bigint[], %b::bigint[]) AS m(cluster, pk) WHERE r.pk = m.pk",
                ([c for c, _ in page.moved], [pk for _, pk in page.moved]),
            )
        if page.keys_added:
            await w.execute(
                "INSERT INTO match_keys (key, source, record_pk) "
                "SELECT key, %s, pk FROM unnest(%b::bigint[], %b::bigint[]) AS a(key, pk) "
                "ON CONFLICT DO NOTHING",
                (source, [k for k, _ in page.keys_added], [pk for _, pk in page.keys_added]),
            )
        await self._write_clusters(page)
        if page.quarantined:
            last = {q.oai_identifier: q for q in page.quarantined}  # the last copy wins
            await w.execute(_UPSERT_QUARANTINE, (
                source, list(last), [q.reason for q in last.values()],
                [q.raw_xml for q in last.values()],
            ))  # fmt: skip
        if page.unquarantined:
            await w.execute(
                "DELETE FROM quarantine WHERE source = %s AND oai_identifier = ANY(%b::text[])",
                (source, page.unquarantined),
            )
        await self._save_source(page.source)

    async def _write_clusters(self, page: PageWrite) -> None:
        w = self._writer
        gone = page.clusters_removed
        if page.clusters_stored:
            stale = page.clusters_stored
            await w.execute("DELETE FROM cluster_search WHERE pk = ANY(%b::bigint[])", (stale,))
            await w.execute("DELETE FROM cluster_libraries WHERE cluster_pk = ANY(%b::bigint[])", (stale,))
        if gone:
            await w.execute("DELETE FROM clusters WHERE pk = ANY(%b::bigint[])", (gone,))
            await w.execute("DELETE FROM cluster_facets WHERE pk = ANY(%b::bigint[])", (gone,))
        clusters = page.clusters
        if not clusters:
            return
        pks = [c.pk for c in clusters]
        await w.execute(
            "INSERT INTO cluster_facets (pk, year, language, format, libraries) "
            "SELECT pk, year, language, format, "
            "  coalesce(string_to_array(nullif(libraries, ''), E'\\x1f'), '{}') "
            "FROM unnest(%b::bigint[], %b::integer[], %b::text[], %b::text[], %b::text[]) "
            "  AS f(pk, year, language, format, libraries) "
            "ON CONFLICT (pk) DO UPDATE SET year = excluded.year, language = excluded.language, "
            "format = excluded.format, libraries = excluded.libraries",
            (pks, [c.year for c in clusters], [c.language for c in clusters],
             [c.format for c in clusters], ["\x1f".join(c.libraries) for c in clusters]),
        )  # fmt: skip
        await w.execute(_UPSERT_CLUSTERS, (
            pks, [c.best_pk for c in clusters], [c.title for c in clusters],
            [jsontext.dumps(c.authors) for c in clusters], [c.year for c in clusters],
            [c.format for c in clusters], [c.language for c in clusters],
            [jsontext.dumps(c.isbns) for c in clusters], [c.size for c in clusters],
        ))  # fmt: skip
        holders = [(c.pk, library) for c in clusters for library in c.libraries]
        await w.execute(
            "INSERT INTO cluster_libraries SELECT * FROM unnest(%b::bigint[], %b::text[]) "
            "ON CONFLICT DO NOTHING",
            ([pk for pk, _ in holders], [library for _, library in holders]),
        )
        await w.execute(_UPSERT_SEARCH, (
            pks, [to_tsvector(c.search, c.libraries) for c in clusters],
            [sort_title(c.search.get("title", "")) for c in clusters], [c.year for c in clusters],
        ))  # fmt: skip
        await w.execute(
            "UPDATE cluster_counter SET last_pk = greatest(last_pk, %s)", (max(pks),)
        )

    # -- sources ---------------------------------------------------------------
    async def get_source(self, name: str) -> SourceState | None:
        sources = await self._sources("WHERE s.name = %s", (name,))
        return sources[0] if sources else None

    async def sources(self) -> list[SourceState]:
        return await self._sources("", ())

    async def _sources(self, where: str, params: tuple[Any, ...]) -> list[SourceState]:
        sql = (
            f"SELECT {', '.join('s.' + c.strip() for c in _SOURCE_COLUMNS.split(','))}, "
            "(SELECT count(*) FROM records r WHERE r.source = s.name), "
            "(SELECT count(*) FROM quarantine q WHERE q.source = s.name) "
            f"FROM sources s {where} ORDER BY s.name"
        )
        return [
            SourceState(*columns, records=records, quarantined=quarantined, full_run=full_run)
            for *columns, full_run, records, quarantined in await self._read(sql, params)
        ]

    async def save_source(self, state: SourceState) -> None:
        async with self.transaction():
            await self._save_source(state)

    async def _save_source(self, s: SourceState) -> None:
        names = [c.strip() for c in _SOURCE_COLUMNS.split(",")]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
        await self._writer.execute(
            f"INSERT INTO sources ({_SOURCE_COLUMNS}) VALUES ({', '.join(['%s'] * len(names))}) "
            f"ON CONFLICT (name) DO UPDATE SET {updates}",
            (s.name, s.library, s.base_url, s.metadata_prefix, s.set_spec, s.next_from,
             s.run_from, s.run_response_date, s.resumption_token, s.last_harvest, s.last_error,
             s.full_run),
        )  # fmt: skip

    async def record_error(self, source_name: str, message: str) -> bool:
        async with self.transaction():
            cursor = await self._writer.execute(
                "UPDATE sources SET last_error = %s WHERE name = %s", (message, source_name)
            )
            return cursor.rowcount > 0

    async def quarantined(self, source: str | None, limit: int) -> list[QuarantineEntry]:
        where, params = ("WHERE source = %s", (source,)) if source else ("", ())
        rows = await self._read(
            "SELECT source, oai_identifier, reason, quarantined_at FROM quarantine "
            f"{where} ORDER BY quarantined_at DESC, source, oai_identifier LIMIT %s",
            (*params, limit),
        )
        return [QuarantineEntry(*row) for row in rows]

    # -- reading ---------------------------------------------------------------
    async def dump(self) -> AsyncIterator[tuple[int, list[Holding]]]:
        """Every cluster's holdings in cluster order, read a few thousand records at
        a time (whole clusters each time), so no statement runs for the whole dump."""
        after = -1
        while True:
            rows = await self._read(
                "SELECT cluster_pk, library, record_id, oai_identifier FROM records "
                "WHERE cluster_pk > %s AND cluster_pk <= coalesce((SELECT cluster_pk FROM records "
                "  WHERE cluster_pk > %s ORDER BY cluster_pk OFFSET 5000 LIMIT 1), %s) "
                "ORDER BY cluster_pk, library, record_id, oai_identifier",
                (after, after, 2**63 - 1),
            )
            if not rows:
                return
            current: int | None = None
            members: list[Holding] = []
            for cluster, library, record_id, oai in rows:
                if cluster != current and current is not None:
                    yield current, members
                    members = []
                current = cluster
                members.append(Holding(library, record_id, oai))
            if current is not None:
                yield current, members
                after = current

    async def stats(self) -> CatalogStats:
        [(records, clusters)] = await self._read(
            "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM clusters)"
        )
        sources = [
            SourceStats(s.name, s.library, s.records, s.quarantined, s.last_harvest, s.last_error)
            for s in await self.sources()
        ]
        return CatalogStats(records, clusters, sources)


async def _writer(url: str) -> psycopg.AsyncConnection:
    conn = await connect(url)
    await conn.execute("SET synchronous_commit = off")
    return conn


async def _migrate(conn: psycopg.AsyncConnection, url: str, create: bool) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
        cursor = await conn.execute("SELECT to_regclass('catalog_schema') IS NOT NULL")
        (exists,) = await cursor.fetchone()  # type: ignore[misc]
        if not exists and not create:
            raise NotFound("no union catalog in this database (no catalog_schema table)")
        await conn.execute(VERSION_TABLE)
        cursor = await conn.execute("SELECT max(version) FROM catalog_schema")
        (version,) = await cursor.fetchone()  # type: ignore[misc]
        if version is None:
            await conn.execute("INSERT INTO catalog_schema VALUES (0)")
            version = 0
    if version > len(MIGRATIONS):
        raise FailedPrecondition(
            f"catalog schema version {version} is newer than this libfed "
            f"knows ({len(MIGRATIONS)}); upgrade libfed"
        )
    for number in range(version, len(MIGRATIONS)):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            cursor = await conn.execute("SELECT max(version) FROM catalog_schema")
            (now,) = await cursor.fetchone()  # type: ignore[misc]
            if now > number:  # another process got there first
                continue
            log.info("migrating the PostgreSQL catalog to schema version %d", number + 1)
            for statement in statements(MIGRATIONS[number]):
                await conn.execute(statement)  # type: ignore[arg-type]
            await conn.execute("UPDATE catalog_schema SET version = %s", (number + 1,))
