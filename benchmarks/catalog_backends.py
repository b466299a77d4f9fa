"""The union catalog on SQLite and on PostgreSQL, side by side (issue 11).

For each backend, on the same machine and the same data:

* harvest rec/s: the whole harvest (benchmarks/harvest.py's OAI-PMH endpoint in
  its own process, libfed's harvester, dedup, index, commit with checkpoint);
* commit rec/s and search p50/p95: a catalog built through ``commit_page`` and
  searched with the 400 queries of benchmarks/catalog.py (first page of 20,
  total and facets).

The size is a parameter: ``python -m benchmarks catalog_backends --records N``
(default 20,000; 5,000 with --quick). The issue's size is a million:
``make bench BENCH_ARGS="catalog_backends --records 1000000"`` (hours, and
~15 GB of disk for the two catalogs and the endpoint's pages).

PostgreSQL is a throwaway server started for the run (tests/pg_cluster.py) with
fsync on, as a real one; the catalog's writer runs with synchronous_commit off,
as SQLite runs with synchronous=NORMAL. Where PostgreSQL cannot start, its rows
say so and carry no figure.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import Row
from benchmarks.catalog import _percentile, build, latencies
from benchmarks.harvest import _Endpoint, _libfed_harvest

DEFAULT_RECORDS = 20_000
QUICK_RECORDS = 5_000


def run(quick: bool, records: int | None = None) -> list[Row]:
    """Both backends on ``records`` records (default 20,000; quick: 5,000)."""
    count = records or (QUICK_RECORDS if quick else DEFAULT_RECORDS)
    from tests import pg_cluster

    try:
        server: pg_cluster.Cluster | None = pg_cluster.start(
            fast=False, settings={"shared_buffers": "512MB"}
        )
    except pg_cluster.Unavailable as error:
        server, why = None, str(error)
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="libfed-bench-backends-") as folder:
            locations: dict[str, str | Path | None] = {
                "SQLite": Path(folder) / "harvest.db",
                "PostgreSQL": server.create_database("harvest") if server else None,
            }
            rows += _harvest_rows(count, locations)
            locations = {
                "SQLite": Path(folder) / "built.db",
                "PostgreSQL": server.create_database("built") if server else None,
            }
            rows += asyncio.run(_built_rows(count, locations))
    finally:
        if server is not None:
            server.stop()
    if server is None:
        rows.append(Row("PostgreSQL rows skipped", 0, "", note=why[:120]))
    return _side_by_side(rows) + _ratios(rows)


def _harvest_rows(count: int, locations: dict[str, str | Path | None]) -> list[Row]:
    rows = []
    with _Endpoint(count) as url:
        for backend, location in locations.items():
            if location is None:
                continue
            started = time.perf_counter()
            summary, _found = asyncio.run(_libfed_harvest(url, location))
            rate = summary.records / (time.perf_counter() - started)
            rows.append(Row(f"harvest {count:,} MARCXML → catalog [{backend}]", rate, "rec/s",
                            ">= 5,000", rate >= 5000, "whole harvest, one run"))  # fmt: skip
    return rows


async def _built_rows(count: int, locations: dict[str, str | Path | None]) -> list[Row]:
    rows = []
    for backend, location in locations.items():
        if location is None:
            continue
        rate, cpu_rate = await build(location, count)  # type: ignore[arg-type]
        rows.append(Row(f"catalog commit_page ({count:,} records) [{backend}]", rate, "rec/s",
                        note=f"{cpu_rate:,.0f} rec per CPU-second of this process"))
        wall, _cpu = await latencies(location)  # type: ignore[arg-type]
        p50, p95 = statistics.median(wall), _percentile(wall, 0.95)
        note = f"{len(wall)} queries, facets included"
        rows.append(Row(f"catalog search p50 ({count:,} records) [{backend}]", p50, "ms",
                        note=note))
        rows.append(Row(f"catalog search p95 ({count:,} records) [{backend}]", p95, "ms",
                        "<= 10", p95 <= 10, note))
    return rows


def _ratios(rows: list[Row]) -> list[Row]:
    """PostgreSQL's search p50 and p95 over SQLite's, measured in this same run
    (the machine's load moves both; their ratio moves less)."""
    found = {row.name: row.value for row in rows}
    ratios = []
    for name in sorted(n.removesuffix(" [SQLite]") for n in found if n.endswith(" [SQLite]")):
        if "search" in name and f"{name} [PostgreSQL]" in found and found[f"{name} [SQLite]"]:
            ratio = found[f"{name} [PostgreSQL]"] / found[f"{name} [SQLite]"]
            ratios.append(Row(f"{name}, PostgreSQL / SQLite", ratio, "x", note="same run"))
    return ratios


def _side_by_side(rows: list[Row]) -> list[Row]:
    """Each measurement's SQLite row, then its PostgreSQL row."""
    def key(row: Row) -> tuple[str, int]:
        name, _, backend = row.name.rpartition(" [")
        return (name or row.name, 0 if backend.startswith("SQLite") else 1)

    return sorted(rows, key=key)
