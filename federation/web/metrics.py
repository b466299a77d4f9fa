"""Prometheus metrics at ``/metrics``, in a registry of this app's own.

A per-app :class:`CollectorRegistry` (never the global one) so that two apps
in one process, as in the tests, do not collide. Gauges are refreshed from the
coordinator's services at scrape time; the latency of every call to a node —
the coordinator's (health checks, availability rounds, offers, updates) and the
web pages' own (availability, VerifyPatron) — is a histogram.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from federation.errors import LibfedError
from federation.web.stats import STATUS_ORDER

log = logging.getLogger(__name__)


class WebMetrics:
    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.node_up = Gauge("libfed_node_up", "1 when the node answered its last health check", ["node"], registry=r)
        self.node_latency = Gauge("libfed_node_latency_seconds", "Latency of the node's last health check", ["node"], registry=r)
        self.node_records = Gauge("libfed_node_records", "Live records the node reports", ["node"], registry=r)
        self.nodes_up = Gauge("libfed_nodes_up", "Nodes up now", registry=r)
        self.nodes_total = Gauge("libfed_nodes_total", "Nodes registered", registry=r)
        self.requests = Gauge("libfed_requests", "Loan requests by ISO 18626 status", ["status"], registry=r)
        self.harvest_records = Gauge("libfed_harvest_records", "Records harvested per source", ["source", "library"], registry=r)
        self.harvest_errors = Gauge("libfed_harvest_quarantined", "Records quarantined per source", ["source", "library"], registry=r)
        self.harvest_fresh = Gauge("libfed_harvest_last_success_timestamp_seconds", "When the source's last harvest completed (Unix time)", ["source", "library"], registry=r)
        self.harvest_failing = Gauge("libfed_harvest_source_failing", "1 when the source's last harvest ended in error", ["source", "library"], registry=r)
        self.catalog_clusters = Gauge("libfed_catalog_clusters", "Works (clusters) in the union catalog", registry=r)
        self.catalog_records = Gauge("libfed_catalog_records", "Records in the union catalog", registry=r)
        self.rpc_latency = Histogram(
            "libfed_rpc_latency_seconds", "Latency of RPCs to nodes (the coordinator's and the web pages')",
            ["method", "outcome"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.http_latency = Histogram(
            "libfed_web_request_seconds", "Time to answer a web page", ["route"], registry=r
        )

    @contextmanager
    def rpc(self, method: str) -> Iterator[None]:
        """Times one RPC: ``with metrics.rpc("VerifyPatron"): ...``."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except BaseException:
            outcome = "error"
            raise
        finally:
            self.observe_rpc(method, outcome, time.perf_counter() - started)

    def observe_rpc(self, method: str, outcome: str, seconds: float) -> None:
        self.rpc_latency.labels(method, outcome).observe(seconds)

    def observe_http(self, route: str, seconds: float) -> None:
        self.http_latency.labels(route).observe(seconds)

    async def refresh(self) -> None:
        """Reads the network's state now; a failing service leaves its gauges as they were."""
        try:
            nodes = await self._backend.nodes()
            for node in nodes:
                self.node_up.labels(node.symbol).set(1 if node.up else 0)
                if node.latency_ms is not None:
                    self.node_latency.labels(node.symbol).set(node.latency_ms / 1000)
                self.node_records.labels(node.symbol).set(node.record_count or 0)
            self.nodes_total.set(len(nodes))
            self.nodes_up.set(sum(1 for node in nodes if node.up))
        except LibfedError as error:
            log.warning("metrics: nodes unavailable: %s", error)
        try:
            counts = dict.fromkeys(STATUS_ORDER, 0)
            for loan in await self._backend.all_requests():
                counts[str(loan.status)] = counts.get(str(loan.status), 0) + 1
            for status, count in counts.items():
                self.requests.labels(status).set(count)
        except LibfedError as error:
            log.warning("metrics: requests unavailable: %s", error)
        try:
            overview = await self._backend.catalog_overview()
            self.catalog_clusters.set(overview.clusters)
            self.catalog_records.set(overview.records)
            for source in overview.sources:
                labels = (source.name, source.library)
                self.harvest_records.labels(*labels).set(source.records)
                self.harvest_errors.labels(*labels).set(source.quarantined)
                self.harvest_failing.labels(*labels).set(1 if source.last_error else 0)
                if source.last_harvest:
                    self.harvest_fresh.labels(*labels).set(_unix_time(source.last_harvest))
        except LibfedError as error:
            log.warning("metrics: catalog unavailable: %s", error)

    async def exposition(self) -> tuple[bytes, str]:
        await self.refresh()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _unix_time(stamp: str) -> float:
    """An ISO 8601 UTC timestamp (``2026-11-28T10:00:00Z``) as Unix time."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
