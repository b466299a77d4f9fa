"""What the web pages need from the rest of the federation, as one interface.

Handlers never touch a node's store or a database: they ask a
:class:`WebBackend`, which the coordinator process builds from its own
services (``federation.web.coordinator_backend``). Keeping the interface here,
small and typed, is what lets the pages be read without knowing the
coordinator's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from federation.catalog.model import SearchResult


@dataclass(slots=True)
class Library:
    """A member library as readers see it: to pick a home library and a pickup place."""

    symbol: str
    name: str
    up: bool = True


@dataclass(slots=True)
class Availability:
    """What one holding library said just now; ``available`` is None when it did not answer."""

    library: str
    available: int | None
    total: int | None = None
    error: str = ""


@dataclass(slots=True)
class PatronIdentity:
    """Who the home node says the reader is: never the card number."""

    library: str
    patron_ref: str
    display_name: str = ""


@dataclass(slots=True)
class CatalogOverview:
    """The union catalog for staff: size, sources, quarantine and collection overlap."""

    records: int = 0
    clusters: int = 0
    sources: list[Any] = field(default_factory=list)
    quarantined: list[Any] = field(default_factory=list)
    #: libraries in order, and shares[a][b] = share of a's clusters that b also holds.
    libraries: list[str] = field(default_factory=list)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class WebBackend(Protocol):
    """Everything the pages ask; each method is one call to a federation service.

    Loan requests and nodes are the coordinator's own value objects
    (``federation.coordinator.model.LoanRequest`` / ``Node``). Errors are the
    ``federation.errors`` hierarchy (NotFound, Unauthenticated,
    PermissionDenied, FailedPrecondition, AlreadyExists, Unavailable).
    """

    async def libraries(self) -> list[Library]: ...

    async def search(
        self, query: str, *, library: str | None, limit: int, offset: int
    ) -> SearchResult: ...

    async def search_cql(self, query: str, *, limit: int, offset: int) -> SearchResult:
        """CQL search (SRU); raises federation.catalog.cql.CqlError."""
        ...

    async def member_records(self, cluster_ids: list[str]) -> dict[str, list[tuple[str, str, bytes]]]:
        """(schema, library, raw payload) of each cluster's members, best first."""
        ...

    async def cluster(self, cluster_id: str) -> Any: ...

    async def availability(self, cluster_id: str, timeout: float) -> list[Availability]: ...

    async def verify_patron(self, library: str, card_number: str, pin: str) -> PatronIdentity: ...

    async def submit_request(
        self,
        patron: PatronIdentity,
        cluster_id: str,
        *,
        pickup: str,
        idempotency_key: str,
        needed_before: float | None = None,
    ) -> Any: ...

    async def patron_requests(self, patron: PatronIdentity) -> list[Any]: ...

    async def get_request(self, request_id: str) -> Any: ...

    async def cancel_request(self, request_id: str, patron: PatronIdentity) -> Any: ...

    async def renew_request(self, request_id: str, patron: PatronIdentity) -> Any: ...

    def can_renew(self, loan: Any) -> bool: ...

    def can_cancel(self, loan: Any) -> bool: ...

    async def nodes(self) -> list[Any]: ...

    async def all_requests(self) -> list[Any]: ...

    async def catalog_overview(self) -> CatalogOverview: ...

    async def iso18626(self, body: bytes) -> bytes:
        """An outside peer's ISO 18626 message in, its confirmation out."""
        ...
