"""Coordinator routing throughput: five nodes, 100 concurrent submitters.

The coordinator runs as its own process (`libfed coordinator serve`), exactly as
in production, over a real union catalog in which five libraries hold the same
99 Library of Congress works. This process runs the five libraries (LibraryNode
servers that always answer WillSupply at once, so the figure is the
coordinator's own cost) and 100 submitters. One request's latency is the
SubmitRequest round trip: stored → availability asked of the four other holders
in parallel → rota ranked and stored → offered to the first lender → its answer
stored.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import grpc
from libfed.v1 import common_pb2, node_service_pb2, node_service_pb2_grpc
from libfed.v1 import coordinator_service_pb2 as pb
from libfed.v1 import coordinator_service_pb2_grpc as pb_grpc

from benchmarks import Row
from federation.demo.data import DATA
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


async def _submitters(address: str, tokens: dict, clusters: list[str], total: int):
    channel = grpc.aio.insecure_channel(address)
    stub = pb_grpc.CoordinatorStub(channel)
    latencies: list[float] = []
    counter = iter(range(total))

    async def submitter(worker: int) -> None:
        symbol = LIBRARIES[worker % len(LIBRARIES)]
        metadata = (("authorization", f"Bearer {tokens[symbol]}"),)
        for n in counter:
            message = pb.SubmitRequestRequest(
                idempotency_key=f"k{n}", requester_symbol=symbol, patron_ref=f"p{n}",
                cluster_id=clusters[n % len(clusters)],
                service_type=common_pb2.SERVICE_TYPE_LOAN)
            started = time.perf_counter()
            reply = await stub.SubmitRequest(message, metadata=metadata, timeout=30)
            latencies.append(time.perf_counter() - started)
            assert reply.status == common_pb2.LOAN_STATUS_WILL_SUPPLY, reply.status

    started = time.perf_counter()
    await asyncio.gather(*(submitter(i) for i in range(SUBMITTERS)))
    elapsed = time.perf_counter() - started
    await channel.close()
    return elapsed, latencies


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
        await _submitters(address, tokens, clusters, min(300, total // 4))  # warm up
        elapsed, latencies = await _submitters(address, tokens, clusters, total)
        group.stop_all()
    rate = len(latencies) / elapsed
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    note = f"{len(latencies)} requests, {SUBMITTERS} submitters, {len(LIBRARIES)} nodes"
    return [
        Row("coordinator: routed requests", rate, "req/s", ">= 500", rate >= 500, note),
        Row("coordinator: submit→offered p50", p50, "ms", "", None, note),
        Row("coordinator: submit→offered p99", p99, "ms", "<= 50", p99 <= 50, note),
    ]


def run(quick: bool) -> list[Row]:
    return asyncio.run(_bench(600 if quick else 3000))
