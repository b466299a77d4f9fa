"""What lenders and requesters report, applied to a request.

A lender reports for one attempt (its rota position); a report about an older
attempt is a late message and is ignored, as ISO 18626 implementations do.
Every accepted change is written with its audit event and, when the lender's own
system must follow (reserve, ship, check in, release), an outbox row that tells
it through UpdateLoanStatus.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from federation.coordinator import lifecycle
from federation.coordinator.model import Action, LoanRequest, Outcome, Status, now
from federation.coordinator.service import _event, release_current
from federation.errors import FailedPrecondition, PermissionDenied

if TYPE_CHECKING:
    from federation.coordinator.service import LoanService

log = logging.getLogger(__name__)

_SUPPLIED = (Status.LOANED, Status.COPY_COMPLETED)


async def report_supplier(
    service: LoanService, caller: str, request_id: str, *, attempt: int, status: Status,
    reason: str = "", due_time: float | None = None, note: str = "",
) -> LoanRequest:
    """The current lender says what it did; Unfilled moves the request to the next lender."""
    moved_on = False
    async with service.locks(request_id):
        request = await service.store.request(request_id, full=False)
        if not request.is_party(caller) or caller == request.requester and caller != request.lender:
            raise PermissionDenied(f"{caller} is not a lender of request {request_id}")
        attempt = attempt or request.attempt
        if caller != request.lender or attempt != request.attempt:
            log.info("ignoring %s's late %s for request %s attempt %d", caller, status,
                     request_id, attempt)
            return await service.store.request(request_id)
        after = lifecycle.supplier_transition(request, status)
        entry = request.current_entry()
        before = request.status
        at = now()
        request.updated = at
        delivery_note = note
        if after is Status.UNFILLED:
            entry.outcome, entry.reason = Outcome.UNFILLED, reason or note
            # The lender's own system may hold a copy for this attempt: release it.
            release = [(request.attempt, request.lender, str(Status.UNFILLED), None, None,
                        entry.reason)]
            await service._next_lender(request, entry, caller, f"Unfilled: {entry.reason}",
                                       release)
            moved_on = True
        else:
            request.status = after
            lending = None
            if after is Status.WILL_SUPPLY:
                entry.outcome = Outcome.WILL_SUPPLY
                request.deadline_at = at + service.timing.answer_deadline
            elif after in _SUPPLIED:
                entry.outcome = Outcome.SUPPLIED
                request.deadline_at = None
                lending = (request.lender, request.requester)
                if after is Status.LOANED:
                    request.due_time = due_time or at + service.timing.loan_period
                else:
                    request.supplied_time = at
            elif after is Status.EXPECT_TO_SUPPLY:
                # Still an answer owed: a lender that stays silent after it is passed over.
                request.deadline_at = at + service.timing.answer_deadline
            else:
                request.deadline_at = None
            deliveries = [(request.attempt, request.lender, str(after), None, request.due_time,
                           delivery_note)]
            await service.store.save(
                request, entries=[entry], deliveries=deliveries, lending=lending,
                events=[_event(caller, before, after, note=reason or note)],
            )
            service.outbox_ready.set()
    if moved_on:
        await service.advance(request_id)
    return await service.store.request(request_id)


def _renew(service: LoanService, request: LoanRequest, at: float) -> str:
    """Grant a renewal by the network's policy (Timing.max_renewals, renewal_period).

    The central library sets the renewal rules for the whole network, as it sets
    the answer deadline; the lender is told the new due date (UpdateLoanStatus
    Renew), and its node moves the copy's due date.
    """
    timing = service.timing
    if request.renewals >= timing.max_renewals:
        raise FailedPrecondition(
            f"request {request.request_id} was renewed {request.renewals} time(s); the network "
            f"allows {timing.max_renewals}: return the item or ask the lender"
        )
    request.renewals += 1
    request.due_time = max(at, request.due_time or at) + timing.renewal_period
    request.status = Status.LOANED
    until = datetime.fromtimestamp(request.due_time, UTC).strftime("%Y-%m-%d")
    return f"renewed until {until} ({request.renewals} of {timing.max_renewals})"


async def report_requester(
    service: LoanService, caller: str, request_id: str, action: Action, note: str = ""
) -> LoanRequest:
    """The requesting library received, returned, cancelled or asked for a renewal."""
    async with service.locks(request_id):
        request = await service.store.request(request_id, full=False)
        if caller != request.requester:
            raise PermissionDenied(f"only the requester {request.requester} may do {action}")
        after = lifecycle.requester_transition(request, action)
        before = request.status
        at = now()
        request.updated = at
        entries = []
        deliveries = []
        if action is Action.RENEW:
            note = _renew(service, request, at) + (f"; {note}" if note else "")
            deliveries.append((request.attempt, request.lender, str(Status.LOANED), str(action),
                               request.due_time, note))
        elif action is Action.CANCEL:
            request.status, request.deadline_at = after, None
            entries, deliveries = release_current(request, "cancelled by requester", note, action)
        else:
            request.last_action = action
            if action is Action.RECEIVED:
                request.supplied_time = at
            deliveries.append((request.attempt, request.lender, str(request.status), str(action),
                               request.due_time, note))
        await service.store.save(
            request, entries=entries, deliveries=deliveries,
            events=[_event(caller, before, after, action=action, note=note)],
        )
        if deliveries:
            service.outbox_ready.set()
    return await service.store.request(request_id)
