"""A real federation on loopback, in a thread of its own, for the web tests.

Three libraries are real node processes' parts (holdings store, LibraryNode and
Patrons gRPC, OAI-PMH over HTTP) filled with real records; the coordinator is
the real one with a real union catalog that harvests them; the web pages are
served by it. Everything runs on one event loop in a background thread so the
browser (blocking selenium calls) and plain HTTP clients can talk to it from
the test's thread, and the test can still act as a lender does.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.server import CoordinatorServer
from node.config import NodeConfig
from node.coordinator_link import CoordinatorLink
from node.importer import Importer
from node.patrons import PatronRegister
from node.server import NodeServer
from node.store import HoldingsStore
from tests.conftest import FIXTURES, free_port

RSL = FIXTURES / "records" / "rsl"
#: (symbol, name, record files). Some books are held by two libraries, so the union
#: catalog merges their records into shared works a reader can borrow.
LIBRARIES = (
    ("MSK", "Московская городская библиотека", [
        RSL / f for f in ("1_marc21.mrc", "2_marc21.mrc", "3_marc21.mrc", "6_marc21.mrc",
                          "rsl01003501478.mrc", "rsl01003546177.mrc")]),
    ("SPB", "Санкт-Петербургская библиотека", [
        RSL / f for f in ("2_marc21.mrc", "3_marc21.mrc", "rsl01003546177.mrc",
                          "rsl01003579789.mrc", "svod-date-problem-8.mrc", "nokey.mrc")]),
    ("TVER", "Тверская областная библиотека", [
        RSL / f for f in ("4_marc21.mrc", "rsl01003579789.mrc", "rsl01003678236.mrc",
                          "rsl01004660132.mrc", "rsl01005452708.mrc", "svod-date-problem-8.mrx")]),
)
READERS = "card_number,pin,display_name\n{prefix}1001,4321,Анна Петрова\n{prefix}1002,1111,Ivan Reader\n"
STAFF_USER, STAFF_PASSWORD = "maria", "correct horse battery"


def search_words(title: str) -> str:
    """Two plain words of a title: what a reader would type."""
    words = [w for w in re.findall(r"\w+", title) if len(w) > 2 and not w.isdigit()]
    return " ".join(words[:2])


@dataclass
class LiveFederation:
    root: Path
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    nodes: dict[str, NodeServer] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    coordinator: CoordinatorServer | None = None
    web: Any = None
    thread: threading.Thread | None = None

    # -- running things on the federation's loop ---------------------------------

    def start(self) -> LiveFederation:
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="federation")
        self.thread.start()
        self.run(self._start(), timeout=120)
        return self

    def run(self, coro: Coroutine, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        try:
            self.run(self._stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            if self.thread:
                self.thread.join(10)

    @property
    def url(self) -> str:
        return self.web.url.rstrip("/")

    # -- setting up ------------------------------------------------------------------

    async def _start(self) -> None:
        config, path = CoordinatorConfig.create(self.root / "coordinator", free_port())
        for key, value in dict(
            answer_deadline=60.0, availability_timeout=2.0, call_timeout=3.0, call_attempts=2,
            retry_backoff=0.05, health_interval=0.5, harvest_interval=3600.0, tick_interval=0.2,
        ).items():
            setattr(config, key, value)
        config.write(path)
        config = CoordinatorConfig.load(path)
        self.coordinator = await CoordinatorServer(config, harvest=False).start()
        for symbol, name, files in LIBRARIES:
            await self._add_library(symbol, name, files, f"127.0.0.1:{self.coordinator.port}")
        await self.coordinator.harvest_all()
        await self._all_up()
        from federation.web.serve import serve_coordinator_web

        self.web = await serve_coordinator_web(
            self.coordinator, "127.0.0.1:0", refresh_seconds=1, availability_timeout=2.0
        )
        await self.web.staff.add_user(STAFF_USER, STAFF_PASSWORD)

    async def _all_up(self, timeout: float = 15.0) -> None:
        """Health-check until every library is up: a busy machine may miss the first check."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            nodes = await self.coordinator.registry.check_health(self.coordinator.gateway)
            if all(node.up for node in nodes):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"libraries not up: {[n.symbol for n in nodes if not n.up]}")
            await asyncio.sleep(0.2)

    async def _add_library(self, symbol: str, name: str, files: list[Path], coordinator: str) -> None:
        home = self.root / symbol
        grpc_port, http_port = free_port(), free_port()
        token = await self.coordinator.registry.add_node(
            symbol, name, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}/oai"
        )
        self.tokens[symbol] = token
        config = NodeConfig(
            symbol=symbol, name=name, database=home / "holdings.sqlite",
            grpc_listen=f"127.0.0.1:{grpc_port}", http_listen=f"127.0.0.1:{http_port}",
            extra={"coordinator": {"address": coordinator, "token": token}},
        )
        store = await HoldingsStore.open(config.database_path())
        await Importer(store, default_location="Абонемент").import_files(files)
        await store.close()
        readers = home / "readers.csv"
        readers.write_text(READERS.format(prefix=symbol), encoding="utf-8")
        register = await PatronRegister.open(home / "patrons.db", scrypt_n=2**10)
        await register.import_csv(readers)
        await register.close()
        node = NodeServer(config)
        await node.start()
        self.nodes[symbol] = node

    async def _stop(self) -> None:
        if self.web is not None:
            await self.web.stop()
        if self.coordinator is not None:
            await self.coordinator.stop(grace=0)
        for node in self.nodes.values():
            await node.stop(grace=0)

    # -- what libraries and staff do in the stories -------------------------------------

    def stop_node(self, symbol: str) -> None:
        self.run(self.nodes[symbol].stop(grace=0))

    def request(self, request_id: str):
        return self.run(self.coordinator.loans.get(None, request_id))

    def settle(self) -> None:
        """Let the coordinator finish routing and sending what it owes the nodes."""
        from federation.coordinator import duties

        async def settle() -> None:
            await self.coordinator.loans.drain()
            await duties.send_outbox(self.coordinator.loans)

        self.run(settle())

    def ship(self, request_id: str) -> None:
        """The lender's staff ship the book: Loaned, reported over gRPC as a node does."""
        from libfed.v1 import common_pb2

        self.settle()
        loan = self.request(request_id)

        async def ship() -> None:
            link = CoordinatorLink(f"127.0.0.1:{self.coordinator.port}", self.tokens[loan.lender], loan.lender)
            try:
                await link.report_supplier(
                    request_id, common_pb2.LOAN_STATUS_LOANED, attempt=loan.attempt
                )
            finally:
                await link.close()

        self.run(ship())

    def receive(self, request_id: str) -> None:
        """The requesting library's staff hand the book to the reader: Received."""
        from libfed.v1 import common_pb2

        loan = self.request(request_id)

        async def receive() -> None:
            link = CoordinatorLink(f"127.0.0.1:{self.coordinator.port}",
                                   self.tokens[loan.requester], loan.requester)
            try:
                await link.report_requester(request_id, common_pb2.REQUESTER_ACTION_RECEIVED)
            finally:
                await link.close()

        self.run(receive())

    # -- finding things to ask for -------------------------------------------------------

    def works(self) -> list[dict]:
        """Every work of the union catalog with its holding libraries and title."""

        async def collect() -> list[dict]:
            catalog = self.coordinator.catalog
            found = []
            async for cluster in catalog.dump():
                detail = await catalog.get_cluster(cluster["cluster_id"])
                found.append({
                    "cluster_id": cluster["cluster_id"],
                    "title": detail.summary.title,
                    "libraries": sorted({m["library"] for m in cluster["members"]}),
                })
            return found

        return self.run(collect())

    def work_to_borrow(self, home: str) -> dict:
        """A work the reader's home library does not hold, held by the most others."""
        candidates = [w for w in self.works() if home not in w["libraries"] and w["title"]]
        return max(candidates, key=lambda w: (len(w["libraries"]), w["title"]))
