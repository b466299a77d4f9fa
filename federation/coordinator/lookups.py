"""Short-lived caches of what routing reads on every request: nodes, holdings, titles.

Holdings change only when a harvest runs and nodes only when one registers or a
health check or loan changes its figures, so reading them for every request of
a busy hour is waste. Entries live a few seconds (titles longer); a request
routed on a figure a few seconds old is ranked no worse than one routed a few
seconds earlier.
"""

from __future__ import annotations

import time

from federation.coordinator.model import Node
from federation.errors import NotFound

#: Seconds a cached node list or holding list is used.
FRESH_SECONDS = 2.0
#: Seconds a cached title is used.
TITLE_SECONDS = 600.0
#: Entries kept at most (oldest dropped first).
MAX_ENTRIES = 10_000


class Lookups:
    """Reads of the store and the catalog that routing makes, cached briefly."""

    def __init__(self, store, catalog) -> None:
        self._store = store
        self._catalog = catalog
        self._nodes: tuple[float, dict[str, Node]] | None = None
        self._holdings: dict[str, tuple[float, list]] = {}
        self._titles: dict[str, tuple[float, str]] = {}

    async def nodes(self) -> dict[str, Node]:
        now = time.monotonic()
        if self._nodes is None or now - self._nodes[0] > FRESH_SECONDS:
            nodes = {node.symbol: node for node in await self._store.nodes()}
            self._nodes = (now, nodes)
        return self._nodes[1]

    async def holdings(self, cluster_id: str) -> list:
        """The cluster's holdings; empty when the cluster left the catalog."""
        now = time.monotonic()
        cached = self._holdings.get(cluster_id)
        if cached is None or now - cached[0] > FRESH_SECONDS:
            try:
                found = list(await self._catalog.holdings(cluster_id))
            except NotFound:
                found = []
            cached = self._remember(self._holdings, cluster_id, (now, found))
        return cached[1]

    async def title(self, cluster_id: str) -> str:
        """The work's title; NotFound when there is no such cluster."""
        now = time.monotonic()
        cached = self._titles.get(cluster_id)
        if cached is None or now - cached[0] > TITLE_SECONDS:
            cluster = await self._catalog.get_cluster(cluster_id)
            if cluster is None:
                raise NotFound(f"no cluster {cluster_id} in the union catalog")
            summary = getattr(cluster, "summary", cluster)
            cached = self._remember(self._titles, cluster_id,
                                    (now, getattr(summary, "title", "") or ""))
        return cached[1]

    def forget_nodes(self) -> None:
        """Registration or a change of priority: read the nodes again next time."""
        self._nodes = None

    @staticmethod
    def _remember(cache: dict, key: str, value):
        if len(cache) >= MAX_ENTRIES:
            cache.pop(next(iter(cache)))
        cache[key] = value
        return value
