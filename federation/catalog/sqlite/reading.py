"""Reading the SQLite catalog: FTS5 search with facets, clusters and holdings.

Runs on the reader connection only, so a search never sees half a page.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import aiosqlite

from federation.catalog import jsontext
from federation.catalog.model import (
    ClusterDetail,
    ClusterMember,
    ClusterSummary,
    Holding,
    SearchResult,
)
from federation.catalog.query import ParsedQuery
from federation.catalog.storage import cluster_id
from federation.catalog.tiers import Part, TieredPages

#: bm25 weights, in the column order of cluster_search: a word in the title
#: counts most, then authors; subjects and publisher less.
_WEIGHTS = "10.0, 5.0, 5.0, 2.0, 1.0, 3.0, 1.0, 0.5, 0.5"
_LIBRARY_FILTER = (
    " AND EXISTS (SELECT 1 FROM cluster_libraries l WHERE l.cluster_pk = {pk} AND l.library = ?)"
)
#: Facets are counted exactly up to about twice this many hits; beyond, over every
#: k-th hit (by cluster id, which follows neither relevance nor library) and
#: scaled to the total, flagged ``SearchResult.facets_estimated``: a one-word
#: query matching a tenth of a million-record catalog still answers in milliseconds.
FACET_SAMPLE = 500
#: bm25 costs about a microsecond per hit, for every hit, before the first page
#: can be shown (FTS5 has no top-k pruning). Up to this many hits every hit is
#: ranked; beyond, the page comes from two tiers — first the hits whose title or
#: authors match the whole query, then the others (a subject, publisher or ISBN
#: match) — and a tier bigger than this from parts: its newest this-many clusters,
#: then the older ones. Each part is ranked by bm25, so a page never ranks more
#: than this many hits. On a million records, 400 queries, one run each: p95
#: 10.9-11.3 ms at 5,000, 9.2-10.6 at 2,000, 7.2-9.0 at 1,000 (docs/catalog.md).
RANK_ALL_LIMIT = 1_000
#: A library filter keeps a fraction of a word's hits, and learning how many costs a
#: lookup per hit; so a filtered query whose word has up to this many times
#: RANK_ALL_LIMIT hits is ranked whole in one pass (at most that many bm25 scores).
FILTERED_FACTOR = 8
#: One statement for a whole answer: the hits (with their bm25 score) are found
#: once; the total, the facets (one pass over the narrow facet table) and the
#: page of best hits all come from them.
_SEARCH = """
    WITH all_hits AS MATERIALIZED ({hits}),
    total AS (SELECT count(*) AS n FROM all_hits),
    hits AS MATERIALIZED (
        SELECT pk FROM all_hits WHERE pk % max(1, (SELECT n FROM total) / ?) = 0
    )
    SELECT 'total', NULL, NULL, NULL, NULL, n FROM total
    UNION ALL SELECT 'sampled', NULL, NULL, NULL, NULL, count(*) FROM hits
    UNION ALL SELECT 'facets', f.year, f.language, f.format, f.libraries, count(*)
        FROM hits CROSS JOIN cluster_facets f ON f.pk = hits.pk GROUP BY 2, 3, 4, 5
    UNION ALL SELECT * FROM (
        SELECT 'page', pk, NULL, NULL, NULL, row_number() OVER (ORDER BY {order})
        FROM all_hits ORDER BY {order} LIMIT ? OFFSET ?
    )
"""
#: What a sorted search (``query.order``, see federation.catalog.cql_search.SortedQuery)
#: orders by, NULL where a work has none: columns of cluster_search, read while
#: matching. Its title is folded (case, accents, ё) and starts with the displayed
#: title, the other members' titles after it; leading punctuation («, [, ") is
#: skipped. Never a Python function: that cost ~15 µs a hit, this ~2.
_SORT_FIELDS = {
    "title": "nullif(ltrim(title, ' \"''«»„“”‘’[](){}<>.,:;!?¡¿-–—…*#/'), '')",
    "year": "CAST(nullif(year, '') AS INTEGER)",
}


class SearchReader(TieredPages):
    """The read side of :class:`federation.catalog.sqlite.SqliteStorage`."""

    def __init__(self, reader: aiosqlite.Connection) -> None:
        self._reader = reader
        self.facet_sample = FACET_SAMPLE
        self.rank_all_limit = RANK_ALL_LIMIT
        self.filtered_factor = FILTERED_FACTOR

    async def search(
        self, query: ParsedQuery, libraries: list[str], limit: int, offset: int
    ) -> SearchResult:
        """One page of hits ranked by bm25, the total, and facets over all hits."""
        match = query.match
        order = getattr(query, "order", ())
        if order:  # sorted by fields: every hit is looked at, but none is ranked
            rank_here, ordering = True, _order_by(order)
            hits, params = _sorted_hits(match, libraries, order)
        else:
            # Whether to rank in the statement: only when the answer is surely small. The
            # count without the library filter is cheap and an upper bound; a filtered
            # query whose word is common learns its real size from the statement itself,
            # so its hits are never looked up once more just to be counted.
            bound = self.rank_all_limit * (self.filtered_factor if libraries else 1)
            rank_here = not match or await self._count(Part(match), []) <= bound
            ordering = "score, pk"
            hits, params = _hits(match, libraries, ranked=rank_here)
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        total = sampled = 0
        page: list[tuple[int, int]] = []
        sql = _SEARCH.format(hits=hits, order=ordering)
        page_size = limit if rank_here else 0
        async with self._reader.execute(
            sql, [*params, self.facet_sample, page_size, offset]
        ) as cursor:
            for kind, first, language, fmt, libraries_, count in await cursor.fetchall():
                if kind == "total":
                    total = count
                elif kind == "sampled":
                    sampled = count
                elif kind == "page":
                    page.append((count, first))
                else:
                    _count_facets(counts, count, first, language, fmt, libraries_)
        return await self._answer(counts, total, sampled, page, rank_here, match, libraries,
                                  limit, offset)

    async def _count(self, part: Part, libraries: list[str]) -> int:
        """How many clusters match (FTS5 counts without reading positions: cheap)."""
        hits, params = _hits(
            part.match, libraries, ranked=False, lowest=part.lowest, below=part.below
        )
        async with self._reader.execute(f"SELECT count(*) FROM ({hits})", params) as cursor:
            (count,) = await cursor.fetchone()
        return count

    async def _boundary(self, tier: str, libraries: list[str]) -> int | None:
        hits, params = _hits(tier, libraries, ranked=False)
        sql = f"SELECT pk FROM ({hits}) ORDER BY pk DESC LIMIT 1 OFFSET ?"
        async with self._reader.execute(sql, [*params, self.rank_all_limit - 1]) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]

    async def _ranked(self, part: Part, libraries: list[str], limit: int, offset: int) -> list[int]:
        hits, params = _hits(
            part.match, libraries, ranked=True, lowest=part.lowest, below=part.below
        )
        sql = f"SELECT pk FROM ({hits}) ORDER BY score, pk LIMIT ? OFFSET ?"
        async with self._reader.execute(sql, [*params, limit, offset]) as cursor:
            return [pk for (pk,) in await cursor.fetchall()]

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
                    jsontext.loads(authors),
                    year,
                    fmt,
                    language,
                    jsontext.loads(isbns),
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
                members.append(ClusterMember(*fields, jsontext.loads(normalized), member_pk == best_pk))
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

    async def member_records(self, pks: list[int]) -> dict[int, list[tuple[str, str, bytes]]]:
        """(schema, library, raw payload) of every member of the clusters, best first."""
        found: dict[int, list[tuple[str, str, bytes]]] = {pk: [] for pk in pks}
        if not pks:
            return found
        sql = (
            "SELECT cluster_pk, schema, library, raw FROM records "
            f"WHERE cluster_pk IN ({','.join('?' * len(pks))}) ORDER BY score DESC, pk"
        )
        async with self._reader.execute(sql, pks) as cursor:
            for cluster, schema, library, raw in await cursor.fetchall():
                found[cluster].append((schema, library, raw))
        return found

    async def overlap(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        held: dict[str, int] = {}
        async with self._reader.execute(
            "SELECT library, count(*) FROM cluster_libraries GROUP BY library"
        ) as cursor:
            for library, count in await cursor.fetchall():
                held[library] = count
        shared: dict[tuple[str, str], int] = {}
        async with self._reader.execute(
            "SELECT a.library, b.library, count(*) FROM cluster_libraries a"
            " JOIN cluster_libraries b ON b.cluster_pk = a.cluster_pk AND b.library > a.library"
            " GROUP BY a.library, b.library"
        ) as cursor:
            for first, second, count in await cursor.fetchall():
                shared[first, second] = shared[second, first] = count
        return held, shared

    async def clusters_for_isbn(self, isbn13: str) -> list[int]:
        sql = "SELECT rowid FROM cluster_search WHERE cluster_search MATCH ? ORDER BY rowid"
        async with self._reader.execute(sql, (f'isbn : "{isbn13}"',)) as cursor:
            return [row[0] for row in await cursor.fetchall()]


def _hits(
    match: str,
    libraries: list[str],
    *,
    ranked: bool,
    lowest: int | None = None,
    below: int | None = None,
    columns: str = "",
) -> tuple[str, list[Any]]:
    """The SELECT of the clusters matching ``match`` and held by every one of
    ``libraries`` (``pk``, ``score``, then ``columns``), and its parameters; with
    ``lowest`` and ``below``, only clusters whose pk is in that range (FTS5 seeks to it).

    Unranked, ``score`` is the cluster's pk: no bm25 is computed at all. An empty
    ``match`` is browsing: every cluster, in the order they were made.
    """
    if match:
        score = f"bm25(cluster_search, {_WEIGHTS})" if ranked else "rowid"
        hits = (f"SELECT rowid AS pk, {score} AS score{columns} FROM cluster_search "
                "WHERE cluster_search MATCH ?")
        params: list[Any] = [match]
        pk = "cluster_search.rowid"
    else:
        hits, params = f"SELECT pk, pk AS score{columns} FROM clusters WHERE 1", []
        pk = "clusters.pk"
    if lowest is not None:
        hits += f" AND {pk} >= ?"
        params.append(lowest)
    if below is not None:
        hits += f" AND {pk} < ?"
        params.append(below)
    for library in libraries:
        hits += _LIBRARY_FILTER.format(pk=pk)
        params.append(library)
    return hits, params


def _sorted_hits(match: str, libraries: list[str], order: Any) -> tuple[str, list[Any]]:
    """:func:`_hits`, unranked, with each sort key's value as ``s0``, ``s1``…"""
    keys = "".join(f", {_SORT_FIELDS[key.field]} AS s{n}" for n, key in enumerate(order))
    return _hits(match, libraries, ranked=False, columns=keys)


def _order_by(order: Any) -> str:
    """ORDER BY of :func:`_sorted_hits`: each key with its works lacking a value
    first or last, then the order the works were made."""
    terms = []
    for n, key in enumerate(order):
        terms.append(f"s{n} IS NULL {'DESC' if key.missing_first else 'ASC'}")
        terms.append(f"s{n} {'DESC' if key.descending else 'ASC'}")
    return ", ".join([*terms, "pk"])




def _count_facets(
    counts: dict[str, dict[str, int]],
    count: int,
    year: Any,
    language: Any,
    fmt: Any,
    libraries: str,
) -> None:
    """Add one (year, language, format, libraries) combination's hits to the facets."""
    values = [("year", year), ("language", language), ("format", fmt)]
    values += [("library", library) for library in libraries.split("\x1f")]
    for name, value in values:
        if value is not None and value != "":
            counts[name][str(value)] = counts[name].get(str(value), 0) + count
