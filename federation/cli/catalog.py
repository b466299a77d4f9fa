"""`libfed catalog search|show|dump|stats|quarantine|overlap|sru-url`: read the union catalog (CLI contract of issue 4).

Thin adapters over :class:`federation.catalog.UnionCatalog`. Every command reads
an existing catalog file (``--catalog DB``); a missing file is exit 2 with its
name, never a freshly created empty catalog. ``--json`` gives machine output;
without it, rich tables for a person.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from federation.catalog import ClusterDetail, SearchResult, UnionCatalog
from federation.catalog.cql import CqlError
from federation.catalog.model import CatalogStats
from federation.cli import catalog_migrate, catalog_sru
from federation.cli.common import EXIT_OK, EXIT_USAGE, fail, print_json
from federation.database_url import is_url, shown
from federation.errors import LibfedError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `catalog` command group."""
    parser = subparsers.add_parser(
        "catalog",
        help="search and inspect the union catalog",
        description="Search the deduplicated union catalog and look at its clusters.",
    )
    commands = parser.add_subparsers(dest="catalog_command", metavar="COMMAND", required=True)

    search = commands.add_parser(
        "search",
        help="find works (words and field:value, or CQL with --cql)",
        description="Find works. Plain words must all occur; fields: title:, author:, "
        "subject:, publisher:, isbn:, year:, language:, format:, library:. "
        'Quote phrases ("war and peace"); word* matches a prefix. '
        "Or --cql QUERY: the CQL that SRU clients send, answered as /sru answers it.",
    )
    search.add_argument("query", metavar="QUERY", nargs="?")
    search.add_argument(
        "--cql", metavar="QUERY",
        help="a CQL query instead, e.g. 'dc.title = история and dc.date = 1990 "
        "sortBy dc.date/sort.descending' (indexes and diagnostics: docs/sru.md)",
    )  # fmt: skip
    _catalog_argument(search)
    search.add_argument("--library", metavar="SYM", help="only works this library holds")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="hits per page")
    search.add_argument("--offset", type=int, default=0, metavar="N", help="hits to skip")
    search.add_argument("--json", action="store_true", help="the result as one JSON object")
    search.set_defaults(func=search_command)

    show = commands.add_parser("show", help="one cluster: members and holdings")
    show.add_argument("cluster_id", metavar="CLUSTER_ID")
    _catalog_argument(show)
    show.add_argument("--json", action="store_true", help="the cluster as one JSON object")
    show.set_defaults(func=show_command)

    dump = commands.add_parser(
        "dump", help="every cluster with its members, one JSON line per cluster"
    )
    _catalog_argument(dump)
    dump.add_argument("--json", action="store_true", help="JSON lines (the only format)")
    dump.set_defaults(func=dump_command)

    stats = commands.add_parser("stats", help="records, clusters and sources")
    _catalog_argument(stats)
    stats.add_argument("--json", action="store_true", help="the statistics as one JSON object")
    stats.set_defaults(func=stats_command)

    quarantine = commands.add_parser(
        "quarantine", help="records a harvest could not read, newest first, with the reason"
    )
    _catalog_argument(quarantine)
    quarantine.add_argument("--source", help="only this harvest source")
    quarantine.add_argument("--limit", type=int, default=50, help="at most N records (50)")
    quarantine.add_argument("--json", action="store_true", help="one JSON object per record")
    quarantine.set_defaults(func=quarantine_command)

    overlap = commands.add_parser(
        "overlap", help="how much of each library's collection the others hold too"
    )
    _catalog_argument(overlap)
    overlap.add_argument("--json", action="store_true", help="held, shared and shares as JSON")
    overlap.set_defaults(func=overlap_command)

    catalog_sru.register(commands)
    catalog_migrate.register(commands)


def _catalog_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog", required=True, metavar="DB",
        help="union catalog: a SQLite file, or a postgresql:// URL",
    )  # fmt: skip


def _run(args: argparse.Namespace, work: Callable[[UnionCatalog], Awaitable[int]]) -> int:
    """Open the catalog named by ``--catalog``, run ``work``, close; errors → exit 2."""
    path = args.catalog if is_url(args.catalog) else Path(args.catalog)
    if isinstance(path, Path) and not path.is_file():
        return fail(f"catalog database not found: {path}")

    async def main() -> int:
        catalog = await UnionCatalog.open(path, create=False)
        try:
            return await work(catalog)
        finally:
            await catalog.close()

    try:
        return asyncio.run(main())
    except LibfedError as error:
        return fail(f"{shown(path)}: {error}")


def search_command(args: argparse.Namespace) -> int:
    if (args.query is None) == (args.cql is None):
        return fail("give a QUERY or --cql QUERY (one of them)")
    if args.cql is not None and args.library:
        return fail("--library does not combine with --cql (CQL has no library index)")

    async def work(catalog: UnionCatalog) -> int:
        if args.cql is None:
            result = await catalog.search(
                args.query, library=args.library, limit=args.limit, offset=args.offset
            )
        else:
            try:
                result = await catalog.search_cql(args.cql, limit=args.limit, offset=args.offset)
            except CqlError as error:  # what /sru would answer with this diagnostic
                return fail(f"cannot search for {args.cql!r}: {error} "
                            f"(SRU diagnostic {error.uri})")  # fmt: skip
        if args.json:
            print_json(search_json(result))
        else:
            _print_search(result, args.cql or args.query)
        return EXIT_OK

    return _run(args, work)


def search_json(result: SearchResult) -> dict[str, Any]:
    """The JSON of the CLI contract: total, results (with libraries), facets."""
    return {
        "total": result.total,
        "results": [
            {
                "cluster_id": hit.cluster_id,
                "title": hit.title,
                "authors": hit.authors,
                "year": hit.year,
                "libraries": hit.libraries,
                "format": hit.format,
                "language": hit.language,
                "isbns": hit.isbns,
                "holdings": [asdict(h) for h in hit.holdings],
            }
            for hit in result.results
        ],
        "facets": result.facets,
        "facets_estimated": result.facets_estimated,
    }


def _print_search(result: SearchResult, query: str) -> None:
    console = Console()
    table = Table(title=f"{result.total} works for {query!r}")
    for column in ("cluster", "title", "authors", "year", "libraries"):
        table.add_column(column)
    for hit in result.results:
        table.add_row(
            hit.cluster_id,
            _short(hit.title),
            "; ".join(hit.authors[:3]),
            str(hit.year or ""),
            ", ".join(hit.libraries),
        )
    console.print(table)
    for name, counts in result.facets.items():
        top = ", ".join(f"{value} ({count})" for value, count in list(counts.items())[:8])
        console.print(f"[bold]{name}[/bold]: {top}")


def show_command(args: argparse.Namespace) -> int:
    async def work(catalog: UnionCatalog) -> int:
        detail = await catalog.get_cluster(args.cluster_id)
        if detail is None:
            return fail(f"{args.catalog}: no cluster {args.cluster_id!r}", EXIT_USAGE)
        if args.json:
            print_json(cluster_json(detail))
        else:
            _print_cluster(detail)
        return EXIT_OK

    return _run(args, work)


def cluster_json(detail: ClusterDetail) -> dict[str, Any]:
    """A cluster for scripts: its summary, members (normalized) and holdings."""
    summary = asdict(detail.summary)
    summary.pop("holdings")
    return {
        **summary,
        "subjects": detail.subjects,
        "publisher": detail.publisher,
        "best": detail.best,
        "members": [asdict(m) for m in detail.members],
        "holdings": [asdict(h) for h in detail.holdings],
    }


def _print_cluster(detail: ClusterDetail) -> None:
    console = Console()
    s = detail.summary
    console.print(f"[bold]{s.cluster_id}[/bold] {_short(s.title, 200)}")
    console.print(f"  {'; '.join(s.authors)}  {s.year or ''}  {s.format or ''}  {s.language or ''}")
    if s.isbns:
        console.print(f"  ISBN {', '.join(s.isbns)}")
    table = Table(title="members and holdings")
    for column in ("library", "record id", "OAI identifier", "schema", "title", "best"):
        table.add_column(column)
    for m in detail.members:
        title = _short(m.normalized.get("title", ""), 60)
        table.add_row(
            m.library, m.record_id, m.oai_identifier, m.schema, title, "*" if m.best else ""
        )
    console.print(table)


def dump_command(args: argparse.Namespace) -> int:
    async def work(catalog: UnionCatalog) -> int:
        async for cluster in catalog.dump():
            print_json(cluster)
        sys.stdout.flush()
        return EXIT_OK

    return _run(args, work)


def stats_command(args: argparse.Namespace) -> int:
    async def work(catalog: UnionCatalog) -> int:
        stats = await catalog.stats()
        if args.json:
            print_json(asdict(stats))
        else:
            _print_stats(stats)
        return EXIT_OK

    return _run(args, work)


def quarantine_command(args: argparse.Namespace) -> int:
    async def work(catalog: UnionCatalog) -> int:
        entries = await catalog.quarantined(source=args.source, limit=args.limit)
        if args.json:
            for entry in entries:
                print_json(asdict(entry))
            return EXIT_OK
        table = Table(title=f"quarantined records ({len(entries)} shown)")
        for column in ("source", "OAI identifier", "reason", "since"):
            table.add_column(column, overflow="fold")
        for entry in entries:
            table.add_row(entry.source, entry.oai_identifier, entry.reason, entry.quarantined_at)
        Console().print(table)
        return EXIT_OK

    return _run(args, work)


def overlap_command(args: argparse.Namespace) -> int:
    async def work(catalog: UnionCatalog) -> int:
        overlap = await catalog.overlap()
        names = overlap.libraries
        if args.json:
            print_json({
                "held": overlap.held,
                "shared": {a: {b: overlap.shared.get((a, b), 0) for b in names if b != a}
                           for a in names},
                "share": {a: {b: round(overlap.share(a, b), 4) for b in names} for a in names},
            })
            return EXIT_OK
        table = Table(title="share of the row library's works that the column library holds")
        table.add_column("library")
        table.add_column("works", justify="right")
        for name in names:
            table.add_column(name, justify="right")
        for a in names:
            table.add_row(a, str(overlap.held[a]),
                          *(f"{overlap.share(a, b):.0%}" for b in names))
        Console().print(table)
        return EXIT_OK

    return _run(args, work)


def _print_stats(stats: CatalogStats) -> None:
    console = Console()
    console.print(f"[bold]{stats.records}[/bold] records in [bold]{stats.clusters}[/bold] clusters")
    table = Table(title="sources")
    for column in ("source", "library", "records", "quarantined", "last harvest", "last error"):
        table.add_column(column)
    for s in stats.sources:
        table.add_row(
            s.name,
            s.library,
            str(s.records),
            str(s.quarantined),
            s.last_harvest or "",
            s.last_error or "",
        )
    console.print(table)


def _short(text: str, width: int = 90) -> str:
    """Long old-book titles shortened for a terminal table."""
    return text if len(text) <= width else text[: width - 1] + "…"
