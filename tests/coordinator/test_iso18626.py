"""The ISO 18626 gateway: an outside library lends to and borrows from the network.

The outside library (federation/demo/outside_ill.py) is an independent ISO 18626
implementation on a real HTTP port, speaking only XML; the coordinator is the real
one with its web server's /iso18626; the nodes are scripted LibraryNode gRPC
servers. Every message either side receives is checked against the standard's XSD.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from libfed.v1 import common_pb2 as c
from lxml import etree

from federation.coordinator.config import CoordinatorConfig, PeerConfig
from federation.coordinator.iso18626 import messages
from federation.coordinator.model import Status
from federation.coordinator.server import CoordinatorServer
from federation.demo.outside_ill import OutsideLibrary
from federation.errors import ConfigError
from federation.web.serve import serve_coordinator_web
from tests.conftest import free_port
from tests.coordinator.conftest import CLUSTERS, ISBNS, start_network, stop_network
from tests.coordinator.libraries import HoldingsTable

A = c.RequesterAction
#: "c-uni" is held by the requesting branch and, outside the network, by UNI only.
PEER_CLUSTERS = {**CLUSTERS, "c-uni": ("Peer only book", [("BRANCH", "b5"), ("UNI", "oai:uni:55")])}


@pytest.fixture
async def peered(tmp_path, state_db):
    outside = await OutsideLibrary(agency=("ISIL", "XX-UNI")).start()
    net = await start_network(
        tmp_path, catalog=HoldingsTable(PEER_CLUSTERS, ISBNS), state_db=state_db,
        peers=[PeerConfig("UNI", outside.url, "ISIL:XX-UNI", name="University library")],
    )
    web = await serve_coordinator_web(net.coordinator, f"127.0.0.1:{free_port()}")
    outside.network_url = web.url + "iso18626"
    net.outside, net.web = outside, web
    yield net
    await web.stop()
    await net.outside.stop()  # the test may have replaced it (a restarted peer)
    await stop_network(net)


async def until(check, timeout: float = 10.0):
    """Poll ``check`` (a coroutine function) until it returns something true."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await check()
        if value or loop.time() > end:
            return value
        await asyncio.sleep(0.05)


async def status_of(net, request_id: str) -> Status:
    return (await net.coordinator.store.request(request_id, full=False)).status


async def test_a_peer_lends_to_a_node_until_loan_completed(peered):
    branch, store = peered.link("BRANCH"), peered.coordinator.store
    request = await branch.submit("p-reader1", cluster_id="c-uni")
    rid = request.request_id
    assert request.lender_symbol == "UNI"
    assert request.status == c.LOAN_STATUS_REQUEST_RECEIVED  # confirmed; the answer follows
    # The peer answers WillSupply and ships by itself, in messages of its own.
    assert await until(lambda: _is(peered, rid, Status.LOANED))
    loan = await store.request(rid)
    assert loan.due_time is not None
    await branch.report_requester(rid, A.Value("REQUESTER_ACTION_RECEIVED"))
    await branch.report_requester(rid, c.REQUESTER_ACTION_SHIPPED_RETURN)
    # Our Received and ShippedReturn reach the peer; it checks the book in.
    assert await until(lambda: _is(peered, rid, Status.LOAN_COMPLETED))
    outside = peered.outside
    assert outside.lent[rid].statuses == ["RequestReceived", "WillSupply", "Loaned",
                                          "LoanCompleted"]
    assert outside.lent[rid].actions == ["Received", "ShippedReturn"]
    assert outside.invalid == []  # every message the gateway sent is schema-valid
    history = [(e.actor, str(e.to_status)) for e in (await store.request(rid)).history]
    assert ("UNI", "WillSupply") in history and history[-1] == ("UNI", "LoanCompleted")
    balance = {n.symbol: (n.lent, n.borrowed) for n in await store.nodes()}
    assert balance["UNI"] == (1, 0) and balance["BRANCH"] == (0, 1)


async def _is(net, request_id: str, status: Status) -> bool:
    return await status_of(net, request_id) is status


async def test_a_peer_borrows_from_a_node_until_loan_completed(peered):
    outside, store = peered.outside, peered.coordinator.store
    theirs = await outside.borrow(isbn="9785170906895", title="Война и мир")
    request = await store.request_by_key("UNI", theirs)
    assert request.status is Status.WILL_SUPPLY and request.requester == "UNI"
    lender = peered.link(request.lender)
    loan = outside.borrowed[theirs]

    async def heard(status):
        return loan.statuses and loan.statuses[-1] == status

    assert await until(lambda: heard("WillSupply"))
    await lender.report_supplier(request.request_id, c.LOAN_STATUS_LOANED)
    assert await until(lambda: heard("Loaned"))
    assert loan.network_request_id == request.request_id
    await outside.act(theirs, "Received")
    await outside.act(theirs, "ShippedReturn")
    await lender.report_supplier(request.request_id, c.LOAN_STATUS_LOAN_COMPLETED)
    assert await until(lambda: heard("LoanCompleted"))
    assert loan.statuses == ["WillSupply", "Loaned", "LoanCompleted"]
    assert outside.invalid == []
    await peered.settle()
    updates = peered.libraries[request.lender].calls("UpdateLoanStatus")
    assert [u.action for u in updates if u.action] == [
        c.REQUESTER_ACTION_RECEIVED, c.REQUESTER_ACTION_SHIPPED_RETURN]
    # No reader's identity crossed: the node never saw the peer's patron id.
    assert all(b"reader-17" not in r.raw for r in peered.libraries[request.lender].received)


async def test_a_killed_peer_hears_every_status_when_it_is_back(peered):
    outside, store = peered.outside, peered.coordinator.store
    theirs = await outside.borrow(isbn="9785170906895")
    request = await store.request_by_key("UNI", theirs)
    port = outside.port
    assert await until(lambda: _heard(outside, theirs, "WillSupply"))
    await outside.stop()
    await peered.link(request.lender).report_supplier(request.request_id, c.LOAN_STATUS_LOANED)
    await asyncio.sleep(0.5)  # the outbox tries, fails and keeps the message
    assert await store.pending_deliveries() >= 1
    back = OutsideLibrary(agency=("ISIL", "XX-UNI"), network_url=outside.network_url)
    back.borrowed = outside.borrowed
    peered.outside = await back.start(port)
    assert await until(lambda: _heard(back, theirs, "Loaned"), timeout=20)
    # Delivered once the peer's confirmation is back (a moment after it heard it).
    assert await until(lambda: _none_pending(store))


async def _none_pending(store) -> bool:
    return await store.pending_deliveries() == 0


async def _heard(outside, theirs: str, status: str) -> bool:
    statuses = outside.borrowed[theirs].statuses
    return bool(statuses) and statuses[-1] == status


async def test_an_unreachable_or_refusing_peer_is_passed_over(peered):
    branch = peered.link("BRANCH")
    peered.outside.will_supply = False
    refused = await branch.submit("p-reader2", cluster_id="c-uni")
    assert await until(lambda: _is(peered, refused.request_id, Status.UNFILLED))
    await peered.outside.stop()
    unreachable = await branch.submit("p-reader3", cluster_id="c-uni")
    assert unreachable.status == c.LOAN_STATUS_UNFILLED
    rota = (await peered.coordinator.store.request(unreachable.request_id)).rota
    assert [(e.lender, str(e.outcome)) for e in rota] == [("UNI", "unreachable")]


async def _post(net, body: bytes) -> etree._Element:
    async with aiohttp.ClientSession() as http:
        async with http.post(net.web.url + "iso18626", data=body) as response:
            assert response.status == 200
            root = etree.fromstring(await response.read())
    assert messages.schema().validate(root), messages.schema().error_log
    return root


def _error(root: etree._Element) -> tuple[str, str]:
    n = {"i": messages.NS}
    return (root.findtext(".//i:messageStatus", namespaces=n),
            root.findtext(".//i:errorType", namespaces=n))


async def test_bad_messages_get_iso18626_errors_and_change_nothing(peered):
    store = peered.coordinator.store
    peer = messages.AgencyId("ISIL", "XX-UNI")
    network = messages.AgencyId("LIBFED", "NETWORK")
    good = messages.request_message(
        messages.Header(network, peer, "uni-1"), "2026-12-03T10:00:00Z", title="Война и мир",
        isbn="9785170906895", record_id="", service_type="Loan")
    stranger = messages.request_message(
        messages.Header(network, messages.AgencyId("ISIL", "XX-WHO"), "who-1"),
        "2026-12-03T10:00:00Z", title="x", isbn="9785170906895", record_id="",
        service_type="Loan")
    action = messages.requesting_message(messages.Header(network, peer, "uni-1"),
                                         "2026-12-03T10:00:00Z", action="Received")
    cases = [
        (b"<ISO18626Message><request>", "BadlyFormedMessage"),
        (good.replace(b"<ill:title>", b"<ill:colour>red</ill:colour><ill:title>"),
         "UnrecognisedDataElement"),
        (good.replace(b"<ill:serviceType>Loan", b"<ill:serviceType>Lease"),
         "UnrecognisedDataValue"),
        (action.replace(b">Received<", b">Dance<"), "UnsupportedActionType"),
        (stranger, "UnrecognisedDataValue"),
        (action, "UnrecognisedDataValue"),  # no such request of UNI yet
    ]
    for body, expected in cases:
        assert _error(await _post(peered, body)) == ("ERROR", expected), body[:200]
    assert await store.list_requests(None) == []
    ok = await _post(peered, good)
    assert _error(ok) == ("OK", None)
    assert len(await store.list_requests(None)) == 1


def test_a_peer_cannot_take_a_node_symbol_or_lack_an_agency(tmp_path):
    config, path = CoordinatorConfig.create(tmp_path / "c")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '\n[[coordinator.peers]]\nsymbol = "UNI"\nurl = "http://x/iso18626"\n'
                    'agency_id = "XX-UNI"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="TYPE:VALUE"):
        CoordinatorConfig.load(path)


async def test_a_peer_with_a_registered_node_symbol_stops_the_start(tmp_path):
    net = await start_network(tmp_path, symbols=("BRANCH",))
    await net.coordinator.stop(grace=0)
    net.config.peers = [PeerConfig("BRANCH", "http://127.0.0.1:1/iso18626", "ISIL:XX-B")]
    with pytest.raises(ConfigError, match="BRANCH"):
        await CoordinatorServer(net.config, catalog=net.catalog, harvest=False).start()
    for library in net.libraries.values():
        await library.stop()


def test_add_peer_and_peers_commands(tmp_path):
    import json
    import subprocess

    from federation.demo.processes import libfed_command

    def libfed(*args):
        return subprocess.run(libfed_command(*map(str, args)), capture_output=True, text=True,
                              timeout=60)

    assert libfed("coordinator", "init", "--dir", tmp_path / "c").returncode == 0
    config = tmp_path / "c" / "coordinator.toml"
    added = libfed("coordinator", "add-peer", "--config", config, "--symbol", "KOHA", "--url",
                   "http://127.0.0.1:1/iso18626", "--agency-id", "ISIL:RU-KOHA", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["network_agency_id"] == "LIBFED:NETWORK"
    bad = libfed("coordinator", "add-peer", "--config", config, "--symbol", "X", "--url",
                 "http://x/iso18626", "--agency-id", "no-type")
    assert bad.returncode != 0 and "TYPE:VALUE" in bad.stderr and str(config) in bad.stderr
    again = libfed("coordinator", "add-peer", "--config", config, "--symbol", "KOHA", "--url",
                   "http://x/iso18626", "--agency-id", "ISIL:Y")
    assert again.returncode != 0 and "already" in again.stderr
    listed = json.loads(libfed("coordinator", "peers", "--config", config, "--json").stdout)
    assert [(p["symbol"], p["agency_id"], p["up"]) for p in listed["peers"]] == [
        ("KOHA", "ISIL:RU-KOHA", None)]
    assert CoordinatorConfig.load(config).peers[0].url == "http://127.0.0.1:1/iso18626"


def _last_from_network(outside, kind: str) -> etree._Element:
    n = {"i": messages.NS}
    found = [r[0] for r in outside.received if etree.QName(r[0]).localname == kind]
    assert found, [etree.QName(r[0]).localname for r in outside.received]
    return found[-1], n


async def test_a_borrowing_peer_renews_asks_for_status_and_cancels(peered):
    outside, store = peered.outside, peered.coordinator.store
    theirs = await outside.borrow(isbn="9785170906895")
    request = await store.request_by_key("UNI", theirs)
    assert await until(lambda: _heard(outside, theirs, "WillSupply"))
    await peered.link(request.lender).report_supplier(request.request_id, c.LOAN_STATUS_LOANED)
    assert await until(lambda: _heard(outside, theirs, "Loaned"))
    message, n = _last_from_network(outside, "supplyingAgencyMessage")
    due = message.findtext("i:statusInfo/i:dueDate", namespaces=n)
    assert due and message.findtext("i:messageInfo/i:reasonForMessage", namespaces=n) == \
        "StatusChange"
    await outside.act(theirs, "Received")
    await outside.act(theirs, "Renew")
    assert await until(lambda: _reason(outside, "RenewResponse"))
    message, n = _last_from_network(outside, "supplyingAgencyMessage")
    assert message.findtext("i:messageInfo/i:answerYesNo", namespaces=n) == "Y"
    assert message.findtext("i:statusInfo/i:dueDate", namespaces=n) > due
    assert (await store.request(request.request_id)).renewals == 1
    await outside.act(theirs, "StatusRequest")
    assert await until(lambda: _reason(outside, "StatusRequestResponse"))
    # Too late to cancel: the book is out. An ERROR confirmation says why; nothing changes.
    with pytest.raises(RuntimeError, match="Cancel"):
        await outside.act(theirs, "Cancel")
    assert (await store.request(request.request_id)).status is Status.LOANED
    assert outside.invalid == []


async def _reason(outside, reason: str) -> bool:
    n = {"i": messages.NS}
    return any(r[0].findtext("i:messageInfo/i:reasonForMessage", namespaces=n) == reason
               for r in outside.received)


async def test_a_borrowing_peer_cancels_before_shipping(peered):
    outside, store = peered.outside, peered.coordinator.store
    theirs = await outside.borrow(isbn="9785170906895")
    request = await store.request_by_key("UNI", theirs)
    assert await until(lambda: _heard(outside, theirs, "WillSupply"))
    await outside.act(theirs, "Cancel")
    assert (await store.request(request.request_id)).status is Status.CANCELLED
    assert await until(lambda: _heard(outside, theirs, "Cancelled"))
    assert await until(lambda: _reason(outside, "CancelResponse"))
    await peered.settle()
    lender = peered.libraries[request.lender]
    assert c.LOAN_STATUS_CANCELLED in [u.status for u in lender.calls("UpdateLoanStatus")]


async def test_a_lending_peer_that_cannot_supply_passes_the_request_on(tmp_path):
    """The peer is first in the rota (the nodes have no free copy); its Unfilled sends
    the request to the next lender, a node."""
    outside = await OutsideLibrary(agency=("ISIL", "XX-UNI"), will_supply=False).start()
    clusters = {"c-both": ("Shared", [("BRANCH", "b1"), ("UNI", "u1"), ("LIB_A", "a1")])}
    net = await start_network(
        tmp_path, symbols=("BRANCH", "LIB_A"), catalog=HoldingsTable(clusters),
        peers=[PeerConfig("UNI", outside.url, "ISIL:XX-UNI", priority=5)])
    web = await serve_coordinator_web(net.coordinator, f"127.0.0.1:{free_port()}")
    outside.network_url = web.url + "iso18626"
    try:
        net.libraries["LIB_A"].script.available = 0
        request = await net.link("BRANCH").submit("p-1", cluster_id="c-both")
        assert request.lender_symbol == "UNI"
        assert await until(lambda: _lender_is(net, request.request_id, "LIB_A"))
        rota = (await net.coordinator.store.request(request.request_id)).rota
        assert [(e.lender, str(e.outcome)) for e in rota] == [
            ("UNI", "unfilled"), ("LIB_A", "will_supply")]
        assert "not on the shelf" in rota[0].reason
    finally:
        await web.stop()
        await outside.stop()
        await stop_network(net)


async def _lender_is(net, request_id: str, lender: str) -> bool:
    request = await net.coordinator.store.request(request_id, full=False)
    return request.lender == lender and request.status is Status.WILL_SUPPLY


async def test_a_peer_with_a_security_code_must_send_it(tmp_path):
    outside = await OutsideLibrary(agency=("ISIL", "XX-UNI")).start()
    net = await start_network(
        tmp_path, symbols=("BRANCH", "LIB_A"),
        peers=[PeerConfig("UNI", outside.url, "ISIL:XX-UNI", security_code="s3cret")])
    web = await serve_coordinator_web(net.coordinator, f"127.0.0.1:{free_port()}")
    outside.network_url = web.url + "iso18626"
    try:
        with pytest.raises(RuntimeError, match="securityCode"):
            await outside.borrow(isbn="9785170906895")
        assert await net.coordinator.store.list_requests(None) == []
    finally:
        await web.stop()
        await outside.stop()
        await stop_network(net)


async def test_a_peer_down_for_one_message_hears_them_in_order(peered):
    """WillSupply fails to arrive; Loaned must not overtake it when the peer is back."""
    outside, store = peered.outside, peered.coordinator.store
    port, url = outside.port, outside.network_url
    theirs = await outside.borrow(isbn="9785170906895")
    request = await store.request_by_key("UNI", theirs)
    await outside.stop()  # before the outbox had a chance to send WillSupply
    await asyncio.sleep(0.3)
    await peered.link(request.lender).report_supplier(request.request_id, c.LOAN_STATUS_LOANED)
    back = OutsideLibrary(agency=("ISIL", "XX-UNI"), network_url=url)
    back.borrowed = outside.borrowed
    peered.outside = await back.start(port)
    assert await until(lambda: _heard(back, theirs, "Loaned"), timeout=20)
    heard = [s for s in back.borrowed[theirs].statuses]
    assert heard[-2:] == ["WillSupply", "Loaned"], heard


async def test_a_title_with_a_control_character_still_makes_a_valid_offer(tmp_path, state_db):
    outside = await OutsideLibrary(agency=("ISIL", "XX-UNI")).start()
    clusters = {"c-odd": ("Odd\x1ftitle", [("BRANCH", "b1"), ("UNI", "u1")])}
    net = await start_network(tmp_path, symbols=("BRANCH",), catalog=HoldingsTable(clusters),
                              state_db=state_db,
                              peers=[PeerConfig("UNI", outside.url, "ISIL:XX-UNI")])
    web = await serve_coordinator_web(net.coordinator, f"127.0.0.1:{free_port()}")
    outside.network_url = web.url + "iso18626"
    try:
        request = await net.link("BRANCH").submit("p-1", cluster_id="c-odd")
        assert request.lender_symbol == "UNI"
        assert await until(lambda: _is(net, request.request_id, Status.LOANED))
        assert outside.invalid == []
    finally:
        await web.stop()
        await outside.stop()
        await stop_network(net)
