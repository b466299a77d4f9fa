"""The union catalog service: what writers and readers call.

A plain class over a :class:`~federation.catalog.storage.CatalogStorage`: the
harvester commits pages through :meth:`UnionCatalog.commit_page`; the
coordinator, web pages and CLI search and read. It knows nothing of where
records come from.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

from stdnum import isbn as stdnum_isbn

from federation.catalog import cql, cql_search
from federation.catalog.commit import CommitTimes, PagePlan, Prepared, prepare
from federation.catalog.location import open_storage
from federation.catalog.model import (
    CatalogStats,
    ClusterDetail,
    HarvestedRecord,
    Holding,
    Overlap,
    QuarantinedRecord,
    QuarantineEntry,
    SearchResult,
    SourceState,
)
from federation.catalog.query import parse
from federation.catalog.storage import CatalogStorage, InvalidSearch, cluster_id, cluster_pk
from federation.errors import InvalidArgument, NotFound

log = logging.getLogger(__name__)

#: The most hits one search page may ask for.
MAX_LIMIT = 1000


class UnionCatalog:
    """Every harvested record, deduplicated into clusters, searchable."""

    def __init__(self, storage: CatalogStorage) -> None:
        self._storage = storage

    @classmethod
    async def open(cls, location: str | Path, *, create: bool = True) -> UnionCatalog:
        """Open the catalog at ``location`` — a SQLite file, or a ``postgresql://``
        URL (:mod:`federation.catalog.location`) — creating or migrating it; with
        ``create`` false, a catalog that does not exist is NotFound."""
        return cls(await open_storage(location, create=create))

    async def close(self) -> None:
        await self._storage.close()

    async def __aenter__(self) -> UnionCatalog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sources ---------------------------------------------------------------
    async def get_source(self, name: str) -> SourceState | None:
        """A source's saved configuration and state; ``records`` and ``quarantined``
        are counted from the catalog itself."""
        return await self._storage.get_source(name)

    async def save_source(self, state: SourceState) -> None:
        """Insert or replace a source's configuration and state."""
        await self._storage.save_source(state)

    async def sources(self) -> list[SourceState]:
        return await self._storage.sources()

    async def quarantined(
        self, *, source: str | None = None, limit: int = 50
    ) -> list[QuarantineEntry]:
        """The records a harvest could not read, newest first, with the reason.

        Staff look here to tell a partner library which of its records are broken;
        the raw XML stays in the catalog for them to inspect.
        """
        return await self._storage.quarantined(source, max(1, limit))

    async def record_error(self, source_name: str, message: str) -> None:
        """Note on the source why its last run failed (the catalog itself is untouched)."""
        if not await self._storage.record_error(source_name, message):
            raise NotFound(f"no harvest source named {source_name!r} in the catalog")

    # -- writing ---------------------------------------------------------------
    async def commit_page(
        self,
        source: SourceState,
        records: list[HarvestedRecord],
        deleted: list[str],
        quarantined: list[QuarantinedRecord],
    ) -> None:
        """Store one harvested page and the source's checkpoint, all or nothing.

        Records are keyed by (source, OAI identifier): a known one is replaced, a
        deleted one takes its holding out of its cluster, and every cluster touched
        is re-evaluated before the transaction commits.
        """
        prepared = [prepare(h, source.name, source.library) for h in records]
        await self.commit_prepared(source, prepared, deleted, quarantined)

    async def commit_prepared(
        self,
        source: SourceState,
        records: list[Prepared],
        deleted: list[str],
        quarantined: list[QuarantinedRecord],
    ) -> CommitTimes:
        """:meth:`commit_page` for records already :func:`prepared <.commit.prepare>`
        (by a harvester's worker process, which does that part of the work)."""
        started = time.perf_counter()
        async with self._storage.transaction():
            begun = time.perf_counter()
            plan = PagePlan(self._storage, source, records, deleted, quarantined)
            write = await plan.plan()
            planned = time.perf_counter()
            await self._storage.write_page(write)
        done = time.perf_counter()
        log.debug(
            "%s: committed %d records, %d deletions, %d quarantined in %.1f ms",
            source.name, len(records), len(deleted), len(quarantined), (done - started) * 1000,
        )  # fmt: skip
        return CommitTimes(planned - begun, (begun - started) + (done - planned))

    async def unlisted_records(self, source: SourceState) -> list[str]:
        """The source's records that no page of its current full run listed so far.

        At the end of a full run these are the records the server no longer has
        (a server without persistent deletions just stops listing them).
        """
        return await self._storage.unlisted_records(source.name, source.full_run)

    # -- reading ---------------------------------------------------------------
    async def search(
        self, query: str, *, library: str | None = None, limit: int = 20, offset: int = 0
    ) -> SearchResult:
        """Clusters matching ``query`` (words and ``field:value``), best first."""
        _check_page(limit, offset)
        parsed = parse(query)
        libraries = parsed.libraries + ([library] if library else [])
        try:
            return await self._storage.search(parsed, libraries, limit, offset)
        except (sqlite3.OperationalError, InvalidSearch) as error:  # the index could not parse it
            raise InvalidArgument(f"cannot search for {query!r}: {error}") from error

    async def search_cql(self, query: str, *, limit: int = 20, offset: int = 0) -> SearchResult:
        """Clusters matching a CQL query (what SRU clients send), best first.

        Raises :class:`federation.catalog.cql.CqlError`, with its SRU diagnostic,
        for a query that is no CQL or asks for what the catalog cannot search.
        """
        _check_page(limit, offset)
        parsed_cql = cql.parse(query)
        wanted = cql_search.record_id(parsed_cql)
        if wanted is not None:
            pk = cluster_pk(wanted)
            found = [] if pk is None else await self._storage.summaries([pk])
            return SearchResult(len(found), found[offset : offset + limit])
        return await self._storage.search(cql_search.to_search(parsed_cql), [], limit, offset)

    async def member_records(self, cluster_ids: list[str]) -> dict[str, list[tuple[str, str, bytes]]]:
        """For each cluster: (schema, library, raw payload) of its members, best first
        (what SRU serves: the best record in the schema a client asked for)."""
        pks = {cid: pk for cid in cluster_ids if (pk := cluster_pk(cid)) is not None}
        found = await self._storage.member_records(sorted(set(pks.values())))
        return {cid: found.get(pk, []) for cid, pk in pks.items()}

    async def get_cluster(self, cluster_id: str) -> ClusterDetail | None:
        """A cluster with its members (normalized), holdings and best record."""
        pk = cluster_pk(cluster_id)
        return None if pk is None else await self._storage.cluster(pk)

    async def holdings(self, cluster_id: str) -> list[Holding]:
        """Which libraries hold the work, with their local record ids."""
        pk = cluster_pk(cluster_id)
        found = [] if pk is None else await self._storage.holdings(pk)
        if not found:
            raise NotFound(f"no cluster {cluster_id!r} in the union catalog")
        return found

    async def overlap(self) -> Overlap:
        """How many works each library holds, and each pair of libraries holds in common.

        Counted by the database (one pass over the holdings table), so the
        central library's overlap matrix costs seconds at a million records,
        not a walk over every cluster.
        """
        return Overlap(*await self._storage.overlap())

    async def clusters_for_isbn(self, isbn: str) -> list[str]:
        """The clusters of the works carrying this ISBN (10 or 13, hyphens allowed)."""
        compact = re.sub(r"[\s-]", "", isbn)
        try:
            isbn13 = stdnum_isbn.to_isbn13(stdnum_isbn.validate(compact))
        except Exception as error:  # noqa: BLE001 - stdnum raises several kinds
            raise InvalidArgument(f"not a valid ISBN: {isbn!r}") from error
        return [cluster_id(pk) for pk in await self._storage.clusters_for_isbn(isbn13)]

    async def dump(self) -> AsyncIterator[dict]:
        """Every cluster with its members, in cluster order (for diffs and audits)."""
        async for pk, members in self._storage.dump():
            yield {
                "cluster_id": cluster_id(pk),
                "members": [
                    {
                        "library": m.library,
                        "record_id": m.record_id,
                        "oai_identifier": m.oai_identifier,
                    }
                    for m in members
                ],
            }

    async def stats(self) -> CatalogStats:
        return await self._storage.stats()


def _check_page(limit: int, offset: int) -> None:
    """A page of hits a search can serve: 1..MAX_LIMIT hits from a non-negative offset."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise InvalidArgument(f"offset must not be negative, not {offset}")
