"""Reading the SQLite catalog: FTS5 search with facets, clusters and holdings.

Runs on the reader connection only, so a search never sees half a page.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import aiosqlite

from federation.catalog.model import (
    ClusterDetail,
    ClusterMember,
    ClusterSummary,
    Holding,
    SearchResult,
)
from federation.catalog.query import ParsedQuery
from federation.catalog.storage import cluster_id

#: bm25 weights, in the column order of cluster_search: a word in the title
#: counts most, then authors; subjects and publisher less.
_WEIGHTS = "10.0, 5.0, 5.0, 2.0, 1.0, 3.0, 1.0, 0.5, 0.5"
_LIBRARY_FILTER = (
    " AND EXISTS (SELECT 1 FROM cluster_libraries l WHERE l.cluster_pk = {pk} AND l.library = ?)"
)
#: Facets are counted exactly over this many hits; beyond, over this many and
#: scaled to the total (``SearchResult.facets_estimated``), so that a one-word
#: query matching a tenth of a million-record catalog still answers in milliseconds.
FACET_SAMPLE = 4000
_FACETS = """
    SELECT 'year', c.year, count(*) FROM hits CROSS JOIN clusters c ON c.pk = hits.pk
        WHERE c.year IS NOT NULL GROUP BY c.year
    UNION ALL SELECT 'language', c.language, count(*) FROM hits CROSS JOIN clusters c ON c.pk = hits.pk
        WHERE c.language IS NOT NULL GROUP BY c.language
    UNION ALL SELECT 'format', c.format, count(*) FROM hits CROSS JOIN clusters c ON c.pk = hits.pk
        WHERE c.format IS NOT NULL GROUP BY c.format
    UNION ALL SELECT 'library', l.library, count(*) FROM hits
        CROSS JOIN cluster_libraries l ON l.cluster_pk = hits.pk GROUP BY l.library
"""


class SearchReader:
    """The read side of :class:`federation.catalog.sqlite.SqliteStorage`."""

    def __init__(self, reader: aiosqlite.Connection) -> None:
        self._reader = reader

    async def run_search(
        self, query: ParsedQuery, libraries: list[str], limit: int, offset: int
    ) -> SearchResult:
        """One page of hits ranked by bm25, the total, and facets over all hits."""
        if query.match:
            hits = "SELECT rowid AS pk FROM cluster_search WHERE cluster_search MATCH ?"
            params: list[Any] = [query.match]
            pk = "cluster_search.rowid"
            order = f"bm25(cluster_search, {_WEIGHTS}), rowid"
        else:
            hits, params, pk, order = "SELECT pk FROM clusters WHERE 1", [], "clusters.pk", "pk"
        for library in libraries:
            hits += _LIBRARY_FILTER.format(pk=pk)
            params.append(library)
        facets: dict[str, dict[str, int]] = defaultdict(dict)
        total = 0
        sql = (
            f"WITH hits AS MATERIALIZED ({hits} LIMIT {FACET_SAMPLE}) "
            f"SELECT 'total', NULL, (SELECT count(*) FROM ({hits})) UNION ALL {_FACETS}"
        )
        async with self._reader.execute(sql, params + params) as cursor:
            for facet, value, count in await cursor.fetchall():
                if facet == "total":
                    total = count
                else:
                    facets[facet][str(value)] = count
        page_sql = f"{hits} ORDER BY {order} LIMIT ? OFFSET ?"
        async with self._reader.execute(page_sql, [*params, limit, offset]) as cursor:
            pks = [row[0] for row in await cursor.fetchall()]
        estimated = total > FACET_SAMPLE
        scale = total / FACET_SAMPLE if estimated else 1
        ordered = {
            name: {value: max(1, round(count * scale)) for value, count in _by_count(f)}
            for name, f in facets.items()
        }
        return SearchResult(total, await self.summaries(pks), ordered, estimated)

    async def summaries(self, pks: list[int]) -> list[ClusterSummary]:
        """Cluster summaries with their holdings, in the order of ``pks``."""
        if not pks:
            return []
        marks = ",".join("?" * len(pks))
        found: dict[int, ClusterSummary] = {}
        sql = (
            "SELECT pk, title, authors, year, format, language, isbns FROM clusters "
            f"WHERE pk IN ({marks})"
        )
        async with self._reader.execute(sql, pks) as cursor:
            for pk, title, authors, year, fmt, language, isbns in await cursor.fetchall():
                found[pk] = ClusterSummary(
                    cluster_id(pk),
                    title,
                    json.loads(authors),
                    year,
                    fmt,
                    language,
                    json.loads(isbns),
                )
        sql = (
            "SELECT cluster_pk, library, record_id, oai_identifier FROM records "
            f"WHERE cluster_pk IN ({marks}) ORDER BY library, record_id"
        )
        async with self._reader.execute(sql, pks) as cursor:
            for pk, library, record_id, oai in await cursor.fetchall():
                summary = found[pk]
                summary.holdings.append(Holding(library, record_id, oai))
                if library not in summary.libraries:
                    summary.libraries.append(library)
        return [found[pk] for pk in pks if pk in found]

    async def cluster(self, pk: int) -> ClusterDetail | None:
        summaries = await self.summaries([pk])
        if not summaries:
            return None
        async with self._reader.execute(
            "SELECT best_record_pk FROM clusters WHERE pk = ?", (pk,)
        ) as cursor:
            (best_pk,) = await cursor.fetchone()
        members: list[ClusterMember] = []
        sql = (
            "SELECT pk, library, record_id, oai_identifier, source, datestamp, schema, normalized "
            "FROM records WHERE cluster_pk = ? ORDER BY library, record_id"
        )
        async with self._reader.execute(sql, (pk,)) as cursor:
            for row in await cursor.fetchall():
                member_pk, *fields, normalized = row
                members.append(ClusterMember(*fields, json.loads(normalized), member_pk == best_pk))
        best = next((m.normalized for m in members if m.best), members[0].normalized)
        subjects = list(dict.fromkeys(s for m in members for s in m.normalized.get("subjects", [])))
        summary = summaries[0]
        return ClusterDetail(
            summary, members, summary.holdings, best, subjects, best.get("publisher")
        )

    async def holdings(self, pk: int) -> list[Holding]:
        sql = (
            "SELECT library, record_id, oai_identifier FROM records WHERE cluster_pk = ? "
            "ORDER BY library, record_id"
        )
        async with self._reader.execute(sql, (pk,)) as cursor:
            return [Holding(*row) for row in await cursor.fetchall()]

    async def clusters_for_isbn(self, isbn13: str) -> list[int]:
        sql = "SELECT rowid FROM cluster_search WHERE cluster_search MATCH ? ORDER BY rowid"
        async with self._reader.execute(sql, (f'isbn : "{isbn13}"',)) as cursor:
            return [row[0] for row in await cursor.fetchall()]


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
