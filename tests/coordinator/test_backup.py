"""The central library backs up the coordinator while readers' requests keep arriving.

A real coordinator routes requests among scripted libraries over gRPC; the
backup copies its state (and the staff accounts) in the middle of that traffic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from libfed.v1 import common_pb2 as c

from federation.backup import take_backup, verify_backup
from federation.cli.main import main
from federation.coordinator.store import CoordinatorStore
from federation.coordinator.verify import KINDS, STAFF_DB, coordinator_stores
from federation.web.serve import staff_db_path
from federation.web.staff import StaffStore
from tests.coordinator.conftest import start_network, stop_network


def rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def config_file(network) -> str:
    return str(Path(network.config.home) / "coordinator.toml")


def verify_json(capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["verify", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_staff_accounts_the_backup_keeps_are_the_web_pages_own():
    class Home:
        home = Path("/srv/coordinator")

    assert staff_db_path(Home) == Home.home / STAFF_DB


async def test_a_backup_under_loan_traffic_restores_every_submitted_request(tmp_path, capsys):
    network = await start_network(tmp_path)
    staff = await StaffStore.open(staff_db_path(network.config), scrypt_n=2**4)
    await staff.add_user("librarian", "a long enough password")
    await staff.close()
    submitted: dict[str, int] = {}
    stop = asyncio.Event()

    async def readers(requester: str, work: str) -> None:
        link, n = network.link(requester), 0
        while not stop.is_set():
            n += 1
            request = await link.submit(f"p-{requester}-{n}", cluster_id=work)
            submitted[request.request_id] = request.status
            if n % 3 == 0 and request.lender_symbol:  # some are shipped at once
                await network.link(request.lender_symbol).report_supplier(
                    request.request_id, c.LOAN_STATUS_LOANED, attempt=request.attempt)

    def hold_open(_what: str, _done: int, _total: int) -> None:
        then, deadline = len(submitted), time.monotonic() + 20
        while len(submitted) < then + 10:
            assert time.monotonic() < deadline, "the requests stopped"
            time.sleep(0.01)

    stores, elsewhere = coordinator_stores(network.config, catalog=False)
    assert [s.name for s in stores] == ["state", "staff"] and elsewhere == []
    traffic = [asyncio.create_task(readers("BRANCH", "c-1")),
               asyncio.create_task(readers("LIB_C", "c-2"))]
    try:
        while len(submitted) < 20:
            await asyncio.sleep(0.01)
        committed = dict(submitted)
        backup = await asyncio.to_thread(take_backup, "coordinator", "coordinator", stores,
                                         tmp_path / "backups", hold_open)
        await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*traffic)
    try:
        assert len(submitted) > len(committed) + 10
        state = backup.path / "state.sqlite"
        held = {row[0] for row in rows(state, "SELECT request_id FROM requests")}
        assert set(committed) <= held <= set(submitted)
        _, reports = verify_backup(backup.path, KINDS)
        assert all(r.ok for r in reports), [str(p) for r in reports for p in r.problems]
        assert [r.records for r in reports][1] == 1  # the librarian's account

        # Not while the coordinator holds its state.
        capsys.readouterr()
        assert main(["restore", "coordinator", "--config", config_file(network),
                     "--no-catalog", "--from", str(tmp_path / "backups")]) == 1
        assert "state store" in capsys.readouterr().err
    finally:
        await stop_network(network)

    assert main(["restore", "coordinator", "--config", config_file(network), "--no-catalog",
                 "--from", str(tmp_path / "backups")]) == 0
    code, report = verify_json(capsys, "coordinator", "--config", config_file(network),
                               "--no-catalog", "--backup", str(backup.path))
    assert code == 0 and report["ok"], report
    store = await CoordinatorStore.open(network.config.state_path)
    try:
        for request_id in committed:
            request = await store.request(request_id)
            assert request.rota and request.history
    finally:
        await store.close()


async def test_loans_of_a_library_removed_by_hand_are_named(tmp_path, capsys):
    network = await start_network(tmp_path)
    try:
        first = await network.link("BRANCH").submit("p-reader1", cluster_id="c-2")
        assert first.lender_symbol == "LIB_A"
        await network.settle()
    finally:
        await stop_network(network)
    db = sqlite3.connect(network.config.state_path)
    db.execute("DELETE FROM nodes WHERE symbol = 'LIB_A'")
    db.execute("INSERT INTO events (request_id, time, actor, to_status) VALUES"
               " ('r-gone', 0, 'BRANCH', 'RequestReceived')")
    db.commit()
    db.close()
    code, report = verify_json(capsys, "coordinator", "--config", config_file(network),
                               "--no-catalog")
    assert code == 1
    found = [(p["check"], p["table"], p["key"], p["message"])
             for store in report["stores"] for p in store["problems"]]
    rid = first.request_id
    assert found == [
        ("libraries", "requests", rid, "its lender LIB_A is no registered library"),
        ("libraries", "rota", rid, "rota position 1 names LIB_A, no registered library"),
        ("requests", "events", "r-gone", "1 row(s) of a request the store does not have"),
    ]


async def test_the_coordinator_backs_itself_up_on_its_schedule(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="federation.backup")
    network = await start_network(tmp_path, backup_interval=0.3, backup_keep=2,
                                  backup_catalog=False)
    try:
        await network.link("BRANCH").submit("p-reader1", cluster_id="c-2")
        deadline = time.monotonic() + 30
        while sum("backed up to" in r.getMessage() for r in caplog.records) < 3:
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.05)
    finally:
        await stop_network(network)
    kept = sorted((Path(network.config.home) / "backups").iterdir())
    assert len(kept) == 2 and "removed 1 old backup(s)" in caplog.text
    _, reports = verify_backup(kept[-1], KINDS)
    assert [(r.store, r.records, r.ok) for r in reports] == [("state", 1, True)]


def test_a_bad_backup_setting_is_told_naming_the_file(tmp_path):
    from federation.coordinator.config import CoordinatorConfig
    from federation.errors import ConfigError

    config, path = CoordinatorConfig.create(tmp_path)
    config.backup_interval, config.backup_keep = 60.0, 0
    config.write(path)
    with pytest.raises(ConfigError, match=r"coordinator\.toml: backup keep must be at least 1"):
        CoordinatorConfig.load(path)
