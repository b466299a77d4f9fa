"""The OAI-PMH harvester: keeps the union catalog in step with every source.

sickle fetches pages (in a worker thread), lxml reads them; each part sickle
lacks has its own small module: :mod:`~harvester.cleaning` (bytes a parser would
reject), :mod:`~harvester.retry` (backoff, Retry-After), :mod:`~harvester.page`
(one response), :mod:`~harvester.formats` (MARCXML / Dublin Core / quarantine),
:mod:`~harvester.sources` (the sources file) and :mod:`~harvester.harvester`
(state, checkpoints, resumption).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Each public name and the module it lives in. Imported on first use: a page
#: reader process imports ``harvester.reading``, and with it this package, and
#: needs none of the fetching and committing (sickle, requests, the catalog's
#: storages); importing them made each reader's start cost 0.44 s of CPU.
_EXPORTS = {
    "CatalogWriter": "harvester.harvester",
    "Harvester": "harvester.harvester",
    "HarvestSummary": "harvester.summary",
    "RetryPolicy": "harvester.retry",
    "Source": "harvester.sources",
    "adhoc_source": "harvester.sources",
    "load_sources": "harvester.sources",
    "select_source": "harvester.sources",
}

__all__ = [
    "CatalogWriter",
    "HarvestSummary",
    "Harvester",
    "RetryPolicy",
    "Source",
    "adhoc_source",
    "load_sources",
    "select_source",
]

if TYPE_CHECKING:
    from harvester.harvester import CatalogWriter, Harvester
    from harvester.retry import RetryPolicy
    from harvester.sources import Source, adhoc_source, load_sources, select_source
    from harvester.summary import HarvestSummary


if not TYPE_CHECKING:  # type checkers read the imports above, and see a typo as one

    def __getattr__(name: str) -> object:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'harvester' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
