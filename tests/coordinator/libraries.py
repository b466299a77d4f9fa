"""A scripted library for coordinator tests: a real LibraryNode gRPC server on loopback.

It answers the way a test tells it to (a free copy or not, WillSupply, Unfilled,
ExpectToSupply, silence) and keeps every message it received as bytes, so a test
can prove what a lender saw — and that no reader's card number was among it.
The real node's own server is used in the end-to-end tests; this one lets the
routing rules be exercised one at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from libfed.v1 import common_pb2, node_service_pb2, node_service_pb2_grpc


@dataclass
class Script:
    available: int = 1
    open_loans: int = 0
    #: WILL_SUPPLY, UNFILLED or EXPECT_TO_SUPPLY
    answer: int = common_pb2.LOAN_STATUS_WILL_SUPPLY
    reason: str = ""
    #: Seconds to sit on a call before answering (simulates a silent node).
    delay: float = 0.0
    #: Seconds to sit on an offer only: it arrives, the answer comes too late.
    offer_delay: float = 0.0


@dataclass
class Received:
    method: str
    message: object
    raw: bytes
    metadata: dict


@dataclass
class ScriptedLibrary(node_service_pb2_grpc.LibraryNodeServicer):
    symbol: str
    script: Script = field(default_factory=Script)
    #: The token the coordinator must present on loan calls (empty: anyone).
    expected_token: str = ""
    received: list[Received] = field(default_factory=list)
    server: grpc.aio.Server | None = None
    port: int = 0

    async def start(self, port: int = 0) -> ScriptedLibrary:
        self.server = grpc.aio.server()
        node_service_pb2_grpc.add_LibraryNodeServicer_to_server(self, self.server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.server.start()
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)
            self.server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _note(self, method: str, message, context) -> None:
        metadata = dict(context.invocation_metadata() or ())
        self.received.append(Received(method, message, message.SerializeToString(), metadata))
        if self.expected_token and method != "GetAvailability":
            if metadata.get("authorization") != f"Bearer {self.expected_token}":
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not the coordinator")
        if self.script.delay:
            await asyncio.sleep(self.script.delay)

    def calls(self, method: str) -> list:
        return [r.message for r in self.received if r.method == method]

    async def GetAvailability(self, request, context):  # noqa: N802
        await self._note("GetAvailability", request, context)
        return node_service_pb2.GetAvailabilityResponse(
            available_count=self.script.available, open_loans=self.script.open_loans
        )

    async def OfferLoan(self, request, context):  # noqa: N802
        await self._note("OfferLoan", request, context)
        if self.script.offer_delay:
            await asyncio.sleep(self.script.offer_delay)
        return node_service_pb2.OfferLoanResponse(
            status=self.script.answer, reason_unfilled=self.script.reason
        )

    async def UpdateLoanStatus(self, request, context):  # noqa: N802
        await self._note("UpdateLoanStatus", request, context)
        return node_service_pb2.UpdateLoanStatusResponse()


@dataclass
class Cluster:
    cluster_id: str
    title: str


@dataclass
class Holding:
    library: str
    record_id: str
    oai_identifier: str = ""


class HoldingsTable:
    """Who holds which cluster, for routing tests that need no harvested catalog."""

    def __init__(self, clusters: dict[str, tuple[str, list[tuple[str, str]]]], isbns=None) -> None:
        self._clusters = clusters
        self._isbns = isbns or {}

    async def holdings(self, cluster_id: str) -> list[Holding]:
        _, held = self._clusters.get(cluster_id, ("", []))
        return [Holding(library, record) for library, record in held]

    async def get_cluster(self, cluster_id: str):
        if cluster_id not in self._clusters:
            return None
        return Cluster(cluster_id, self._clusters[cluster_id][0])

    async def clusters_for_isbn(self, isbn: str) -> list[str]:
        return list(self._isbns.get(isbn, []))

    async def sources(self):
        return []

    async def save_source(self, state) -> None:
        pass

    async def stats(self):
        return {"records": 0, "clusters": len(self._clusters)}

    async def close(self) -> None:
        pass
