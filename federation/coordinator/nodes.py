"""The coordinator's only way to a library: its LibraryNode gRPC service.

One channel per node address, the coordinator's per-node credential on every
call, short reconnect backoff (a restarted node is reachable again within a
second or two), and retries with exponential backoff for transient failures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from libfed.v1 import node_service_pb2, node_service_pb2_grpc

from federation.coordinator import auth
from federation.coordinator.model import Action, LoanRequest, Node, RotaEntry, Status
from federation.coordinator.protomap import (
    action_to_proto,
    service_type_to_proto,
    status_from_proto,
    status_to_proto,
    timestamp,
)
from federation.errors import Unavailable

log = logging.getLogger(__name__)

#: Failures worth another try: the node may be restarting or busy.
TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
     grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNKNOWN}
)
#: A node answering these will never accept the message: drop it, do not retry forever.
PERMANENT = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                       grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED})
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


@dataclass(slots=True)
class Availability:
    available_count: int
    open_loans: int


@dataclass(slots=True)
class OfferAnswer:
    """A lender's answer to an offer. RequestReceived: an outside peer acknowledged it
    and answers later, in a message of its own (ISO 18626)."""

    status: Status
    reason: str = ""


class Refused(Exception):
    """A library will never accept this outbox message: it is dropped, not retried."""


class NodeGateway:
    """Calls the nodes; owns their channels."""

    def __init__(
        self, secret: str, *, call_timeout: float = 5.0, attempts: int = 3, backoff: float = 0.2
    ) -> None:
        self._secret = secret
        self._timeout = call_timeout
        self._attempts = max(1, attempts)
        self.backoff = backoff
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, node_service_pb2_grpc.LibraryNodeStub] = {}
        self._metadata_of: dict[tuple, tuple] = {}
        #: Told of every call to a node: (method, "ok" or "error", seconds). /metrics listens.
        self.observers: list[Callable[[str, str, float], None]] = []

    def _observe(self, method: str, outcome: str, started: float) -> None:
        seconds = time.perf_counter() - started
        for observe in self.observers:
            observe(method, outcome, seconds)

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)
            self._channels[address] = channel
        return channel

    def _stub(self, address: str) -> node_service_pb2_grpc.LibraryNodeStub:
        stub = self._stubs.get(address)
        if stub is None:
            stub = self._stubs[address] = node_service_pb2_grpc.LibraryNodeStub(
                self._channel(address))
        return stub

    def metadata_for(self, node: Node) -> tuple:
        """The coordinator's credential for ``node``: every call to a node carries it."""
        key = (node.symbol, node.token_generation, node.token_scheme)
        metadata = self._metadata_of.get(key)
        if metadata is None:
            credential = (
                auth.coordinator_credential if node.token_scheme == auth.SCHEME
                else auth.legacy_token
            )
            token = credential(self._secret, node.symbol, node.token_generation)
            metadata = self._metadata_of[key] = (("authorization", f"Bearer {token}"),)
        return metadata

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        self._stubs = {}
        await asyncio.gather(*(c.close() for c in channels.values()), return_exceptions=True)

    async def _call(self, node: Node, method: str, message, *, timeout: float, attempts: int):
        """One RPC with retries; Unavailable when the node never answered."""
        stub = self._stub(node.grpc_address)
        delay = self.backoff
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                reply = await getattr(stub, method)(
                    message, timeout=timeout, metadata=self.metadata_for(node)
                )
            except grpc.aio.AioRpcError as error:
                self._observe(method, "error", started)
                if error.code() not in TRANSIENT or attempt == attempts:
                    raise
                log.info("%s to %s failed (%s), retrying in %.1fs", method, node.symbol,
                         error.code().name, delay)
                await asyncio.sleep(delay)
                delay *= 2
            else:
                self._observe(method, "ok", started)
                return reply
        raise AssertionError("unreachable")

    async def availability(self, node: Node, entry: RotaEntry, timeout: float) -> Availability:
        """Free copies of the lender's record and its current lending load (one quick try)."""
        message = node_service_pb2.GetAvailabilityRequest(record_id=entry.record_id)
        reply = await self._call(node, "GetAvailability", message, timeout=timeout, attempts=1)
        return Availability(reply.available_count, reply.open_loans)

    async def offer(self, node: Node, request: LoanRequest, entry: RotaEntry) -> OfferAnswer:
        """Offer the request to a lender; Unavailable when it cannot be reached."""
        message = node_service_pb2.OfferLoanRequest(
            request_id=request.request_id,
            attempt=entry.position,
            record_id=entry.record_id,
            isbn=request.isbn,
            service_type=service_type_to_proto(request.service_type),
            requester_symbol=request.requester,
            pickup_location=request.pickup_location,
            title=request.title,
        )
        if request.needed_before:
            message.needed_before.CopyFrom(timestamp(request.needed_before))
        try:
            reply = await self._call(
                node, "OfferLoan", message, timeout=self._timeout, attempts=self._attempts
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in TRANSIENT:
                raise Unavailable(f"{error.code().name}: {error.details()}") from error
            # The node refused the offer itself (unknown record, not trusted…): it cannot supply.
            return OfferAnswer(Status.UNFILLED, f"{error.code().name}: {error.details()}")
        status = status_from_proto(reply.status)
        if status not in (Status.WILL_SUPPLY, Status.EXPECT_TO_SUPPLY, Status.UNFILLED):
            return OfferAnswer(Status.UNFILLED, f"unexpected answer {status}")
        return OfferAnswer(status, reply.reason_unfilled)

    async def update(
        self, node: Node, *, request_id: str, attempt: int, status: Status,
        action_proto: int = 0, due_time: float | None = None, note: str = "",
    ) -> None:
        """Tell a lender its loan changed state (one try: the outbox retries)."""
        message = node_service_pb2.UpdateLoanStatusRequest(
            request_id=request_id, attempt=attempt, status=status_to_proto(status),
            action=action_proto, note=note,
        )
        if due_time:
            message.due_time.CopyFrom(timestamp(due_time))
        await self._call(node, "UpdateLoanStatus", message, timeout=self._timeout, attempts=1)

    async def deliver(self, node: Node, delivery) -> None:
        """Send one outbox row (a ``store.Delivery``) as UpdateLoanStatus.

        Refused when the node answers that it never will; Unavailable to try again later.
        """
        action = Action(delivery.action) if delivery.action else None
        try:
            await self.update(
                node, request_id=delivery.request_id, attempt=delivery.attempt,
                status=Status(delivery.status), action_proto=action_to_proto(action),
                due_time=delivery.due_time, note=delivery.note,
            )
        except grpc.aio.AioRpcError as error:
            detail = f"{error.code().name}: {error.details()}"
            if error.code() in PERMANENT:
                raise Refused(detail) from error
            raise Unavailable(detail) from error

    async def health(self, node: Node, timeout: float = 2.0) -> tuple[bool, float | None, str]:
        """(up, latency in ms, error) from the node's gRPC health service."""
        stub = health_pb2_grpc.HealthStub(self._channel(node.grpc_address))
        started = time.perf_counter()
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            self._observe("Check", "error", started)
            if error.code() is grpc.StatusCode.UNIMPLEMENTED:
                # No health service, but the server answered: it is up.
                return True, (time.perf_counter() - started) * 1000, ""
            return False, None, f"{error.code().name}: {error.details()}"
        self._observe("Check", "ok", started)
        latency = (time.perf_counter() - started) * 1000
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return False, latency, f"health status {reply.status}"
        return True, latency, ""

