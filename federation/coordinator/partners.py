"""Partner libraries' own OAI-PMH servers, harvested by the coordinator on their schedules.

Nodes are harvested on one interval; a partner that runs Koha, DSpace or Alma
is not a node, so the central library lists it in a sources file (the one
``libfed harvest --config`` reads) and names that file in coordinator.toml
(``sources``). Each source is harvested when its ``schedule`` says it is due,
judged from the catalog's own record of its last complete harvest, so a
restarted coordinator neither repeats a fresh harvest nor forgets a stale one.
A run killed mid-list is due at once (its checkpoint is resumed); a failed
source is tried again after a pause, not on every check.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

from federation.catalog.model import SourceState
from federation.coordinator.config import CoordinatorConfig
from harvester.harvester import Harvester
from harvester.sources import Source, load_sources
from harvester.summary import HarvestSummary

#: Seconds before a source whose harvest failed is tried again (or its own
#: interval, when that is shorter).
RETRY_AFTER_FAILURE = 900.0


class PartnerHarvests:
    """The partner sources of one coordinator and when each is due."""

    def __init__(self, sources: list[Source], catalog, default_interval: float) -> None:
        self.sources = sources
        self.catalog = catalog
        self.default_interval = default_interval
        self._failed_at: dict[str, float] = {}

    def is_due(self, source: Source, state: SourceState | None, at: float) -> bool:
        interval = source.interval(self.default_interval)
        if math.isinf(interval):
            return False  # "manual": only `libfed coordinator harvest` or `libfed harvest`
        failed = self._failed_at.get(source.name)
        if failed is not None and at < failed + min(interval, RETRY_AFTER_FAILURE):
            return False
        if state is None or state.resumption_token is not None or not state.last_harvest:
            return True
        return _epoch(state.last_harvest) + interval <= at

    async def harvest_due(self) -> list[HarvestSummary]:
        """Harvest every source whose schedule says it is due now."""
        states = {state.name: state for state in await self.catalog.sources()}
        at = time.time()
        due = [s for s in self.sources if self.is_due(s, states.get(s.name), at)]
        return await self._harvest(due)

    async def harvest_all(self) -> list[HarvestSummary]:
        """Harvest every partner source now, schedules aside (``manual`` ones too)."""
        return await self._harvest(self.sources)

    async def _harvest(self, sources: list[Source]) -> list[HarvestSummary]:
        summaries = await Harvester(self.catalog).harvest_each(sources)
        for summary in summaries:
            if summary.ok:
                self._failed_at.pop(summary.source, None)
            else:
                self._failed_at[summary.source] = time.time()
        return summaries


def partner_sources(config: CoordinatorConfig) -> list[Source]:
    """The sources file the config names (none: no partners); ConfigError when bad."""
    path = config.sources_path
    return load_sources(path) if path is not None else []


def check_names(partners: list[Source], node_symbols: list[str], path) -> None:
    """ConfigError when a partner source would share its state with a node's source.

    Two lists under one name would take turns: each harvest would see the other's
    URL, start over, and remove the other's records at the end of its full list.
    """
    from federation.coordinator.registry import node_sources
    from federation.errors import ConfigError

    taken = {s.name for symbol in node_symbols for s in node_sources(symbol, "http://x")}
    clash = sorted(s.name for s in partners if s.name in taken)
    if clash:
        raise ConfigError(f"{path}: source name(s) {', '.join(clash)} belong to registered "
                          "nodes' harvest sources; give the partner source another name")


def _epoch(stamp: str) -> float:
    """A catalog timestamp ("2026-11-28T10:00:00Z") as seconds since the epoch."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0  # unreadable: treat as long ago
