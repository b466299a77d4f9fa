"""The loan service: requests from submission to completion, one transition at a time.

Every change of a request happens under that request's lock and is written in
one transaction together with its audit event and the calls it owes lenders
(the outbox), so a crash leaves either the old state or the new one, never half.
Work the coordinator owes itself (routing a new request, offering it to the next
lender) is visible in the database as status ``RequestReceived``;
:meth:`LoanService.resume` picks it up after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from federation.coordinator.lookups import Lookups
from federation.coordinator.model import (
    COORDINATOR,
    Action,
    LoanRequest,
    Node,
    Outcome,
    RotaEntry,
    ServiceType,
    Status,
    StatusEvent,
    now,
)
from federation.coordinator.nodes import NodeGateway
from federation.coordinator.routing import build_rota
from federation.coordinator.store import CoordinatorStore
from federation.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Submission:
    """What a requesting node asks for on behalf of a reader."""

    requester: str
    idempotency_key: str
    patron_ref: str
    cluster_id: str = ""
    isbn: str = ""
    service_type: ServiceType = ServiceType.LOAN
    pickup_location: str = ""
    needed_before: float | None = None
    note: str = ""


@dataclass(slots=True)
class Timing:
    """How patient the service is (seconds)."""

    answer_deadline: float = 3 * 24 * 3600.0
    availability_timeout: float = 2.0
    loan_period: float = 28 * 24 * 3600.0
    max_renewals: int = 1
    renewal_period: float = 21 * 24 * 3600.0


def _waiting_on_peer(request: LoanRequest) -> bool:
    """An offer the current lender acknowledged (stored RequestReceived, its entry
    offered, an answer deadline running): offering it again would send it twice."""
    entry = request.current_entry()
    return entry is not None and entry.outcome is Outcome.OFFERED


def _rota_note(request: LoanRequest) -> str:
    usable = sum(1 for e in request.rota if e.outcome is Outcome.PENDING)
    return f"rota of {len(request.rota)} ({usable} answered availability)"


def release_current(
    request: LoanRequest, reason: str, note: str, action: Action | None = None
) -> tuple[list[RotaEntry], list[tuple]]:
    """The current lender's rota entry marked Cancelled and the Cancelled status it is
    owed, when it was offered the request or promised it; nothing otherwise."""
    entry = request.current_entry()
    if entry is None or entry.outcome not in (Outcome.OFFERED, Outcome.WILL_SUPPLY):
        return [], []
    entry.outcome, entry.reason = Outcome.CANCELLED, reason
    delivery = (request.attempt, request.lender, str(Status.CANCELLED),
                str(action) if action else None, None, note)
    return [entry], [delivery]


def _event(actor: str, before: Status, after: Status, *, action=None, note="") -> StatusEvent:
    return StatusEvent(time=now(), actor=actor, from_status=before, to_status=after,
                       action=action, note=note)


class LoanService:
    """Submits, routes and follows interlibrary loan requests."""

    def __init__(
        self, store: CoordinatorStore, catalog, gateway: NodeGateway, timing: Timing | None = None
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.gateway = gateway
        self.timing = timing or Timing()
        #: Per request: in this process, and across coordinators sharing a database.
        self.locks = store.locks
        self.lookups = Lookups(store, catalog)
        #: Woken whenever a transition leaves calls in the outbox.
        self.outbox_ready = asyncio.Event()
        #: One sender at a time, so no status change reaches a lender twice or out of order.
        self.outbox_lock = asyncio.Lock()
        self._working: set[str] = set()
        self._tasks: set[asyncio.Task] = set()

    # -- submission --------------------------------------------------------------

    async def submit(self, caller: str, submission: Submission) -> LoanRequest:
        """Create (or find again, by idempotency key) a request and route it."""
        if submission.requester != caller:
            raise PermissionDenied(f"{caller} may not submit requests for {submission.requester}")
        if not submission.idempotency_key:
            raise InvalidArgument("an idempotency key is required")
        if not submission.patron_ref:
            raise InvalidArgument("a patron reference is required")
        if submission.needed_before is not None and submission.needed_before <= now():
            # A retry of a request made in time still gets its request back.
            existing = await self.store.request_by_key(caller, submission.idempotency_key)
            if existing is not None:
                return existing
            raise InvalidArgument("needed_before is already past: no library could supply in time")
        cluster_id, title = await self._resolve(submission)
        # Answered before the availability round, which asks every holder: a retry gets
        # its request back, a second request from the same reader is refused at once.
        # (The insert below still decides when two submissions race.)
        existing = await self.store.request_by_key(caller, submission.idempotency_key)
        if existing is not None:
            return existing
        if await self.store.has_open_request(caller, submission.patron_ref, cluster_id):
            raise AlreadyExists(f"this reader already has an open request for cluster {cluster_id}")
        log.info("%s submits a request for %s (key %s); asking the holders", caller, cluster_id,
                 submission.idempotency_key)
        request = LoanRequest(
            request_id=f"ill-{uuid.uuid4().hex[:16]}", requester=caller,
            patron_ref=submission.patron_ref, service_type=submission.service_type,
            idempotency_key=submission.idempotency_key, cluster_id=cluster_id,
            isbn=submission.isbn, title=title, pickup_location=submission.pickup_location,
            needed_before=submission.needed_before, note=submission.note,
        )
        # The availability round runs before the request is stored, so the request,
        # its rota and both events are one transaction; a crash before it loses
        # nothing the submitter was told about (it retries with the same key). A key
        # seen before is found when the insert conflicts.
        await self._route(request)
        request.history = [
            StatusEvent(time=request.created, actor=caller, from_status=None,
                        to_status=Status.REQUEST_RECEIVED, note="submitted"),
            _event(COORDINATOR, request.status, request.status, note=_rota_note(request)),
        ]
        # Nobody knows the new id yet, so taking its lock first cannot wait; holding it
        # over the insert lets the offer go out without reading the request back.
        async with self.locks(request.request_id):
            stored = await self.store.insert_request(request, request.history)
            if stored is not request:
                return await self.store.request(stored.request_id)
            log.debug("request %s from %s for cluster %s", request.request_id, caller,
                      cluster_id)
            self._working.add(request.request_id)
            try:
                await self._drive(request)
            finally:
                self._working.discard(request.request_id)
        return request

    async def _resolve(self, submission: Submission) -> tuple[str, str]:
        """The cluster and title of what was asked for; NotFound when nobody holds it."""
        cluster_id = submission.cluster_id
        if not cluster_id:
            if not submission.isbn:
                raise InvalidArgument("a request needs a cluster id or an ISBN")
            clusters = await self.catalog.clusters_for_isbn(submission.isbn)
            if not clusters:
                raise NotFound(f"no library of the union catalog holds ISBN {submission.isbn}")
            cluster_id = clusters[0]
        return cluster_id, await self.lookups.title(cluster_id)

    # -- driving a request forward -----------------------------------------------

    def spawn_advance(self, request_id: str) -> None:
        """Advance a request in the background (deadlines, Unfilled answers, recovery)."""
        if request_id in self._working:
            return
        task = asyncio.create_task(self.advance(request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def advance(self, request_id: str) -> None:
        """Route and offer until the request waits on someone else (or the rota ends)."""
        self._working.add(request_id)
        try:
            async with self.locks(request_id):
                await self._drive(await self.store.request(request_id))
        except Exception:
            log.exception("advancing request %s failed; it will be retried", request_id)
        finally:
            self._working.discard(request_id)

    async def _drive(self, request: LoanRequest) -> None:
        """Offer lender after lender until one answers or the rota ends (lock held)."""
        while request.status is Status.REQUEST_RECEIVED:
            if request.deadline_at is not None and _waiting_on_peer(request):
                return  # a peer confirmed the offer: its answer comes, or the deadline
            if request.needed_before is not None and request.needed_before <= now():
                await self.end_past_need(request)
                return
            if not request.routed:
                await self._route(request)
                await self._save(request, entries=request.rota, events=[
                    _event(COORDINATOR, request.status, request.status,
                           note=_rota_note(request))])
            if await self._offer_next(request):
                return  # an outside peer has it and answers in a message of its own

    async def _save(self, request: LoanRequest, *, events=(), **changes) -> None:
        """Store a transition and keep the in-memory request's history in step."""
        await self.store.save(request, events=list(events), **changes)
        request.history.extend(events)

    async def _route(self, request: LoanRequest) -> None:
        """Ask every holder for availability and rank them into the request's rota."""
        holdings = await self.lookups.holdings(request.cluster_id)
        nodes = await self.lookups.nodes()
        request.rota = await build_rota(
            holdings, request.requester, nodes, self.gateway, self.timing.availability_timeout
        )
        request.routed = True
        request.updated = now()

    async def _offer_next(self, request: LoanRequest) -> bool:
        """Offer to the current lender (again, after a restart) or to the next one.

        True when the lender only acknowledged the offer (an ISO 18626 peer's
        requestConfirmation): the request stays RequestReceived, with an answer
        deadline, until the peer's supplyingAgencyMessage comes.
        """
        entry = request.current_entry()
        if entry is None or entry.outcome is not Outcome.OFFERED:
            entry = next(
                (e for e in request.rota
                 if e.position > request.attempt and e.outcome is Outcome.PENDING),
                None,
            )
            if entry is None:
                await self._end_of_rota(request)
                return False
            # Not stored yet: positions are fixed, so after a crash the same position
            # (the same attempt) is offered again and the lender answers it the same way.
            entry.outcome = Outcome.OFFERED
            request.attempt, request.lender = entry.position, entry.lender
            request.deadline_at = now() + self.timing.answer_deadline
            request.updated = now()
        node = (await self.lookups.nodes()).get(entry.lender) or await self.store.node(entry.lender)
        try:
            answer = await self.gateway.offer(node, request, entry)
        except Unavailable as error:
            entry.outcome, entry.reason = Outcome.UNREACHABLE, str(error)
            # The offer may have arrived and only the answer got lost (a timeout, a node
            # killed after reserving a copy): the lender is told the request went
            # elsewhere, through the outbox, which retries until the node hears it. A
            # node that never saw the offer answers NOT_FOUND and the message is dropped.
            release = [(request.attempt, request.lender, str(Status.CANCELLED), None, None,
                        "the library could not be reached; the request went to another one")]
            await self._next_lender(request, entry, COORDINATOR, f"{entry.lender} unreachable",
                                    release)
            return False
        if answer.status is Status.UNFILLED:
            entry.outcome, entry.reason = Outcome.UNFILLED, answer.reason
            # A peer's ERROR may answer a request it did get (a resend after a lost
            # confirmation): it is told Cancel, and drops it if it never had it.
            release = [(request.attempt, request.lender, str(Status.CANCELLED), None, None,
                        "the request went to another library")] if node.is_peer else []
            await self._next_lender(request, entry, entry.lender, f"Unfilled: {answer.reason}",
                                    release)
            return False
        before, request.status = request.status, answer.status
        if answer.status is Status.WILL_SUPPLY:
            entry.outcome = Outcome.WILL_SUPPLY
        else:
            entry.outcome = Outcome.OFFERED
        request.deadline_at = now() + self.timing.answer_deadline
        request.updated = now()
        await self._save(request, entries=[entry], events=[_event(
            entry.lender, before, request.status,
            note=answer.reason if answer.status is Status.REQUEST_RECEIVED else "")])
        return answer.status is Status.REQUEST_RECEIVED

    async def _next_lender(
        self, request: LoanRequest, entry, actor: str, note: str, deliveries=()
    ) -> None:
        """Back to RequestReceived: the loop (or a spawned advance) offers the next lender."""
        before = request.status
        request.status = Status.REQUEST_RECEIVED
        request.deadline_at = None
        request.updated = now()
        await self._save(
            request, entries=[entry], deliveries=list(deliveries),
            events=[_event(actor, before, request.status, note=f"{note}; next lender")],
        )
        if deliveries:
            self.outbox_ready.set()

    async def _end_of_rota(self, request: LoanRequest) -> None:
        await self._unfilled(
            request, "end of rota" if request.rota else "no other library holds this work"
        )

    async def end_past_need(self, request: LoanRequest) -> None:
        """End a request its reader no longer needs (its needed-before date passed):
        Unfilled, and a lender offered it or promising it is told Cancelled (lock held)."""
        note = "not supplied before the date the reader needed it"
        entries, deliveries = release_current(request, note, f"{note}; please release the copy")
        await self._unfilled(request, note, entries, deliveries)

    async def _unfilled(self, request: LoanRequest, note: str, entries=(), deliveries=()) -> None:
        """Unfilled for the requester: no lender will supply (lock held)."""
        before = request.status
        request.status, request.lender, request.deadline_at = Status.UNFILLED, "", None
        request.updated = now()
        await self._save(request, entries=list(entries), deliveries=list(deliveries),
                         events=[_event(COORDINATOR, before, Status.UNFILLED, note=note)])
        log.info("request %s unfilled: %s", request.request_id, note)
        if deliveries:
            self.outbox_ready.set()

    async def resume(self) -> int:
        """After a restart: pick up every request the coordinator itself owes work."""
        pending = await self.store.requests_needing_work()
        for request_id in pending:
            self.spawn_advance(request_id)
        return len(pending)

    async def drain(self) -> None:
        """Wait for background advances (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- reading -----------------------------------------------------------------

    async def get(self, caller: str | None, request_id: str) -> LoanRequest:
        """One request; a node sees only requests it is party to (None: central staff)."""
        request = await self.store.request(request_id)
        if caller is not None and not request.is_party(caller):
            raise PermissionDenied(f"{caller} is not a party to request {request_id}")
        return request

    async def lender_node(self, symbol: str) -> Node:
        return await self.store.node(symbol)
