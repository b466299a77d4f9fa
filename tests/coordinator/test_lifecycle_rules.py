"""The ISO 18626 rules on their own: what each side may report in each state."""

from __future__ import annotations

import pytest

from federation.coordinator.lifecycle import is_overdue, requester_transition, supplier_transition
from federation.coordinator.model import Action, LoanRequest, ServiceType, Status
from federation.errors import FailedPrecondition


def loan(status: Status, service=ServiceType.LOAN, action=None, due=None) -> LoanRequest:
    return LoanRequest("r", "REQ", "p", service, status=status, last_action=action, due_time=due)


@pytest.mark.parametrize(("state", "report", "after"), [
    (Status.REQUEST_RECEIVED, Status.WILL_SUPPLY, Status.WILL_SUPPLY),
    (Status.REQUEST_RECEIVED, Status.EXPECT_TO_SUPPLY, Status.EXPECT_TO_SUPPLY),
    (Status.EXPECT_TO_SUPPLY, Status.WILL_SUPPLY, Status.WILL_SUPPLY),
    (Status.WILL_SUPPLY, Status.UNFILLED, Status.UNFILLED),
    (Status.WILL_SUPPLY, Status.LOANED, Status.LOANED),
    (Status.OVERDUE, Status.COMPLETED_WITHOUT_RETURN, Status.COMPLETED_WITHOUT_RETURN),
])
def test_what_a_lender_may_report(state, report, after):
    assert supplier_transition(loan(state), report) is after


@pytest.mark.parametrize(("state", "report"), [
    (Status.LOANED, Status.WILL_SUPPLY),          # backwards
    (Status.LOANED, Status.UNFILLED),             # already shipped
    (Status.LOANED, Status.LOAN_COMPLETED),       # checkin before the return was shipped
    (Status.LOAN_COMPLETED, Status.LOANED),       # closed
    (Status.CANCELLED, Status.WILL_SUPPLY),
    (Status.WILL_SUPPLY, Status.COPY_COMPLETED),  # a loan is not a copy
])
def test_what_a_lender_may_not_report(state, report):
    with pytest.raises(FailedPrecondition):
        supplier_transition(loan(state), report)


def test_a_copy_is_completed_not_loaned():
    copy = loan(Status.WILL_SUPPLY, ServiceType.COPY)
    assert supplier_transition(copy, Status.COPY_COMPLETED) is Status.COPY_COMPLETED
    with pytest.raises(FailedPrecondition):
        supplier_transition(copy, Status.LOANED)


def test_the_requester_receives_returns_and_may_cancel_only_before_shipping():
    assert requester_transition(loan(Status.WILL_SUPPLY), Action.CANCEL) is Status.CANCELLED
    with pytest.raises(FailedPrecondition):
        requester_transition(loan(Status.LOANED), Action.CANCEL)
    assert requester_transition(loan(Status.LOANED), Action.RECEIVED) is Status.LOANED
    with pytest.raises(FailedPrecondition):
        requester_transition(loan(Status.LOANED), Action.SHIPPED_RETURN)
    back = loan(Status.OVERDUE, action=Action.RECEIVED)
    assert requester_transition(back, Action.SHIPPED_RETURN) is Status.OVERDUE
    returned = loan(Status.LOANED, action=Action.SHIPPED_RETURN)
    assert supplier_transition(returned, Status.LOAN_COMPLETED) is Status.LOAN_COMPLETED
    with pytest.raises(FailedPrecondition):
        requester_transition(loan(Status.REQUEST_RECEIVED), Action.RENEW)


def test_overdue_only_while_the_item_is_out():
    assert is_overdue(loan(Status.LOANED, due=100.0), at=101.0)
    assert not is_overdue(loan(Status.LOANED, due=100.0), at=99.0)
    assert not is_overdue(loan(Status.LOANED, action=Action.SHIPPED_RETURN, due=100.0), at=101.0)

