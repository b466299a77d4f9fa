"""The node's line to the coordinator: heartbeats, loan requests and reports.

A library node talks to the coordinator over gRPC only, presenting the token it
got when it joined (``[coordinator] token`` in node.toml). This module knows the
Coordinator protocol and nothing of the coordinator's insides.

``node serve`` starts :func:`heartbeat_loop` when node.toml has a
``[coordinator]`` table with ``address`` and ``token``::

    link = CoordinatorLink.from_config(config)          # None without [coordinator]
    if link is not None:
        task = asyncio.create_task(heartbeat_loop(link, config, record_count))
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from libfed.v1 import common_pb2
from libfed.v1 import coordinator_service_pb2 as pb
from libfed.v1 import coordinator_service_pb2_grpc as pb_grpc

from federation.errors import (
    ConfigError,
    InvalidArgument,
    LibfedError,
    Unavailable,
    error_for_status,
)

log = logging.getLogger(__name__)

#: Seconds between two heartbeats.
HEARTBEAT_INTERVAL = 15.0


def _translate(error: grpc.aio.AioRpcError, address: str) -> LibfedError:
    """A coordinator's gRPC status as the matching libfed error (for CLI messages)."""
    kind = error_for_status(error.code())
    if kind is None or kind is Unavailable:
        return Unavailable(f"the coordinator at {address} did not answer "
                           f"({error.code().name}: {error.details()})")
    return kind(f"coordinator: {error.details() or error.code().name}")


def coordinator_credential_in(token: str) -> str:
    """The credential the coordinator presents on its calls to this node, read from
    the token ``libfed node join`` stored: the part after the dot (an ``lf1-``
    token from before the coordinator had its own is presented as it is)."""
    token = token.strip()
    return token.rpartition(".")[2] or token  # never empty: a node with a token stays closed


class CoordinatorLink:
    """A client of the Coordinator service, authenticated as one node."""

    def __init__(self, address: str, token: str, symbol: str = "", timeout: float = 30.0) -> None:
        self.address = address
        self.symbol = symbol
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._timeout = timeout
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = pb_grpc.CoordinatorStub(self._channel)

    @classmethod
    def from_config(cls, config: Any) -> CoordinatorLink | None:
        """The link a node.toml's ``[coordinator]`` table describes, or None when absent."""
        table = getattr(config, "coordinator", None) or {}
        if not table.get("address") or not table.get("token"):
            return None
        return cls(str(table["address"]), str(table["token"]), getattr(config, "symbol", ""))

    @classmethod
    def require(cls, config: Any) -> CoordinatorLink:
        link = cls.from_config(config)
        if link is None:
            where = getattr(config, "path", "node.toml")
            raise ConfigError(f"{where}: no [coordinator] table; run `libfed node join` first")
        return link

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> CoordinatorLink:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _call(self, method: str, message):
        try:
            return await getattr(self._stub, method)(
                message, metadata=self._metadata, timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            raise _translate(error, self.address) from error

    async def heartbeat(
        self, grpc_address: str = "", oai_url: str = "", record_count: int = 0
    ) -> None:
        await self._call(
            "Heartbeat",
            pb.HeartbeatRequest(
                symbol=self.symbol,
                grpc_address=grpc_address,
                oai_url=oai_url,
                record_count=record_count,
            ),
        )

    async def submit(
        self,
        patron_ref: str,
        *,
        cluster_id: str = "",
        isbn: str = "",
        copy: bool = False,
        pickup_location: str = "",
        note: str = "",
        idempotency_key: str = "",
        needed_before: float | None = None,
    ) -> pb.LoanRequest:
        """Submit a request for a reader already turned into an opaque reference.

        ``needed_before`` (seconds since the epoch): after it the coordinator
        gives the request up unless it has shipped.
        """
        message = pb.SubmitRequestRequest(
            idempotency_key=idempotency_key or uuid.uuid4().hex,
            requester_symbol=self.symbol,
            patron_ref=patron_ref,
            service_type=common_pb2.SERVICE_TYPE_COPY if copy else common_pb2.SERVICE_TYPE_LOAN,
            pickup_location=pickup_location,
            note=note,
        )
        if needed_before is not None:
            message.needed_before.FromNanoseconds(int(needed_before * 1e9))
        if cluster_id:
            message.cluster_id = cluster_id
        elif isbn:
            message.isbn = isbn
        else:
            raise InvalidArgument("give a cluster id or an ISBN")
        return await self._call("SubmitRequest", message)

    async def get(self, request_id: str) -> pb.LoanRequest:
        return await self._call("GetRequest", pb.GetRequestRequest(request_id=request_id))

    async def list(self, role: int = 0, page_size: int = 200) -> list[pb.LoanRequest]:
        found, token = [], ""
        while True:
            reply = await self._call(
                "ListRequests",
                pb.ListRequestsRequest(role=role, page_size=page_size, page_token=token),
            )
            found.extend(reply.requests)
            token = reply.next_page_token
            if not token:
                return found

    async def report_supplier(
        self,
        request_id: str,
        status: int,
        *,
        attempt: int = 0,
        reason: str = "",
        due_time=None,
        note: str = "",
    ) -> pb.LoanRequest:
        message = pb.ReportSupplierStatusRequest(
            request_id=request_id, attempt=attempt, status=status, reason_unfilled=reason, note=note
        )
        if due_time is not None:
            message.due_time.CopyFrom(due_time)
        return await self._call("ReportSupplierStatus", message)

    async def ship(
        self, request: pb.LoanRequest, *, due_time=None, note: str = ""
    ) -> pb.LoanRequest:
        """The lender sends what it promised: Loaned for a loan, CopyCompleted for a copy."""
        if request.service_type == common_pb2.SERVICE_TYPE_COPY:
            return await self.report_supplier(request.request_id,
                                              common_pb2.LOAN_STATUS_COPY_COMPLETED,
                                              attempt=request.attempt, note=note)
        return await self.report_supplier(request.request_id, common_pb2.LOAN_STATUS_LOANED,
                                          attempt=request.attempt, due_time=due_time, note=note)

    async def report_requester(
        self, request_id: str, action: int, note: str = ""
    ) -> pb.LoanRequest:
        return await self._call(
            "ReportRequesterAction",
            pb.ReportRequesterActionRequest(request_id=request_id, action=action, note=note),
        )

    async def cancel(self, request_id: str, reason: str = "") -> pb.LoanRequest:
        return await self._call(
            "CancelRequest", pb.CancelRequestRequest(request_id=request_id, reason=reason)
        )


async def heartbeat_loop(
    link: CoordinatorLink,
    config: Any,
    record_count: Callable[[], Awaitable[int]] | None = None,
    interval: float = HEARTBEAT_INTERVAL,
) -> None:
    """Tell the coordinator every ``interval`` seconds that this node is alive.

    Failures are logged and retried at the next beat: a coordinator that is down
    or restarting must not take the node down with it. Cancel the task to stop.
    """
    table = getattr(config, "coordinator", {}) or {}
    grpc_address = str(table.get("advertise_grpc") or getattr(config, "grpc_listen", ""))
    oai_url = str(table.get("advertise_oai") or "")
    while True:
        try:
            count = await record_count() if record_count else 0
            await link.heartbeat(grpc_address, oai_url, count)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - keep beating
            log.warning("heartbeat to %s failed: %s", link.address, error)
        await asyncio.sleep(interval)
