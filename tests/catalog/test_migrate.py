"""The central library moves its union catalog from SQLite to PostgreSQL.

Two libraries' live nodes are harvested over OAI-PMH into catalog.sqlite, as a
running network has it; `libfed catalog migrate` copies it into PostgreSQL; the
readers' searches, the clusters, the sources' harvest state and the quarantine
are the same on both, and harvesting goes on into the new catalog.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from federation.catalog import QuarantinedRecord, UnionCatalog
from federation.cli.main import main
from harvester import Harvester, RetryPolicy, adhoc_source

from .conftest import DEMO, RSL

node_config = pytest.importorskip("node.config")
node_server = pytest.importorskip("node.server")
node_importer = pytest.importorskip("node.importer")

FAST = RetryPolicy(retries=2, backoff=0.01, timeout=10.0)
LIBRARIES = {
    "RSL": ("marc21", [RSL / "01002988236_marc21.mrc", RSL / "01003120729.mrc",
                       RSL / "01007496813.mrc", DEMO / "loc_general.xml"]),
    "NLR": ("rusmarc", [RSL / "01002988236_rusmarc.iso", RSL / "01003120729.iso",
                        RSL / "01007496813.iso"]),
    "MED": ("marc21", [DEMO / "nlm.xml", DEMO / "loc_general.xml"]),
}  # fmt: skip
QUERIES = ["история", "история столетия", "author:kalinin", "title:history", "history",
           "isbn:5-901202-50-3", "medicine library:MED", "", "истор*", 'title:"war and peace"']
CQL = ["dc.title all история", "dc.creator = Kalinin", "dc.subject any \"medicine history\""]


async def _libfed(*argv: str) -> int:
    """The command as a person runs it (it runs its own event loop: in a thread)."""
    return await asyncio.to_thread(main, list(argv))


async def _nodes(tmp_path: Path):
    servers, urls = [], {}
    for symbol, (_prefix, files) in LIBRARIES.items():
        config = node_config.NodeConfig(
            symbol=symbol, name=f"{symbol} library", database=tmp_path / f"{symbol}.sqlite",
            grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", oai_page_size=50,
        )  # fmt: skip
        server = node_server.NodeServer(config)
        await server.start()
        servers.append(server)
        await node_importer.Importer(server.store).import_files(files)
        urls[symbol] = f"http://127.0.0.1:{server.http_port}/oai"
    return servers, urls


async def _harvest(catalog: UnionCatalog, urls: dict[str, str]) -> int:
    harvester = Harvester(catalog, FAST)
    records = 0
    for symbol, url in urls.items():
        summary = await harvester.harvest(adhoc_source(url, symbol, prefix=LIBRARIES[symbol][0]))
        assert summary.ok, summary.error
        records += summary.records
    return records


async def _everything(catalog: UnionCatalog) -> dict:
    """What readers and staff can see of a catalog, in a form two catalogs compare by.

    Hits are compared as a set: bm25 and ts_rank order equally good hits their own
    ways. A sorted answer (sortBy) and browsing (an empty query) are compared in order.
    """
    searches = {}
    for query in QUERIES:
        result = await catalog.search(query, limit=200)
        hits = {h.cluster_id: (h.title, h.libraries, h.holdings) for h in result.results}
        searches[query] = (result.total, hits, result.facets)
    for query in CQL:
        result = await catalog.search_cql(query, limit=200)
        searches[query] = (result.total, {h.cluster_id for h in result.results})
    for query in ["dc.title all history sortBy dc.date/sort.descending dc.title",
                  "cql.serverChoice = история sortBy dc.title"]:  # fmt: skip
        result = await catalog.search_cql(query, limit=200)
        searches[query] = (result.total, [h.cluster_id for h in result.results])
    searches["browse"] = [h.cluster_id for h in (await catalog.search("", limit=300)).results]
    dump = [line async for line in catalog.dump()]
    details = {c["cluster_id"]: await catalog.get_cluster(c["cluster_id"]) for c in dump[:40]}
    overlap = await catalog.overlap()
    return {
        "searches": searches,
        "dump": dump,
        "details": details,
        "stats": await catalog.stats(),
        "sources": await catalog.sources(),
        "quarantine": await catalog.quarantined(limit=100),
        "overlap": (overlap.held, overlap.shared),
        "isbn": await catalog.clusters_for_isbn("9785901202500"),
    }


async def test_a_harvested_catalog_moves_to_postgres_and_searches_the_same(
    tmp_path, postgres_url, capsys
):
    servers, urls = await _nodes(tmp_path)
    sqlite_path = tmp_path / "catalog.sqlite"
    try:
        catalog = await UnionCatalog.open(sqlite_path)
        harvested = await _harvest(catalog, urls)
        # A record the MED server sent that could not be read stays in quarantine.
        med = await catalog.get_source(next(s.name for s in await catalog.sources()
                                            if s.library == "MED"))  # fmt: skip
        await catalog.commit_page(med, [], [], [QuarantinedRecord(
            "oai:med:broken", "not well-formed (invalid token): line 1, column 7", b"<rec<")])
        before = await _everything(catalog)
        await catalog.close()
        assert harvested > 200 and before["stats"].clusters < harvested  # dedup merged some

        code = await _libfed("catalog", "migrate", "--from", str(sqlite_path), "--to",
                             postgres_url, "--json")  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0, out
        copied = json.loads(out)
        assert (copied["records"], copied["clusters"]) == (harvested, before["stats"].clusters)
        assert copied["quarantine"] == 1 and copied["sources"] == 3

        moved = await UnionCatalog.open(postgres_url)
        try:
            after = await _everything(moved)
            for part in before:
                assert after[part] == before[part], part
            # Harvesting goes on into the new catalog, incrementally from the copied
            # checkpoints (a record of the last harvest's second may come again):
            # nothing changes…
            await _harvest(moved, urls)
            assert [line async for line in moved.dump()] == before["dump"]
            assert (await moved.stats()).records == harvested
            # …new works get cluster ids never used before, and a withdrawal reaches it.
            _, next_cluster = await moved._storage.next_pks()
            assert next_cluster > max(int(c["cluster_id"][1:]) for c in before["dump"])
            nlr = next(s for s in await moved.sources() if s.library == "NLR")
            await servers[1].store.delete_record("003120729")
            summary = await Harvester(moved, FAST).harvest(
                adhoc_source(urls["NLR"], "NLR", prefix="rusmarc"))
            assert summary.ok and summary.deleted == 1 and nlr.name == summary.source
        finally:
            await moved.close()
    finally:
        for server in servers:
            await server.stop(0)


async def test_migrate_refuses_a_catalog_that_is_not_empty_and_wrong_arguments(
    tmp_path, postgres_url, capsys
):
    from .conftest import harvested, one, source

    sqlite_path = tmp_path / "catalog.sqlite"
    for where in (sqlite_path, postgres_url):
        catalog = await UnionCatalog.open(where)
        rgb = source("rgb")
        await catalog.commit_page(rgb, [harvested(one(RSL / "01003120729.mrc"), rgb)], [], [])
        await catalog.close()
    code = await _libfed("catalog", "migrate", "--from", str(sqlite_path), "--to", postgres_url)
    assert code == 2 and "not empty" in capsys.readouterr().err
    code = await _libfed("catalog", "migrate", "--from", postgres_url, "--to", postgres_url)
    assert code == 2 and "SQLite" in capsys.readouterr().err
    code = await _libfed("catalog", "migrate", "--from", str(sqlite_path), "--to",
                         str(tmp_path / "x"))
    assert code == 2 and "postgresql://" in capsys.readouterr().err
    catalog = await UnionCatalog.open(postgres_url)
    try:
        assert (await catalog.stats()).records == 1  # the refused copy changed nothing
    finally:
        await catalog.close()
