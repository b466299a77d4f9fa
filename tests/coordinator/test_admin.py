"""The central library administers its nodes: a leaked token is replaced, a node moves."""

from __future__ import annotations

import json

import pytest

from federation.cli.main import main
from federation.errors import NotFound, Unauthenticated
from node.coordinator_link import coordinator_credential_in
from tests.coordinator.conftest import make_config, start_network, stop_network


async def test_a_rotated_token_locks_out_the_old_one_and_the_node_gets_the_new(network):
    registry = network.coordinator.registry
    registry.token_cache_seconds = 0  # a running coordinator notices within seconds
    old = network.tokens["LIB_A"]
    assert await network.link("LIB_A").list() == []
    new = await registry.rotate_token("LIB_A")
    assert new != old and new.startswith(old[:4])
    with pytest.raises(Unauthenticated):
        await network.link("LIB_A").list()
    assert await network.link("LIB_A", new).list() == []
    # The coordinator now presents its credential of the new generation (the new
    # token's second part) when it offers LIB_A a loan.
    library = network.libraries["LIB_A"]
    library.expected_token = coordinator_credential_in(new)
    assert library.expected_token != coordinator_credential_in(old)
    network.libraries["LIB_B"].script.available = 0
    network.libraries["LIB_C"].script.available = 0
    request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
    assert request.lender_symbol == "LIB_A"
    offers = [r for r in library.received if r.method == "OfferLoan"]
    assert offers[-1].metadata["authorization"] == f"Bearer {coordinator_credential_in(new)}"
    with pytest.raises(NotFound):
        await registry.rotate_token("NOBODY")


async def test_priority_and_addresses_change_without_registering_again(tmp_path, state_db):
    network = await start_network(tmp_path, state_db=state_db)
    try:
        node = await network.coordinator.registry.update_node("LIB_B", priority=5)
        assert node.priority == 5
        request = await network.link("BRANCH").submit("p-1", cluster_id="c-1")
        assert request.lender_symbol == "LIB_B"
    finally:
        await stop_network(network)


def test_rotate_token_and_set_node_on_the_command_line(tmp_path, capsys):
    make_config(tmp_path)
    path = str(tmp_path / "coordinator" / "coordinator.toml")
    base = ["coordinator", "add-node", "--config", path, "--symbol", "BL", "--name", "Branch",
            "--grpc", "127.0.0.1:5", "--oai", "http://127.0.0.1:6/oai", "--json"]
    assert main(base) == 0
    first = json.loads(capsys.readouterr().out)["token"]
    assert main(["coordinator", "rotate-token", "--config", path, "--symbol", "BL", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)["token"]
    assert second != first
    assert main(["coordinator", "set-node", "--config", path, "--symbol", "BL",
                 "--priority", "3", "--oai", "http://10.0.0.9/oai", "--json"]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert (changed["priority"], changed["oai_url"], changed["token_generation"]) == (
        3, "http://10.0.0.9/oai", 1)
    assert main(["coordinator", "set-node", "--config", path, "--symbol", "BL"]) == 2
    assert "nothing to change" in capsys.readouterr().err
    assert main(["coordinator", "rotate-token", "--config", path, "--symbol", "XX"]) == 2
    assert "no node XX" in capsys.readouterr().err


def test_a_node_registered_before_the_coordinator_had_its_own_credential_keeps_working():
    """State schema 4 marks nodes registered with an lf1- token (used both ways): the
    coordinator goes on presenting that token to them until it is rotated."""
    from federation.coordinator import auth
    from federation.coordinator.model import Node
    from federation.coordinator.nodes import NodeGateway

    gateway = NodeGateway("s3cret")
    old = Node("OLD", "Old library", "127.0.0.1:1", "http://127.0.0.1:1/oai", token_scheme=1)
    new = Node("NEW", "New library", "127.0.0.1:2", "http://127.0.0.1:2/oai")
    legacy = auth.legacy_token("s3cret", "OLD")
    assert gateway.metadata_for(old) == (("authorization", f"Bearer {legacy}"),)
    assert coordinator_credential_in(legacy) == legacy  # what the old node expects
    # A token cut short at the dot still closes the node (never an empty credential).
    assert coordinator_credential_in("lf2-abc.") == "lf2-abc."
    token = auth.issue_token("s3cret", "NEW")
    assert gateway.metadata_for(new) == (
        ("authorization", f"Bearer {coordinator_credential_in(token)}"),
    )
