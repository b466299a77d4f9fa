"""`libfed coordinator migrate`: a state file with real loans into PostgreSQL, and on."""

from __future__ import annotations

import json
import subprocess

from libfed.v1 import common_pb2 as c

from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.server import CoordinatorServer
from federation.demo.processes import libfed_command
from tests.coordinator.conftest import start_network, stop_network

A = c.RequesterAction


def libfed(*args) -> subprocess.CompletedProcess:
    return subprocess.run(libfed_command(*map(str, args)), capture_output=True, text=True,
                          timeout=120)


async def test_a_state_with_loans_moves_to_postgres_and_carries_on(tmp_path, postgres_url):
    net = await start_network(tmp_path)
    branch, lib_a = net.link("BRANCH"), net.link("LIB_A")
    done = await branch.submit("p-1", cluster_id="c-1")
    await lib_a.report_supplier(done.request_id, c.LOAN_STATUS_LOANED)
    await branch.report_requester(done.request_id, A.Value("REQUESTER_ACTION_RECEIVED"))
    open_one = await branch.submit("p-2", cluster_id="c-2")
    await net.settle()
    path = net.config.home / "coordinator.toml"
    # Refused while the coordinator runs: a change after the copy would be lost.
    running = libfed("coordinator", "migrate", "--config", path, "--to", postgres_url)
    assert running.returncode != 0 and "stop it first" in running.stderr
    before = {rid: (await net.coordinator.store.request(rid)).to_json()
              for rid in (done.request_id, open_one.request_id)}
    await net.coordinator.stop(grace=0)

    moved = libfed("coordinator", "migrate", "--config", path, "--to", postgres_url, "--json")
    assert moved.returncode == 0, moved.stderr
    rows = json.loads(moved.stdout)["rows"]
    assert rows["nodes"] == 4 and rows["requests"] == 2 and rows["events"] >= 6
    config = CoordinatorConfig.load(path)
    assert config.state_db == postgres_url
    again = libfed("coordinator", "migrate", "--config", path, "--to", postgres_url)
    assert again.returncode != 0 and "already in PostgreSQL" in again.stderr

    net.coordinator = await CoordinatorServer(config, catalog=net.catalog, harvest=False).start()
    try:
        for rid, shown in before.items():
            assert (await net.coordinator.store.request(rid)).to_json() == shown
        net.links.clear()
        # The copied tokens still open the coordinator, and the audit trail goes on.
        returned = await net.link("BRANCH").report_requester(
            done.request_id, c.REQUESTER_ACTION_SHIPPED_RETURN)
        assert returned.last_requester_action == c.REQUESTER_ACTION_SHIPPED_RETURN
        history = (await net.coordinator.store.request(done.request_id)).history
        assert len(history) == len(before[done.request_id]["history"]) + 1
    finally:
        await stop_network(net)


def test_migrate_refuses_a_database_that_holds_a_state(tmp_path, postgres_url):
    for name in ("a", "b"):
        assert libfed("coordinator", "init", "--dir", tmp_path / name).returncode == 0
    added = libfed("coordinator", "add-node", "--config", tmp_path / "a" / "coordinator.toml",
                   "--symbol", "LIB", "--name", "A library", "--grpc", "127.0.0.1:1",
                   "--oai", "http://127.0.0.1:1/oai")
    assert added.returncode == 0, added.stderr
    first = libfed("coordinator", "migrate", "--config", tmp_path / "a" / "coordinator.toml",
                   "--to", postgres_url)
    assert first.returncode == 0, first.stderr
    second = libfed("coordinator", "migrate", "--config", tmp_path / "b" / "coordinator.toml",
                    "--to", postgres_url)
    assert second.returncode != 0 and "already holds" in second.stderr
    assert CoordinatorConfig.load(tmp_path / "b" / "coordinator.toml").state_db == "state.sqlite"
