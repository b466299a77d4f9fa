"""A partner library's own OAI-PMH server, harvested by the coordinator on its schedule."""

from __future__ import annotations

import asyncio
import time

import pytest

from federation.catalog.model import SourceState
from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.server import CoordinatorServer
from federation.errors import AlreadyExists, ConfigError
from tests.conftest import free_port
from tests.harvester.conftest import OAI_FIXTURES
from tests.harvester.oai_server import OaiServer, PagedRepository, records_from


def _coordinator(tmp_path, sources: str) -> CoordinatorConfig:
    config, path = CoordinatorConfig.create(tmp_path / "central", free_port())
    (tmp_path / "central" / "partners.toml").write_text(sources, encoding="utf-8")
    config.sources = "partners.toml"
    config.partner_check_interval = 0.1
    config.health_interval = config.harvest_interval = 3600.0
    config.write(path)
    return CoordinatorConfig.load(path)


async def _until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_partners_are_harvested_on_their_schedules_and_manual_ones_on_request(tmp_path):
    records = records_from(OAI_FIXTURES / "xbib-zdb-oai-marc.xml")
    koha = PagedRepository(records[:12], page_size=5)
    dspace = PagedRepository(records[12:20], page_size=5)
    async with OaiServer(koha) as koha_server, OaiServer(dspace) as dspace_server:
        config = _coordinator(tmp_path, f"""
            [[source]]
            name = "koha"
            url = "{koha_server.url}"
            library = "KOHA"
            schedule = "1s"

            [[source]]
            name = "dspace"
            url = "{dspace_server.url}"
            library = "DSPACE"
            schedule = "manual"
        """)
        coordinator = await CoordinatorServer(config).start()
        try:
            catalog = coordinator.catalog

            async def counts() -> dict[str, int]:
                return {s.name: s.records for s in await catalog.sources()}

            async def koha_has(n: int) -> bool:
                return (await counts()).get("koha") == n

            await _until(lambda: koha_has(12))
            first = [r for r in koha.requests if r.get("verb") == "ListRecords"]
            # Due again a second later: the next run asks only for what changed.
            koha.now = "2026-11-29T10:00:00Z"
            koha.change(records[0].identifier, datestamp="2026-11-29T09:00:00Z", deleted=True)
            await _until(lambda: koha_has(11))
            later = [r for r in koha.requests if r.get("verb") == "ListRecords"][len(first):]
            assert later and later[0].get("from")
            # "manual" is never harvested on its own, only when asked.
            assert "dspace" not in await counts() and not dspace.requests
            summaries = await coordinator.harvest_all()
            assert {s.source for s in summaries} >= {"koha", "dspace"}
            assert (await counts())["dspace"] == 8
        finally:
            await coordinator.stop(grace=0)


async def test_a_bad_schedule_stops_the_coordinator_with_the_file_and_source_named(tmp_path):
    config = _coordinator(tmp_path, """
        [[source]]
        name = "koha"
        url = "http://127.0.0.1:1/oai"
        library = "KOHA"
        schedule = "every full moon"
    """)
    with pytest.raises(ConfigError, match=r"partners.toml: \[\[source\]\] #1: schedule"):
        await CoordinatorServer(config).start()


async def test_a_partner_cannot_take_a_node_sources_name(tmp_path):
    config = _coordinator(tmp_path, """
        [[source]]
        name = "KOHA"
        url = "http://127.0.0.1:1/oai"
        library = "KOHA"
    """)
    coordinator = await CoordinatorServer(config, harvest=False).start()
    try:  # the partner's source exists: a node may not register under its name
        await coordinator.catalog.save_source(SourceState("KOHA", "KOHA", "http://127.0.0.1:1/oai"))
        with pytest.raises(AlreadyExists, match="partner"):
            await coordinator.registry.add_node("KOHA", "Koha", "127.0.0.1:5", "http://10.0.0.1/oai")
        await coordinator.registry.add_node("KOHA2", "Koha 2", "127.0.0.1:5", "http://10.0.0.1/oai")
    finally:
        await coordinator.stop(grace=0)
    (tmp_path / "central" / "partners.toml").write_text(
        '[[source]]\nname = "KOHA2:rusmarc"\nurl = "http://127.0.0.1:1/oai"\nlibrary = "K"\n')
    with pytest.raises(ConfigError, match="KOHA2:rusmarc"):
        await CoordinatorServer(config, harvest=False).start()
