"""The union catalog: every harvested record, deduplicated into clusters, searchable.

Writers (the harvester) call :meth:`UnionCatalog.commit_page`; readers search and
read clusters. Deduplication rules live in :mod:`federation.catalog.dedup`, the
folding shared by dedup and search in :mod:`federation.catalog.folding`, and all
SQL in :mod:`federation.catalog.sqlite`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_MODEL = (
    "CatalogStats", "ClusterDetail", "ClusterMember", "ClusterSummary", "HarvestedRecord",
    "Holding", "Overlap", "QuarantinedRecord", "QuarantineEntry", "SearchResult", "SourceState",
    "SourceStats",
)  # fmt: skip
#: Each public name and the module it lives in, imported on first use: a page
#: reader process needs the catalog's commit preparation, not its storages.
_EXPORTS = {
    "UnionCatalog": "federation.catalog.catalog",
    "CatalogStorage": "federation.catalog.storage",
    **{name: "federation.catalog.model" for name in _MODEL},
}

__all__ = [
    "CatalogStats",
    "CatalogStorage",
    "ClusterDetail",
    "ClusterMember",
    "ClusterSummary",
    "HarvestedRecord",
    "Holding",
    "Overlap",
    "QuarantineEntry",
    "QuarantinedRecord",
    "SearchResult",
    "SourceState",
    "SourceStats",
    "UnionCatalog",
]

if TYPE_CHECKING:
    from federation.catalog.catalog import UnionCatalog
    from federation.catalog.model import (
        CatalogStats,
        ClusterDetail,
        ClusterMember,
        ClusterSummary,
        HarvestedRecord,
        Holding,
        Overlap,
        QuarantinedRecord,
        QuarantineEntry,
        SearchResult,
        SourceState,
        SourceStats,
    )
    from federation.catalog.storage import CatalogStorage


if not TYPE_CHECKING:  # type checkers read the imports above, and see a typo as one

    def __getattr__(name: str) -> object:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'federation.catalog' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
