"""The ISO 18626 state machine of a loan request, as one table-like module.

Only the rules live here: which report or action is allowed in which state and
what state follows. The service applies them inside a transaction; anything
these functions refuse is a :class:`~federation.errors.FailedPrecondition`.

The happy paths::

    Loan:  RequestReceived → (ExpectToSupply →) WillSupply → Loaned
           → requester Received → requester ShippedReturn → lender checkin → LoanCompleted
    Copy:  RequestReceived → (ExpectToSupply →) WillSupply → CopyCompleted

A lender's Unfilled (or silence, or being unreachable) is not a state of the
request: the request goes back to RequestReceived and is offered to the next
lender of the rota. Only the end of the rota makes it Unfilled.
"""

from __future__ import annotations

from federation.coordinator.model import Action, LoanRequest, ServiceType, Status
from federation.errors import FailedPrecondition

#: The lender has not shipped yet: the requester may cancel, the lender may still refuse.
BEFORE_SHIPPING = frozenset({Status.REQUEST_RECEIVED, Status.EXPECT_TO_SUPPLY, Status.WILL_SUPPLY})
#: The item is out with the requester.
OUT_ON_LOAN = frozenset({Status.LOANED, Status.OVERDUE, Status.RECALLED})
#: States in which the current lender owes an answer before the answer deadline.
AWAITING_LENDER = frozenset({Status.REQUEST_RECEIVED, Status.EXPECT_TO_SUPPLY, Status.WILL_SUPPLY})


def _refuse(request: LoanRequest, what: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"request {request.request_id} is {request.status}"
        + (f" (requester: {request.last_action})" if request.last_action else "")
        + f"; {what} is not allowed now"
    )


def supplier_transition(request: LoanRequest, reported: Status) -> Status:
    """The state after the current lender reports ``reported``.

    Unfilled is returned as is: the caller moves on to the next lender.
    """
    state = request.status
    if request.is_final:
        raise _refuse(request, f"a lender's {reported}")
    if reported is Status.EXPECT_TO_SUPPLY and state is Status.REQUEST_RECEIVED:
        return reported
    if reported is Status.WILL_SUPPLY and state in (Status.REQUEST_RECEIVED, Status.EXPECT_TO_SUPPLY):
        return reported
    if reported is Status.UNFILLED and state in BEFORE_SHIPPING:
        return reported
    if reported is Status.LOANED and state in BEFORE_SHIPPING:
        if request.service_type is ServiceType.COPY:
            raise FailedPrecondition("a copy is supplied with CopyCompleted, not Loaned")
        return reported
    if reported is Status.COPY_COMPLETED and state in BEFORE_SHIPPING:
        if request.service_type is not ServiceType.COPY:
            raise FailedPrecondition("a loan is shipped with Loaned, not CopyCompleted")
        return reported
    if reported is Status.LOAN_COMPLETED and state in OUT_ON_LOAN:
        if request.last_action is not Action.SHIPPED_RETURN:
            raise _refuse(request, "checkin before the requester shipped the item back")
        return reported
    if reported is Status.COMPLETED_WITHOUT_RETURN and state in OUT_ON_LOAN:
        return reported
    if reported is Status.RECALLED and state in (Status.LOANED, Status.OVERDUE):
        return reported
    raise _refuse(request, f"a lender's {reported}")


def requester_transition(request: LoanRequest, action: Action) -> Status:
    """The state after the requester's ``action`` (the status may stay the same)."""
    state = request.status
    if request.is_final:
        raise _refuse(request, str(action))
    if action is Action.CANCEL:
        if state in BEFORE_SHIPPING:
            return Status.CANCELLED
        raise _refuse(request, "Cancel after the item was shipped")
    if action is Action.RECEIVED:
        if state in OUT_ON_LOAN and request.last_action is None:
            return state
        raise _refuse(request, "Received")
    if action is Action.SHIPPED_RETURN:
        if state in OUT_ON_LOAN and request.last_action is Action.RECEIVED:
            return state
        raise _refuse(request, "ShippedReturn before Received")
    if action is Action.RENEW:
        # Only a loan the reader has (received, not yet sent back) and the lender has
        # not recalled; an overdue one may still be renewed, and is Loaned again.
        if state in (Status.LOANED, Status.OVERDUE) and request.last_action is Action.RECEIVED:
            return Status.LOANED
        raise _refuse(request, "Renew")
    raise FailedPrecondition(f"{action} is not supported by this coordinator")


def is_overdue(request: LoanRequest, at: float) -> bool:
    """A shipped loan whose due date passed and that is still with the requester."""
    return (
        request.status in (Status.LOANED, Status.RECALLED)
        and request.due_time is not None
        and request.due_time <= at
        and request.last_action is not Action.SHIPPED_RETURN
    )
