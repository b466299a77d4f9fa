"""The Coordinator gRPC service: a thin adapter over the registry and the loan service.

Every method but GetNetworkStatus and SearchCatalog needs a node token; the
token says who the caller is, and the services decide what that caller may do
(PERMISSION_DENIED for acting as another node or on someone else's request).
Errors from :mod:`federation.errors` become their status codes here, once.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

import grpc
from libfed.v1 import coordinator_service_pb2 as pb
from libfed.v1 import coordinator_service_pb2_grpc as pb_grpc

from federation.coordinator import reports
from federation.coordinator.auth import bearer
from federation.coordinator.model import Action, ServiceType, now
from federation.coordinator.protomap import (
    action_from_proto,
    from_timestamp,
    request_to_proto,
    service_type_from_proto,
    status_from_proto,
    timestamp,
)
from federation.coordinator.registry import NodeRegistry
from federation.coordinator.service import LoanService, Submission
from federation.coordinator.status import network_status
from federation.errors import InvalidArgument, LibfedError

log = logging.getLogger(__name__)

_ROLES = {pb.ListRequestsRequest.ROLE_REQUESTER: "requester",
          pb.ListRequestsRequest.ROLE_LENDER: "lender"}


def _adapter(method):
    """Turn libfed errors into gRPC status codes; log anything unexpected."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except LibfedError as error:
            await context.abort(error.grpc_code, str(error))
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("%s failed", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the coordinator log")

    return wrapper


class CoordinatorServicer(pb_grpc.CoordinatorServicer):
    """Coordinator RPCs → services."""

    def __init__(self, registry: NodeRegistry, loans: LoanService, catalog=None) -> None:
        self.registry = registry
        self.loans = loans
        self.catalog = catalog

    async def _caller(self, context) -> str:
        return await self.registry.authenticate(bearer(context.invocation_metadata()))

    def _show(self, caller: str, request):
        return request_to_proto(request, with_patron=caller == request.requester)

    @_adapter
    async def Heartbeat(self, request, context):  # noqa: N802
        caller = await self._caller(context)
        await self.registry.heartbeat(caller, request.symbol, request.grpc_address,
                                      request.oai_url, request.record_count)
        return pb.HeartbeatResponse(server_time=timestamp(now()))

    @_adapter
    async def SubmitRequest(self, request, context):  # noqa: N802
        caller = await self._caller(context)
        target = request.WhichOneof("target")
        submission = Submission(
            requester=request.requester_symbol or caller,
            idempotency_key=request.idempotency_key,
            patron_ref=request.patron_ref,
            cluster_id=request.cluster_id if target == "cluster_id" else "",
            isbn=request.isbn if target == "isbn" else "",
            service_type=service_type_from_proto(request.service_type),
            pickup_location=request.pickup_location,
            needed_before=from_timestamp(request.needed_before,
                                         request.HasField("needed_before")),
            note=request.note,
        )
        return self._show(caller, await self.loans.submit(caller, submission))

    @_adapter
    async def GetRequest(self, request, context):  # noqa: N802
        caller = await self._caller(context)
        return self._show(caller, await self.loans.get(caller, request.request_id))

    @_adapter
    async def ListRequests(self, request, context):  # noqa: N802
        caller = await self._caller(context)
        size = min(request.page_size or 50, 500)
        offset = int(request.page_token) if request.page_token.isdigit() else 0
        statuses = [str(status_from_proto(s)) for s in request.statuses]
        found = await self.loans.store.list_requests(
            caller, _ROLES.get(request.role, ""), statuses, limit=size + 1, offset=offset
        )
        reply = pb.ListRequestsResponse(
            requests=[self._show(caller, r) for r in found[:size]],
            next_page_token=str(offset + size) if len(found) > size else "",
        )
        return reply

    @_adapter
    async def CancelRequest(self, request, context):  # noqa: N802
        caller = await self._caller(context)
        result = await reports.report_requester(self.loans, caller, request.request_id,
                                                Action.CANCEL, request.reason)
        return self._show(caller, result)

    @_adapter
    async def ReportSupplierStatus(self, request, context):  # noqa: N802
        caller = await self._caller(context)
        result = await reports.report_supplier(
            self.loans, caller, request.request_id, attempt=request.attempt,
            status=status_from_proto(request.status), reason=request.reason_unfilled,
            due_time=from_timestamp(request.due_time, request.HasField("due_time")),
            note=request.note,
        )
        return self._show(caller, result)

    @_adapter
    async def ReportRequesterAction(self, request, context):  # noqa: N802
        caller = await self._caller(context)
        result = await reports.report_requester(
            self.loans, caller, request.request_id, action_from_proto(request.action),
            request.note,
        )
        return self._show(caller, result)

    @_adapter
    async def SearchCatalog(self, request, context):  # noqa: N802
        if self.catalog is None:
            raise InvalidArgument("this coordinator has no union catalog")
        size = min(request.page_size or 20, 100)
        offset = int(request.page_token) if request.page_token.isdigit() else 0
        result = await self.catalog.search(request.query, library=request.library or None,
                                           limit=size, offset=offset)
        reply = pb.SearchCatalogResponse(total_size=result.total)
        for hit in result.results:
            cluster = reply.clusters.add(
                cluster_id=hit.cluster_id, title=hit.title, authors=hit.authors,
                year=hit.year or 0, format=hit.format or "", language=hit.language or "",
                isbns=hit.isbns,
            )
            for h in hit.holdings:
                cluster.holdings.add(library_symbol=h.library, record_id=h.record_id,
                                     oai_identifier=h.oai_identifier)
        for field, values in (result.facets or {}).items():
            facet = reply.facets.add(field=field)
            for value, count in values.items():
                facet.values.add(value=str(value), count=count)
        if offset + size < result.total:
            reply.next_page_token = str(offset + size)
        return reply

    @_adapter
    async def GetNetworkStatus(self, request, context):  # noqa: N802
        status = await network_status(self.loans.store, self.catalog)
        return network_status_to_proto(status)


def network_status_to_proto(status) -> pb.NetworkStatus:
    reply = pb.NetworkStatus(
        catalog_records=status.catalog_records, catalog_clusters=status.catalog_clusters,
        open_requests_by_status=status.open_requests_by_status, fill_rate=status.fill_rate,
        median_turnaround_seconds=status.median_turnaround_seconds,
        finished_requests=status.finished_requests, server_time=timestamp(status.server_time),
    )
    for node in status.nodes:
        item = reply.nodes.add(
            symbol=node.symbol, name=node.name, grpc_address=node.grpc_address, up=node.up,
            latency_ms=node.latency_ms or 0.0, record_count=node.record_count,
            last_error=node.last_error, priority=node.priority,
        )
        if node.last_seen:
            item.last_seen.CopyFrom(timestamp(node.last_seen))
        reply.lending.add(symbol=node.symbol, lent=node.lent, borrowed=node.borrowed)
    for source in status.sources:
        reply.sources.add(name=source.name, library_symbol=source.library,
                          last_error=source.last_error or "", records=source.records,
                          quarantined=source.quarantined)
        if source.last_harvest:
            try:
                when = datetime.fromisoformat(source.last_harvest.replace("Z", "+00:00"))
                reply.sources[-1].last_harvest.CopyFrom(timestamp(when.timestamp()))
            except ValueError:
                pass
    return reply


__all__ = ["CoordinatorServicer", "ServiceType", "network_status_to_proto"]
