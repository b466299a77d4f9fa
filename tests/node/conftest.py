"""A real node for the node room's tests: SQLite file, gRPC and HTTP on loopback.

The node holds 31 MARC 21 records from the University of Michigan (852
holdings), one Koha record (952), the Library of Congress sample (99 MARC 21
records, no holdings) and six National Library of Russia RUSMARC records (899).
Its OAI-PMH page size is 10, so every list spans several pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from lxml import etree

from node.config import NodeConfig
from node.importer import Importer
from node.server import NodeServer
from node.store import HoldingsStore
from tests.conftest import FIXTURES, ROOT

NODE_FIXTURES = FIXTURES / "node"
RUSMARC = sorted((FIXTURES / "records" / "rsl").glob("NLR*.mrc"))
IMPORT_FILES = [
    NODE_FIXTURES / "traject-batch.dat",
    NODE_FIXTURES / "koha-952.mrc",
    FIXTURES / "records" / "demo" / "loc_general.xml",
    *RUSMARC,
]
OAI_SCHEMA = ROOT / "tests" / "schemas" / "oai-pmh-all.xsd"


@dataclass
class RunningNode:
    """A node as its users meet it: addresses, and its config and store for setup."""

    server: NodeServer
    config: NodeConfig
    oai_url: str
    grpc_target: str

    @property
    def store(self) -> HoldingsStore:
        assert self.server.store is not None
        return self.server.store


def make_config(tmp_path: Path, page_size: int = 10, token: str = "") -> NodeConfig:
    config = NodeConfig(
        symbol="US-MIU",
        name="Test Library & Friends <Ann Arbor>",
        database=tmp_path / "holdings.sqlite",
        grpc_listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        admin_email="ill@example.org",
        oai_page_size=page_size,
    )
    if token:
        config.extra["coordinator"] = {"address": "127.0.0.1:1", "token": token}
    return config


async def start_node(config: NodeConfig, files: list[Path]) -> RunningNode:
    store = await HoldingsStore.open(config.database_path())
    report = await Importer(store, default_location="Main").import_files(files)
    assert not report.bad, report.bad
    await store.close()
    server = NodeServer(config)
    await server.start()
    return RunningNode(
        server,
        config,
        f"http://127.0.0.1:{server.http_port}/oai",
        f"127.0.0.1:{server.grpc_port}",
    )


@pytest.fixture
async def node(tmp_path):
    running = await start_node(make_config(tmp_path), IMPORT_FILES)
    yield running
    await running.server.stop(grace=0.1)


@pytest.fixture
async def channel(node):
    async with grpc.aio.insecure_channel(node.grpc_target) as chan:
        yield chan


@pytest.fixture(scope="session")
def oai_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OAI_SCHEMA)))


def expected_ids() -> set[str]:
    """The ids of every record in the import files (read independently of the node)."""
    from federation.records import Record, iter_file

    ids: set[str] = set()
    for path in IMPORT_FILES:
        ids.update(r.id for r in iter_file(path) if isinstance(r, Record))
    return ids
