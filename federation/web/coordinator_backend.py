"""The web pages' backend in the coordinator process: its services, unchanged.

:class:`CoordinatorBackend` implements :class:`~federation.web.backend.WebBackend`
with the coordinator's own parts: the state store and loan service for
requests, the node gateway for live availability, and the union catalog.
A reader's card and PIN go to the home node's Patrons service over gRPC
(authenticated like every coordinator call to a node) and are not kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import grpc
from libfed.v1 import patron_service_pb2, patron_service_pb2_grpc

from federation.coordinator import lifecycle
from federation.coordinator.config import NETWORK_AGENCY
from federation.coordinator.iso18626.inbound import Iso18626Inbound
from federation.coordinator.model import Action, RotaEntry
from federation.coordinator.reports import report_requester
from federation.coordinator.service import Submission
from federation.errors import (
    FailedPrecondition,
    LibfedError,
    NotFound,
    Unauthenticated,
    Unavailable,
    error_for_status,
)
from federation.web.backend import Availability, CatalogOverview, Library, PatronIdentity

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RecordView:
    """A cluster as the record page shows it."""

    cluster_id: str
    title: str
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    format: str | None = None
    language: str | None = None
    isbns: list[str] = field(default_factory=list)
    publisher: str | None = None
    subjects: list[str] = field(default_factory=list)
    holdings: list[Any] = field(default_factory=list)


class CoordinatorBackend:
    """Everything the pages ask, answered by the coordinator's services."""

    def __init__(
        self, *, store, loans, catalog, gateway, secret: str,
        verify_timeout: float = 3.0, overlap_ttl: float = 60.0, metrics=None, iso18626=None,
    ) -> None:
        self.store = store
        self.loans = loans
        self.catalog = catalog
        self.gateway = gateway
        self._secret = secret
        self._verify_timeout = verify_timeout
        self._overlap_ttl = overlap_ttl
        self._overlap: tuple[float, list[str], dict] | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        #: Set by the app so that calls to nodes show in /metrics.
        self.metrics = metrics
        #: The coordinator's ISO 18626 gateway; without one, every agency is unknown.
        self._iso18626 = iso18626 or Iso18626Inbound(loans, [], NETWORK_AGENCY)

    @classmethod
    def from_server(cls, server) -> CoordinatorBackend:
        """The backend of a started :class:`~federation.coordinator.server.CoordinatorServer`."""
        return cls(
            store=server.store, loans=server.loans, catalog=server.catalog,
            gateway=server.gateway, secret=server.config.secret,
            verify_timeout=max(1.0, server.config.call_timeout), iso18626=server.iso18626,
        )

    async def iso18626(self, body: bytes) -> bytes:
        return await self._iso18626.handle(body)

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        await asyncio.gather(*(c.close() for c in channels.values()), return_exceptions=True)

    def _timed(self, method: str):
        if self.metrics is None:
            import contextlib

            return contextlib.nullcontext()
        return self.metrics.rpc(method)

    # -- readers ---------------------------------------------------------------

    async def libraries(self) -> list[Library]:
        return [Library(n.symbol, n.name or n.symbol, n.up) for n in await self.store.nodes()]

    async def search(self, query: str, *, library: str | None, limit: int, offset: int):
        return await self.catalog.search(query, library=library, limit=limit, offset=offset)

    async def search_cql(self, query: str, *, limit: int, offset: int):
        return await self.catalog.search_cql(query, limit=limit, offset=offset)

    async def member_records(self, cluster_ids: list[str]):
        return await self.catalog.member_records(cluster_ids)

    async def cluster(self, cluster_id: str) -> RecordView | None:
        detail = await self.catalog.get_cluster(cluster_id)
        if detail is None:
            return None
        s = detail.summary
        return RecordView(
            cluster_id=s.cluster_id, title=s.title, authors=list(s.authors), year=s.year,
            format=s.format, language=s.language, isbns=list(s.isbns),
            publisher=detail.publisher, subjects=list(detail.subjects), holdings=detail.holdings,
        )

    async def availability(self, cluster_id: str, timeout: float) -> list[Availability]:
        """Each holding library asked now, all at once; silence within ``timeout`` is unknown."""
        try:
            holdings = await self.catalog.holdings(cluster_id)
        except NotFound:
            return []
        nodes = {node.symbol: node for node in await self.store.nodes()}
        by_library: dict[str, list[str]] = defaultdict(list)
        for holding in holdings:
            by_library[holding.library].append(holding.record_id)

        async def ask(library: str, record_id: str) -> int | None:
            node = nodes.get(library)
            if node is None:
                return None
            entry = RotaEntry(position=0, lender=library, record_id=record_id)
            try:
                async with asyncio.timeout(timeout):  # timed by the gateway's observers
                    answer = await self.gateway.availability(node, entry, timeout)
            except (LibfedError, grpc.aio.AioRpcError, TimeoutError, OSError) as error:
                log.info("availability of %s at %s unknown: %s", record_id, library, error)
                return None
            # An outside ISO 18626 peer cannot be asked: -1, unknown.
            return answer.available_count if answer.available_count >= 0 else None

        libraries = sorted(by_library)
        answers = await asyncio.gather(
            *(asyncio.gather(*(ask(lib, rid) for rid in by_library[lib])) for lib in libraries)
        )
        result = []
        for library, counts in zip(libraries, answers, strict=True):
            known = [c for c in counts if c is not None]
            result.append(Availability(library, sum(known) if known else None))
        return result

    async def verify_patron(self, library: str, card_number: str, pin: str) -> PatronIdentity:
        """The home node checks card and PIN; only its opaque reference comes back."""
        try:
            node = await self.store.node(library)
        except NotFound:
            raise Unauthenticated("card number or PIN not recognised") from None
        channel = self._channels.get(node.grpc_address)
        if channel is None:
            channel = self._channels[node.grpc_address] = grpc.aio.insecure_channel(node.grpc_address)
        stub = patron_service_pb2_grpc.PatronsStub(channel)
        # The gateway's own credential for this node: the Patrons service trusts
        # exactly the caller the node's loan calls trust.
        metadata = self.gateway.metadata_for(node)
        try:
            with self._timed("VerifyPatron"):
                reply = await stub.VerifyPatron(
                    patron_service_pb2.VerifyPatronRequest(card_number=card_number, pin=pin),
                    timeout=self._verify_timeout, metadata=metadata,
                )
        except grpc.aio.AioRpcError as error:
            kind = error_for_status(error.code()) or Unavailable
            raise kind(error.details() or str(error.code())) from None
        return PatronIdentity(node.symbol, reply.patron_ref, reply.display_name)

    async def submit_request(
        self,
        patron: PatronIdentity,
        cluster_id: str,
        *,
        pickup: str,
        idempotency_key: str,
        needed_before: float | None = None,
    ):
        submission = Submission(
            requester=patron.library, idempotency_key=f"web-{idempotency_key}",
            patron_ref=patron.patron_ref, cluster_id=cluster_id, pickup_location=pickup,
            needed_before=needed_before,
        )
        return await self.loans.submit(patron.library, submission)

    async def patron_requests(self, patron: PatronIdentity) -> list:
        loans = await self.store.list_requests(patron.library, role="requester", limit=1000)
        return [loan for loan in loans if loan.patron_ref == patron.patron_ref]

    async def get_request(self, request_id: str):
        return await self.loans.get(None, request_id)

    async def cancel_request(self, request_id: str, patron: PatronIdentity):
        return await report_requester(
            self.loans, patron.library, request_id, Action.CANCEL, note="cancelled by the reader"
        )

    async def renew_request(self, request_id: str, patron: PatronIdentity):
        return await report_requester(
            self.loans, patron.library, request_id, Action.RENEW, note="asked by the reader"
        )

    def can_renew(self, loan) -> bool:
        """Whether the reader's Renew button applies: the lifecycle allows Renew now and
        the network's renewal limit is not reached (the coordinator checks again)."""
        return _allowed(loan, Action.RENEW) and loan.renewals < self.loans.timing.max_renewals

    def can_cancel(self, loan) -> bool:
        """Whether the reader's Cancel button applies (before the item is shipped)."""
        return _allowed(loan, Action.CANCEL)

    # -- staff -----------------------------------------------------------------

    async def nodes(self) -> list:
        return await self.store.nodes()

    async def all_requests(self) -> list:
        return await self.store.list_requests(None, limit=100_000)

    async def catalog_overview(self) -> CatalogOverview:
        stats = await self.catalog.stats()
        overview = CatalogOverview(
            records=stats.records, clusters=stats.clusters, sources=list(await self.catalog.sources())
        )
        overview.quarantined = await self.catalog.quarantined(limit=50)
        overview.libraries, overview.shares = await self._overlap_matrix()
        return overview

    async def _overlap_matrix(self) -> tuple[list[str], dict[str, dict[str, float]]]:
        """Share of library A's clusters that library B holds too (cached a minute)."""
        if self._overlap and time.monotonic() - self._overlap[0] < self._overlap_ttl:
            return self._overlap[1], self._overlap[2]
        overlap = await self.catalog.overlap()
        names = overlap.libraries
        shares = {a: {b: overlap.share(a, b) for b in names} for a in names}
        self._overlap = (time.monotonic(), names, shares)
        return names, shares


def _allowed(loan, action: Action) -> bool:
    """Whether the lifecycle lets the requester take ``action`` on ``loan`` now."""
    try:
        lifecycle.requester_transition(loan, action)
    except FailedPrecondition:
        return False
    return True
