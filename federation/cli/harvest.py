"""`libfed harvest`: pull OAI-PMH sources into the union catalog.

    libfed harvest --catalog DB (--config SOURCES.toml [--source NAME]
                                 | --url URL --library SYM [--prefix P] [--set S])
                   [--full] [--json]

A thin adapter: it reads the sources, opens the catalog, runs
:class:`harvester.Harvester` and prints a summary (a rich table, or one JSON
document with ``--json``). Exits 1 when any source failed, naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from federation.catalog import UnionCatalog
from federation.cli.common import EXIT_OK, EXIT_SOME_BAD, fail, print_json
from federation.database_url import is_url
from federation.errors import ConfigError
from harvester import (
    Harvester,
    HarvestSummary,
    RetryPolicy,
    Source,
    adhoc_source,
    load_sources,
    select_source,
)
from harvester.reading import collect_less


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `harvest` command."""
    parser = subparsers.add_parser(
        "harvest",
        help="harvest OAI-PMH sources into the union catalog",
        description="Harvest OAI-PMH sources (incrementally, resumable) into the union catalog.",
    )
    parser.add_argument(
        "--catalog", required=True, type=_location,
        help="union catalog: a SQLite file (made if missing), or a postgresql:// URL",
    )  # fmt: skip
    parser.add_argument("--config", type=Path, help="sources file (TOML, [[source]] tables)")
    parser.add_argument("--source", help="harvest only this source of the --config file")
    parser.add_argument("--url", help="OAI-PMH base URL of an ad hoc source")
    parser.add_argument("--library", help="library symbol of the ad hoc source's holdings")
    parser.add_argument("--prefix", default="marc21", help="metadataPrefix (default marc21)")
    parser.add_argument("--set", dest="set_spec", help="setSpec to harvest")
    parser.add_argument("--full", action="store_true", help="ignore the saved state: everything")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--retries", type=int, default=5, help="retries per request (default 5)")
    parser.add_argument(
        "--backoff", type=float, default=1.0, help="first retry delay, seconds (default 1)"
    )
    parser.add_argument(
        "--max-delay", type=float, default=60.0, help="longest wait between retries (default 60)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for a page (default 60)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        help="worker processes reading the pages of a big list (0: read them in this "
        "process; default: one per core, at most 4, none on a single core)",
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the harvest; exit 1 naming every source that failed."""
    try:
        sources = _sources(args)
    except ConfigError as error:
        return fail(str(error))
    policy = RetryPolicy(
        retries=args.retries, backoff=args.backoff, max_delay=args.max_delay, timeout=args.timeout
    )
    if args.processes is not None and args.processes < 0:
        return fail("--processes must be 0 or more")
    harvest = _harvest(args.catalog, sources, policy, args.full, not args.json, args.processes)
    collect_less()  # this process does nothing else
    summaries = asyncio.run(harvest)
    if args.json:
        print_json(
            {"ok": all(s.ok for s in summaries), "sources": [s.as_dict() for s in summaries]}
        )
    else:
        _print_table(summaries)
    failed = [s for s in summaries if not s.ok]
    for summary in failed:
        fail(f"harvest of source {summary.source!r} ({summary.url}) failed: {summary.error}")
    return EXIT_SOME_BAD if failed else EXIT_OK


def _sources(args: argparse.Namespace) -> list[Source]:
    if args.config and args.url:
        raise ConfigError("give either --config or --url, not both")
    if args.config:
        sources = load_sources(args.config)
        if args.source:
            return [select_source(sources, args.source, args.config)]
        return sources
    if args.source:
        raise ConfigError("--source needs --config")
    if not args.url or not args.library:
        raise ConfigError("give --config SOURCES.toml, or --url URL with --library SYM")
    return [adhoc_source(args.url, args.library, prefix=args.prefix, set_spec=args.set_spec)]


def _location(value: str) -> str | Path:
    """A catalog location as given: a PostgreSQL URL stays a string."""
    return value if is_url(value) else Path(value)


async def _harvest(
    path: str | Path,
    sources: list[Source],
    policy: RetryPolicy,
    full: bool,
    show_progress: bool,
    processes: int | None,
) -> list[HarvestSummary]:
    catalog = await UnionCatalog.open(path)
    summaries = []
    try:
        with _ProgressBar(show_progress) as bar:
            harvester = Harvester(catalog, policy, progress=bar.update, processes=processes)
            for source in sources:
                bar.start(source)
                summaries.append(await harvester.harvest(source, full=full))
    finally:
        await catalog.close()
    return summaries


class _ProgressBar:
    """Records and rate per source on stderr; silent when not asked for."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8.0f} rec/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.task = None

    def __enter__(self) -> _ProgressBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def start(self, source: Source) -> None:
        self.task = self.progress.add_task(source.name, total=None, rate=0.0)

    def update(self, summary: HarvestSummary) -> None:
        done = summary.records + summary.deleted + summary.quarantined
        self.progress.update(self.task, completed=done, total=summary.expected, rate=summary.rate)


def _print_table(summaries: list[HarvestSummary]) -> None:
    table = Table(title="harvest")
    for column in ("source", "records", "deleted", "quarantined", "pages", "rec/s", "next from"):
        table.add_column(column)
    table.add_column("result")
    for s in summaries:
        result = "ok" if s.ok else f"[red]failed: {s.error}[/red]"
        if s.ok and s.resumed:
            result = "ok (resumed)"
        table.add_row(
            s.source,
            str(s.records),
            f"{s.deleted} (+{s.unlisted} unlisted)" if s.unlisted else str(s.deleted),
            str(s.quarantined),
            str(s.pages),
            f"{s.rate:,.0f}",
            s.next_from or "",
            result,
        )
    console = Console(file=sys.stdout)
    console.print(table)
    for s in summaries:
        if s.pages:
            console.print(f"{s.source}: {_where_time_went(s)}")


def _where_time_went(summary: HarvestSummary) -> str:
    t = summary.timings
    count = t.reader_processes
    readers = f"{count} process{'es' if count > 1 else ''}" if count else "a thread"
    return (
        f"{summary.seconds:.1f} s; first page read after {t.first_page:.1f} s; reading took "
        f"{t.reading_cpu:.1f} s of CPU in {readers}; deduplicating {t.deduplicating:.1f} s, "
        f"storing {t.storing:.1f} s; waited {t.waiting_for_pages:.1f} s for pages and "
        f"{t.waiting_for_commits:.1f} s for commits"
    )
