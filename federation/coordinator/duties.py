"""What the coordinator does on its own, on a clock: deadlines, due dates, the outbox.

All of it is found in the database each time, never only in memory, so a
restarted coordinator carries on where the old one stopped: a lender that did
not answer in time is passed over, a loan past its due date becomes Overdue, and
every status change owed to a lender is sent until it arrives.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from federation.coordinator import lifecycle
from federation.coordinator.model import COORDINATOR, Outcome, Status, now
from federation.coordinator.nodes import Refused
from federation.coordinator.service import _event
from federation.errors import NotFound, Unavailable

if TYPE_CHECKING:
    from federation.coordinator.service import LoanService
    from federation.coordinator.store import Delivery

log = logging.getLogger(__name__)

#: Longest pause between two attempts of one delivery.
MAX_BACKOFF = 60.0


async def expire_deadlines(service: LoanService) -> int:
    """Pass over lenders that did not answer (or ship) within the answer deadline."""
    expired = 0
    for request_id in await service.store.requests_past_deadline(now()):
        async with service.locks(request_id):
            request = await service.store.request(request_id, full=False)
            deadline = request.deadline_at
            if deadline is None or deadline > now() or request.status not in lifecycle.AWAITING_LENDER:
                continue
            entry = request.current_entry()
            if entry is None:
                continue
            if request.status is Status.WILL_SUPPLY and await _lender_up(service, request):
                # WillSupply is an answer: a lender that committed and is alive keeps the
                # request; only a lender that went down with it loses it.
                request.deadline_at = now() + service.timing.answer_deadline
                await service.store.save(request)
                continue
            waited = service.timing.answer_deadline
            entry.outcome, entry.reason = Outcome.TIMEOUT, f"no answer within {waited:g}s"
            release = [(request.attempt, request.lender, str(Status.CANCELLED), None, None,
                        "the answer deadline passed; the request went to another library")]
            await service._next_lender(request, entry, COORDINATOR,
                                       f"{entry.lender} did not answer in time", release)
            expired += 1
        service.spawn_advance(request_id)
    return expired


async def _lender_up(service: LoanService, request) -> bool:
    """Up by its last health check, or not checked yet (no news is not bad news)."""
    try:
        node = await service.store.node(request.lender)
    except NotFound:
        return False
    return node.up or (node.last_seen is None and not node.last_error)


async def mark_overdue(service: LoanService) -> int:
    """Loans past their due date become Overdue; the lender is told."""
    marked = 0
    for request_id in await service.store.requests_past_due(now()):
        async with service.locks(request_id):
            request = await service.store.request(request_id, full=False)
            if not lifecycle.is_overdue(request, now()):
                continue
            before, request.status, request.updated = request.status, Status.OVERDUE, now()
            await service.store.save(
                request,
                events=[_event(COORDINATOR, before, Status.OVERDUE, note="due date passed")],
                deliveries=[(request.attempt, request.lender, str(Status.OVERDUE), None,
                             request.due_time, "due date passed")],
            )
            marked += 1
    if marked:
        service.outbox_ready.set()
    return marked


async def give_up_past_need(service: LoanService) -> int:
    """Requests not shipped by the date their reader needed them end Unfilled.

    The reader said when the book stops being of use (ISO 18626 needBeforeDate);
    after that a loan would only cost two libraries postage. A lender that had
    answered ExpectToSupply or WillSupply is told Cancelled, so it frees its copy.
    """
    ended = 0
    for request_id in await service.store.requests_past_need(now()):
        async with service.locks(request_id):
            request = await service.store.request(request_id, full=False)
            needed = request.needed_before
            if needed is None or needed > now() or request.status not in lifecycle.BEFORE_SHIPPING:
                continue
            await service.end_past_need(request)
            ended += 1
    return ended


async def send_outbox(service: LoanService) -> int:
    """Send due status changes, in order per library; back off on failure.

    Each row goes the way its library speaks (UpdateLoanStatus to a node, an ISO
    18626 message to an outside peer): see :class:`~federation.coordinator.gateway.Gateway`.
    """
    async with service.outbox_lock, service.store.exclusive("outbox") as ours:
        if not ours:
            return 0  # another coordinator on the same database is sending it
        due = await service.store.due_deliveries(now())
        by_lender: dict[str, list[Delivery]] = {}
        for delivery in due:
            by_lender.setdefault(delivery.lender, []).append(delivery)
        batches = by_lender.values()
        # Every batch ends before the locks are let go (a failed one must not leave the
        # others sending while another coordinator takes the outbox).
        sent = await asyncio.gather(*(_send_in_order(service, items) for items in batches),
                                    return_exceptions=True)
    for outcome in sent:
        if isinstance(outcome, BaseException):
            log.error("sending the outbox failed: %r", outcome)
    return sum(n for n in sent if isinstance(n, int))


async def _send_in_order(service: LoanService, deliveries: list[Delivery]) -> int:
    sent = 0
    try:
        node = await service.store.node(deliveries[0].lender)
    except NotFound:
        for delivery in deliveries:
            await service.store.delivered(delivery.id)
        return 0
    for delivery in deliveries:
        try:
            await service.gateway.deliver(node, delivery)
        except Refused as error:
            log.warning("%s refused %s for %s: %s", node.symbol, delivery.status,
                        delivery.request_id, error)
            await service.store.delivered(delivery.id)
            continue
        except Exception as error:  # noqa: BLE001 - Unavailable, or a bug: try again later
            if not isinstance(error, Unavailable):
                log.exception("sending %s to %s failed", delivery.status, node.symbol)
            pause = min(service.gateway.backoff * 2 ** delivery.tries, MAX_BACKOFF)
            await service.store.delivery_failed(delivery.id, now() + pause, str(error))
            return sent  # keep this library's messages in order: the rest wait
        await service.store.delivered(delivery.id)
        sent += 1
    return sent
