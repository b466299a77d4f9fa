"""Choosing lenders: the rota, ranking, and moving on when a lender cannot or does not answer."""

from __future__ import annotations

import asyncio
import time

import pytest
from libfed.v1 import common_pb2 as c

from federation.errors import InvalidArgument
from tests.coordinator.conftest import start_network, stop_network


async def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


async def test_a_free_copy_and_a_lender_that_lent_little_come_first(network):
    libs = network.libraries
    libs["LIB_A"].script.available = 0           # everything out
    libs["LIB_B"].script.open_loans = 5          # busy
    # LIB_C has borrowed a lot and lent nothing: it should lend now.
    await network.coordinator.store._execute(
        "UPDATE nodes SET borrowed = 4 WHERE symbol = 'LIB_C'")
    request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
    order = [(e.lender_symbol, e.available_count) for e in request.rota]
    assert order == [("LIB_C", 1), ("LIB_B", 1), ("LIB_A", 0)]
    assert request.lender_symbol == "LIB_C"
    # Only the holders were asked, never the requester itself.
    assert not libs["BRANCH"].received


async def test_configured_priority_breaks_ties(tmp_path, state_db):
    network = await start_network(tmp_path, state_db=state_db)
    try:
        await network.coordinator.store._execute(
            "UPDATE nodes SET priority = 5 WHERE symbol = 'LIB_B'")
        request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
        assert request.lender_symbol == "LIB_B"
    finally:
        await stop_network(network)


async def test_unfilled_moves_the_request_to_the_next_lender(network):
    network.libraries["LIB_A"].script.answer = c.LOAN_STATUS_UNFILLED
    network.libraries["LIB_A"].script.reason = "NotOnShelf"
    request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
    assert request.status == c.LOAN_STATUS_WILL_SUPPLY
    assert request.lender_symbol == "LIB_B" and request.attempt == 2
    first = request.rota[0]
    assert (first.lender_symbol, first.outcome, first.reason) == ("LIB_A", "unfilled", "NotOnShelf")


async def test_staff_saying_unfilled_later_also_moves_on(network):
    network.libraries["LIB_A"].script.answer = c.LOAN_STATUS_EXPECT_TO_SUPPLY
    branch, lib_a = network.link("BRANCH"), network.link("LIB_A")
    request = await branch.submit("p-1", cluster_id="c-1")
    assert request.status == c.LOAN_STATUS_EXPECT_TO_SUPPLY
    moved = await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_UNFILLED,
                                        attempt=1, reason="PolicyProblem")
    assert moved.lender_symbol == "LIB_B" and moved.status == c.LOAN_STATUS_WILL_SUPPLY
    # A late word from LIB_A about its old attempt changes nothing.
    late = await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_WILL_SUPPLY, attempt=1)
    assert late.lender_symbol == "LIB_B"


async def test_end_of_rota_is_unfilled_for_the_requester(network):
    for symbol in ("LIB_A", "LIB_B", "LIB_C"):
        network.libraries[symbol].script.answer = c.LOAN_STATUS_UNFILLED
        network.libraries[symbol].script.reason = "InUse"
    request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
    assert request.status == c.LOAN_STATUS_UNFILLED
    assert request.lender_symbol == ""
    assert [e.outcome for e in request.rota] == ["unfilled"] * 3
    assert request.history[-1].note == "end of rota"
    # Nobody else holds c-lonely: unfilled at once.
    lonely = await network.link("BRANCH").submit("p-1", cluster_id="c-lonely")
    assert lonely.status == c.LOAN_STATUS_UNFILLED


async def test_a_down_lender_is_skipped_and_an_unreachable_one_passed_over(network):
    await network.libraries["LIB_A"].stop()           # down before the availability round
    request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
    skipped = [e for e in request.rota if e.lender_symbol == "LIB_A"][0]
    assert skipped.outcome == "skipped" and "availability" in skipped.reason
    assert request.lender_symbol == "LIB_B"
    # LIB_B answers availability but is gone when the offer comes.
    libs = network.libraries
    libs["LIB_B"].script.delay = 0.0
    await libs["LIB_C"].stop()
    second = await network.link("BRANCH").submit("p-2", cluster_id="c-2")
    assert second.lender_symbol == "LIB_B"


async def test_a_silent_lender_is_passed_over_after_the_answer_deadline(tmp_path, state_db):
    network = await start_network(tmp_path, answer_deadline=0.6, state_db=state_db)
    try:
        network.libraries["LIB_A"].script.answer = c.LOAN_STATUS_EXPECT_TO_SUPPLY
        branch = network.link("BRANCH")
        request = await branch.submit("p-1", cluster_id="c-1")
        assert request.lender_symbol == "LIB_A"

        async def moved():
            current = await branch.get(request.request_id)
            return current if current.lender_symbol == "LIB_B" else None

        current = await wait_for(moved)
        assert current.rota[0].outcome == "timeout"
        await network.settle()
        released = network.libraries["LIB_A"].calls("UpdateLoanStatus")
        assert released and released[-1].status == c.LOAN_STATUS_CANCELLED
    finally:
        await stop_network(network)


async def test_a_lender_whose_answer_was_lost_is_told_the_request_went_elsewhere(network):
    """The offer arrives (the lender may reserve a copy) but the answer comes after the
    call timeout: the coordinator moves on, and the lender hears Cancelled."""
    network.libraries["LIB_A"].script.offer_delay = 3.0  # call_timeout is 1 s
    for symbol in ("LIB_B", "LIB_C"):
        network.libraries[symbol].script.open_loans = 5  # LIB_A is offered first
    branch = network.link("BRANCH")
    request = await branch.submit("p-1", cluster_id="c-1")
    assert request.lender_symbol != "LIB_A"
    lost = [e for e in request.rota if e.lender_symbol == "LIB_A"][0]
    assert lost.outcome == "unreachable"
    await network.settle()
    released = network.libraries["LIB_A"].calls("UpdateLoanStatus")
    assert [(m.request_id, m.attempt, m.status) for m in released] == [
        (request.request_id, lost.position, c.LOAN_STATUS_CANCELLED)
    ]


async def test_deadlines_survive_a_coordinator_restart(tmp_path, state_db):
    network = await start_network(tmp_path, answer_deadline=1.0, state_db=state_db)
    try:
        network.libraries["LIB_A"].script.answer = c.LOAN_STATUS_EXPECT_TO_SUPPLY
        request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
        await network.coordinator.stop(grace=0)       # down while the deadline runs
        await asyncio.sleep(1.1)
        await network.restart()
        branch = network.link("BRANCH")

        async def moved():
            current = await branch.get(request.request_id)
            return current if current.lender_symbol == "LIB_B" else None

        await wait_for(moved)
    finally:
        await stop_network(network)


async def test_a_loan_past_its_due_date_becomes_overdue(network):
    from google.protobuf.timestamp_pb2 import Timestamp

    branch, lib_a = network.link("BRANCH"), network.link("LIB_A")
    request = await branch.submit("p-1", cluster_id="c-1")
    due = Timestamp()
    due.FromSeconds(int(time.time()) + 1)
    await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOANED, due_time=due)

    async def overdue():
        current = await branch.get(request.request_id)
        return current.status == c.LOAN_STATUS_OVERDUE

    await wait_for(overdue)
    # Overdue loans still come home.
    await branch.report_requester(request.request_id, c.REQUESTER_ACTION_RECEIVED)
    await branch.report_requester(request.request_id, c.REQUESTER_ACTION_SHIPPED_RETURN)
    done = await lib_a.report_supplier(request.request_id, c.LOAN_STATUS_LOAN_COMPLETED)
    assert done.status == c.LOAN_STATUS_LOAN_COMPLETED


async def test_an_isbn_request_finds_its_cluster(network):
    request = await network.link("BRANCH").submit("p-1", isbn="9785170906895")
    assert request.cluster_id == "c-1"


async def test_a_lender_that_said_will_supply_keeps_the_request_while_it_is_up(tmp_path, state_db):
    network = await start_network(tmp_path, answer_deadline=0.4, state_db=state_db)
    try:
        branch = network.link("BRANCH")
        request = await branch.submit("p-1", cluster_id="c-1")
        assert request.status == c.LOAN_STATUS_WILL_SUPPLY
        await asyncio.sleep(1.0)          # two deadlines pass; LIB_A is up
        assert (await branch.get(request.request_id)).lender_symbol == "LIB_A"
        await network.libraries["LIB_A"].stop()          # now it goes down with the copy
        coordinator = network.coordinator
        for _ in range(2):  # two failed checks in a row make a node down
            await coordinator.registry.check_health(coordinator.gateway)

        async def moved():
            current = await branch.get(request.request_id)
            return current if current.lender_symbol == "LIB_B" else None

        current = await wait_for(moved)
        assert current.rota[0].outcome == "timeout"
    finally:
        await stop_network(network)


async def test_a_request_not_shipped_before_the_reader_needed_it_ends_unfilled(network):
    lib_a = network.libraries["LIB_A"]
    lib_a.script.answer = c.LOAN_STATUS_EXPECT_TO_SUPPLY  # promises, never ships
    for other in ("LIB_B", "LIB_C"):
        network.libraries[other].script.available = 0
    branch = network.link("BRANCH")
    with pytest.raises(InvalidArgument, match="already past"):
        await branch.submit("p-1", cluster_id="c-1", needed_before=time.time() - 60)
    request = await branch.submit("p-1", cluster_id="c-1", needed_before=time.time() + 1.0)
    assert request.status == c.LOAN_STATUS_EXPECT_TO_SUPPLY and request.lender_symbol == "LIB_A"

    async def given_up():
        current = await branch.get(request.request_id)
        return current.status == c.LOAN_STATUS_UNFILLED

    await wait_for(given_up)
    await network.settle()
    told = [m for m in lib_a.calls("UpdateLoanStatus") if m.request_id == request.request_id]
    assert told and told[-1].status == c.LOAN_STATUS_CANCELLED
    # The reader may ask again: the unfilled request no longer blocks a new one.
    again = await branch.submit("p-1", cluster_id="c-1")
    assert again.request_id != request.request_id
