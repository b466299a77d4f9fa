"""Talking to outside peers: our ISO 18626 messages, POSTed to their endpoints.

The peer counterpart of :class:`~federation.coordinator.nodes.NodeGateway`: the
same four calls (availability, offer, deliver, health), so the rota, the
deadlines and the outbox treat a peer like any node. What differs is only the
wire: an offer is a ``request`` the peer confirms at once and answers later;
an outbox row becomes a ``supplyingAgencyMessage`` (the peer borrows from us)
or a ``requestingAgencyMessage`` (the peer lends to us), or nothing, when the
row only echoes what the peer itself reported.

To the outside world the network is one agency (``[coordinator] agency_id``):
a peer lends to it and borrows from it, whichever node is behind the loan.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from federation.coordinator.config import PeerConfig
from federation.coordinator.iso18626 import messages
from federation.coordinator.iso18626.messages import AgencyId, Header
from federation.coordinator.model import Action, LoanRequest, Node, RotaEntry, Status, iso, now
from federation.coordinator.nodes import Availability, OfferAnswer, Refused
from federation.errors import NotFound, Unavailable

log = logging.getLogger(__name__)

#: What an outbox row to a peer that borrows from us answers (reasonForMessage).
_REASON_OF_ACTION = {
    str(Action.CANCEL): ("CancelResponse", "Y"),
    str(Action.RENEW): ("RenewResponse", "Y"),
    "StatusRequest": ("StatusRequestResponse", ""),
}
_FIRST_ANSWERS = frozenset({str(Status.EXPECT_TO_SUPPLY), str(Status.WILL_SUPPLY)})
#: Requester actions a peer that lends to us is told of, as they are.
_FORWARDED_ACTIONS = frozenset({str(Action.RECEIVED), str(Action.SHIPPED_RETURN),
                                str(Action.RENEW)})


class PeerGateway:
    """Sends ISO 18626 messages to the peers configured in coordinator.toml."""

    def __init__(
        self, store, peers: list[PeerConfig], agency_id: str, *, call_timeout: float = 5.0,
        attempts: int = 3, backoff: float = 0.2,
    ) -> None:
        self.store = store
        self.peers = {peer.symbol: peer for peer in peers}
        self.agency = AgencyId.parse(agency_id)
        self._timeout = aiohttp.ClientTimeout(total=call_timeout)
        self._attempts = max(1, attempts)
        self.backoff = backoff
        self._session: aiohttp.ClientSession | None = None
        #: Told of every message sent: (kind, "ok" or "error", seconds), like NodeGateway's.
        self.observers: list = []

    def peer(self, node: Node) -> PeerConfig:
        """The configuration of a peer; Unavailable for a peer no longer configured."""
        peer = self.peers.get(node.symbol)
        if peer is None:
            raise Unavailable(f"{node.symbol} is no longer a peer in coordinator.toml")
        return peer

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _post(self, peer: PeerConfig, kind: str, body: bytes) -> messages.Confirmation:
        """POST one message and read the peer's confirmation; Unavailable when none came."""
        started = time.perf_counter()
        try:
            async with self._http().post(
                peer.url, data=body, headers={"Content-Type": "application/xml; charset=utf-8"}
            ) as response:
                answer = await response.read()
                if response.status >= 300:
                    raise Unavailable(f"{peer.url} answered HTTP {response.status}")
            confirmation = messages.parse_confirmation(answer, kind)
        except (aiohttp.ClientError, TimeoutError, Unavailable, messages.MessageError) as error:
            self._observe(kind, "error", started)
            if isinstance(error, Unavailable):
                raise
            raise Unavailable(f"{peer.symbol} ({peer.url}): {type(error).__name__}: {error}") \
                from error
        self._observe(kind, "ok", started)
        return confirmation

    def _observe(self, kind: str, outcome: str, started: float) -> None:
        for observe in self.observers:
            observe(f"iso18626.{kind}", outcome, time.perf_counter() - started)

    # -- the calls routing makes ------------------------------------------------------

    async def availability(self, node: Node, entry: RotaEntry, timeout: float) -> Availability:
        """ISO 18626 has no availability question: the count is unknown (-1), so a node
        with a free copy is asked first; the load is what the peer lends us now."""
        self.peer(node)
        return Availability(available_count=-1,
                            open_loans=await self.store.open_loans_of(node.symbol))

    async def offer(self, node: Node, request: LoanRequest, entry: RotaEntry) -> OfferAnswer:
        """Send the peer a ``request``; RequestReceived when it confirmed, Unfilled when it
        refused the message, Unavailable when it could not be reached."""
        peer = self.peer(node)
        try:
            requester = await self.store.node(request.requester)
            requester_name = requester.name or requester.symbol
        except NotFound:
            requester_name = request.requester
        body = messages.request_message(
            self._header_to_lender(peer, request), iso(now()), title=request.title,
            isbn=request.isbn, record_id=entry.record_id, service_type=str(request.service_type),
            need_before=iso(request.needed_before), requester_name=requester_name,
            note=request.note,
        )
        delay = self.backoff
        for attempt in range(1, self._attempts + 1):
            try:
                confirmation = await self._post(peer, "request", body)
                break
            except Unavailable:
                if attempt == self._attempts:
                    raise
                await asyncio.sleep(delay)
                delay *= 2
        if not confirmation.ok:
            return OfferAnswer(Status.UNFILLED,
                               f"{confirmation.error_type}: {confirmation.error_value}")
        log.info("offered %s to peer %s over ISO 18626", request.request_id, node.symbol)
        return OfferAnswer(Status.REQUEST_RECEIVED, "the peer confirmed the request")

    async def deliver(self, node: Node, delivery) -> None:
        """One outbox row as the ISO 18626 message it means to this peer (maybe none)."""
        peer = self.peer(node)
        try:
            request = await self.store.request(delivery.request_id, full=False)
        except NotFound as error:
            raise Refused(str(error)) from error
        if node.symbol == request.requester:
            kind, body = "supplyingAgencyMessage", self._to_borrower(peer, request, delivery)
        else:
            kind, body = "requestingAgencyMessage", self._to_lender(peer, request, delivery)
        if body is None:
            return  # an echo of the peer's own report: it knows
        confirmation = await self._post(peer, kind, body)
        if not confirmation.ok:
            raise Refused(f"{confirmation.error_type}: {confirmation.error_value}")

    def _to_borrower(self, peer: PeerConfig, request: LoanRequest, delivery) -> bytes:
        reason, answer = _REASON_OF_ACTION.get(delivery.action or "", ("", ""))
        if not reason:
            reason = "RequestResponse" if delivery.status in _FIRST_ANSWERS else "StatusChange"
        due = delivery.due_time if delivery.status in (Status.LOANED, Status.OVERDUE,
                                                       Status.RECALLED) else None
        return messages.supplying_message(
            self._header_to_borrower(peer, request), iso(now()), reason=reason,
            status=delivery.status, answer=answer, note=delivery.note, due_date=iso(due),
            last_change=iso(request.updated),
        )

    def _to_lender(self, peer: PeerConfig, request: LoanRequest, delivery) -> bytes | None:
        if delivery.action in _FORWARDED_ACTIONS:
            action = delivery.action
        elif delivery.status == Status.CANCELLED:
            action = str(Action.CANCEL)  # the reader cancelled, or the request went elsewhere
        else:
            return None
        return messages.requesting_message(self._header_to_lender(peer, request), iso(now()),
                                           action=action, note=delivery.note)

    def _header_to_lender(self, peer: PeerConfig, request: LoanRequest) -> Header:
        """We borrow: our request id is the requesting agency's."""
        return Header(supplying=AgencyId.parse(peer.agency_id), requesting=self.agency,
                      requesting_request_id=request.request_id,
                      security_code=peer.security_code)

    def _header_to_borrower(self, peer: PeerConfig, request: LoanRequest) -> Header:
        """We lend: the peer's own request id, and ours as the supplying agency's."""
        return Header(supplying=self.agency, requesting=AgencyId.parse(peer.agency_id),
                      requesting_request_id=request.idempotency_key,
                      supplying_request_id=request.request_id,
                      security_code=peer.security_code)

    async def health(self, node: Node, timeout: float = 2.0) -> tuple[bool, float | None, str]:
        """Up when the peer's HTTP server answers at all (ISO 18626 has no ping)."""
        peer = self.peers.get(node.symbol)
        if peer is None:
            return False, None, "no longer a peer in coordinator.toml"
        started = time.perf_counter()
        try:
            async with self._http().get(
                peer.url, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            return False, None, f"{type(error).__name__}: {error}"
        return True, (time.perf_counter() - started) * 1000, ""
