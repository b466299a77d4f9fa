"""The coordinator's story: it asks this library over gRPC what it holds and to lend it."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from libfed.v1 import common_pb2, node_service_pb2_grpc
from libfed.v1 import node_service_pb2 as pb

from tests.node.conftest import IMPORT_FILES, make_config, start_node


def stub(channel) -> node_service_pb2_grpc.LibraryNodeStub:
    return node_service_pb2_grpc.LibraryNodeStub(channel)


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.details()  # a message a person can act on
    return caught.value.code()


async def test_search_by_keywords_title_author_and_isbn(channel):
    node = stub(channel)
    found = await node.SearchHoldings(pb.SearchHoldingsRequest(query="manuscripts"))
    assert [r.record_id for r in found.records] == ["000000794"]
    assert found.records[0].oai_identifier.endswith(":000000794")
    assert found.records[0].schema == common_pb2.RECORD_SCHEMA_MARC21
    russian = await node.SearchHoldings(pb.SearchHoldingsRequest(query="История СТОЛЕТИЯ"))
    assert russian.total_size == 2
    assert all(r.schema == common_pb2.RECORD_SCHEMA_UNIMARC for r in russian.records)
    by_title = await node.SearchHoldings(pb.SearchHoldingsRequest(title="модная книга"))
    assert by_title.total_size == 3
    author = await node.SearchHoldings(pb.SearchHoldingsRequest(author="штефер", title="столетия"))
    assert [r.record_id for r in author.records] == ["v19\\rc\\2104622"]
    by_author = await node.SearchHoldings(pb.SearchHoldingsRequest(author="clark"))
    assert "000000794" in [r.record_id for r in by_author.records]
    isbn = found.records[0].isbns or (await _any_isbn(node))
    by_isbn = await node.SearchHoldings(pb.SearchHoldingsRequest(isbn=isbn[0]))
    assert by_isbn.total_size >= 1


async def _any_isbn(node):
    page = await node.SearchHoldings(pb.SearchHoldingsRequest(query="a", page_size=100))
    return next(r.isbns for r in page.records if r.isbns)


async def test_search_pages_through_every_match(channel):
    node = stub(channel)
    first = await node.SearchHoldings(pb.SearchHoldingsRequest(query="a", page_size=7))
    seen = [r.record_id for r in first.records]
    token = first.next_page_token
    while token:
        page = await node.SearchHoldings(
            pb.SearchHoldingsRequest(query="a", page_size=7, page_token=token)
        )
        seen += [r.record_id for r in page.records]
        token = page.next_page_token
    assert len(seen) == len(set(seen)) == first.total_size > 7


async def test_get_record_gives_marcxml_items_and_update_time(channel):
    record = await stub(channel).GetRecord(pb.GetRecordRequest(record_id="u53329"))
    assert record.summary.record_id == "u53329"
    assert "<record" in record.marcxml and "u53329" in record.marcxml
    (item,) = record.items  # the Koha 952 copy
    assert (item.barcode, item.location, item.call_number) == (
        "35609000970837",
        "BC",
        "861.42 C955",
    )
    assert item.status == common_pb2.ITEM_STATUS_AVAILABLE
    assert record.update_time.seconds > 0


async def test_bad_arguments_and_unknown_ids(channel):
    node = stub(channel)
    assert (
        await _code(node.GetRecord(pb.GetRecordRequest(record_id="nope")))
        == grpc.StatusCode.NOT_FOUND
    )
    assert await _code(node.GetRecord(pb.GetRecordRequest())) == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        await _code(node.SearchHoldings(pb.SearchHoldingsRequest()))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        await _code(node.SearchHoldings(pb.SearchHoldingsRequest(isbn="123")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        await _code(node.SearchHoldings(pb.SearchHoldingsRequest(query="a", page_token="zz")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        await _code(node.GetAvailability(pb.GetAvailabilityRequest()))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        await _code(node.GetAvailability(pb.GetAvailabilityRequest(record_id="nope")))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        await _code(node.OfferLoan(pb.OfferLoanRequest(record_id="u53329")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    update = pb.UpdateLoanStatusRequest(
        request_id="never", attempt=1, status=common_pb2.LOAN_STATUS_LOANED
    )
    assert await _code(node.UpdateLoanStatus(update)) == grpc.StatusCode.NOT_FOUND
    # Found by review: these answered UNKNOWN, every record, and OK.
    huge = pb.SearchHoldingsRequest(query="a", page_token="9" * 23)
    assert await _code(node.SearchHoldings(huge)) == grpc.StatusCode.INVALID_ARGUMENT
    for nothing in ("***", "\x00", " - "):
        no_words = pb.SearchHoldingsRequest(query=nothing)
        assert await _code(node.SearchHoldings(no_words)) == grpc.StatusCode.INVALID_ARGUMENT
    unknown = pb.UpdateLoanStatusRequest(request_id="never", attempt=1, status=99)
    assert await _code(node.UpdateLoanStatus(unknown)) == grpc.StatusCode.INVALID_ARGUMENT


async def test_two_offers_for_the_last_free_copy(channel):
    """Two libraries' readers want the one copy of u53329 at the same moment."""
    node = stub(channel)
    offers = [
        pb.OfferLoanRequest(
            request_id=f"req-{n}",
            attempt=1,
            record_id="u53329",
            service_type=common_pb2.SERVICE_TYPE_LOAN,
            requester_symbol=f"LIB{n}",
        )
        for n in (1, 2)
    ]
    answers = await asyncio.gather(*(node.OfferLoan(offer) for offer in offers))
    statuses = sorted(a.status for a in answers)
    assert statuses == [common_pb2.LOAN_STATUS_WILL_SUPPLY, common_pb2.LOAN_STATUS_UNFILLED]
    winner = next(a for a in answers if a.status == common_pb2.LOAN_STATUS_WILL_SUPPLY)
    loser = next(a for a in answers if a.status == common_pb2.LOAN_STATUS_UNFILLED)
    assert winner.item.barcode == "35609000970837"
    assert winner.item.status == common_pb2.ITEM_STATUS_RESERVED
    assert loser.reason_unfilled == "InUse"
    # a resent offer gets the same answer, and nothing more is reserved
    again = await asyncio.gather(*(node.OfferLoan(offer) for offer in offers))
    assert [a.status for a in again] == [a.status for a in answers]
    availability = await node.GetAvailability(pb.GetAvailabilityRequest(record_id="u53329"))
    assert availability.available_count == 0
    assert availability.open_loans == 1


async def test_a_loan_moves_its_copy_through_iso18626_states(channel):
    node = stub(channel)
    offer = await node.OfferLoan(
        pb.OfferLoanRequest(request_id="r-42", attempt=2, record_id="000000794")
    )
    assert offer.status == common_pb2.LOAN_STATUS_WILL_SUPPLY
    due = Timestamp(seconds=2_000_000_000)
    shipped = await node.UpdateLoanStatus(
        pb.UpdateLoanStatusRequest(
            request_id="r-42", attempt=2, status=common_pb2.LOAN_STATUS_LOANED, due_time=due
        )
    )
    assert shipped.item.status == common_pb2.ITEM_STATUS_ON_LOAN
    assert shipped.item.due_time.seconds == 2_000_000_000
    cancel = pb.UpdateLoanStatusRequest(
        request_id="r-42", attempt=2, status=common_pb2.LOAN_STATUS_CANCELLED
    )
    assert await _code(node.UpdateLoanStatus(cancel)) == grpc.StatusCode.FAILED_PRECONDITION
    back = await node.UpdateLoanStatus(
        pb.UpdateLoanStatusRequest(
            request_id="r-42", attempt=2, action=common_pb2.REQUESTER_ACTION_SHIPPED_RETURN
        )
    )
    assert back.item.status == common_pb2.ITEM_STATUS_IN_TRANSIT
    done = await node.UpdateLoanStatus(
        pb.UpdateLoanStatusRequest(
            request_id="r-42", attempt=2, status=common_pb2.LOAN_STATUS_LOAN_COMPLETED
        )
    )
    assert done.item.status == common_pb2.ITEM_STATUS_AVAILABLE
    # a reservation released by a cancellation frees the copy again
    offer = await node.OfferLoan(
        pb.OfferLoanRequest(request_id="r-43", attempt=1, record_id="000000794")
    )
    assert offer.status == common_pb2.LOAN_STATUS_WILL_SUPPLY
    released = await node.UpdateLoanStatus(
        pb.UpdateLoanStatusRequest(
            request_id="r-43", attempt=1, status=common_pb2.LOAN_STATUS_CANCELLED
        )
    )
    assert released.item.status == common_pb2.ITEM_STATUS_AVAILABLE


async def test_a_record_whose_copy_is_promised_to_a_loan_cannot_be_deleted(node, channel):
    """Deleting it would leave the loan without its copy; the library finishes or
    cancels the loan first, then the delete goes through."""
    from federation.errors import FailedPrecondition

    offer = pb.OfferLoanRequest(request_id="req-del", attempt=1, record_id="u53329",
                                service_type=common_pb2.SERVICE_TYPE_LOAN)
    assert (await stub(channel).OfferLoan(offer)).status == common_pb2.LOAN_STATUS_WILL_SUPPLY
    with pytest.raises(FailedPrecondition, match=r"35609000970837 \(reserved\)"):
        await node.store.delete_record("u53329")
    assert (await node.store.live_records(["u53329"])), "nothing was deleted"
    await stub(channel).UpdateLoanStatus(pb.UpdateLoanStatusRequest(
        request_id="req-del", attempt=1, status=common_pb2.LOAN_STATUS_CANCELLED))
    await node.store.delete_record("u53329")
    assert not await node.store.live_records(["u53329"])


async def test_offers_the_library_cannot_fill(channel):
    node = stub(channel)
    unknown = await node.OfferLoan(
        pb.OfferLoanRequest(request_id="x", attempt=1, record_id="not-here")
    )
    assert (unknown.status, unknown.reason_unfilled) == (common_pb2.LOAN_STATUS_UNFILLED, "NotHeld")
    by_isbn = await node.OfferLoan(
        pb.OfferLoanRequest(request_id="y", attempt=1, isbn="978-0-306-40615-7")
    )
    assert by_isbn.reason_unfilled == "NotHeld"


async def test_health_and_reflection(node, channel):
    health = health_pb2_grpc.HealthStub(channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service="libfed.v1.LibraryNode"))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    names = []
    async for response in reflect.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    ):
        names = [s.name for s in response.list_services_response.service]
    assert "libfed.v1.LibraryNode" in names and "grpc.health.v1.Health" in names


async def test_loan_calls_need_the_coordinator_token_when_set(tmp_path):
    running = await start_node(make_config(tmp_path, token="s3cret"), IMPORT_FILES[:1])
    try:
        async with grpc.aio.insecure_channel(running.grpc_target) as chan:
            node = stub(chan)
            offer = pb.OfferLoanRequest(request_id="t", attempt=1, record_id="000000794")
            assert await _code(node.OfferLoan(offer)) == grpc.StatusCode.UNAUTHENTICATED
            wrong = node.OfferLoan(offer, metadata=[("authorization", "Bearer nope")])
            assert await _code(wrong) == grpc.StatusCode.PERMISSION_DENIED
            ok = await node.OfferLoan(offer, metadata=[("authorization", "Bearer s3cret")])
            assert ok.status == common_pb2.LOAN_STATUS_WILL_SUPPLY
            # reading stays open to any peer
            assert (await node.GetRecord(pb.GetRecordRequest(record_id="000000794"))).summary.title
    finally:
        await running.server.stop(grace=0.1)


async def test_availability_and_offers_by_isbn(channel):
    """The coordinator knows only the ISBN of the Russian ISBN manual (978-5-901202-50-0)."""
    node = stub(channel)
    isbn = pb.GetAvailabilityRequest(isbn="978-5-901202-50-0")
    found = await node.GetAvailability(isbn)
    assert [r.record_id for r in found.records] == ["RU\\NLR\\bibl\\1100073"]
    assert found.available_count == 1
    offer = await node.OfferLoan(
        pb.OfferLoanRequest(request_id="isbn-1", attempt=1, isbn="5-901202-50-3")
    )
    assert offer.status == common_pb2.LOAN_STATUS_WILL_SUPPLY
    assert offer.item.call_number == "Б 7525/М-43"
    assert (await node.GetAvailability(isbn)).available_count == 0
    unknown = await node.GetAvailability(pb.GetAvailabilityRequest(isbn="978-0-306-40615-7"))
    assert (unknown.records, unknown.available_count) == ([], 0)


async def test_a_second_node_on_a_port_in_use_refuses_to_start(node, tmp_path):
    """gRPC's default SO_REUSEPORT would let it bind and answer half of the first
    node's calls with its own holdings; it must say the port is taken instead."""
    from node.server import NodeServer
    from tests.node.conftest import make_config

    other = make_config(tmp_path / "other")
    other.grpc_listen = node.grpc_target
    (tmp_path / "other").mkdir()
    with pytest.raises(OSError, match=f"cannot listen for gRPC on {node.grpc_target}"):
        await NodeServer(other).start()
