"""The holdings store keeps a library's data safe across imports, loans and upgrades."""

from __future__ import annotations

import sqlite3

import pytest

from federation.errors import NotFound
from federation.records import Record, iter_file
from node.holdings import items_of
from node.importer import Importer
from node.lending import LendingPolicy, LoanOffer
from node.schema import MIGRATIONS
from node.store import HoldingsStore
from tests.conftest import FIXTURES
from tests.node.conftest import NODE_FIXTURES, RUSMARC


def _records(path) -> list[Record]:
    return [r for r in iter_file(path) if isinstance(r, Record)]


def test_copies_come_from_852_952_and_899():
    (koha,) = _records(NODE_FIXTURES / "koha-952.mrc")
    (item,) = items_of(koha.raw, koha.id, "Main")
    assert (item.barcode, item.location, item.call_number, item.status) == (
        "35609000970837",
        "BC",
        "861.42 C955",
        "available",
    )
    michigan = _records(NODE_FIXTURES / "traject-batch.dat")[1]
    copies = items_of(michigan.raw, michigan.id, "Main")
    assert [c.location for c in copies] == ["BUHR", "SDR"]
    assert copies[0].call_number == "RC 327 .B41"
    assert len({c.barcode for c in copies}) == 2  # stable local barcodes when none exported
    (nlr,) = _records(RUSMARC[0])
    (copy,) = items_of(nlr.raw, nlr.id, "Main")
    assert (copy.location, copy.call_number) == ("NLR", "Б 7525/М-43")
    loc = _records(FIXTURES / "records" / "demo" / "loc_general.xml")[0]
    (only,) = items_of(loc.raw, loc.id, "Main")  # no holdings fields: one copy on the shelf
    assert (only.location, only.status) == ("Main", "available")


async def test_a_new_database_is_at_the_newest_schema_version(tmp_path):
    store = await HoldingsStore.open(tmp_path / "h.sqlite")
    await store.close()
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store = await HoldingsStore.open(tmp_path / "h.sqlite")  # reopening migrates nothing
    assert await store.meta("token_secret")
    await store.close()


async def test_reimport_updates_the_record_but_keeps_a_copy_on_loan(tmp_path):
    store = await HoldingsStore.open(tmp_path / "h.sqlite")
    try:
        importer = Importer(store, "Main")
        await importer.import_files([NODE_FIXTURES / "koha-952.mrc"])
        first = (await store.record("u53329"))["datestamp"]
        offer = await LendingPolicy(store).offer(LoanOffer("r1", 1, record_id="u53329"))
        assert offer.status == "WillSupply"
        report = await importer.import_files([NODE_FIXTURES / "koha-952.mrc"])
        assert (report.new, report.updated) == (0, 1)
        items = (await store.items_of(["u53329"]))["u53329"]
        assert [i.status for i in items] == ["reserved"]
        assert (await store.record("u53329"))["datestamp"] >= first
        with pytest.raises(NotFound):
            await store.delete_record("no-such-record")
    finally:
        await store.close()


async def test_a_version_1_database_gets_its_search_indexes_on_open(tmp_path):
    """A library upgrading libfed keeps its records and can search them at once."""
    from node.catalog import HoldingsCatalog, search_terms

    store = await HoldingsStore.open(tmp_path / "h.sqlite")
    await Importer(store, "Main").import_files([NODE_FIXTURES / "traject-batch.dat"])
    await store.close()
    with sqlite3.connect(tmp_path / "h.sqlite") as db:  # as libfed's first release left it
        db.execute("DROP TABLE records_fts")
        db.execute("DROP TABLE record_issns")
        db.execute("ALTER TABLE records DROP COLUMN marcxml_sha256")
        db.execute("PRAGMA user_version = 1")
    store = await HoldingsStore.open(tmp_path / "h.sqlite")
    try:
        found, _, total = await HoldingsCatalog(store).search(
            search_terms("manuscripts", "", "", "", ""), 20, ""
        )
        assert (total, [h.id for h in found]) == (1, ["000000794"])
    finally:
        await store.close()


async def test_search_by_issn_in_any_spelling(tmp_path):
    from federation.errors import InvalidArgument
    from node.catalog import HoldingsCatalog, search_terms

    store = await HoldingsStore.open(tmp_path / "h.sqlite")
    try:
        await Importer(store, "Main").import_files([FIXTURES / "records" / "demo" / "nlm.xml"])
        catalog = HoldingsCatalog(store)
        for spelling in ("0001-5180", "00015180"):
            found, _, total = await catalog.search(search_terms("", "", "", "", spelling), 20, "")
            assert "117811" in [h.id for h in found]
        with pytest.raises(InvalidArgument):
            search_terms("", "", "", "", "1234-5678")
    finally:
        await store.close()
