"""End to end: real `libfed node serve` and `libfed coordinator serve` processes on loopback.

Four libraries hold overlapping slices of the Library of Congress sample, so
the union catalog (harvested over OAI-PMH by the coordinator) has works held by
three or four of them. Staff drive loans with the real `libfed node …`
commands; processes are killed with SIGKILL to show nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from libfed.v1 import common_pb2 as c

from federation.demo.libraries import DATA, slice_marcxml
from federation.demo.network import CommandFailed, FederationRun
from federation.demo.processes import libfed_command
from federation.errors import PermissionDenied
from node.coordinator_link import CoordinatorLink
from tests.conftest import free_port

#: Who holds which records of loc_general.xml.
SLICES = {"LOC": (0, 40), "BL": (0, 40), "DNB": (0, 40), "PUL": (20, 60)}
CARD = "CARD-4242-SECRET"


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    root = tmp_path_factory.mktemp("federation")
    run = FederationRun(root)
    run.init_coordinator(
        free_port(), answer_deadline=3.0, health_interval=0.5, harvest_interval=3600.0,
        tick_interval=0.2, availability_timeout=1.0, call_timeout=1.0, call_attempts=2,
        retry_backoff=0.1,
    )
    specs = []
    for symbol, (start, stop) in SLICES.items():
        part = slice_marcxml(DATA / "loc_general.xml", start, stop, root / f"{symbol}.xml")
        specs.append((symbol, f"Library {symbol}", [part]))
    run.add_libraries(specs)
    try:
        run.start_nodes()
        run.start_coordinator()
        run.wait_harvested(timeout=120)
        yield run
    finally:
        run.stop()


class Works:
    """Hands out works held by LOC, BL and DNB (and PUL for the second half)."""

    def __init__(self, run: FederationRun) -> None:
        from federation.demo.script import clusters_held_by_many

        catalog = run.coordinator_config.parent / "catalog.sqlite"
        self.works = asyncio.run(clusters_held_by_many(catalog))

    def take(self, holders: set[str]) -> str:
        for work in self.works:
            if set(work.libraries) == holders:
                self.works.remove(work)
                return work.cluster_id
        raise LookupError(holders)


@pytest.fixture(scope="module")
def works(federation):
    return Works(federation)


def node(run: FederationRun, symbol: str, *args: str) -> dict:
    """`libfed node <command> --config <symbol> … --json`."""
    return json.loads(run.cli("node", args[0], "--config", run.libraries[symbol].config,
                              *args[1:], "--json"))


def show(run: FederationRun, request_id: str) -> dict:
    return json.loads(run.cli("request", "show", request_id, "--config",
                              run.coordinator_config, "--json"))


def test_a_loan_from_request_to_completion(federation, works):
    cluster = works.take({"LOC", "BL", "DNB"})
    request = node(federation, "BL", "request", "--patron", CARD, "--cluster", cluster)
    rid, lender = request["request_id"], request["lender_symbol"]
    assert request["status"] == "WillSupply" and lender in {"LOC", "DNB"}
    assert node(federation, lender, "ship", rid)["status"] == "Loaned"
    assert node(federation, "BL", "receive", rid)["last_requester_action"] == "Received"
    due = show(federation, rid)["due_time"]
    renewed = node(federation, "BL", "renew", rid)
    assert renewed["status"] == "Loaned" and renewed["renewals"] == 1
    assert show(federation, rid)["due_time"] > due
    # The lender needs it back: Recalled, and a recalled loan is not renewed.
    assert node(federation, lender, "recall", rid, "--reason", "wanted here")["status"] == "Recalled"
    with pytest.raises(CommandFailed, match="Renew"):
        node(federation, "BL", "renew", rid)
    node(federation, "BL", "return", rid)
    assert node(federation, lender, "checkin", rid)["status"] == "LoanCompleted"
    shown = show(federation, rid)
    assert [e["to"] for e in shown["history"]][-1] == "LoanCompleted"
    # The lender's own system followed: its loan is closed.
    stats = json.loads(federation.cli("node", "stats", "--config",
                                      federation.libraries[lender].config, "--json"))
    assert stats["loans_by_status"].get("LoanCompleted") == 1


def test_a_copy_request(federation, works):
    cluster = works.take({"LOC", "BL", "DNB"})
    request = node(federation, "DNB", "request", "--patron", "D-1", "--cluster", cluster, "--copy")
    done = node(federation, request["lender_symbol"], "ship", request["request_id"])
    assert done["status"] == "CopyCompleted"


def test_unfilled_moves_on_and_the_end_of_rota_is_unfilled(federation, works):
    cluster = works.take({"LOC", "BL", "DNB"})
    request = node(federation, "LOC", "request", "--patron", "L-7", "--cluster", cluster)
    rid, first = request["request_id"], request["lender_symbol"]
    moved = node(federation, first, "answer", rid, "--reason", "NotOnShelf")
    second = moved["lender_symbol"]
    assert moved["status"] == "WillSupply" and second not in {first, "LOC", ""}
    ended = node(federation, second, "answer", rid, "--reason", "InUse")
    assert ended["status"] == "Unfilled"
    rota = show(federation, rid)["rota"]
    assert [(e["lender"], e["outcome"], e["reason"]) for e in rota] == [
        (first, "unfilled", "NotOnShelf"), (second, "unfilled", "InUse")]


def test_the_same_key_returns_the_same_request_and_a_second_open_one_is_refused(
    federation, works
):
    cluster = works.take({"LOC", "BL", "DNB"})
    args = ("request", "--patron", "B-9", "--cluster", cluster, "--key", "desk-7-0001")
    first = node(federation, "BL", *args)
    again = node(federation, "BL", *args)
    assert again["request_id"] == first["request_id"]
    with pytest.raises(CommandFailed, match="already has an open request"):
        node(federation, "BL", "request", "--patron", "B-9", "--cluster", cluster)


def test_a_node_impersonating_another_is_permission_denied(federation, works):
    cluster = works.take({"LOC", "BL", "DNB"})
    request = node(federation, "BL", "request", "--patron", "B-3", "--cluster", cluster)

    async def pose():
        # PUL's own token, but it claims to be BL, or acts on a request it is no party to.
        link = CoordinatorLink(federation.coordinator_address,
                               federation.libraries["PUL"].token, "BL")
        async with link:
            with pytest.raises(PermissionDenied):
                await link.submit("p-x", cluster_id=cluster)
            with pytest.raises(PermissionDenied):
                await link.cancel(request["request_id"])
            with pytest.raises(PermissionDenied):
                await link.report_supplier(request["request_id"], c.LOAN_STATUS_LOANED)

    asyncio.run(pose())


def test_a_lender_killed_mid_request_hands_the_loan_to_the_next(federation, works):
    cluster = works.take({"LOC", "BL", "DNB"})
    request = node(federation, "BL", "request", "--patron", "B-5", "--cluster", cluster)
    rid, first = request["request_id"], request["lender_symbol"]
    library = federation.libraries[first]
    federation.group.kill(library.process)           # crash, with a copy reserved
    try:
        moved = wait_for_sync(lambda: _lender_other_than(federation, rid, first), 20)
        assert moved["status"] == "WillSupply"
        rota = {e["lender"]: e for e in moved["rota"]}
        assert rota[first]["outcome"] == "timeout"
    finally:
        federation.start_node(first)
    # Back up, the first lender is told to release its copy (the outbox kept the message).
    stats = wait_for_sync(lambda: _loans(federation, first, "Cancelled"), 20)
    assert stats >= 1


def test_the_coordinator_killed_and_restarted_loses_and_doubles_nothing(federation, works):
    clusters = [works.take({"LOC", "BL", "DNB"}) for _ in range(3)]
    loaned = node(federation, "BL", "request", "--patron", "B-11", "--cluster", clusters[0])
    node(federation, loaned["lender_symbol"], "ship", loaned["request_id"])
    waiting = node(federation, "BL", "request", "--patron", "B-12", "--cluster", clusters[1])
    # A submission in flight when the coordinator dies: the holders are paused, so the
    # coordinator has it (its log says so) and waits on their availability when killed.
    config = federation.libraries["PUL"].config
    holders = [federation.group.processes[f"node-{symbol}"] for symbol in ("LOC", "BL", "DNB")]
    for process in holders:
        process.send_signal(signal.SIGSTOP)
    try:
        flying = subprocess.Popen(
            libfed_command("node", "request", "--config", str(config), "--patron", "P-13",
                           "--cluster", clusters[2], "--key", "in-flight-1", "--json"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        log = federation.group.logs["coordinator"]
        wait_for_sync(lambda: "key in-flight-1" in log.read_text(errors="replace"), 30)
        federation.group.kill("coordinator")
        flying.wait(60)
    finally:
        for process in holders:
            process.send_signal(signal.SIGCONT)
    assert flying.returncode != 0, "the coordinator died before it could answer"
    federation.start_coordinator()
    # The desk retries the submission with the same key: exactly one request results.
    retried = node(federation, "PUL", "request", "--patron", "P-13", "--cluster", clusters[2],
                   "--key", "in-flight-1")
    assert retried["status"] == "WillSupply"
    mine = [r for r in node(federation, "PUL", "requests")
            if r.get("cluster_id") == clusters[2]]
    assert [r["request_id"] for r in mine] == [retried["request_id"]]
    # The loans from before the crash carry on to the end.
    lender = loaned["lender_symbol"]
    node(federation, "BL", "receive", loaned["request_id"])
    node(federation, "BL", "return", loaned["request_id"])
    assert node(federation, lender, "checkin", loaned["request_id"])["status"] == "LoanCompleted"
    shipped = node(federation, waiting["lender_symbol"], "ship", waiting["request_id"])
    assert shipped["status"] == "Loaned"


def test_the_status_shows_nodes_harvests_and_loans(federation):
    status = json.loads(federation.cli("status", "--coordinator",
                                       federation.coordinator_address, "--json"))
    assert {n["symbol"] for n in status["nodes"] if n["up"]} == set(SLICES)
    # Each node is harvested in both its formats; these libraries hold no RUSMARC.
    assert {s["name"]: s["records"] for s in status["sources"]} == {
        symbol: stop - start for symbol, (start, stop) in SLICES.items()} | {
        f"{symbol}:rusmarc": 0 for symbol in SLICES}
    assert status["catalog_clusters"] == 60
    assert sum(row["lent"] for row in status["lending"]) >= 4
    assert 0 < status["fill_rate"] <= 1
    same = json.loads(federation.cli("status", "--config", federation.coordinator_config,
                                     "--json"))
    assert same["catalog_records"] == status["catalog_records"] == 160


def test_no_reader_card_number_ever_leaves_the_requesting_node(federation):
    """Every file of the run — databases, logs, configs of all processes — is searched."""
    card = CARD.encode()
    found = [path for path in Path(federation.root).rglob("*")
             if path.is_file() and card in path.read_bytes()]
    assert found == []


# -- helpers ---------------------------------------------------------------------------


def wait_for_sync(probe, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def _lender_other_than(run, rid, first):
    current = show(run, rid)
    return current if current["lender"] not in ("", first) else None


def _loans(run, symbol, status):
    stats = json.loads(run.cli("node", "stats", "--config", run.libraries[symbol].config,
                               "--json"))
    return stats["loans_by_status"].get(status, 0)

