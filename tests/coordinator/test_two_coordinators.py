"""Two real `libfed coordinator serve` processes on one PostgreSQL state database.

Both run their clocks (answer deadlines, the outbox) over the same requests. Every
lender only says ExpectToSupply and then stays silent, so each request is passed
from lender to lender by whichever coordinator's deadline check comes first, to the
end of its rota. While both run, no lender may be offered one attempt twice or told
of one release twice. Halfway, one coordinator is killed and the other finishes the
work alone; it may send again the one attempt a request had in flight in the killed
one (sent, not yet saved as sent), as the design says, and nothing else.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import subprocess

import pytest
from libfed.v1 import common_pb2 as c

from federation.catalog import UnionCatalog
from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.model import Status
from federation.coordinator.registry import NodeRegistry
from federation.coordinator.store import CoordinatorStore
from federation.demo.processes import libfed_command, wait_for_port
from node.coordinator_link import CoordinatorLink, coordinator_credential_in
from tests.catalog.conftest import DEMO, harvested, read, source
from tests.conftest import free_port
from tests.coordinator.libraries import ScriptedLibrary

LENDERS = ("LIB_A", "LIB_B", "LIB_C")
REQUESTS = 12


async def _catalog(path) -> list[str]:
    """A union catalog where the requester and three lenders hold the same real books."""
    records = read(DEMO / "loc_general.xml")[:REQUESTS]
    async with await UnionCatalog.open(path) as catalog:
        for library in ("BRANCH", *LENDERS):
            src = source(library.lower(), library)
            await catalog.save_source(src)
            await catalog.commit_page(src, [harvested(r, src) for r in records], [], [])
        clusters = [cluster["cluster_id"] async for cluster in catalog.dump()
                    if len(cluster["members"]) == 4]
    assert len(clusters) >= REQUESTS - 2, clusters
    return clusters


def _config(folder, url: str, catalog, secret: str = "") -> CoordinatorConfig:
    config, path = CoordinatorConfig.create(folder, free_port())
    config.state_db, config.catalog_db = url, str(catalog)
    config.secret = secret or config.secret
    for key, value in dict(answer_deadline=0.8, availability_timeout=1.0, call_timeout=2.0,
                           call_attempts=2, retry_backoff=0.05, health_interval=3600.0,
                           harvest_interval=3600.0, tick_interval=0.1).items():
        setattr(config, key, value)
    config.write(path)
    return CoordinatorConfig.load(path)


async def test_two_coordinators_never_offer_or_release_one_attempt_twice(tmp_path, postgres_url):
    clusters = await _catalog(tmp_path / "catalog.sqlite")
    first = _config(tmp_path / "a", postgres_url, tmp_path / "catalog.sqlite")
    second = _config(tmp_path / "b", postgres_url, tmp_path / "catalog.sqlite", first.secret)
    libraries = {symbol: await ScriptedLibrary(symbol).start()
                 for symbol in ("BRANCH", *LENDERS)}
    for library in libraries.values():
        library.script.answer = c.LOAN_STATUS_EXPECT_TO_SUPPLY
    store = await CoordinatorStore.open(postgres_url)
    registry = NodeRegistry(store, first.secret)
    tokens = {}
    for symbol, library in libraries.items():
        tokens[symbol] = await registry.add_node(symbol, symbol, library.address,
                                                 f"http://127.0.0.1:1/{symbol}/oai")
        library.expected_token = coordinator_credential_in(tokens[symbol])
    processes = []
    try:
        for config in (first, second):
            log = open(config.home / "coordinator.log", "wb")  # noqa: SIM115 - closed below
            processes.append((subprocess.Popen(
                libfed_command("coordinator", "serve", "--config",
                               str(config.home / "coordinator.toml"), "--no-web"),
                stdout=log, stderr=subprocess.STDOUT), log))
        for config, (process, _) in zip((first, second), processes, strict=True):
            await asyncio.to_thread(wait_for_port, config.listen, 60.0, process)
        links = [CoordinatorLink(config.listen, tokens["BRANCH"], "BRANCH")
                 for config in (first, second)]
        ids = []
        for n, cluster in enumerate(clusters[:REQUESTS]):
            request = await links[n % 2].submit(f"p-{n}", cluster_id=cluster)
            ids.append(request.request_id)
        await asyncio.sleep(1.0)  # both coordinators pass requests on for a while
        processes[0][0].send_signal(signal.SIGKILL)  # then the second carries on alone
        processes[0][0].wait()
        # What each lender had heard when the first coordinator died.
        heard_before_kill = {symbol: len(libraries[symbol].received) for symbol in LENDERS}

        async def all_unfilled() -> bool:
            for request_id in ids:
                if (await store.request(request_id, full=False)).status is not Status.UNFILLED:
                    return False
            return True

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not await all_unfilled():
            assert loop.time() < deadline, "requests did not reach the end of their rota"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # the last releases leave the outbox
        for link in links:
            await link.close()
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            log.close()
        for library in libraries.values():
            await library.stop()
    # While both ran, each (request, attempt) reached its lender once. The killed one
    # may have sent an offer or a release it had not yet saved as sent: the survivor
    # sends that attempt again, by design (the lender answers a repeated attempt the
    # same way, service._offer_next), and nothing is sent a third time.
    offers = {"before": collections.Counter(), "after": collections.Counter()}
    releases = {"before": collections.Counter(), "after": collections.Counter()}
    for symbol in LENDERS:
        for n, received in enumerate(libraries[symbol].received):
            when = "before" if n < heard_before_kill[symbol] else "after"
            message = received.message
            if received.method == "OfferLoan":
                offers[when][(message.request_id, message.attempt)] += 1
            elif (received.method == "UpdateLoanStatus"
                  and message.status == c.LOAN_STATUS_CANCELLED):
                releases[when][(message.request_id, message.attempt)] += 1
    for sent in (offers, releases):
        before, after = sent["before"], sent["after"]
        assert set(before.values()) <= {1}, [k for k, v in before.items() if v > 1]
        assert set(after.values()) <= {1}, [k for k, v in after.items() if v > 1]
        # Sent again: only what the killed one had in flight, one attempt a request
        # (it held the request's lock while sending).
        again = collections.Counter(request_id for request_id, attempt in after
                                    if (request_id, attempt) in before)
        assert set(again.values()) <= {1}, again
        assert len(before | after) == REQUESTS * len(LENDERS)
    for request_id in ids:
        request = await store.request(request_id)
        assert [str(e.outcome) for e in request.rota] == ["timeout"] * 3
    await store.close()


@pytest.fixture(autouse=True)
def _needs_postgres(request):
    """This test is about PostgreSQL only: skip it cleanly where none can start."""
    request.getfixturevalue("postgres_server")


async def test_a_dropped_database_connection_is_opened_again(postgres_url,
                                                                             postgres_server):
    from federation.coordinator.model import Node
    from federation.errors import Unavailable

    store = await CoordinatorStore.open(postgres_url)
    try:
        await store.add_node(Node("LIB", "A library", "127.0.0.1:1", "http://x/oai"), "h", 1.0)
        database = postgres_url.rsplit("/", 1)[1]
        postgres_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            f" WHERE datname = '{database}'")
        # Reads and lock questions are asked again on a new connection; a write whose
        # connection was dropped fails (its outcome was unknown), and the next one works.
        assert [n.symbol for n in await store.nodes()] == ["LIB"]
        async with store.locks("ill-1"):
            pass
        with pytest.raises(Unavailable):
            await store.record_health("LIB", up=True, latency_ms=1.0, error="", at=2.0)
        await store.record_health("LIB", up=True, latency_ms=1.0, error="", at=2.0)
        assert (await store.node("LIB")).up
    finally:
        await store.close()


async def test_locks_lost_with_their_session_stop_the_writes_made_under_them(postgres_url,
                                                                             postgres_server):
    from federation.coordinator.model import Node
    from federation.errors import Unavailable

    first, second = (await CoordinatorStore.open(postgres_url),
                     await CoordinatorStore.open(postgres_url))
    try:
        async with first.locks("ill-x"):
            pid = postgres_server.sql(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted").strip()
            postgres_server.sql(f"SELECT pg_terminate_backend({pid})")
            async with second.locks("ill-x"):  # the other coordinator may take it now
                pass
            await first.locks.try_duty("probe")  # the first one notices on its next question
            await first.locks.end_duty("probe")
            with pytest.raises(Unavailable, match="lost"):
                await first.add_node(Node("LIB", "A", "127.0.0.1:1", "http://x/oai"), "h", 1.0)
        # Once the holder let go, writes go on.
        await first.add_node(Node("LIB", "A", "127.0.0.1:1", "http://x/oai"), "h", 1.0)
    finally:
        await first.close()
        await second.close()
