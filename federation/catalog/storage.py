"""The storage interface of the union catalog, and the rows that cross it.

:class:`CatalogStorage` is everything the catalog asks of a database. The
embedded SQLite implementation (:mod:`federation.catalog.sqlite`) is the
default, the PostgreSQL one (:mod:`federation.catalog.postgres`) is for a network
that outgrows one file; deduplication and search parsing never see SQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from federation.catalog.merge import ClusterRow, Member
from federation.catalog.model import (
    CatalogStats,
    ClusterDetail,
    ClusterSummary,
    Holding,
    QuarantinedRecord,
    QuarantineEntry,
    SearchResult,
    SourceState,
)
from federation.catalog.query import ParsedQuery


class InvalidSearch(ValueError):
    """A search expression a storage cannot run; the catalog reports it as bad input."""


@dataclass(slots=True)
class StoredRecord:
    """A record already in the catalog, as a new page's commit needs it."""

    pk: int
    cluster: int
    digest: str
    match: str


@dataclass(slots=True)
class Neighbour:
    """A stored record that shares a candidate key with a record being placed."""

    key: int
    pk: int
    source: str
    cluster: int
    match: str


@dataclass(slots=True)
class RecordRow:
    """A record to insert or replace."""

    pk: int
    source: str
    oai_identifier: str
    library: str
    record_id: str
    datestamp: str
    schema: str
    raw: bytes
    normalized: str
    match: str
    digest: str
    score: int
    cluster: int
    #: The source's full run that listed the record (SourceState.full_run).
    harvest_run: int = 0


@dataclass(slots=True)
class PageWrite:
    """Everything one committed page changes, written in one transaction."""

    source: SourceState
    records: list[RecordRow] = field(default_factory=list)
    #: (cluster, record pk) of stored records that were placed again.
    moved: list[tuple[int, int]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    #: (key hash, record pk); every such record is of ``source``.
    keys_removed: list[tuple[int, int]] = field(default_factory=list)
    keys_added: list[tuple[int, int]] = field(default_factory=list)
    clusters: list[ClusterRow] = field(default_factory=list)
    clusters_removed: list[int] = field(default_factory=list)
    #: Clusters that were stored before this page (their old rows are replaced).
    clusters_stored: list[int] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    #: OAI identifiers whose quarantine entry a good copy now replaces.
    unquarantined: list[str] = field(default_factory=list)


class CatalogStorage(Protocol):
    """What the union catalog needs of a database."""

    async def close(self) -> None: ...

    # -- the write path: one page, one transaction -----------------------------
    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Serialize writers; commit on success, roll back on any error."""
        ...

    async def stored_records(
        self, source: str, oai_ids: Sequence[str]
    ) -> dict[str, StoredRecord]: ...

    async def unlisted_records(self, source: str, full_run: int) -> list[str]:
        """OAI identifiers of the source's records no page of ``full_run`` listed."""
        ...

    async def next_pks(self) -> tuple[int, int]:
        """The next free record pk and cluster pk (cluster pks are never reused)."""
        ...

    async def neighbours(
        self, keys: Sequence[int], other_than: str | None = None
    ) -> list[Neighbour]:
        """Stored records sharing one of ``keys``, leaving out ``other_than``'s."""
        ...

    async def cluster_members(self, clusters: Sequence[int]) -> list[tuple[int, int, str]]:
        """(record pk, cluster pk, source) of every member of ``clusters``."""
        ...

    async def match_data(self, pks: Sequence[int]) -> dict[int, str]: ...

    async def merge_members(self, clusters: Sequence[int]) -> list[tuple[int, Member]]:
        """(cluster pk, member) for every stored member of ``clusters``."""
        ...

    async def write_page(self, page: PageWrite) -> None: ...

    # -- sources ---------------------------------------------------------------
    async def get_source(self, name: str) -> SourceState | None: ...
    async def save_source(self, state: SourceState) -> None: ...
    async def record_error(self, source_name: str, message: str) -> bool: ...
    async def sources(self) -> list[SourceState]: ...
    async def quarantined(self, source: str | None, limit: int) -> list[QuarantineEntry]: ...

    # -- reading ---------------------------------------------------------------
    async def search(
        self, query: ParsedQuery, libraries: list[str], limit: int, offset: int
    ) -> SearchResult: ...
    async def cluster(self, pk: int) -> ClusterDetail | None: ...
    async def holdings(self, pk: int) -> list[Holding]: ...
    async def summaries(self, pks: list[int]) -> list[ClusterSummary]:
        """Cluster summaries with their holdings, in the order of ``pks`` (missing: left out)."""
        ...
    async def member_records(self, pks: list[int]) -> dict[int, list[tuple[str, str, bytes]]]:
        """(schema, library, raw payload) of every member of the clusters, best first."""
        ...
    async def clusters_for_isbn(self, isbn13: str) -> list[int]: ...
    async def overlap(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]: ...
    def dump(self) -> AsyncIterator[tuple[int, list[Holding]]]: ...
    async def stats(self) -> CatalogStats: ...


def cluster_id(pk: int) -> str:
    """The public id of a cluster (stable for the cluster's life, never reused)."""
    return f"c{pk}"


def cluster_pk(cluster_id: str) -> int | None:
    """The storage key of a public cluster id; None for anything malformed."""
    if cluster_id[:1] in ("c", "C") and cluster_id[1:].isdigit():
        return int(cluster_id[1:])
    return None
