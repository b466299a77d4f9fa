"""Mapping between the coordinator's values and protocol v1 messages, by ISO 18626 name."""

from __future__ import annotations

import re

from google.protobuf.timestamp_pb2 import Timestamp
from libfed.v1 import common_pb2
from libfed.v1 import coordinator_service_pb2 as pb

from federation.coordinator.model import Action, LoanRequest, ServiceType, Status
from federation.errors import InvalidArgument


def _snake(name: str) -> str:
    """``ShippedReturn`` → ``SHIPPED_RETURN``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


_STATUS_TO = {s: common_pb2.LoanStatus.Value(f"LOAN_STATUS_{_snake(s.value)}") for s in Status}
_STATUS_FROM = {v: k for k, v in _STATUS_TO.items()}
_ACTION_TO = {
    a: common_pb2.RequesterAction.Value(f"REQUESTER_ACTION_{_snake(a.value)}") for a in Action
}
_ACTION_FROM = {v: k for k, v in _ACTION_TO.items()}
_SERVICE_TO = {
    ServiceType.LOAN: common_pb2.SERVICE_TYPE_LOAN,
    ServiceType.COPY: common_pb2.SERVICE_TYPE_COPY,
}


def status_to_proto(status: Status) -> int:
    return _STATUS_TO[status]


def status_from_proto(value: int) -> Status:
    try:
        return _STATUS_FROM[value]
    except KeyError:
        raise InvalidArgument(f"status {value} is not an ISO 18626 status") from None


def action_to_proto(action: Action | None) -> int:
    return _ACTION_TO[action] if action else 0


def action_from_proto(value: int) -> Action:
    try:
        return _ACTION_FROM[value]
    except KeyError:
        raise InvalidArgument(f"action {value} is not an ISO 18626 requester action") from None


def service_type_to_proto(service: ServiceType) -> int:
    return _SERVICE_TO[service]


def service_type_from_proto(value: int) -> ServiceType:
    """Loan unless Copy was asked for (unspecified and CopyOrLoan are served as loans)."""
    return ServiceType.COPY if value == common_pb2.SERVICE_TYPE_COPY else ServiceType.LOAN


def timestamp(when: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(when * 1e9))
    return stamp


def from_timestamp(stamp: Timestamp, present: bool) -> float | None:
    return stamp.ToNanoseconds() / 1e9 if present else None


def request_to_proto(request: LoanRequest, *, with_patron: bool) -> pb.LoanRequest:
    """A request as the protocol shows it; the patron ref only for the requester."""
    message = pb.LoanRequest(
        request_id=request.request_id,
        status=status_to_proto(request.status),
        requester_symbol=request.requester,
        lender_symbol=request.lender,
        attempt=request.attempt,
        service_type=service_type_to_proto(request.service_type),
        cluster_id=request.cluster_id,
        isbn=request.isbn,
        title=request.title,
        pickup_location=request.pickup_location,
        patron_ref=request.patron_ref if with_patron else "",
        last_requester_action=action_to_proto(request.last_action),
        note=request.note,
        renewals=request.renewals,
    )
    for field, value in (
        ("needed_before", request.needed_before),
        ("due_time", request.due_time),
        ("answer_deadline", request.deadline_at),
        ("create_time", request.created),
        ("update_time", request.updated),
    ):
        if value:
            getattr(message, field).CopyFrom(timestamp(value))
    for entry in request.rota:
        message.rota.add(
            position=entry.position, lender_symbol=entry.lender, record_id=entry.record_id,
            available_count=entry.available_count, score=entry.score,
            outcome=str(entry.outcome), reason=entry.reason, open_loans=entry.open_loans,
        )
    for event in request.history:
        item = message.history.add(
            actor=event.actor,
            from_status=status_to_proto(event.from_status) if event.from_status else 0,
            to_status=status_to_proto(event.to_status),
            action=action_to_proto(event.action),
            note=event.note,
        )
        item.time.CopyFrom(timestamp(event.time))
    return message
