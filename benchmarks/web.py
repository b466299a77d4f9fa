"""Web benchmark: how fast the pages answer with a live federation behind them.

Three real nodes, the real coordinator and union catalog (the web tests'
federation, tests/web/live.py), 16 concurrent readers. Measured: the search
page, the record page (which asks every holding node for live availability)
and a Prometheus scrape of /metrics.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks import Row

CLIENTS = 16


async def _timed(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as response:
        await response.read()
        assert response.status == 200, (url, response.status)
    return (time.perf_counter() - started) * 1000


async def _load(urls: list[str], rounds: int) -> list[float]:
    """Every client fetches every url ``rounds`` times; all latencies in ms."""
    async with aiohttp.ClientSession() as session:
        async def client() -> list[float]:
            return [await _timed(session, url) for _ in range(rounds) for url in urls]

        started = time.perf_counter()
        results = await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    latencies = [value for result in results for value in result]
    latencies.append(len(latencies) / elapsed)  # the last value: pages per second
    return latencies


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def run(quick: bool) -> list[Row]:
    from tests.web.live import LiveFederation, search_words

    rounds = 3 if quick else 10
    federation = LiveFederation(Path(tempfile.mkdtemp(prefix="libfed-bench-web-"))).start()
    try:
        works = [w for w in federation.works() if len(w["libraries"]) > 1]
        base = federation.url
        search = [f"{base}/?q={search_words(w['title'])}" for w in works]
        record = [f"{base}/record/{w['cluster_id']}" for w in works]
        rows = []
        for name, urls, goal_ms in (("search page", search, 200), ("record page (live availability)", record, 500)):
            values = asyncio.run(_load(urls, rounds))
            rate, values = values[-1], values[:-1]
            p95 = _p95(values)
            rows.append(Row(f"web: {name} p95, {CLIENTS} readers", round(p95, 1), "ms",
                            f"< {goal_ms} ms", p95 < goal_ms, f"median {statistics.median(values):.1f} ms"))
            rows.append(Row(f"web: {name} throughput", round(rate, 1), "pages/s"))
        scrape = asyncio.run(_load([f"{base}/metrics"], 1))[:-1]
        rows.append(Row("web: /metrics scrape p95", round(_p95(scrape), 1), "ms", "< 250 ms",
                        _p95(scrape) < 250))
        return rows
    finally:
        federation.stop()
