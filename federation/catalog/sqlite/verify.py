"""What a sound union catalog file looks like: the catalog's checks for `libfed verify`.

Run by :mod:`federation.backup` on a snapshot of ``catalog.sqlite``, after
SQLite's integrity and foreign-key checks. Clusters and their members agree
(every record in a cluster that exists, every cluster with members, its size,
best record and libraries those of its members); each cluster has its facet row
and its search entry and nothing else does; the dedup keys are of records that
exist, under their own source; every record's source is one the catalog knows.
"""

from __future__ import annotations

import sqlite3

from federation.backup.model import Progress, StoreKind, StoreReport
from federation.backup.room_checks import check_full_text_index, known_schema, run_checks
from federation.catalog.sqlite.schema import MIGRATIONS
from federation.catalog.storage import cluster_id


def check_catalog(db: sqlite3.Connection, report: StoreReport, progress: Progress | None) -> None:
    """The catalog's checks (see the module's docstring)."""
    if known_schema(db, report, len(MIGRATIONS)) is None:
        return
    steps = [("clusters", "clusters", _members), ("clusters", "clusters", _clusters),
             ("clusters", "cluster_libraries", _libraries),
             ("facets", "cluster_facets", _facets), ("search index", "cluster_search", _search),
             ("dedup keys", "match_keys", _keys), ("sources", "records", _sources)]
    run_checks(db, report, progress, steps)


def _members(db: sqlite3.Connection, report: StoreReport) -> None:
    for source, oai, cluster in db.execute(
        "SELECT r.source, r.oai_identifier, r.cluster_pk FROM records r WHERE NOT EXISTS"
        " (SELECT 1 FROM clusters c WHERE c.pk = r.cluster_pk)"
    ):
        report.problem("clusters", f"its cluster {cluster_id(cluster)} does not exist",
                       table="records", key=f"{source} {oai}")


def _clusters(db: sqlite3.Connection, report: StoreReport) -> None:
    """A cluster has members, as many as it says, and its best record is one of them."""
    for pk, size, members, _has_best in db.execute(
        "SELECT pk, size, members, has_best FROM (SELECT c.pk, c.size, count(r.pk) AS members,"
        " coalesce(max(r.pk = c.best_record_pk), 0) AS has_best FROM clusters c"
        " LEFT JOIN records r ON r.cluster_pk = c.pk GROUP BY c.pk)"
        " WHERE members = 0 OR members != size OR has_best = 0"
    ):
        if members == 0:
            message = "a cluster without members"
        elif members != size:
            message = f"says it has {size} members, it has {members}"
        else:
            message = "its best record is not one of its members"
        report.problem("clusters", message, table="clusters", key=cluster_id(pk))


def _libraries(db: sqlite3.Connection, report: StoreReport) -> None:
    """The libraries listed for a cluster are exactly those holding one of its members."""
    for pk, library in db.execute(
        "SELECT DISTINCT r.cluster_pk, r.library FROM records r WHERE NOT EXISTS"
        " (SELECT 1 FROM cluster_libraries l WHERE l.cluster_pk = r.cluster_pk"
        " AND l.library = r.library)"
    ):
        report.problem("clusters", f"{library} holds a member but is not listed",
                       table="cluster_libraries", key=cluster_id(pk))
    for pk, library in db.execute(
        "SELECT l.cluster_pk, l.library FROM cluster_libraries l WHERE NOT EXISTS"
        " (SELECT 1 FROM records r WHERE r.cluster_pk = l.cluster_pk AND l.library = r.library)"
    ):
        report.problem("clusters", f"lists {library}, which holds none of its members",
                       table="cluster_libraries", key=cluster_id(pk))


def _facets(db: sqlite3.Connection, report: StoreReport) -> None:
    for (pk,) in db.execute(
        "SELECT c.pk FROM clusters c WHERE NOT EXISTS"
        " (SELECT 1 FROM cluster_facets f WHERE f.pk = c.pk)"
    ):
        report.problem("facets", "a cluster without its facet row", table="cluster_facets",
                       key=cluster_id(pk))
    for (pk,) in db.execute(
        "SELECT f.pk FROM cluster_facets f WHERE NOT EXISTS"
        " (SELECT 1 FROM clusters c WHERE c.pk = f.pk)"
    ):
        report.problem("facets", "the facet row of a cluster that does not exist",
                       table="cluster_facets", key=cluster_id(pk))


def _search(db: sqlite3.Connection, report: StoreReport) -> None:
    """The full-text index is sound and finds every cluster, and only clusters."""
    check_full_text_index(db, report, "search index", "cluster_search")
    for (pk,) in db.execute(
        "SELECT c.pk FROM clusters c WHERE NOT EXISTS"
        " (SELECT 1 FROM cluster_search s WHERE s.rowid = c.pk)"
    ):
        report.problem("search index", "a cluster the search cannot find",
                       table="cluster_search", key=cluster_id(pk))
    for (pk,) in db.execute(
        "SELECT s.rowid FROM cluster_search s WHERE NOT EXISTS"
        " (SELECT 1 FROM clusters c WHERE c.pk = s.rowid)"
    ):
        report.problem("search index", "finds a cluster that does not exist",
                       table="cluster_search", key=cluster_id(pk))


def _keys(db: sqlite3.Connection, report: StoreReport) -> None:
    for pk, source, owner in db.execute(
        "SELECT DISTINCT k.record_pk, k.source, r.source FROM match_keys k"
        " LEFT JOIN records r ON r.pk = k.record_pk"
        " WHERE r.pk IS NULL OR r.source != k.source"
    ):
        message = (f"keys of record {pk}, which does not exist" if owner is None
                   else f"keys of record {pk} filed under {source}, its source is {owner}")
        report.problem("dedup keys", message, table="match_keys", key=pk)


def _sources(db: sqlite3.Connection, report: StoreReport) -> None:
    for source, count in db.execute(
        "SELECT r.source, count(*) FROM records r WHERE NOT EXISTS"
        " (SELECT 1 FROM sources s WHERE s.name = r.source) GROUP BY r.source"
    ):
        report.problem("sources", f"{count} records of a source the catalog does not know",
                       table="records", key=source)


CATALOG = StoreKind("catalog", "SELECT count(*) FROM records", check_catalog)
KINDS = {CATALOG.name: CATALOG}
