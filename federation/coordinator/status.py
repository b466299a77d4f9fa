"""The network at a glance: nodes, harvests, catalog size, requests, fill rate, balance."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from federation.coordinator.model import FINAL_STATUSES, Node, iso, now, supply_outcome
from federation.coordinator.store import CoordinatorStore


@dataclass(slots=True)
class NetworkStatus:
    nodes: list[Node]
    sources: list = field(default_factory=list)
    catalog_records: int = 0
    catalog_clusters: int = 0
    open_requests_by_status: dict[str, int] = field(default_factory=dict)
    fill_rate: float = 0.0
    finished_requests: int = 0
    median_turnaround_seconds: float = 0.0
    server_time: float = field(default_factory=now)

    def to_json(self) -> dict:
        return {
            "server_time": iso(self.server_time),
            "nodes": [node.to_json() for node in self.nodes],
            "sources": [
                {
                    "name": s.name, "library": s.library, "base_url": s.base_url,
                    "last_harvest": s.last_harvest, "last_error": s.last_error,
                    "records": s.records, "quarantined": s.quarantined,
                }
                for s in self.sources
            ],
            "catalog_records": self.catalog_records,
            "catalog_clusters": self.catalog_clusters,
            "open_requests_by_status": self.open_requests_by_status,
            "fill_rate": round(self.fill_rate, 4),
            "finished_requests": self.finished_requests,
            "median_turnaround_seconds": round(self.median_turnaround_seconds, 3),
            "lending": [
                {"symbol": n.symbol, "lent": n.lent, "borrowed": n.borrowed} for n in self.nodes
            ],
        }


def _catalog_counts(stats) -> tuple[int, int]:
    """Records and clusters from whatever the catalog's stats() returns (object or dict)."""
    def pick(*names):
        for name in names:
            value = stats.get(name) if isinstance(stats, dict) else getattr(stats, name, None)
            if value is not None:
                return int(value)
        return 0

    return pick("records", "record_count", "total_records"), pick("clusters", "cluster_count")


async def network_status(store: CoordinatorStore, catalog=None) -> NetworkStatus:
    """Everything GetNetworkStatus and `libfed status` show."""
    counts = await store.count_by_status()
    outcomes = [(supply_outcome(status), n) for status, n in counts.items()]
    finished = sum(n for outcome, n in outcomes if outcome is not None)
    filled = sum(n for outcome, n in outcomes if outcome)
    turnaround = await store.turnaround_seconds()
    result = NetworkStatus(
        nodes=await store.nodes(),
        open_requests_by_status={s: n for s, n in counts.items() if s not in FINAL_STATUSES},
        fill_rate=filled / finished if finished else 0.0,
        finished_requests=finished,
        median_turnaround_seconds=statistics.median(turnaround) if turnaround else 0.0,
    )
    if catalog is not None:
        result.sources = list(await catalog.sources())
        result.catalog_records, result.catalog_clusters = _catalog_counts(await catalog.stats())
        harvested: dict[str, int] = {}
        for source in result.sources:  # a node is several sources, one per format
            harvested[source.library] = harvested.get(source.library, 0) + source.records
        for node in result.nodes:
            # Before its first heartbeat a node's size is what its last harvest brought.
            node.record_count = node.record_count or harvested.get(node.symbol, 0)
    return result
