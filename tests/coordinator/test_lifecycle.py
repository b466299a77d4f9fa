"""A loan's way through ISO 18626 statuses, over the real Coordinator gRPC service."""

from __future__ import annotations

import grpc
import pytest
from libfed.v1 import common_pb2 as c

from federation.errors import AlreadyExists, FailedPrecondition, PermissionDenied, Unauthenticated

S = c.LoanStatus
A = c.RequesterAction


async def test_a_loan_goes_from_request_to_completion(network):
    """A reader at BRANCH asks for War and Peace; LIB_A lends it and gets it back."""
    branch, lib_a = network.link("BRANCH"), network.link("LIB_A")
    request = await branch.submit("p-reader1", cluster_id="c-1", pickup_location="Main desk")
    assert request.status == c.LOAN_STATUS_WILL_SUPPLY
    assert request.lender_symbol == "LIB_A" and request.attempt == 1
    assert [e.lender_symbol for e in request.rota] == ["LIB_A", "LIB_B", "LIB_C"]
    assert request.title == "Война и мир"

    shipped = await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOANED,
                                          attempt=request.attempt)
    assert shipped.status == c.LOAN_STATUS_LOANED and shipped.HasField("due_time")
    received = await branch.report_requester(request.request_id, A.Value("REQUESTER_ACTION_RECEIVED"))
    assert received.last_requester_action == c.REQUESTER_ACTION_RECEIVED
    await branch.report_requester(request.request_id, c.REQUESTER_ACTION_SHIPPED_RETURN)
    done = await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOAN_COMPLETED,
                                       attempt=1)
    assert done.status == c.LOAN_STATUS_LOAN_COMPLETED

    await network.settle()
    updates = network.libraries["LIB_A"].calls("UpdateLoanStatus")
    assert [(u.status, u.action) for u in updates] == [
        (c.LOAN_STATUS_LOANED, 0),
        (c.LOAN_STATUS_LOANED, c.REQUESTER_ACTION_RECEIVED),
        (c.LOAN_STATUS_LOANED, c.REQUESTER_ACTION_SHIPPED_RETURN),
        (c.LOAN_STATUS_LOAN_COMPLETED, 0),
    ]
    history = [(e.actor, e.to_status) for e in done.history]
    assert history[0] == ("BRANCH", c.LOAN_STATUS_REQUEST_RECEIVED)
    assert history[-1] == ("LIB_A", c.LOAN_STATUS_LOAN_COMPLETED)
    status = await network.coordinator.loans.store.nodes()
    balance = {n.symbol: (n.lent, n.borrowed) for n in status}
    assert balance["LIB_A"] == (1, 0) and balance["BRANCH"] == (0, 1)


async def test_a_copy_request_ends_copy_completed(network):
    branch, lib_a = network.link("BRANCH"), network.link("LIB_A")
    request = await branch.submit("p-reader2", cluster_id="c-1", copy=True)
    with pytest.raises(FailedPrecondition):
        await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOANED)
    done = await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_COPY_COMPLETED)
    assert done.status == c.LOAN_STATUS_COPY_COMPLETED
    assert done.service_type == c.SERVICE_TYPE_COPY


async def test_invalid_transitions_are_failed_precondition(network):
    branch, lib_a = network.link("BRANCH"), network.link("LIB_A")
    request = await branch.submit("p-reader3", cluster_id="c-1")
    with pytest.raises(FailedPrecondition):  # nothing was shipped yet
        await branch.report_requester(request.request_id, c.REQUESTER_ACTION_RECEIVED)
    with pytest.raises(FailedPrecondition):  # checkin before the book came back
        await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOAN_COMPLETED)
    await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOANED)
    with pytest.raises(FailedPrecondition):  # too late to cancel
        await branch.cancel(request.request_id, "changed my mind")
    with pytest.raises(FailedPrecondition):  # returned before received
        await branch.report_requester(request.request_id, c.REQUESTER_ACTION_SHIPPED_RETURN)


async def test_the_requester_cancels_before_shipping_and_the_lender_is_told(network):
    branch = network.link("BRANCH")
    request = await branch.submit("p-reader4", cluster_id="c-1")
    cancelled = await branch.cancel(request.request_id, "reader left town")
    assert cancelled.status == c.LOAN_STATUS_CANCELLED
    await network.settle()
    updates = network.libraries["LIB_A"].calls("UpdateLoanStatus")
    assert updates[-1].status == c.LOAN_STATUS_CANCELLED
    assert updates[-1].request_id == request.request_id


async def test_the_same_key_twice_returns_the_same_request(network):
    branch = network.link("BRANCH")
    first = await branch.submit("p-reader5", cluster_id="c-1", idempotency_key="k-1")
    again = await branch.submit("p-reader5", cluster_id="c-1", idempotency_key="k-1")
    assert again.request_id == first.request_id
    assert len(network.libraries["LIB_A"].calls("OfferLoan")) == 1
    asked = len(network.libraries["LIB_A"].calls("GetAvailability"))
    assert asked == 1, "a retry does not ask the holders again"
    with pytest.raises(AlreadyExists):
        await branch.submit("p-reader5", cluster_id="c-1", idempotency_key="k-2")
    assert len(network.libraries["LIB_A"].calls("GetAvailability")) == asked, (
        "a duplicate is refused before the availability round")
    # Another reader may ask for the same work.
    other = await branch.submit("p-reader6", cluster_id="c-1", idempotency_key="k-3")
    assert other.request_id != first.request_id


async def test_nodes_cannot_act_for_each_other(network):
    branch = network.link("BRANCH")
    request = await branch.submit("p-reader7", cluster_id="c-1")
    lib_b, lib_c = network.link("LIB_B"), network.link("LIB_C")
    # LIB_C poses as BRANCH when submitting.
    lib_c.symbol = "BRANCH"
    with pytest.raises(PermissionDenied):
        await lib_c.submit("p-someone", cluster_id="c-2")
    with pytest.raises(PermissionDenied):  # LIB_B is in the rota but is not the requester
        await lib_b.cancel(request.request_id)
    with pytest.raises(PermissionDenied):  # the requester cannot say it shipped
        await branch.report_supplier(request.request_id, c.LOAN_STATUS_LOANED)
    other = await network.link("LIB_A").submit("p-x", cluster_id="c-2")
    with pytest.raises(PermissionDenied):  # BRANCH is no party to LIB_A's request
        await branch.get(other.request_id)
    seen_by_lender = await network.link("LIB_A").get(request.request_id)
    assert seen_by_lender.patron_ref == ""
    assert (await branch.get(request.request_id)).patron_ref == "p-reader7"


async def test_no_or_wrong_token_is_unauthenticated(network):
    for token in ("", "forged-token"):
        link = network.link("BRANCH", token=token)
        try:
            with pytest.raises(Unauthenticated):
                await link.submit("p-1", cluster_id="c-1")
        finally:
            await link.close()
    # The network status is open to anyone.
    channel = grpc.aio.insecure_channel(network.address)
    from libfed.v1 import coordinator_service_pb2, coordinator_service_pb2_grpc

    stub = coordinator_service_pb2_grpc.CoordinatorStub(channel)
    reply = await stub.GetNetworkStatus(coordinator_service_pb2.GetNetworkStatusRequest())
    assert {n.symbol for n in reply.nodes} == {"BRANCH", "LIB_A", "LIB_B", "LIB_C"}
    await channel.close()


async def test_the_network_status_counts_what_happened(network):
    from libfed.v1 import coordinator_service_pb2, coordinator_service_pb2_grpc

    branch, lib_a = network.link("BRANCH"), network.link("LIB_A")
    done = await branch.submit("p-s1", cluster_id="c-1")
    await lib_a.report_supplier(done.request_id, c.LOAN_STATUS_LOANED)
    await branch.report_requester(done.request_id, c.REQUESTER_ACTION_RECEIVED)
    open_one = await branch.submit("p-s2", cluster_id="c-1")
    withdrawn = await branch.submit("p-s3", cluster_id="c-1")
    await branch.cancel(withdrawn.request_id)
    lonely = await branch.submit("p-s4", cluster_id="c-lonely")
    assert lonely.status == c.LOAN_STATUS_UNFILLED

    async with grpc.aio.insecure_channel(network.address) as channel:
        stub = coordinator_service_pb2_grpc.CoordinatorStub(channel)
        status = await stub.GetNetworkStatus(coordinator_service_pb2.GetNetworkStatusRequest())
    assert dict(status.open_requests_by_status) == {"Loaned": 1, "WillSupply": 1}
    assert status.finished_requests == 1 and status.fill_rate == 0.0   # only the unfilled one
    assert status.median_turnaround_seconds >= 0
    lending = {row.symbol: (row.lent, row.borrowed) for row in status.lending}
    assert lending["LIB_A"] == (1, 0) and lending["BRANCH"] == (0, 1)
    assert all(node.up for node in status.nodes)
    assert open_one.status == c.LOAN_STATUS_WILL_SUPPLY


async def test_a_reader_renews_once_by_the_network_policy_and_the_lender_is_told(network):
    """Renew (ISO 18626): the coordinator grants it by the central library's rules
    (one renewal, 21 days past the later of now and the old due date), an overdue
    loan is Loaned again, and the lender's node hears the new due date."""
    from google.protobuf.timestamp_pb2 import Timestamp

    branch, lib_a = network.link("BRANCH"), network.link("LIB_A")
    request = await branch.submit("p-reader9", cluster_id="c-1")
    with pytest.raises(FailedPrecondition):  # nothing to renew before it is shipped
        await branch.report_requester(request.request_id, c.REQUESTER_ACTION_RENEW)
    due = Timestamp()
    due.FromSeconds(1_000_000_000)  # long past: the loan is overdue at the next tick
    await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOANED, due_time=due)
    await branch.report_requester(request.request_id, c.REQUESTER_ACTION_RECEIVED)
    with pytest.raises(PermissionDenied):  # only the requester may ask
        await lib_a.report_requester(request.request_id, c.REQUESTER_ACTION_RENEW)
    renewed = await branch.report_requester(request.request_id, c.REQUESTER_ACTION_RENEW)
    assert renewed.status == c.LOAN_STATUS_LOANED and renewed.renewals == 1
    days = (renewed.due_time.seconds - renewed.update_time.seconds) / 86400
    assert 20.9 < days < 21.1
    assert "renewed until" in renewed.history[-1].note
    with pytest.raises(FailedPrecondition, match="allows 1"):
        await branch.report_requester(request.request_id, c.REQUESTER_ACTION_RENEW)
    await network.settle()
    told = network.libraries["LIB_A"].calls("UpdateLoanStatus")[-1]
    assert told.action == c.REQUESTER_ACTION_RENEW
    assert told.due_time.seconds == renewed.due_time.seconds
    # The way home is unchanged: ShippedReturn, then the lender's checkin.
    await branch.report_requester(request.request_id, c.REQUESTER_ACTION_SHIPPED_RETURN)
    done = await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOAN_COMPLETED)
    assert done.status == c.LOAN_STATUS_LOAN_COMPLETED
