"""Harvesting live libfed nodes: a MARC 21 library and a RUSMARC library, one catalog.

The Russian State Library's records of the same books exist in both formats
(tests/fixtures/records/rsl); one node serves the MARC 21 copies as ``marc21``,
another the RUSMARC ones as ``rusmarc``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.catalog import UnionCatalog
from harvester import Harvester, RetryPolicy, adhoc_source
from tests.harvester.conftest import stored_ids

node_config = pytest.importorskip("node.config")
node_server = pytest.importorskip("node.server")
node_importer = pytest.importorskip("node.importer")

RSL = Path(__file__).resolve().parent.parent / "fixtures" / "records" / "rsl"
#: The RSL record numbers (001 without the leading "01") of the three books.
PAIRS = ("002988236", "003120729", "007496813")
FAST = RetryPolicy(retries=2, backoff=0.01, timeout=10.0)


async def _node(tmp_path: Path, symbol: str, files: list[Path]):
    config = node_config.NodeConfig(
        symbol=symbol,
        name=f"{symbol} library",
        database=tmp_path / f"{symbol}.sqlite",
        grpc_listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        oai_page_size=2,
    )
    server = node_server.NodeServer(config)
    await server.start()
    report = await node_importer.Importer(server.store).import_files(files)
    assert report.new > 0
    return server, f"http://127.0.0.1:{server.http_port}/oai"


async def test_two_live_nodes_in_two_formats_feed_one_catalog(tmp_path: Path):
    marc21_files = [
        RSL / "01002988236_marc21.mrc",
        RSL / "01003120729.mrc",
        RSL / "01007496813.mrc",
    ]
    rusmarc_files = [
        RSL / "01002988236_rusmarc.iso",
        RSL / "01003120729.iso",
        RSL / "01007496813.iso",
    ]
    rsl, rsl_url = await _node(tmp_path, "RSL", marc21_files)
    nlr, nlr_url = await _node(tmp_path, "NLR", rusmarc_files)
    db = tmp_path / "catalog.db"
    try:
        catalog = await UnionCatalog.open(db)
        harvester = Harvester(catalog, FAST)
        first = await harvester.harvest(adhoc_source(rsl_url, "RSL", prefix="marc21"))
        second = await harvester.harvest(adhoc_source(nlr_url, "NLR", prefix="rusmarc"))
        assert first.ok and second.ok, (first.error, second.error)
        assert (first.records, second.records) == (3, 3)
        assert first.pages == 2  # the node's page size is 2: a real token chain

        # Every book is found once, held by both libraries.
        print(await _clusters(catalog))
        both = [
            libraries for libraries, _ in await _clusters(catalog) if libraries == {"NLR", "RSL"}
        ]
        assert len(both) == len(PAIRS)

        # A library withdraws a record: the next incremental run removes its holding.
        withdrawn = next(iter(sorted(stored_ids(db))))
        record_id = withdrawn.rsplit(":", 1)[-1]
        store = rsl.store if "rsl" in withdrawn else nlr.store
        await store.delete_record(record_id)
        library = "RSL" if store is rsl.store else "NLR"
        url = rsl_url if library == "RSL" else nlr_url
        prefix = "marc21" if library == "RSL" else "rusmarc"
        again = await harvester.harvest(adhoc_source(url, library, prefix=prefix))
        assert again.ok and again.deleted == 1 and again.from_date is not None
        assert withdrawn not in stored_ids(db)
        await catalog.close()
    finally:
        await rsl.stop(0)
        await nlr.stop(0)


async def _clusters(catalog: UnionCatalog) -> list[tuple[set[str], str]]:
    """(libraries, member record ids) of every cluster, from the catalog's dump."""
    found = []
    async for line in catalog.dump():
        members = line["members"]
        found.append(({m["library"] for m in members}, " ".join(m["record_id"] for m in members)))
    return found
