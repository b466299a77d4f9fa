"""The central library registers a Russian branch that catalogues only in RUSMARC.

A node serves RUSMARC records in their own ``rusmarc`` format, never as
``marc21``; the coordinator must harvest both, or the branch's books never
reach the union catalog and no reader can request them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.catalog import UnionCatalog
from federation.coordinator.registry import NodeRegistry
from federation.coordinator.server import harvest_nodes
from federation.coordinator.status import network_status
from federation.coordinator.store import CoordinatorStore

node_config = pytest.importorskip("node.config")
node_server = pytest.importorskip("node.server")
node_importer = pytest.importorskip("node.importer")

RSL = Path(__file__).resolve().parent.parent / "fixtures" / "records" / "rsl"


async def test_a_rusmarc_only_branch_reaches_the_union_catalog(tmp_path: Path):
    config = node_config.NodeConfig(
        symbol="NLR",
        name="Russian branch",
        database=tmp_path / "nlr.sqlite",
        grpc_listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        oai_page_size=2,
    )
    node = node_server.NodeServer(config)
    await node.start()
    files = [RSL / "01002988236_rusmarc.iso", RSL / "01003120729.iso", RSL / "01007496813.iso"]
    assert (await node_importer.Importer(node.store).import_files(files)).new == 3
    store = await CoordinatorStore.open(tmp_path / "state.sqlite")
    catalog = await UnionCatalog.open(tmp_path / "catalog.sqlite")
    try:
        registry = NodeRegistry(store, "secret", catalog=catalog)
        await registry.add_node(
            "NLR", "Russian branch", f"127.0.0.1:{node.grpc_port}",
            f"http://127.0.0.1:{node.http_port}/oai",
        )
        summaries = await harvest_nodes(store, catalog)
        assert all(summary.ok for summary in summaries), [s.error for s in summaries]

        stats = await catalog.stats()
        assert stats.records == 3
        found = await catalog.search("История")
        assert found.total >= 1
        assert all(hit.libraries == ["NLR"] for hit in found.results)

        # Before its first heartbeat, the node's size is what both its harvests brought.
        status = await network_status(store, catalog)
        assert {node.symbol: node.record_count for node in status.nodes} == {"NLR": 3}
    finally:
        await catalog.close()
        await store.close()
        await node.stop()
