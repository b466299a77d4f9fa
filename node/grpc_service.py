"""The ``LibraryNode`` gRPC servicer: protocol messages in, services called, messages out.

Errors raised by the services (:mod:`federation.errors`) become the status code
they name, with their message for a person to act on. Loan methods require
the coordinator's token when ``[coordinator] token`` is set in node.toml.
"""

from __future__ import annotations

import hmac
import logging

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from libfed.v1 import common_pb2, node_service_pb2, node_service_pb2_grpc

from federation.errors import InvalidArgument, LibfedError, PermissionDenied, Unauthenticated
from node.catalog import HeldRecord, HoldingsCatalog, normalize_isbn, search_terms
from node.lending import LendingPolicy, LoanOffer, Offer
from node.model import Item

log = logging.getLogger(__name__)

_ITEM_STATUS = {
    "available": common_pb2.ITEM_STATUS_AVAILABLE,
    "on_loan": common_pb2.ITEM_STATUS_ON_LOAN,
    "reserved": common_pb2.ITEM_STATUS_RESERVED,
    "in_transit": common_pb2.ITEM_STATUS_IN_TRANSIT,
    "lost": common_pb2.ITEM_STATUS_LOST,
    "missing": common_pb2.ITEM_STATUS_MISSING,
}
_SCHEMA = {"marc21": common_pb2.RECORD_SCHEMA_MARC21, "unimarc": common_pb2.RECORD_SCHEMA_UNIMARC}


def _iso_name(enum_name: str, prefix: str) -> str:
    """LOAN_STATUS_WILL_SUPPLY -> WillSupply (the ISO 18626 spelling)."""
    return "".join(part.capitalize() for part in enum_name.removeprefix(prefix).split("_"))


_LOAN_STATUS = {
    value: _iso_name(name, "LOAN_STATUS_") for name, value in common_pb2.LoanStatus.items() if value
}
_LOAN_STATUS_VALUE = {name: value for value, name in _LOAN_STATUS.items()}
_ACTION = {
    value: _iso_name(name, "REQUESTER_ACTION_")
    for name, value in common_pb2.RequesterAction.items()
    if value
}


def timestamp(seconds: int | None) -> Timestamp | None:
    if not seconds:
        return None
    stamp = Timestamp()
    stamp.FromSeconds(int(seconds))
    return stamp


def item_message(item: Item) -> common_pb2.Item:
    return common_pb2.Item(
        barcode=item.barcode,
        location=item.location,
        call_number=item.call_number,
        status=_ITEM_STATUS.get(item.status, common_pb2.ITEM_STATUS_UNSPECIFIED),
        due_time=timestamp(item.due),
    )


def summary_message(holding: HeldRecord, oai_identifier: str) -> common_pb2.RecordSummary:
    data = holding.summary
    return common_pb2.RecordSummary(
        record_id=holding.id,
        schema=_SCHEMA.get(data.get("schema", ""), common_pb2.RECORD_SCHEMA_UNSPECIFIED),
        title=data.get("title") or "",
        authors=data.get("authors") or [],
        isbns=data.get("isbns") or [],
        issns=data.get("issns") or [],
        year=data.get("year") or 0,
        language=data.get("language") or "",
        publisher=data.get("publisher") or "",
        format=data.get("format") or "",
        oai_identifier=oai_identifier,
    )


class LibraryNodeServicer(node_service_pb2_grpc.LibraryNodeServicer):
    """Thin adapter over :class:`HoldingsCatalog` and :class:`LendingPolicy`."""

    def __init__(
        self, catalog: HoldingsCatalog, lending: LendingPolicy, oai_identifier, loan_token: str = ""
    ) -> None:
        self.catalog = catalog
        self.lending = lending
        self.oai_identifier = oai_identifier
        self.loan_token = loan_token

    async def SearchHoldings(self, request, context):  # noqa: N802
        async def call():
            terms = search_terms(
                request.query, request.title, request.author, request.isbn, request.issn
            )
            found, following, total = await self.catalog.search(
                terms, request.page_size, request.page_token
            )
            return node_service_pb2.SearchHoldingsResponse(
                records=[summary_message(h, self.oai_identifier(h.id)) for h in found],
                next_page_token=following,
                total_size=total,
            )

        return await _guard(context, call)

    async def GetRecord(self, request, context):  # noqa: N802
        async def call():
            holding = await self.catalog.record(request.record_id)
            return node_service_pb2.GetRecordResponse(
                summary=summary_message(holding, self.oai_identifier(holding.id)),
                marcxml=holding.marcxml,
                items=[item_message(item) for item in holding.items],
                update_time=timestamp(holding.datestamp),
            )

        return await _guard(context, call)

    async def GetAvailability(self, request, context):  # noqa: N802
        async def call():
            target = request.WhichOneof("target")
            found, open_loans = await self.catalog.availability(
                record_id=request.record_id if target == "record_id" else "",
                isbn=request.isbn if target == "isbn" else "",
            )
            return node_service_pb2.GetAvailabilityResponse(
                records=[
                    node_service_pb2.RecordAvailability(
                        record_id=record_id, items=[item_message(i) for i in items]
                    )
                    for record_id, items in found.items()
                ],
                available_count=sum(
                    item.status == "available" for items in found.values() for item in items
                ),
                open_loans=open_loans,
            )

        return await _guard(context, call)

    async def OfferLoan(self, request, context):  # noqa: N802
        async def call():
            self._authorize(context)
            isbns = (
                (normalize_isbn(request.isbn),) if request.isbn and not request.record_id else ()
            )
            answer: Offer = await self.lending.offer(
                LoanOffer(
                    request_id=request.request_id,
                    attempt=request.attempt,
                    record_id=request.record_id,
                    isbns=isbns,
                    requester_symbol=request.requester_symbol,
                    pickup_location=request.pickup_location,
                )
            )
            return node_service_pb2.OfferLoanResponse(
                status=_LOAN_STATUS_VALUE[answer.status],
                reason_unfilled=answer.reason_unfilled,
                item=item_message(answer.item) if answer.item else None,
            )

        return await _guard(context, call)

    async def UpdateLoanStatus(self, request, context):  # noqa: N802
        async def call():
            self._authorize(context)
            if request.status and request.status not in _LOAN_STATUS:
                raise InvalidArgument(f"unknown loan status {request.status}")
            if request.action and request.action not in _ACTION:
                raise InvalidArgument(f"unknown requester action {request.action}")
            due = request.due_time.seconds if request.HasField("due_time") else None
            item = await self.lending.update(
                request.request_id,
                request.attempt,
                _LOAN_STATUS.get(request.status, ""),
                _ACTION.get(request.action, ""),
                due,
            )
            return node_service_pb2.UpdateLoanStatusResponse(
                item=item_message(item) if item else None
            )

        return await _guard(context, call)

    def _authorize(self, context: grpc.aio.ServicerContext) -> None:
        """Loan calls need ``authorization: Bearer <coordinator token>`` when one is set."""
        if not self.loan_token:
            return
        metadata = dict(context.invocation_metadata() or ())
        header = metadata.get("authorization", "")
        if not header:
            raise Unauthenticated("loan calls need 'authorization: Bearer <token>' metadata")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.loan_token):
            raise PermissionDenied("this token may not make loan calls to this library")


async def _guard(context: grpc.aio.ServicerContext, call):
    """Run a call; a LibfedError becomes its status code and message."""
    try:
        return await call()
    except LibfedError as error:
        await context.abort(error.grpc_code, str(error))
