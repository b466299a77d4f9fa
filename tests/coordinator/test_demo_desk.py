"""The demo's desk: with nobody at the libraries' desks, a request still travels."""

from __future__ import annotations

from libfed.v1 import common_pb2 as c

from federation.demo.desk import Desk


async def test_the_desk_ships_then_receives_each_after_a_round_of_waiting(network):
    said: list[str] = []
    desk = Desk({}, said.append)
    branch = network.link("BRANCH")
    request = await branch.submit("p-reader1", cluster_id="c-1", pickup_location="Main desk")
    lender = request.lender_symbol
    assert request.status == c.LOAN_STATUS_WILL_SUPPLY

    async def round_() -> None:
        seen = set()
        for symbol in ("BRANCH", lender):
            seen |= await desk.act_for(symbol, network.link(symbol))
        desk.waiting = seen

    await round_()  # the reader sees "will supply" for a whole round first
    assert (await branch.get(request.request_id)).status == c.LOAN_STATUS_WILL_SUPPLY
    await round_()
    shipped = await branch.get(request.request_id)
    assert shipped.status == c.LOAN_STATUS_LOANED
    assert shipped.last_requester_action == c.REQUESTER_ACTION_UNSPECIFIED
    await round_()
    await round_()
    received = await branch.get(request.request_id)
    assert received.last_requester_action == c.REQUESTER_ACTION_RECEIVED
    assert said == [f"{lender} ships {request.request_id} to BRANCH",
                    f"BRANCH receives {request.request_id} for its reader"]
    await round_()  # nothing more: returning the book is the reader's library's business
    assert len(said) == 2
