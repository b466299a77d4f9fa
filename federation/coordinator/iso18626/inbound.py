"""Answering outside peers: their ISO 18626 messages, applied to the loan service.

``POST /iso18626`` hands the body to :meth:`Iso18626Inbound.handle`, which
returns the confirmation to send back. A peer borrowing from the network sends
``request`` and ``requestingAgencyMessage`` (Received, ShippedReturn, Cancel,
Renew, StatusRequest); a peer lending to it sends ``supplyingAgencyMessage``.
Each is applied through the same calls a node's gRPC makes (``submit``,
``report_supplier``, ``report_requester``), so the ISO 18626 state machine of
:mod:`~federation.coordinator.lifecycle` rules peers exactly as it rules nodes.

Anything that cannot be applied (not well-formed, schema-invalid, from an agency
that is not a configured peer, about a request the peer is no party to, a status
not allowed now) is answered ERROR with its errorType and changes nothing.
"""

from __future__ import annotations

import hmac
import logging

from federation.catalog.storage import cluster_pk
from federation.coordinator import reports
from federation.coordinator.config import PeerConfig
from federation.coordinator.iso18626 import messages
from federation.coordinator.iso18626.messages import (
    AgencyId,
    ErrorType,
    MessageError,
    Request,
    RequestingMessage,
    SupplyingMessage,
)
from federation.coordinator.model import Action, ServiceType, Status, iso, now
from federation.coordinator.service import Submission
from federation.errors import LibfedError, NotFound, Unavailable

log = logging.getLogger(__name__)

_ACTIONS = {str(action): action for action in Action}
#: RetryPossible ("not now, maybe with other conditions") moves on like Unfilled.
_AS_UNFILLED = {"RetryPossible"}


def _value_error(what: str) -> MessageError:
    return MessageError(ErrorType.UNRECOGNISED_DATA_VALUE, what)


class Iso18626Inbound:
    """Applies peers' messages; one per coordinator."""

    def __init__(self, loans, peers: list[PeerConfig], agency_id: str) -> None:
        self.loans = loans
        self.agency = AgencyId.parse(agency_id)
        self._by_agency = {AgencyId.parse(peer.agency_id): peer for peer in peers}

    async def handle(self, body: bytes) -> bytes:
        """The confirmation (OK or ERROR) of one message, as XML bytes."""
        kind = messages.kind_of(body)
        header = None
        try:
            message = messages.parse(body)
            header = message.header
            peer = self._sender(message)
            echo = await self._apply(peer, message)
        except MessageError as error:
            log.warning("ISO 18626 %s refused: %s", kind, error)
            received = header.timestamp if header is not None else ""
            return messages.confirmation(kind, header, iso(now()), received, error=error)
        log.info("ISO 18626 %s from %s applied (request %s)", kind, peer.symbol,
                 header.requesting_request_id)
        return messages.confirmation(kind, header, iso(now()), header.timestamp, echo=echo)

    def _sender(self, message: messages.Message) -> PeerConfig:
        """The configured peer that sent this; MessageError for anybody else."""
        header = message.header
        if isinstance(message, SupplyingMessage):
            theirs, ours, side = header.supplying, header.requesting, "requesting"
        else:
            theirs, ours, side = header.requesting, header.supplying, "supplying"
        peer = self._by_agency.get(theirs)
        if peer is None:
            raise _value_error(f"agency {theirs} is not a peer of this network")
        if ours != self.agency:
            raise _value_error(f"{side}AgencyId {ours} is not this network ({self.agency})")
        if peer.security_code and not hmac.compare_digest(header.security_code.encode(),
                                                          peer.security_code.encode()):
            raise _value_error("requestingAgencyAuthentication/securityCode does not match")
        return peer

    async def _apply(self, peer: PeerConfig, message: messages.Message) -> str:
        try:
            if isinstance(message, Request):
                await self._request(peer, message)
                return ""
            if isinstance(message, SupplyingMessage):
                await self._supplied(peer, message)
                return message.reason
            await self._action(peer, message)
            return message.action
        except Unavailable:
            raise  # ours, not the message's: HTTP 503, the peer tries again
        except LibfedError as error:  # the service refused: say why, nothing changed
            raise _value_error(str(error)) from error

    async def _request(self, peer: PeerConfig, message: Request) -> None:
        """A peer borrows: a new request of the network, routed like a node's."""
        header = message.header
        if not header.requesting_request_id:
            raise _value_error("requestingAgencyRequestId is empty")
        work = message.record_id if cluster_pk(message.record_id) is not None else ""
        if not work and not message.isbn:
            raise MessageError(
                ErrorType.UNRECOGNISED_DATA_VALUE,
                "bibliographicInfo needs an ISBN (bibliographicItemId) or our record id "
                "(supplierUniqueRecordId, as SRU's rec.identifier gives it)",
            )
        service = ServiceType.COPY if message.service_type == "Copy" else ServiceType.LOAN
        submission = Submission(
            requester=peer.symbol, idempotency_key=header.requesting_request_id,
            # No reader's identity crosses: the peer's patron id only keeps two of its
            # readers' requests for one work apart (the one-open-request rule).
            patron_ref=message.patron_id or f"iso18626:{header.requesting_request_id}",
            cluster_id=work, isbn=message.isbn, service_type=service,
            pickup_location=message.pickup, needed_before=message.need_before,
            note=message.note,
        )
        request = await self.loans.submit(peer.symbol, submission)
        log.info("peer %s asks for %s: request %s (%s)", peer.symbol,
                 work or message.isbn, request.request_id, request.status)

    async def _supplied(self, peer: PeerConfig, message: SupplyingMessage) -> None:
        """A peer that lends to us says what it did."""
        request_id = message.header.requesting_request_id
        try:
            request = await self.loans.store.request(request_id, full=False)
        except NotFound:
            raise _value_error(f"requestingAgencyRequestId {request_id} is not ours") from None
        if message.status in _AS_UNFILLED:
            status = Status.UNFILLED
        else:
            status = Status(message.status)
        if status is request.status and request.lender == peer.symbol:
            return  # nothing new (a RenewResponse, a repeated status, a notification)
        reason = message.reason_unfilled or message.note
        await reports.report_supplier(
            self.loans, peer.symbol, request_id, attempt=0, status=status, reason=reason,
            due_time=message.due_date, note=message.note,
        )

    async def _action(self, peer: PeerConfig, message: RequestingMessage) -> None:
        """A peer that borrows from us received, returned, cancelled…"""
        header = message.header
        request = None
        if header.supplying_request_id:
            try:
                request = await self.loans.store.request(header.supplying_request_id, full=False)
            except NotFound:
                request = None
        if request is None:
            request = await self.loans.store.request_by_key(peer.symbol,
                                                            header.requesting_request_id)
        if request is None or request.requester != peer.symbol:
            raise _value_error(f"no request {header.requesting_request_id} of {peer.symbol}")
        if message.action == "StatusRequest":
            await self._status_answer(peer, request.request_id)
            return
        action = _ACTIONS.get(message.action)
        if action is None:
            raise MessageError(ErrorType.UNSUPPORTED_ACTION_TYPE,
                               f"{message.action} is not supported by this network")
        await reports.report_requester(self.loans, peer.symbol, request.request_id, action,
                                       message.note)

    async def _status_answer(self, peer: PeerConfig, request_id: str) -> None:
        """StatusRequest: the current status goes out as a StatusRequestResponse."""
        loans = self.loans
        async with loans.locks(request_id):
            request = await loans.store.request(request_id, full=False)
            await loans.store.save(request, deliveries=[(
                request.attempt, peer.symbol, str(request.status), "StatusRequest",
                request.due_time, "")])
        loans.outbox_ready.set()
