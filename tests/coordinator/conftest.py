"""A small network on loopback for coordinator tests: scripted libraries + a real coordinator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.server import CoordinatorServer
from node.coordinator_link import CoordinatorLink, coordinator_credential_in
from tests.conftest import free_port
from tests.coordinator.libraries import HoldingsTable, ScriptedLibrary

#: Work "c-1" is held by the requester BRANCH and by three possible lenders.
CLUSTERS = {
    "c-1": ("Война и мир", [("BRANCH", "b1"), ("LIB_A", "a1"), ("LIB_B", "b7"), ("LIB_C", "c3")]),
    "c-2": ("Moby Dick", [("LIB_A", "a2"), ("LIB_B", "b2")]),
    "c-lonely": ("Only here", [("BRANCH", "b9")]),
}
ISBNS = {"9785170906895": ["c-1"]}


@dataclass
class Network:
    config: CoordinatorConfig
    coordinator: CoordinatorServer
    catalog: HoldingsTable
    libraries: dict[str, ScriptedLibrary] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    links: dict[str, CoordinatorLink] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.coordinator.port}"

    def link(self, symbol: str, token: str | None = None) -> CoordinatorLink:
        if token is not None:
            return CoordinatorLink(self.address, token, symbol)
        if symbol not in self.links:
            self.links[symbol] = CoordinatorLink(self.address, self.tokens[symbol], symbol)
        return self.links[symbol]

    async def restart(self) -> None:
        """Stop the coordinator and start a new one on the same files and port."""
        for link in self.links.values():
            await link.close()
        self.links.clear()
        await self.coordinator.stop(grace=0)
        self.coordinator = await CoordinatorServer(
            self.config, catalog=self.catalog, harvest=False
        ).start()

    async def settle(self) -> None:
        """Let background work (advances, outbox) finish."""
        await self.coordinator.loans.drain()
        from federation.coordinator import duties

        await duties.send_outbox(self.coordinator.loans)


def make_config(tmp_path: Path, **overrides) -> CoordinatorConfig:
    config, path = CoordinatorConfig.create(tmp_path / "coordinator", free_port())
    for key, value in dict(
        answer_deadline=30.0, availability_timeout=0.5, call_timeout=1.0, call_attempts=2,
        retry_backoff=0.05, health_interval=3600.0, harvest_interval=3600.0, tick_interval=0.1,
    ).items():
        setattr(config, key, value)
    for key, value in overrides.items():
        setattr(config, key, value)
    config.write(path)
    return CoordinatorConfig.load(path)


async def start_network(tmp_path: Path, symbols=("BRANCH", "LIB_A", "LIB_B", "LIB_C"),
                        catalog: HoldingsTable | None = None, **overrides) -> Network:
    config = make_config(tmp_path, **overrides)
    catalog = catalog or HoldingsTable(CLUSTERS, ISBNS)
    coordinator = await CoordinatorServer(config, catalog=catalog, harvest=False).start()
    network = Network(config, coordinator, catalog)
    for symbol in symbols:
        library = await ScriptedLibrary(symbol).start()
        token = await coordinator.registry.add_node(
            symbol, f"Library {symbol}", library.address, f"http://127.0.0.1:1/{symbol}/oai"
        )
        library.expected_token = coordinator_credential_in(token)
        network.libraries[symbol] = library
        network.tokens[symbol] = token
    await coordinator.registry.check_health(coordinator.gateway)
    return network


async def stop_network(network: Network) -> None:
    for link in network.links.values():
        await link.close()
    await network.coordinator.stop(grace=0)
    for library in network.libraries.values():
        await library.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def state_db(request) -> str:
    """The coordinator's state: a SQLite file, then a PostgreSQL database (skipped
    where PostgreSQL cannot start). The lifecycle and routing tests run on both."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return "state.sqlite"


@pytest.fixture
async def network(tmp_path, state_db):
    net = await start_network(tmp_path, state_db=state_db)
    yield net
    await stop_network(net)
