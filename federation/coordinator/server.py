"""One running coordinator: the gRPC server and the clocks behind it.

:class:`CoordinatorServer` is what ``libfed coordinator serve`` runs and what the
tests start in-process: it opens the state store and the union catalog, serves
the Coordinator service (plus gRPC health), and runs its loops — answer
deadlines, needed-before and due dates, the outbox of calls owed to lenders,
node health checks, harvests of every registered node's OAI-PMH provider, and
harvests of partner libraries' servers on their schedules (:mod:`.partners`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from libfed.v1 import coordinator_service_pb2_grpc

from federation.coordinator import duties
from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.gateway import Gateway
from federation.coordinator.iso18626.client import PeerGateway
from federation.coordinator.iso18626.inbound import Iso18626Inbound
from federation.coordinator.nodes import NodeGateway
from federation.coordinator.partners import PartnerHarvests, check_names, partner_sources
from federation.coordinator.registry import NodeRegistry, node_sources
from federation.coordinator.service import LoanService, Timing
from federation.coordinator.servicer import CoordinatorServicer
from federation.coordinator.store import CoordinatorStore
from federation.rpc import grpc_server

log = logging.getLogger(__name__)

SERVICE_NAME = "libfed.v1.Coordinator"


async def open_catalog(config: CoordinatorConfig):
    """The union catalog named by the config."""
    from federation.catalog import UnionCatalog

    return await UnionCatalog.open(config.catalog_path)


async def harvest_nodes(store: CoordinatorStore, catalog) -> list:
    """Harvest every registered node's OAI-PMH provider into the union catalog, once.

    Each node is its own source, named by its symbol; the harvester keeps each
    source's checkpoint in the catalog, so runs are incremental.
    """
    from harvester.harvester import Harvester

    sources = [s for node in await store.nodes() if not node.is_peer
               for s in node_sources(node.symbol, node.oai_url)]
    return await Harvester(catalog).harvest_each(sources)


class CoordinatorServer:
    """A coordinator process's parts, started and stopped together."""

    def __init__(self, config: CoordinatorConfig, *, catalog=None, harvest: bool = True) -> None:
        self.config = config
        self.catalog = catalog
        self._own_catalog = catalog is None
        self._harvest = harvest
        self.store: CoordinatorStore | None = None
        self.gateway: Gateway | None = None
        #: Answers outside peers' ISO 18626 messages (the web server's /iso18626).
        self.iso18626: Iso18626Inbound | None = None
        self.registry: NodeRegistry | None = None
        self.loans: LoanService | None = None
        self.partners: PartnerHarvests | None = None
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self._loops: list[asyncio.Task] = []

    async def start(self) -> CoordinatorServer:
        config = self.config
        sources = partner_sources(config)  # a bad sources file stops us before anything opens
        self.store = await CoordinatorStore.open(config.state_path)
        if self.catalog is None:
            self.catalog = await open_catalog(config)
        try:
            nodes = [node.symbol for node in await self.store.nodes() if not node.is_peer]
            check_names(sources, nodes, config.sources_path)
            self.registry = NodeRegistry(self.store, config.secret, self.catalog)
            await self.registry.sync_peers(config.peers)
        except BaseException:
            await self.store.close()
            if self._own_catalog:
                await self.catalog.close()
            raise
        self.partners = PartnerHarvests(sources, self.catalog, config.harvest_interval)
        patience = dict(call_timeout=config.call_timeout, attempts=config.call_attempts,
                        backoff=config.retry_backoff)
        self.gateway = Gateway(
            NodeGateway(config.secret, **patience),
            PeerGateway(self.store, config.peers, config.agency_id, **patience),
        )
        timing = Timing(max_renewals=config.max_renewals, renewal_period=config.renewal_period,
                        answer_deadline=config.answer_deadline,
                        availability_timeout=config.availability_timeout)
        self.loans = LoanService(self.store, self.catalog, self.gateway, timing)
        self.iso18626 = Iso18626Inbound(self.loans, config.peers, config.agency_id)
        self.server = grpc_server()
        coordinator_service_pb2_grpc.add_CoordinatorServicer_to_server(
            CoordinatorServicer(self.registry, self.loans, self.catalog), self.server
        )
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self.server)
        try:
            self.port = self.server.add_insecure_port(config.listen)
        except RuntimeError as error:  # the port is taken
            await self.stop(grace=0)
            raise OSError(f"cannot listen for gRPC on {config.listen}: {error}") from error
        await self.server.start()
        for name in ("", SERVICE_NAME):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        for node in await self.store.nodes():
            await self.registry.register_source(node)
        resumed = await self.loans.resume()
        log.info("coordinator listening on %s (%d requests resumed)", config.listen, resumed)
        self._loops = [
            self._every(config.tick_interval, self._tick, "deadlines"),
            self._outbox_loop(),
            self._every(config.health_interval, self._health, "health checks"),
        ]
        if self._harvest:
            self._loops.append(self._every(config.harvest_interval, self.harvest_nodes, "harvest"))
            if self.partners.sources:
                self._loops.append(self._every(config.partner_check_interval,
                                               self._partner_harvests, "partner harvests"))
        if config.backup_plan is not None:
            self._loops.append(self._backups(config.backup_plan))
        self._loops = [asyncio.create_task(loop) for loop in self._loops]
        return self

    def _backups(self, plan):
        """Back up the state, the staff accounts and (backup_catalog) the catalog file on the
        schedule, in a worker thread on connections of its own (federation.backup)."""
        from pathlib import Path

        from federation.backup.schedule import run_schedule
        from federation.coordinator.verify import coordinator_stores

        stores, elsewhere = coordinator_stores(self.config, catalog=self.config.backup_catalog)
        for place in elsewhere:
            log.info("scheduled backups leave out what is not a file: %s (use pg_dump)", place)
        return run_schedule(plan, "coordinator", Path(self.config.home).name, lambda: stores)

    async def _every(self, seconds: float, job: Callable[[], Awaitable], name: str) -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; trying again in %.0fs", name, seconds)
            await asyncio.sleep(seconds)

    async def _tick(self) -> None:
        # Needed-before first: a request its reader gave up on must not be passed on to
        # the next lender by an answer deadline that ran out at the same time.
        await duties.give_up_past_need(self.loans)
        await duties.expire_deadlines(self.loans)
        await duties.mark_overdue(self.loans)
        # A request left in RequestReceived with nobody working on it (e.g. a failed
        # advance) is picked up again here.
        await self.loans.resume()

    async def _outbox_loop(self) -> None:
        ready = self.loans.outbox_ready
        while True:
            try:
                # asyncio.timeout, not asyncio.wait_for: on Python 3.11 wait_for swallows
                # a cancel that arrives as the event fires, so stop() waited forever on
                # this loop (seen as a hung test teardown in CI).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.tick_interval):
                        await ready.wait()
                ready.clear()
                await duties.send_outbox(self.loans)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sending the outbox failed")
                await asyncio.sleep(self.config.tick_interval)

    async def _health(self) -> None:
        await self.registry.check_health(self.gateway)

    async def harvest_nodes(self) -> list:
        """Harvest every registered node's OAI-PMH provider into the union catalog, once
        (unless another coordinator on the same database is harvesting now)."""
        async with self.store.exclusive("harvest") as ours:
            return await harvest_nodes(self.store, self.catalog) if ours else []

    async def _partner_harvests(self) -> list:
        async with self.store.exclusive("harvest") as ours:
            return await self.partners.harvest_due() if ours else []

    async def harvest_all(self) -> list:
        """Harvest every node and every partner source now, schedules aside."""
        return await self.harvest_nodes() + await self.partners.harvest_all()

    async def stop(self, grace: float = 1.0) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        if self.server is not None:
            await self.server.stop(grace)
        if self.loans is not None:
            await self.loans.drain()
        if self.gateway is not None:
            await self.gateway.close()
        if self.store is not None:
            await self.store.close()
        if self._own_catalog and self.catalog is not None:
            await self.catalog.close()

    async def wait(self) -> None:
        await self.server.wait_for_termination()
