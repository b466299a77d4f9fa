"""Coordinator routing throughput: five nodes, 100 concurrent submitters.

The coordinator runs as its own process (`libfed coordinator serve`), exactly as
in production, over a real union catalog in which five libraries hold the same
99 Library of Congress works. This process runs the five libraries (LibraryNode
servers that always answer WillSupply at once, so the figure is the
coordinator's own cost) and 100 submitters. One request's latency is the
SubmitRequest round trip: availability asked of the four other holders in
parallel → request and ranked rota stored → offered to the first lender → its
answer stored.

Two runs: 100 closed-loop submitters give the throughput (each sends its next
request when one is answered, so their latency is just 100 / throughput, by
Little's law); then requests arriving at a steady rate below saturation give
the latency a desk actually sees.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import grpc
from libfed.v1 import common_pb2, node_service_pb2, node_service_pb2_grpc
from libfed.v1 import coordinator_service_pb2 as pb
from libfed.v1 import coordinator_service_pb2_grpc as pb_grpc

from benchmarks import Row
from federation.demo.libraries import DATA
from federation.demo.processes import ProcessGroup, wait_for_port

LIBRARIES = ("B1", "B2", "B3", "B4", "B5")
SUBMITTERS = 100


class QuickLender(node_service_pb2_grpc.LibraryNodeServicer):
    """A library that always has a copy and always lends."""

    async def GetAvailability(self, request, context):  # noqa: N802
        return node_service_pb2.GetAvailabilityResponse(available_count=1, open_loans=0)

    async def OfferLoan(self, request, context):  # noqa: N802
        return node_service_pb2.OfferLoanResponse(status=common_pb2.LOAN_STATUS_WILL_SUPPLY)

    async def UpdateLoanStatus(self, request, context):  # noqa: N802
        return node_service_pb2.UpdateLoanStatusResponse()


async def _catalog(path: Path) -> list[str]:
    """A union catalog where every library holds the same works; their cluster ids."""
    from federation.catalog import HarvestedRecord, SourceState, UnionCatalog
    from federation.records import iter_file

    records = [r for r in iter_file(DATA / "loc_general.xml") if not isinstance(r, Exception)]
    async with await UnionCatalog.open(path) as catalog:
        for symbol in LIBRARIES:
            state = SourceState(symbol, symbol, f"http://127.0.0.1:1/{symbol}/oai")
            harvested = [HarvestedRecord(f"oai:{symbol.lower()}:{r.id}", "2024-01-01", r, b"")
                         for r in records]
            await catalog.commit_page(state, harvested, [], [])
        clusters = [c["cluster_id"] async for c in catalog.dump()]
    return clusters


async def _setup(home: Path, ports: list[int]) -> tuple[Path, dict[str, str], list[str]]:
    from federation.coordinator.config import CoordinatorConfig
    from federation.coordinator.registry import NodeRegistry
    from federation.coordinator.store import CoordinatorStore

    config, path = CoordinatorConfig.create(home, _free_port())
    config.health_interval = config.harvest_interval = 3600.0
    config.write(path)
    clusters = await _catalog(config.catalog_path)
    store = await CoordinatorStore.open(config.state_path)
    registry = NodeRegistry(store, config.secret)
    tokens = {}
    for symbol, port in zip(LIBRARIES, ports, strict=True):
        tokens[symbol] = await registry.add_node(symbol, symbol, f"127.0.0.1:{port}",
                                                 f"http://127.0.0.1:1/{symbol}/oai")
    await store.close()
    return path, tokens, clusters


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Submitters:
    """Readers' desks at the five libraries, submitting over one channel."""

    def __init__(self, address: str, tokens: dict, clusters: list[str]) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = pb_grpc.CoordinatorStub(self.channel)
        self.tokens = tokens
        self.clusters = clusters
        self.sent = 0

    async def one(self, latencies: list[float]) -> None:
        n = self.sent
        self.sent += 1
        symbol = LIBRARIES[n % len(LIBRARIES)]
        message = pb.SubmitRequestRequest(
            idempotency_key=f"k{n}", requester_symbol=symbol, patron_ref=f"p{n}",
            cluster_id=self.clusters[n % len(self.clusters)],
            service_type=common_pb2.SERVICE_TYPE_LOAN)
        metadata = (("authorization", f"Bearer {self.tokens[symbol]}"),)
        started = time.perf_counter()
        reply = await self.stub.SubmitRequest(message, metadata=metadata, timeout=30)
        latencies.append(time.perf_counter() - started)
        assert reply.status == common_pb2.LOAN_STATUS_WILL_SUPPLY, reply.status

    async def closed_loop(self, total: int) -> tuple[float, list[float]]:
        """100 submitters, each sending its next request as soon as one is answered."""
        latencies: list[float] = []
        remaining = iter(range(total))

        async def submitter() -> None:
            for _ in remaining:
                await self.one(latencies)

        started = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))
        return time.perf_counter() - started, latencies

    async def paced(self, rate: float, seconds: float) -> list[float]:
        """Requests arriving at ``rate`` per second (at most 100 in flight): latency."""
        latencies: list[float] = []
        in_flight = asyncio.Semaphore(SUBMITTERS)
        tasks = []
        started = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await in_flight.acquire()
            task = asyncio.create_task(self.one(latencies))
            task.add_done_callback(lambda _: in_flight.release())
            tasks.append(task)
        await asyncio.gather(*tasks)
        return latencies

    async def close(self) -> None:
        await self.channel.close()


async def _bench(total: int) -> list[Row]:
    servers = []
    ports = []
    for _ in LIBRARIES:
        server = grpc.aio.server()
        node_service_pb2_grpc.add_LibraryNodeServicer_to_server(QuickLender(), server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
    group = ProcessGroup()
    try:
        return await _measure(group, ports, total)
    finally:
        group.stop_all()
        for server in servers:
            await server.stop(0)


async def _measure(group: ProcessGroup, ports: list[int], total: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        config_path, tokens, clusters = await _setup(Path(tmp) / "coordinator", ports)
        from federation.coordinator.config import CoordinatorConfig

        address = CoordinatorConfig.load(config_path).listen
        process = group.start("coordinator", ["coordinator", "serve", "--config",
                                              str(config_path), "--no-web"],
                              Path(tmp) / "coordinator.log")
        wait_for_port(address, process=process, log=Path(tmp) / "coordinator.log")
        desks = Submitters(address, tokens, clusters)
        await desks.closed_loop(min(300, total // 4))  # warm up
        elapsed, saturated = await desks.closed_loop(total)
        rate = len(saturated) / elapsed
        paced_rate = min(500.0, round(rate * 0.75, -1))
        paced = await desks.paced(paced_rate, seconds=total / 1000)
        await desks.close()
        group.stop_all()
    note = f"{len(saturated)} requests, {SUBMITTERS} submitters, {len(LIBRARIES)} nodes"
    p50, p99 = _percentile(paced, 0.50), _percentile(paced, 0.99)
    paced_note = f"{len(paced)} requests arriving at {paced_rate:.0f}/s (≤{SUBMITTERS} in flight)"
    return [
        Row("coordinator: routed requests", rate, "req/s", ">= 500", rate >= 500, note),
        Row("coordinator: p50 with 100 submitters", _percentile(saturated, 0.5), "ms", "",
            None, "closed loop: latency = in flight / throughput"),
        Row("coordinator: submit→offered p50", p50, "ms", "", None, paced_note),
        Row("coordinator: submit→offered p99", p99, "ms", "<= 50", p99 <= 50, paced_note),
    ]


def _percentile(latencies: list[float], fraction: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def run(quick: bool) -> list[Row]:
    return asyncio.run(_bench(600 if quick else 3000))
