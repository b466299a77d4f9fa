"""The OAI-PMH harvester: keeps the union catalog in step with every source.

sickle fetches pages (in a worker thread), lxml reads them; each part sickle
lacks has its own small module: :mod:`~harvester.cleaning` (bytes a parser would
reject), :mod:`~harvester.retry` (backoff, Retry-After), :mod:`~harvester.page`
(one response), :mod:`~harvester.formats` (MARCXML / Dublin Core / quarantine),
:mod:`~harvester.sources` (the sources file) and :mod:`~harvester.harvester`
(state, checkpoints, resumption).
"""

from harvester.harvester import CatalogWriter, Harvester
from harvester.retry import RetryPolicy
from harvester.sources import Source, adhoc_source, load_sources, select_source
from harvester.summary import HarvestSummary

__all__ = [
    "CatalogWriter",
    "Harvester",
    "HarvestSummary",
    "RetryPolicy",
    "Source",
    "adhoc_source",
    "load_sources",
    "select_source",
]
