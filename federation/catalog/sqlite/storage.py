"""The union catalog in one SQLite file (WAL), through aiosqlite. All its SQL lives here.

Two connections: one writer, used only inside :meth:`SqliteStorage.transaction`
(serialized by a lock, ``BEGIN IMMEDIATE`` so a second process waits instead of
failing half-way), and one reader, which in WAL mode never sees a page before
its transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from federation.catalog import jsontext
from federation.catalog.merge import Member
from federation.catalog.model import (
    CatalogStats,
    Holding,
    QuarantineEntry,
    SourceState,
    SourceStats,
)
from federation.catalog.sqlite.reading import SearchReader
from federation.catalog.sqlite.schema import MIGRATIONS
from federation.catalog.storage import Neighbour, PageWrite, StoredRecord
from federation.errors import FailedPrecondition

log = logging.getLogger(__name__)

#: Candidates read per dedup key (see :meth:`SqliteStorage.neighbours`).
MAX_PER_KEY = 200
#: Host parameters per statement; SQLite allows 32766, a margin is kept.
_CHUNK = 20000
_SOURCE_COLUMNS = (
    "name, library, base_url, metadata_prefix, set_spec, next_from, run_from, "
    "run_response_date, resumption_token, last_harvest, last_error, full_run"
)


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


#: SQLite page cache per connection, in KiB.
READER_CACHE_KB = 65536
WRITER_CACHE_KB = 16384
#: WAL pages the writer lets gather before it checkpoints them into the file.
#: A harvested page of 500 MARCXML records writes about 3 MB of WAL, so SQLite's
#: default (1,000 pages, 4 MB) checkpointed after nearly every commit, and each
#: checkpoint waits for two fsyncs: the commit of a page took 94 us a record with
#: it, 39 us with 4,096 pages and 22 us with none (20,000 records, one run).
#: ``journal_size_limit`` then cuts the WAL file back to the same size.
WAL_CHECKPOINT_PAGES = 8192


async def _connect(path: Path, *, mapped: bool) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA busy_timeout=10000")
    # The reader searches (its cache and the mapped file serve that); the writer
    # mostly appends, and a big cache only made a harvest's heap grow: 16 MB against
    # 64 MB was 136 vs 186 MB peak over 300,000 records, and no slower (A/B in one
    # run, 100,000 records: 6,506/6,614 vs 6,286/6,409 rec/s).
    await conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KB if mapped else WRITER_CACHE_KB}")
    if not mapped:
        await conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        async with conn.execute("PRAGMA page_size") as cursor:
            (page_size,) = await cursor.fetchone()
        await conn.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_PAGES * page_size}")
    if mapped:
        # Searches jump around the FTS index and the facet table: mapped pages are
        # read without a system call each.
        await conn.execute("PRAGMA mmap_size=2147483648")
    await conn.execute("PRAGMA temp_store=MEMORY")
    return conn


class SqliteStorage(SearchReader):
    """:class:`federation.catalog.storage.CatalogStorage` on one SQLite file."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        super().__init__(reader)
        self.path = path
        self._writer = writer
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStorage:
        """Open (creating and migrating as needed) the catalog at ``path``."""
        path = Path(path)
        # Only the reader maps the file: a harvest writing a million records
        # would otherwise keep the whole mapped database resident (RSS goal).
        writer = await _connect(path, mapped=False)
        try:
            await _migrate(writer, path)
            reader = await _connect(path, mapped=True)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    # -- the write path ----------------------------------------------------------
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    async def stored_records(self, source: str, oai_ids: Sequence[str]) -> dict[str, StoredRecord]:
        found: dict[str, StoredRecord] = {}
        for part in chunks(list(oai_ids)):
            sql = (
                "SELECT oai_identifier, pk, cluster_pk, digest, match FROM records "
                f"WHERE source = ? AND oai_identifier IN ({marks(part)})"
            )
            async with self._writer.execute(sql, (source, *part)) as cursor:
                for oai, pk, cluster, digest, match in await cursor.fetchall():
                    found[oai] = StoredRecord(pk, cluster, digest, match)
        return found

    async def unlisted_records(self, source: str, full_run: int) -> list[str]:
        sql = "SELECT oai_identifier FROM records WHERE source = ? AND harvest_run < ?"
        async with self._writer.execute(sql, (source, full_run)) as cursor:
            return [oai for (oai,) in await cursor.fetchall()]

    async def next_pks(self) -> tuple[int, int]:
        sql = (
            "SELECT (SELECT coalesce(max(pk), 0) FROM records), "
            "(SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'clusters')"
        )
        async with self._writer.execute(sql) as cursor:
            record_max, cluster_max = await cursor.fetchone()
        return record_max + 1, cluster_max + 1

    async def neighbours(
        self, keys: Sequence[int], other_than: str | None = None
    ) -> list[Neighbour]:
        """Stored records sharing a key; at most the newest MAX_PER_KEY of a key.

        A title key like "annual report|" can be shared by thousands of records;
        reading them all for every page would make commits crawl, and the rules
        would reject nearly all of them anyway. ``other_than`` leaves out one
        source's records in the index itself (two range seeks a key), so that a
        library's own copies of an edition are never read, nor use up the cap.
        """
        found: list[Neighbour] = []
        for part in chunks(sorted(set(keys)), _CHUNK // 2):
            if other_than is None:
                hits = f"SELECT key, record_pk FROM match_keys WHERE key IN ({marks(part)})"
                params: list[Any] = list(part)
            else:
                hits = (
                    f"SELECT key, record_pk FROM match_keys WHERE key IN ({marks(part)}) "
                    "AND source < ? UNION ALL "
                    f"SELECT key, record_pk FROM match_keys WHERE key IN ({marks(part)}) "
                    "AND source > ?"
                )
                params = [*part, other_than, *part, other_than]
            sql = (
                "SELECT k.key, r.pk, r.source, r.cluster_pk, r.match FROM ("
                "  SELECT key, record_pk, row_number() OVER "
                "    (PARTITION BY key ORDER BY record_pk DESC) AS n "
                f"  FROM ({hits})"
                f") k JOIN records r ON r.pk = k.record_pk WHERE k.n <= {MAX_PER_KEY}"
            )
            async with self._writer.execute(sql, params) as cursor:
                found.extend(Neighbour(*row) for row in await cursor.fetchall())
        return found

    async def cluster_members(self, clusters: Sequence[int]) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, str]] = []
        for part in chunks(sorted(set(clusters))):
            sql = f"SELECT pk, cluster_pk, source FROM records WHERE cluster_pk IN ({marks(part)})"
            async with self._writer.execute(sql, part) as cursor:
                found.extend(await cursor.fetchall())
        return found

    async def match_data(self, pks: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for part in chunks(sorted(set(pks))):
            sql = f"SELECT pk, match FROM records WHERE pk IN ({marks(part)})"
            async with self._writer.execute(sql, part) as cursor:
                found.update(await cursor.fetchall())
        return found

    async def merge_members(self, clusters: Sequence[int]) -> list[tuple[int, Member]]:
        found: list[tuple[int, Member]] = []
        for part in chunks(sorted(set(clusters))):
            sql = (
                "SELECT cluster_pk, pk, library, normalized, score FROM records "
                f"WHERE cluster_pk IN ({marks(part)})"
            )
            async with self._writer.execute(sql, part) as cursor:
                for cluster, pk, library, normalized, score in await cursor.fetchall():
                    found.append((cluster, Member(pk, library, jsontext.loads(normalized), score)))
        return found

    async def write_page(self, page: PageWrite) -> None:
        """Apply a page's changes; the caller holds the transaction."""
        # Every key a page adds or removes is of a record of the page's own source.
        source = page.source.name
        await self._many(
            "DELETE FROM match_keys WHERE key = ? AND source = ? AND record_pk = ?",
            [(key, source, pk) for key, pk in page.keys_removed],
        )
        await self._many("DELETE FROM records WHERE pk = ?", [(pk,) for pk in page.deleted])
        await self._many(
            "INSERT OR REPLACE INTO records (pk, source, oai_identifier, library, record_id, "
            "datestamp, schema, raw, normalized, match, digest, score, cluster_pk, harvest_run) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (r.pk, r.source, r.oai_identifier, r.library, r.record_id, r.datestamp, r.schema,
                 r.raw, r.normalized, r.match, r.digest, r.score, r.cluster, r.harvest_run)
                for r in page.records
            ],
        )  # fmt: skip
        # A listed record whose new version went to quarantine keeps its old copy:
        # it is still listed, so a full run must not remove it.
        for part in chunks([q.oai_identifier for q in page.quarantined]):
            await self._writer.execute(
                f"UPDATE records SET harvest_run = ? WHERE source = ? "
                f"AND oai_identifier IN ({marks(part)})",
                (page.source.full_run, page.source.name, *part),
            )
        await self._many("UPDATE records SET cluster_pk = ? WHERE pk = ?", page.moved)
        await self._many(
            "INSERT OR IGNORE INTO match_keys VALUES (?, ?, ?)",
            [(key, source, pk) for key, pk in page.keys_added],
        )
        await self._write_clusters(page)
        await self._many(
            "INSERT OR REPLACE INTO quarantine (source, oai_identifier, reason, raw) "
            "VALUES (?, ?, ?, ?)",
            [(page.source.name, q.oai_identifier, q.reason, q.raw_xml) for q in page.quarantined],
        )
        for part in chunks(page.unquarantined):
            await self._writer.execute(
                f"DELETE FROM quarantine WHERE source = ? AND oai_identifier IN ({marks(part)})",
                (page.source.name, *part),
            )
        await self._save_source(self._writer, page.source)

    async def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._writer.executemany(sql, rows)

    async def _write_clusters(self, page: PageWrite) -> None:
        stale = [(pk,) for pk in page.clusters_stored]
        await self._many("DELETE FROM cluster_search WHERE rowid = ?", stale)
        await self._many("DELETE FROM cluster_libraries WHERE cluster_pk = ?", stale)
        removed = [(pk,) for pk in page.clusters_removed]
        await self._many("DELETE FROM clusters WHERE pk = ?", removed)
        await self._many("DELETE FROM cluster_facets WHERE pk = ?", removed)
        await self._many(
            "INSERT OR REPLACE INTO cluster_facets VALUES (?, ?, ?, ?, ?)",
            [(c.pk, c.year, c.language, c.format, "\x1f".join(c.libraries)) for c in page.clusters],
        )
        await self._many(
            "INSERT OR REPLACE INTO clusters (pk, best_record_pk, title, authors, year, format, "
            "language, isbns, size) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (c.pk, c.best_pk, c.title, jsontext.dumps(c.authors), c.year,
                 c.format, c.language, jsontext.dumps(c.isbns), c.size)
                for c in page.clusters
            ],
        )  # fmt: skip
        await self._many(
            "INSERT INTO cluster_libraries VALUES (?, ?)",
            [(c.pk, library) for c in page.clusters for library in c.libraries],
        )
        await self._many(
            "INSERT INTO cluster_search (rowid, title, authors, authors_latin, subjects, "
            "publisher, isbn, year, language, format) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (c.pk, x["title"], x["authors"], x["authors_latin"], x["subjects"],
                 x["publisher"], x["isbn"], x["year"], x["language"], x["format"])
                for c in page.clusters
                for x in (c.search,)
            ],
        )  # fmt: skip

    # -- sources ---------------------------------------------------------------
    async def get_source(self, name: str) -> SourceState | None:
        sources = await self._sources("WHERE s.name = ?", (name,))
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
        async with self._reader.execute(sql, params) as cursor:
            return [
                SourceState(*columns, records=records, quarantined=quarantined, full_run=full_run)
                for *columns, full_run, records, quarantined in await cursor.fetchall()
            ]

    async def save_source(self, state: SourceState) -> None:
        async with self.transaction():
            await self._save_source(self._writer, state)

    @staticmethod
    async def _save_source(conn: aiosqlite.Connection, s: SourceState) -> None:
        await conn.execute(
            f"INSERT OR REPLACE INTO sources ({_SOURCE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (s.name, s.library, s.base_url, s.metadata_prefix, s.set_spec, s.next_from,
             s.run_from, s.run_response_date, s.resumption_token, s.last_harvest, s.last_error,
             s.full_run),
        )  # fmt: skip

    async def record_error(self, source_name: str, message: str) -> bool:
        async with self.transaction():
            cursor = await self._writer.execute(
                "UPDATE sources SET last_error = ? WHERE name = ?", (message, source_name)
            )
            return cursor.rowcount > 0

    async def quarantined(self, source: str | None, limit: int) -> list[QuarantineEntry]:
        where, params = ("WHERE source = ?", (source,)) if source else ("", ())
        async with self._reader.execute(
            "SELECT source, oai_identifier, reason, quarantined_at FROM quarantine "
            f"{where} ORDER BY quarantined_at DESC, source, oai_identifier LIMIT ?",
            (*params, limit),
        ) as cursor:
            return [QuarantineEntry(*row) for row in await cursor.fetchall()]

    # -- reading ---------------------------------------------------------------
    async def dump(self) -> AsyncIterator[tuple[int, list[Holding]]]:
        sql = (
            "SELECT cluster_pk, library, record_id, oai_identifier FROM records "
            "ORDER BY cluster_pk, library, record_id, oai_identifier"
        )
        current: int | None = None
        members: list[Holding] = []
        async with self._reader.execute(sql) as cursor:
            async for cluster, library, record_id, oai in cursor:
                if cluster != current and current is not None:
                    yield current, members
                    members = []
                current = cluster
                members.append(Holding(library, record_id, oai))
        if current is not None:
            yield current, members

    async def stats(self) -> CatalogStats:
        async with self._reader.execute(
            "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM clusters)"
        ) as cursor:
            records, clusters = await cursor.fetchone()
        sources = [
            SourceStats(s.name, s.library, s.records, s.quarantined, s.last_harvest, s.last_error)
            for s in await self.sources()
        ]
        return CatalogStats(records, clusters, sources)


async def _migrate(conn: aiosqlite.Connection, path: Path) -> None:
    async with conn.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    if version > len(MIGRATIONS):
        raise FailedPrecondition(
            f"{path}: catalog schema version {version} is newer than this libfed "
            f"knows ({len(MIGRATIONS)}); upgrade libfed"
        )
    for number in range(version, len(MIGRATIONS)):
        log.info("migrating catalog %s to schema version %d", path, number + 1)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (they hold no semicolons inside)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
