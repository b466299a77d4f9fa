"""Node benchmark: a library of 100,000 real records (10,000 with --quick).

Real records (the CC0 Library of Congress/BL/DNB/... samples and the NLR
RUSMARC records in tests/fixtures) are replicated under new ids into one ISO
2709 file. Measured: the import rate of that file; OAI-PMH ListRecords marc21
served to a client that reads the whole list (the node runs as its own
process, as in production); gRPC GetAvailability with 32 concurrent callers.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import grpc
import pymarc
from libfed.v1 import node_service_pb2, node_service_pb2_grpc

from benchmarks import Row
from federation.records import Record, iter_file, to_iso2709
from node.config import NodeConfig, save
from node.importer import Importer
from node.store import HoldingsStore

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *sorted((ROOT / "tests" / "fixtures" / "records" / "demo").glob("*.xml")),
    *sorted((ROOT / "tests" / "fixtures" / "records" / "rsl").glob("NLR*.mrc")),
    ROOT / "tests" / "fixtures" / "node" / "traject-batch.dat",
]
CALLERS = 32
#: Client processes the 32 callers are spread over (see :func:`availability`).
CLIENT_PROCESSES = 2
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]*)</resumptionToken>")


def run(quick: bool) -> list[Row]:
    size = 10_000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="libfed-bench-node-") as folder:
        folder_path = Path(folder)
        source = folder_path / "records.mrc"
        ids = write_replicas(source, size)
        config = NodeConfig(
            symbol="BENCH",
            name="Benchmark library",
            database=folder_path / "holdings.sqlite",
            grpc_listen=f"127.0.0.1:{_free_port()}",
            http_listen=f"127.0.0.1:{_free_port()}",
        )
        save(config, folder_path / "node.toml")
        import_seconds = asyncio.run(import_file(config, source))
        served, harvest_seconds = serve_and_measure(config, folder_path / "node.toml", ids, quick)
    oai_rate = served / harvest_seconds
    return [
        Row(
            "node import (ISO 2709 file)",
            size / import_seconds,
            "rec/s",
            note=f"{size:,} records in {import_seconds:.1f} s",
        ),
        Row(
            "node OAI-PMH ListRecords marc21",
            oai_rate,
            "rec/s",
            ">= 10,000",
            oai_rate >= 10_000,
            f"{served:,} records, pages of {config.oai_page_size}",
        ),
        Row(
            "node gRPC GetAvailability, 32 callers",
            _rates["grpc"],
            "calls/s",
            ">= 3,000",
            _rates["grpc"] >= 3_000,
            f"{_rates['grpc_calls']:,} calls, callers in {CLIENT_PROCESSES} processes",
        ),
    ]


_rates: dict[str, float] = {}


def write_replicas(path: Path, size: int) -> list[str]:
    """``size`` real records under new ids (``<id>~<copy>``) as one ISO 2709 file."""
    records = [r for source in SOURCES for r in iter_file(source) if isinstance(r, Record)]
    ids: list[str] = []
    with path.open("wb") as out:
        copy = 0
        while len(ids) < size:
            for record in records:
                if len(ids) == size:
                    break
                new_id = f"{record.id}~{copy}"
                record.raw.remove_fields("001")
                record.raw.add_ordered_field(pymarc.Field(tag="001", data=new_id))
                out.write(to_iso2709(record))
                ids.append(new_id)
            copy += 1
    return ids


async def import_file(config: NodeConfig, source: Path) -> float:
    store = await HoldingsStore.open(config.database_path())
    try:
        start = time.perf_counter()
        report = await Importer(store, "Main").import_files([source])
        seconds = time.perf_counter() - start
        assert not report.bad, report.bad[:3]
    finally:
        await store.close()
    return seconds


def serve_and_measure(config: NodeConfig, config_path: Path, ids: list[str], quick: bool):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "federation.cli.main",
            "node",
            "serve",
            "--config",
            str(config_path),
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://{config.http_listen}/oai"
        _wait(url + "?verb=Identify")
        served, seconds = asyncio.run(harvest(url))
        calls = 10_000 if quick else 30_000
        _rates["grpc_calls"] = calls
        _rates["grpc"] = availability(config.grpc_listen, ids, calls)
        return served, seconds
    finally:
        process.terminate()
        process.wait(timeout=20)


async def harvest(url: str) -> tuple[int, float]:
    """Read the whole ListRecords marc21 list, page after page, as a harvester does."""
    served = 0
    params = {"verb": "ListRecords", "metadataPrefix": "marc21"}
    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        while True:
            async with session.get(url, params=params) as response:
                body = await response.read()
            served += body.count(b"<record><header")
            match = _TOKEN.search(body)
            if not match or not match.group(1):
                break
            params = {"verb": "ListRecords", "resumptionToken": match.group(1).decode()}
        return served, time.perf_counter() - start


def availability(target: str, ids: list[str], calls: int) -> float:
    """GetAvailability calls/s of 32 concurrent callers on random records.

    The callers run in CLIENT_PROCESSES processes: one Python grpc.aio client
    process tops out near 1,800 calls/s on the dev box while the node sat idle
    half the time, which would measure the client rather than the node.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 2.0
    workers = [
        context.Process(
            target=_caller_process,
            args=(
                target,
                ids,
                calls // CLIENT_PROCESSES,
                CALLERS // CLIENT_PROCESSES,
                start_at,
                queue,
            ),
        )
        for _ in range(CLIENT_PROCESSES)
    ]
    for worker in workers:
        worker.start()
    finished = [queue.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join()
    done = (calls // CLIENT_PROCESSES // (CALLERS // CLIENT_PROCESSES)) * CALLERS
    return done / (max(finished) - start_at)


def _caller_process(
    target: str, ids: list[str], calls: int, callers: int, start_at: float, queue
) -> None:
    queue.put(asyncio.run(_callers(target, ids, calls, callers, start_at)))


async def _callers(target: str, ids: list[str], calls: int, callers: int, start_at: float) -> float:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = node_service_pb2_grpc.LibraryNodeStub(channel)
        rng = random.Random()
        await stub.GetAvailability(node_service_pb2.GetAvailabilityRequest(record_id=ids[0]))
        await asyncio.sleep(max(0.0, start_at - time.time()))

        async def caller() -> None:
            for _ in range(calls // callers):
                request = node_service_pb2.GetAvailabilityRequest(record_id=rng.choice(ids))
                await stub.GetAvailability(request)

        await asyncio.gather(*(caller() for _ in range(callers)))
        return time.time()


def _wait(url: str, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
