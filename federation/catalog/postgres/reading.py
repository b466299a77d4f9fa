"""Reading the PostgreSQL catalog: full-text search with facets, clusters, holdings.

Runs on the reader connection (autocommit: each statement sees only committed
pages). The search has the SQLite storage's shape: one statement answers a
small search (hits, total, facets, page); a big answer is paged in ranked parts
(:mod:`federation.catalog.tiers`), because ``ts_rank`` too costs something per
hit. Facets are counted by the database, exactly up to about twice
:data:`FACET_SAMPLE` hits and over an even sample beyond.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg

from federation.catalog import jsontext
from federation.catalog.model import (
    ClusterDetail,
    ClusterMember,
    ClusterSummary,
    Holding,
    SearchResult,
)
from federation.catalog.postgres.textsearch import RANK_WEIGHTS, library_lexeme, to_tsquery
from federation.catalog.query import ParsedQuery
from federation.catalog.storage import InvalidSearch, cluster_id
from federation.catalog.tiers import Part, TieredPages

#: As in the SQLite storage (federation/catalog/sqlite/reading.py).
FACET_SAMPLE = 500
RANK_ALL_LIMIT = 1_000
FILTERED_FACTOR = 8
_LIBRARY_FILTER = (
    " AND EXISTS (SELECT 1 FROM cluster_libraries l "
    "WHERE l.cluster_pk = {pk} AND lower(l.library) = lower(%s))"
)
#: What ``sortBy`` orders by (cql_search.SortedQuery): columns of cluster_search.
_SORT_FIELDS = {"title": "sort_title", "year": "year"}
#: The whole answer of a small search in one statement; facets by GROUPING SETS
#: over the (sampled) hits, the libraries unnested from the facet rows.
_SEARCH = """
    WITH all_hits AS MATERIALIZED ({hits}),
    total AS (SELECT count(*) AS n FROM all_hits),
    hits AS MATERIALIZED (
        SELECT pk FROM all_hits WHERE mod(pk, greatest(1, (SELECT n FROM total) / %s)) = 0
    ),
    rows AS MATERIALIZED (
        SELECT f.year, f.language, f.format, f.libraries FROM hits JOIN cluster_facets f USING (pk)
    )
    SELECT 'total', NULL, n FROM total
    UNION ALL SELECT 'sampled', NULL, count(*) FROM hits
    UNION ALL SELECT CASE WHEN grouping(year) = 0 THEN 'year'
                          WHEN grouping(language) = 0 THEN 'language' ELSE 'format' END,
                     coalesce(year::text, language, format), count(*)
        FROM rows GROUP BY GROUPING SETS ((year), (language), (format))
    UNION ALL SELECT 'library', library, count(*) FROM rows, unnest(libraries) AS library
        GROUP BY library
    UNION ALL SELECT * FROM (
        SELECT 'page', pk::text, row_number() OVER (ORDER BY {order})
        FROM all_hits ORDER BY {order} LIMIT %s OFFSET %s
    ) page
"""


async def connect(url: str) -> psycopg.AsyncConnection:
    """An autocommit connection (transactions are opened explicitly)."""
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


class SearchReader(TieredPages):
    """The read side of :class:`federation.catalog.postgres.PostgresStorage`."""

    def __init__(self, url: str, reader: psycopg.AsyncConnection) -> None:
        self.url = url
        self._reader = reader
        self.facet_sample = FACET_SAMPLE
        self.rank_all_limit = RANK_ALL_LIMIT
        self.filtered_factor = FILTERED_FACTOR

    async def _read(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """Rows of one statement on the reader, which is opened again if it was lost."""
        if self._reader.closed or self._reader.broken:
            self._reader = await connect(self.url)
        cursor = await self._reader.execute(sql, params)  # type: ignore[arg-type]
        return await cursor.fetchall()

    async def search(
        self, query: ParsedQuery, libraries: list[str], limit: int, offset: int
    ) -> SearchResult:
        """One page of hits ranked by ts_rank, the total, and facets over all hits."""
        match = query.match
        if match and _tsquery(match) is None:
            return SearchResult(0, [], {})
        order = getattr(query, "order", ())  # cql_search.SortedQuery: sortBy
        if order:  # sorted by fields: every hit is looked at, but none is ranked
            rank_here, ordering = True, _order_by(order)
            hits, params = _hits(match, libraries, ranked=False, order=order)
        else:
            bound = self.rank_all_limit * (self.filtered_factor if libraries else 1)
            rank_here = not match or await self._count(Part(match), []) <= bound
            ordering = "score, pk"
            hits, params = _hits(match, libraries, ranked=rank_here)
        page_size = limit if rank_here else 0
        rows = await self._read(
            _SEARCH.format(hits=hits, order=ordering),
            [*params, self.facet_sample, page_size, offset],
        )
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        total = sampled = 0
        page: list[tuple[int, int]] = []
        for kind, value, count in rows:
            if kind == "total":
                total = count
            elif kind == "sampled":
                sampled = count
            elif kind == "page":
                page.append((count, int(value)))
            elif value is not None and value != "":
                counts[kind][value] = counts[kind].get(value, 0) + count
        return await self._answer(counts, total, sampled, page, rank_here, match, libraries,
                                  limit, offset)

    async def _count(self, part: Part, libraries: list[str]) -> int:
        hits, params = _hits(part.match, libraries, ranked=False, part=part)
        [(count,)] = await self._read(f"SELECT count(*) FROM ({hits}) h", params)
        return count

    async def _ranked(self, part: Part, libraries: list[str], limit: int, offset: int) -> list[int]:
        hits, params = _hits(part.match, libraries, ranked=True, part=part)
        sql = f"SELECT pk FROM ({hits}) h ORDER BY score, pk LIMIT %s OFFSET %s"
        return [pk for (pk,) in await self._read(sql, [*params, limit, offset])]

    async def _boundary(self, tier: str, libraries: list[str]) -> int | None:
        hits, params = _hits(tier, libraries, ranked=False)
        sql = f"SELECT pk FROM ({hits}) h ORDER BY pk DESC LIMIT 1 OFFSET %s"
        rows = await self._read(sql, [*params, self.rank_all_limit - 1])
        return rows[0][0] if rows else None

    async def summaries(self, pks: list[int]) -> list[ClusterSummary]:
        """Cluster summaries with their holdings, in the order of ``pks``."""
        if not pks:
            return []
        found: dict[int, ClusterSummary] = {}
        rows = await self._read(
            "SELECT pk, title, authors, year, format, language, isbns FROM clusters "
            "WHERE pk = ANY(%b::bigint[])",
            (pks,),
        )
        for pk, title, authors, year, fmt, language, isbns in rows:
            found[pk] = ClusterSummary(
                cluster_id(pk), title, jsontext.loads(authors), year, fmt, language,
                jsontext.loads(isbns),
            )  # fmt: skip
        rows = await self._read(
            "SELECT cluster_pk, library, record_id, oai_identifier FROM records "
            "WHERE cluster_pk = ANY(%b::bigint[]) ORDER BY library, record_id",
            (pks,),
        )
        for pk, library, record_id, oai in rows:
            summary = found[pk]
            summary.holdings.append(Holding(library, record_id, oai))
            if library not in summary.libraries:
                summary.libraries.append(library)
        return [found[pk] for pk in pks if pk in found]

    async def cluster(self, pk: int) -> ClusterDetail | None:
        summaries = await self.summaries([pk])
        if not summaries:
            return None
        [(best_pk,)] = await self._read("SELECT best_record_pk FROM clusters WHERE pk = %s", (pk,))
        rows = await self._read(
            "SELECT pk, library, record_id, oai_identifier, source, datestamp, schema, normalized "
            "FROM records WHERE cluster_pk = %s ORDER BY library, record_id",
            (pk,),
        )
        members: list[ClusterMember] = []
        for member_pk, *fields, normalized in rows:
            members.append(ClusterMember(*fields, jsontext.loads(normalized), member_pk == best_pk))
        best = next((m.normalized for m in members if m.best), members[0].normalized)
        subjects = list(dict.fromkeys(s for m in members for s in m.normalized.get("subjects", [])))
        summary = summaries[0]
        return ClusterDetail(
            summary, members, summary.holdings, best, subjects, best.get("publisher")
        )

    async def holdings(self, pk: int) -> list[Holding]:
        rows = await self._read(
            "SELECT library, record_id, oai_identifier FROM records WHERE cluster_pk = %s "
            "ORDER BY library, record_id",
            (pk,),
        )
        return [Holding(*row) for row in rows]

    async def member_records(self, pks: list[int]) -> dict[int, list[tuple[str, str, bytes]]]:
        """(schema, library, raw payload) of every member of the clusters, best first."""
        found: dict[int, list[tuple[str, str, bytes]]] = {pk: [] for pk in pks}
        if not pks:
            return found
        rows = await self._read(
            "SELECT cluster_pk, schema, library, raw FROM records "
            "WHERE cluster_pk = ANY(%b::bigint[]) ORDER BY score DESC, pk",
            (pks,),
        )
        for cluster, schema, library, raw in rows:
            found[cluster].append((schema, library, bytes(raw)))
        return found

    async def overlap(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        held = {
            library: count
            for library, count in await self._read(
                "SELECT library, count(*) FROM cluster_libraries GROUP BY library"
            )
        }
        shared: dict[tuple[str, str], int] = {}
        for first, second, count in await self._read(
            "SELECT a.library, b.library, count(*) FROM cluster_libraries a"
            " JOIN cluster_libraries b ON b.cluster_pk = a.cluster_pk AND b.library > a.library"
            " GROUP BY a.library, b.library"
        ):
            shared[first, second] = shared[second, first] = count
        return held, shared

    async def clusters_for_isbn(self, isbn13: str) -> list[int]:
        query = _tsquery(f'isbn : "{isbn13}"')
        rows = await self._read(
            "SELECT pk FROM cluster_search WHERE doc @@ %s::tsquery ORDER BY pk", (query,)
        )
        return [pk for (pk,) in rows]


def _tsquery(match: str) -> str | None:
    try:
        return to_tsquery(match)
    except ValueError as error:
        raise InvalidSearch(str(error)) from error


def _hits(
    match: str,
    libraries: list[str],
    *,
    ranked: bool,
    part: Part | None = None,
    order: Any = (),
) -> tuple[str, list[Any]]:
    """The SELECT of the clusters matching ``match`` and held by every one of
    ``libraries`` (``pk``, ``score``: lower is better, then the sort keys of
    ``order`` as ``s0``, ``s1``…), and its parameters; with a ``part``, only
    clusters whose pk is in its range.

    Unranked, ``score`` is the cluster's pk. An empty ``match`` is browsing: every
    cluster, in the order they were made.

    The GIN index always answers the match, in a subquery of its own (``OFFSET 0``:
    the planner neither pushes the pk range into it nor orders it by pk), and the
    libraries with it (their lexemes ANDed into the tsquery); the range and ts_rank
    apply to its rows. Left to itself, the planner answered ``ORDER BY pk DESC
    LIMIT 1 OFFSET 999`` (a tier's boundary) and ``pk >= boundary`` (its newest
    part) by walking the pk index and testing ``@@`` on every cluster on the way:
    34,000-79,000 of 80,000 rows read for a thousand hits (docs/catalog.md,
    "Why PostgreSQL search was slow").
    """
    params: list[Any] = []
    keys = "".join(f", {_SORT_FIELDS[key.field]} AS s{n}" for n, key in enumerate(order))
    query = _tsquery(match) if match else None
    if match and query is None:  # a column filter left nothing to look for
        hits, pk = "SELECT pk, pk AS score FROM cluster_search WHERE false", "cluster_search.pk"
    elif query is not None:
        score = f"-ts_rank('{RANK_WEIGHTS}', doc, %s::tsquery)" if ranked else "pk"
        if ranked:
            params.append(query)  # ranked by the words only, never by the libraries
        found = f"SELECT pk{', doc' if ranked else ''}{keys} FROM cluster_search WHERE doc @@ %s::tsquery"
        params.append(" & ".join([f"({query})", *(library_lexeme(lib) for lib in libraries)]))
        sorts = "".join(f", s{n}" for n in range(len(order)))
        hits = f"SELECT pk, {score} AS score{sorts} FROM ({found} OFFSET 0) m WHERE true"
        pk, libraries = "m.pk", []  # the index has narrowed to the libraries' clusters
    elif order:  # browsing in order: the sort keys are in the search rows
        hits, pk = f"SELECT pk, pk AS score{keys} FROM cluster_search WHERE true", "cluster_search.pk"
    else:
        hits, pk = "SELECT pk, pk AS score FROM clusters WHERE true", "clusters.pk"
    if part is not None and part.lowest is not None:
        hits += f" AND {pk} >= %s"
        params.append(part.lowest)
    if part is not None and part.below is not None:
        hits += f" AND {pk} < %s"
        params.append(part.below)
    if libraries:  # browsing a library: each cluster's libraries are looked up
        hits = f"SELECT * FROM ({hits} OFFSET 0) h WHERE true"
        for library in libraries:
            hits += _LIBRARY_FILTER.format(pk="h.pk")
            params.append(library)
    return hits, params


def _order_by(order: Any) -> str:
    """ORDER BY of sorted hits: each key with the works lacking a value first or
    last, then the order the works were made (as the SQLite storage)."""
    terms = []
    for n, key in enumerate(order):
        terms.append(f"s{n} IS NULL {'DESC' if key.missing_first else 'ASC'}")
        terms.append(f"s{n} {'DESC' if key.descending else 'ASC'}")
    return ", ".join([*terms, "pk"])


