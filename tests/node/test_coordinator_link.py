"""A library joins the network: its node beats to a real coordinator and obeys its token."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from libfed.v1 import common_pb2, node_service_pb2, node_service_pb2_grpc

from tests.conftest import free_port
from tests.node.conftest import IMPORT_FILES, make_config, start_node

coordinator_config = pytest.importorskip("federation.coordinator.config")
coordinator_server = pytest.importorskip("federation.coordinator.server")


async def test_a_joined_node_beats_and_takes_the_coordinators_loan_calls(tmp_path):
    config, _ = coordinator_config.CoordinatorConfig.create(tmp_path / "coord", free_port())
    coordinator = await coordinator_server.CoordinatorServer(config, harvest=False).start()
    try:
        token = await coordinator.registry.add_node(
            "US-MIU", "Test Library", "127.0.0.1:1", "http://127.0.0.1:1/oai"
        )
        node_config = make_config(tmp_path / "node", token=token)
        node_config.extra["coordinator"]["address"] = f"127.0.0.1:{coordinator.port}"
        node = await start_node(node_config, IMPORT_FILES[:2])
        try:
            for _ in range(100):
                seen = await coordinator.store.node("US-MIU")
                if seen.last_seen:
                    break
                await asyncio.sleep(0.05)
            assert seen.record_count == 32
            assert seen.grpc_address == node.grpc_target
            assert seen.oai_url == node.oai_url
            # The coordinator presents its own credential on loan calls, not the node's
            # token; the node takes those calls from it and from nobody else.
            presented = coordinator.gateway.metadata_for(seen)
            assert presented != (("authorization", f"Bearer {token}"),)
            offer = node_service_pb2.OfferLoanRequest(request_id="c-1", attempt=1,
                                                      record_id="u53329")
            async with grpc.aio.insecure_channel(node.grpc_target) as channel:
                stub = node_service_pb2_grpc.LibraryNodeStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await stub.OfferLoan(offer, metadata=[("authorization", f"Bearer {token}")])
                assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
                answer = await stub.OfferLoan(offer, metadata=presented)
            assert answer.status == common_pb2.LOAN_STATUS_WILL_SUPPLY
        finally:
            await node.server.stop(grace=0.1)
    finally:
        await coordinator.stop(grace=0)


async def test_the_coordinator_keeps_only_a_hash_it_cannot_make_the_token_from(tmp_path):
    """Its database holds SHA-256 of the token, and nothing it keeps (database or
    secret) makes the token again: the token's first part is random."""
    from federation.coordinator import auth

    config, _ = coordinator_config.CoordinatorConfig.create(tmp_path / "coord", free_port())
    coordinator = await coordinator_server.CoordinatorServer(config, harvest=False).start()
    try:
        token = await coordinator.registry.add_node(
            "US-MIU", "Test Library", "127.0.0.1:1", "http://127.0.0.1:1/oai"
        )
        rows = await coordinator.store._all("SELECT token_hash FROM nodes", ())
        assert [row["token_hash"] for row in rows] == [auth.hash_token(token)]
        again = auth.issue_token(config.secret, "US-MIU")
        assert again != token and again.rpartition(".")[2] == token.rpartition(".")[2]
    finally:
        await coordinator.stop(grace=0)
