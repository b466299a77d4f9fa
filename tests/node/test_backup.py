"""A library keeps its node safe: backups taken while it serves, restored whole, verified.

The node runs for real (gRPC and OAI-PMH on loopback); the coordinator's offers
arrive over gRPC and the cataloguing department imports beside the running
node, as `libfed node import` does. Corruptions are made the way a disk or a
careless hand would: bytes of a record, a page of the file, rows of a table.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path

import grpc
import pytest
from libfed.v1 import node_service_pb2 as pb
from libfed.v1 import node_service_pb2_grpc
from sickle import Sickle

from federation.backup import take_backup, verify_backup
from federation.cli.main import main
from federation.records import Record, iter_file
from node.config import save
from node.importer import Importer
from node.lending import LendingPolicy, LoanOffer
from node.server import NodeServer
from node.store import HoldingsStore
from node.verify import KINDS, node_stores
from tests.node.conftest import IMPORT_FILES, NODE_FIXTURES, make_config, start_node


def ids_in(path: Path) -> set[str]:
    return {r.id.strip() for r in iter_file(path) if isinstance(r, Record)}


def rows(db_path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def verify_json(capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["verify", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def problems(report: dict) -> list[tuple[str, str, str, str]]:
    return [(p["store"], p["check"], p["table"], p["key"])
            for store in report["stores"] for p in store["problems"]]


async def test_a_backup_under_imports_and_loan_offers_restores_every_committed_change(
    tmp_path, capsys
):
    """Offers keep arriving and the cataloguers keep importing while the backup copies;
    the restored node holds everything committed before the copy began, answers the
    coordinator's resent offers as it did, and verifies clean."""
    config = make_config(tmp_path)
    save(config, tmp_path / "node.toml")
    running = await start_node(config, IMPORT_FILES[:1])
    lendable = sorted(ids_in(IMPORT_FILES[0]))
    answers: dict[str, int] = {}
    imported: list[Path] = []
    stop = asyncio.Event()

    async def offers() -> None:
        async with grpc.aio.insecure_channel(running.grpc_target) as channel:
            node = node_service_pb2_grpc.LibraryNodeStub(channel)
            n = 0
            while not stop.is_set():
                n += 1
                answer = await node.OfferLoan(pb.OfferLoanRequest(
                    request_id=f"r-{n}", attempt=1, record_id=lendable[n % len(lendable)],
                    requester_symbol="BRANCH"))
                answers[f"r-{n}"] = answer.status

    async def imports() -> None:
        store = await HoldingsStore.open(config.database_path())  # beside the running node
        try:
            for path in IMPORT_FILES[1:]:
                await Importer(store, "Main").import_files([path])
                imported.append(path)
                await asyncio.sleep(0.05)
        finally:
            await store.close()

    def hold_open(_what: str, _done: int, _total: int) -> None:
        """Keep the copy running until more offers and an import have committed."""
        offers_then, files_then = len(answers), len(imported)
        deadline = time.monotonic() + 20
        while (len(answers) < offers_then + 10 or len(imported) <= files_then) \
                and len(imported) < len(IMPORT_FILES) - 1:
            assert time.monotonic() < deadline, "the traffic stopped"
            time.sleep(0.01)

    traffic = [asyncio.create_task(offers()), asyncio.create_task(imports())]
    try:
        while len(answers) < 20 or not imported:
            await asyncio.sleep(0.01)
        committed_answers, committed_files = dict(answers), list(imported)
        backup = await asyncio.to_thread(take_backup, "node", config.symbol,
                                         node_stores(config), tmp_path / "backups", hold_open)
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*traffic)
    assert len(answers) > len(committed_answers) + 10  # offers went on during and after

    copy = backup.path / "holdings.sqlite"
    loans = {row[0] for row in rows(copy, "SELECT request_id FROM loans")}
    assert set(committed_answers) <= loans <= set(answers)
    live = {row[0] for row in rows(copy, "SELECT id FROM records WHERE deleted = 0")}
    expected = set().union(*(ids_in(path) for path in [IMPORT_FILES[0], *committed_files]))
    assert expected <= live
    _, reports = verify_backup(backup.path, KINDS)
    assert all(r.ok for r in reports), [str(p) for r in reports for p in r.problems]

    await running.server.stop(grace=0.1)
    capsys.readouterr()
    assert main(["restore", "node", "--config", str(tmp_path / "node.toml"), "--from",
                 str(tmp_path / "backups")]) == 0
    assert "kept as" in capsys.readouterr().out
    code, report = verify_json(capsys, "node", "--config", str(tmp_path / "node.toml"),
                               "--backup", str(backup.path))
    assert code == 0 and report["ok"], problems(report)

    restored = NodeServer(config)
    await restored.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{restored.grpc_port}") as channel:
            node = node_service_pb2_grpc.LibraryNodeStub(channel)
            for request_id in list(committed_answers)[:15]:
                again = await node.OfferLoan(pb.OfferLoanRequest(
                    request_id=request_id, attempt=1,
                    record_id=lendable[int(request_id[2:]) % len(lendable)]))
                assert again.status == committed_answers[request_id]
        url = f"http://127.0.0.1:{restored.http_port}/oai"
        served = await asyncio.to_thread(lambda: [
            h.identifier for h in Sickle(url, max_retries=0).ListIdentifiers(
                metadataPrefix="oai_dc")])
        assert len(served) == len(live)
    finally:
        await restored.stop(grace=0.1)


async def test_restore_refuses_a_store_the_running_node_holds(tmp_path, capsys):
    config = make_config(tmp_path)
    save(config, tmp_path / "node.toml")
    running = await start_node(config, IMPORT_FILES[:1])
    try:
        assert main(["backup", "node", "--config", str(tmp_path / "node.toml"), "--to",
                     str(tmp_path / "backups")]) == 0
        before = rows(config.database_path(), "SELECT count(*) FROM records")
        capsys.readouterr()
        code = main(["restore", "node", "--config", str(tmp_path / "node.toml"), "--from",
                     str(tmp_path / "backups")])
        error = capsys.readouterr().err
        assert code == 1
        assert "holdings store" in error and "stop it first" in error and "--force" in error
        assert rows(config.database_path(), "SELECT count(*) FROM records") == before
        assert not list(tmp_path.glob("*.replaced-*"))
    finally:
        await running.server.stop(grace=0.1)


@pytest.fixture
async def library(tmp_path) -> Path:
    """A node's files at rest: 32 records (one Koha record on the shelf), a node.toml."""
    config = make_config(tmp_path)
    save(config, tmp_path / "node.toml")
    store = await HoldingsStore.open(config.database_path())
    try:
        await Importer(store, "Main").import_files(IMPORT_FILES[:2])
    finally:
        await store.close()
    return tmp_path / "node.toml"


def database(library: Path) -> Path:
    return library.parent / "holdings.sqlite"


def change(library: Path, *statements: str) -> None:
    db = sqlite3.connect(database(library))
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


async def test_a_sound_node_verifies_clean(library, capsys):
    code, report = verify_json(capsys, "node", "--config", str(library))
    assert code == 0 and report["ok"]
    holdings = report["stores"][0]
    assert holdings["records"] == 32
    assert {"integrity", "foreign keys", "marcxml", "deletion log", "search index",
            "loans"} <= set(holdings["checks"])


async def test_a_record_whose_marcxml_was_altered_is_named(library, capsys):
    change(library,
           "UPDATE records SET marcxml = replace(marcxml, 'Manuscripts', 'Manuscrypts')"
           " WHERE id = '000000794'",
           "UPDATE records SET marcxml = substr(marcxml, 1, 300) WHERE id = 'u53329'")
    code, report = verify_json(capsys, "node", "--config", str(library))
    assert code == 1
    assert problems(report) == [("holdings", "marcxml", "records", "000000794"),
                                ("holdings", "marcxml", "records", "u53329")]
    messages = [p["message"] for p in report["stores"][0]["problems"]]
    assert messages[0] == "its MARCXML does not match its checksum"
    assert "no longer parses" in messages[1]
    capsys.readouterr()
    assert main(["verify", "node", "--config", str(library)]) == 1
    out = capsys.readouterr().out
    assert "holdings: records '000000794': its MARCXML does not match its checksum" in out


async def test_a_zeroed_page_of_the_file_is_reported_with_its_table(library, capsys):
    path = database(library)
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    (page,) = db.execute("SELECT pageno FROM dbstat WHERE name = 'records'"
                         " AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 2").fetchone()
    db.close()
    with open(path, "r+b") as handle:
        handle.seek((page - 1) * page_size)
        handle.write(bytes(page_size))
    code, report = verify_json(capsys, "node", "--config", str(library))
    assert code == 1
    found = problems(report)
    assert ("holdings", "integrity", "records", "") in found
    assert any(check == "marcxml" and table == "records" and key
               for _, check, table, key in found)  # where reading the records stopped


async def test_deletion_log_inconsistencies_are_named(library, capsys):
    store = await HoldingsStore.open(database(library))
    try:
        await store.delete_record("000000794")
        await store.delete_record("u53329")
    finally:
        await store.close()
    change(library,
           # deleted, but its deletion was never logged
           "DELETE FROM deletions WHERE record_id = '000000794'",
           # live, yet logged as deleted after its last import
           "INSERT INTO deletions (record_id, datestamp) SELECT id, datestamp + 60 FROM records"
           " WHERE id = (SELECT id FROM records WHERE deleted = 0 ORDER BY id LIMIT 1)",
           # the log names a record the store does not have
           "INSERT INTO deletions (record_id, datestamp) VALUES ('ghost-1', 1)",
           # deleted, yet it still has a copy on the shelf
           "INSERT INTO items (record_id, barcode) VALUES ('u53329', 'B-1')")
    first_live = rows(database(library),
                      "SELECT min(id) FROM records WHERE deleted = 0")[0][0]
    code, report = verify_json(capsys, "node", "--config", str(library))
    assert code == 1
    assert sorted(problems(report)) == sorted([
        ("holdings", "deletion log", "records", "000000794"),
        ("holdings", "deletion log", "records", first_live),
        ("holdings", "deletion log", "deletions", "ghost-1"),
        ("holdings", "deletion log", "records", "u53329"),
    ])
    messages = " ".join(p["message"] for p in report["stores"][0]["problems"])
    assert "both live and deleted" in messages and "1 copies" in messages


async def test_an_open_loan_whose_copy_went_back_on_the_shelf_is_named(library, capsys):
    store = await HoldingsStore.open(database(library))
    try:
        offer = await LendingPolicy(store).offer(LoanOffer("req-7", 1, record_id="u53329"))
        assert offer.status == "WillSupply"
    finally:
        await store.close()
    change(library, "UPDATE items SET status = 'available' WHERE record_id = 'u53329'")
    code, report = verify_json(capsys, "node", "--config", str(library))
    assert code == 1
    assert problems(report) == [("holdings", "loans", "loans", "req-7")]


async def test_an_older_store_gets_its_checksums_when_the_node_opens_it(library, capsys):
    change(library, "ALTER TABLE records DROP COLUMN marcxml_sha256", "PRAGMA user_version = 3")
    code, report = verify_json(capsys, "node", "--config", str(library))
    assert code == 0 and "keeps no record checksums" in report["stores"][0]["notes"][0]
    store = await HoldingsStore.open(database(library))
    await store.close()
    code, report = verify_json(capsys, "node", "--config", str(library))
    assert code == 0 and report["stores"][0]["notes"] == []
    assert rows(database(library), "SELECT count(*) FROM records WHERE marcxml_sha256 IS NULL"
                " AND deleted = 0") == [(0,)]


async def test_the_node_backs_itself_up_on_its_schedule_and_keeps_the_last_few(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="federation.backup")
    config = make_config(tmp_path)
    config.extra["backup"] = {"interval": 0.3, "directory": "backups", "keep": 2}
    save(config, tmp_path / "node.toml")
    running = await start_node(config, [NODE_FIXTURES / "koha-952.mrc"])
    try:
        deadline = time.monotonic() + 30
        while sum("backed up to" in r.getMessage() for r in caplog.records) < 4:
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.05)
    finally:
        await running.server.stop(grace=0.1)
    kept = sorted((tmp_path / "backups").iterdir())
    assert len(kept) == 2 and all(path.name.startswith("node-US-MIU-") for path in kept)
    assert "removed 1 old backup(s)" in caplog.text
    for path in kept:
        _, reports = verify_backup(path, KINDS)
        assert [r.records for r in reports] == [1, 0] and all(r.ok for r in reports)

    # Restarted, the node waits for the interval after its newest backup.
    config.extra["backup"] = {"interval": 3600, "directory": "backups", "keep": 2}
    save(config, tmp_path / "node.toml")
    caplog.clear()
    again = NodeServer(config)
    await again.start()
    await asyncio.sleep(0.5)
    await again.stop(grace=0.1)
    assert "backed up to" not in caplog.text
    assert len(list((tmp_path / "backups").iterdir())) == 2


def test_a_bad_backup_table_in_node_toml_is_told_naming_the_file(tmp_path, capsys):
    config = make_config(tmp_path)
    config.extra["backup"] = {"interval": 0, "directory": "backups"}
    save(config, tmp_path / "node.toml")
    assert main(["node", "stats", "--config", str(tmp_path / "node.toml")]) == 2
    assert "node.toml: backup interval must be a positive" in capsys.readouterr().err


@pytest.mark.corpus
async def test_a_record_whose_001_xml_cannot_carry_verifies_clean(shared_data, tmp_path, capsys):
    """yaz's marc3.marc has a subfield delimiter in an 001; the stored MARCXML drops it, as
    XML must, and that is no sign of damage."""
    config = make_config(tmp_path)
    save(config, tmp_path / "node.toml")
    store = await HoldingsStore.open(config.database_path())
    try:
        await Importer(store, "Main").import_files([shared_data / "marc21/yaz/marc3.marc"])
    finally:
        await store.close()
    assert rows(config.database_path(), "SELECT count(*) FROM records WHERE id LIKE"
                " '%' || char(31) || '%'") == [(1,)]
    code, report = verify_json(capsys, "node", "--config", str(tmp_path / "node.toml"))
    assert code == 0, problems(report)


async def test_one_librarys_backup_is_not_restored_over_another_by_mistake(library, capsys):
    assert main(["backup", "node", "--config", str(library), "--to",
                 str(library.parent / "backups")]) == 0
    other = library.parent / "other"
    other.mkdir()
    config = make_config(other)
    config.symbol = "US-OTHER"
    save(config, other / "node.toml")
    (backup,) = (library.parent / "backups").iterdir()
    capsys.readouterr()
    assert main(["restore", "node", "--config", str(other / "node.toml"), "--from",
                 str(backup)]) == 1
    assert "is a backup of node US-MIU, not of node US-OTHER" in capsys.readouterr().err
    assert not (other / "holdings.sqlite").exists()
    assert main(["restore", "node", "--config", str(other / "node.toml"), "--from",
                 str(backup), "--force"]) == 0
    assert rows(other / "holdings.sqlite", "SELECT count(*) FROM records") == [(32,)]
