"""The union catalog is backed up while a harvest writes to it, and verify names what is wrong.

A real node serves its records over OAI-PMH in pages of ten; six partner
libraries' harvests of it fill the catalog page by page, each page one
transaction, while the backup copies.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from federation.backup import restore_backup, take_backup, verify_backup
from federation.catalog import UnionCatalog
from federation.catalog.sqlite.verify import CATALOG, KINDS
from federation.cli.main import main
from harvester.harvester import Harvester
from harvester.sources import Source
from tests.catalog.conftest import members
from tests.node.conftest import IMPORT_FILES, make_config, start_node


def count(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        db.close()


@pytest.fixture
async def node(tmp_path):
    (tmp_path / "node").mkdir()
    running = await start_node(make_config(tmp_path / "node"), IMPORT_FILES)
    yield running
    await running.server.stop(grace=0.1)


def partners(url: str, how_many: int) -> list[Source]:
    return [Source(name=f"LIB{n}", url=url, library=f"LIB{n}", prefix="marc21")
            for n in range(how_many)]


async def test_a_catalog_backed_up_mid_harvest_resumes_to_the_same_catalog(node, tmp_path):
    """The backup holds every page committed before it began, its clusters agree with
    their members, and a harvest resumed from its checkpoints ends where the original
    one did: nothing lost, nothing doubled."""
    path = tmp_path / "catalog.sqlite"
    catalog = await UnionCatalog.open(path)
    sources = partners(node.oai_url, 6)
    harvest = asyncio.create_task(Harvester(catalog).harvest_each(sources))
    while (await catalog.stats()).records < 100:
        await asyncio.sleep(0.01)
    committed = (await catalog.stats()).records

    def hold_open(_what: str, _done: int, _total: int) -> None:
        deadline = time.monotonic() + 30
        while count(path) < committed + 30 and not harvest.done():
            assert time.monotonic() < deadline, "the harvest stopped"
            time.sleep(0.01)

    backup = await asyncio.to_thread(take_backup, "catalog", "catalog", [CATALOG.at(path)],
                                     tmp_path / "backups", hold_open)
    summaries = await harvest
    assert all(s.ok for s in summaries)
    final = sorted(map(sorted, await members(catalog)))
    total = (await catalog.stats()).records
    await catalog.close()
    assert total == 6 * 131

    entry = backup.manifest.file("catalog")
    assert committed <= entry.records < total  # a moment in the middle of the harvest
    _, (report,) = verify_backup(backup.path, KINDS)
    assert report.ok, [str(p) for p in report.problems]

    restored_path = tmp_path / "restored" / "catalog.sqlite"
    restore_backup(backup.path, {"catalog": restored_path})
    restored = await UnionCatalog.open(restored_path)
    try:
        assert (await restored.stats()).records == entry.records
        assert all(s.ok for s in await Harvester(restored).harvest_each(sources))
        assert (await restored.stats()).records == total
        assert sorted(map(sorted, await members(restored))) == final
    finally:
        await restored.close()


@pytest.fixture
async def catalog_file(node, tmp_path) -> Path:
    """Two libraries holding the same 131 records: 131 clusters of two members."""
    path = tmp_path / "catalog.sqlite"
    async with await UnionCatalog.open(path) as catalog:
        assert all(s.ok for s in await Harvester(catalog).harvest_each(
            partners(node.oai_url, 2)))
    return path


def verify_json(capsys, path: Path) -> tuple[int, list[tuple[str, str, str]]]:
    capsys.readouterr()
    code = main(["verify", "catalog", "--catalog", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    return code, [(p["check"], p["table"], p["key"]) for p in report["stores"][0]["problems"]]


def change(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


async def test_a_sound_catalog_verifies_clean(catalog_file, capsys):
    assert verify_json(capsys, catalog_file) == (0, [])


async def test_clusters_that_disagree_with_their_members_are_named(catalog_file, capsys):
    change(catalog_file,
           "DELETE FROM clusters WHERE pk = 1",
           "UPDATE clusters SET size = 3 WHERE pk = 2",
           "DELETE FROM cluster_libraries WHERE cluster_pk = 3 AND library = 'LIB1'",
           "DELETE FROM cluster_search WHERE rowid = 4",
           "UPDATE records SET cluster_pk = 6 WHERE pk = (SELECT best_record_pk FROM clusters"
           " WHERE pk = 5)")
    code, found = verify_json(capsys, catalog_file)
    assert code == 1
    member = "LIB0 oai:us-miu.libfed:000000794"
    assert set(found) >= {
        ("clusters", "records", member), ("clusters", "records", member.replace("LIB0",
                                                                                "LIB1")),
        ("facets", "cluster_facets", "c1"), ("search index", "cluster_search", "c1"),
        ("clusters", "clusters", "c2"),
        ("clusters", "cluster_libraries", "c3"),
        ("search index", "cluster_search", "c4"),
        ("clusters", "clusters", "c5"), ("clusters", "clusters", "c6"),
    }


async def test_a_damaged_search_index_is_named(catalog_file, capsys):
    change(catalog_file, "UPDATE cluster_search_data SET block = zeroblob(length(block))"
           " WHERE id = (SELECT max(id) FROM cluster_search_data)")
    code, found = verify_json(capsys, catalog_file)
    assert code == 1
    assert ("search index", "cluster_search", "") in found
