"""The union catalog: every harvested record, deduplicated into clusters, searchable.

Writers (the harvester) call :meth:`UnionCatalog.commit_page`; readers search and
read clusters. Deduplication rules live in :mod:`federation.catalog.dedup`, the
folding shared by dedup and search in :mod:`federation.catalog.folding`, and all
SQL in :mod:`federation.catalog.sqlite`.
"""

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

__all__ = [
    "CatalogStats",
    "CatalogStorage",
    "ClusterDetail",
    "ClusterMember",
    "ClusterSummary",
    "HarvestedRecord",
    "Holding",
    "Overlap",
    "QuarantinedRecord",
    "QuarantineEntry",
    "SearchResult",
    "SourceState",
    "SourceStats",
    "UnionCatalog",
]
