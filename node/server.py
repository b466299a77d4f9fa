"""One node process: the LibraryNode gRPC service and the OAI-PMH provider together.

gRPC carries the standard health service (so probes and grpcurl work) and
server reflection; HTTP serves ``/oai``. Both share one holdings store. With a
``[backup]`` table in node.toml the node also backs its stores up on that
schedule (federation.backup; docs/backup.md). SIGINT
and SIGTERM stop the node cleanly: in-flight calls get a short grace period,
then the store is closed.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from libfed.v1 import node_service_pb2, node_service_pb2_grpc

from federation.backup.schedule import BackupPlan, run_schedule
from federation.rpc import grpc_server
from node.catalog import HoldingsCatalog
from node.config import NodeConfig, split_listen
from node.coordinator_link import coordinator_credential_in
from node.grpc_service import LibraryNodeServicer
from node.lending import LendingPolicy
from node.oai import OaiProvider, oai_routes
from node.store import HoldingsStore
from node.verify import node_stores

log = logging.getLogger(__name__)

_SERVICE = node_service_pb2.DESCRIPTOR.services_by_name["LibraryNode"].full_name


class NodeServer:
    """A running node; :meth:`start` binds, :meth:`stop` releases everything."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.store: HoldingsStore | None = None
        self.grpc_port = 0
        self.http_port = 0
        self._grpc: grpc.aio.Server | None = None
        self._runner: web.AppRunner | None = None
        self._closers: list = []
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        backups = self.config.backup  # a bad [backup] table stops the node before it binds
        self.store = await HoldingsStore.open(self.config.database_path())
        try:
            provider = await OaiProvider.create(self.store, self.config)
            await self._start_grpc(provider)
            await self._start_http(provider)
        except BaseException:
            await self.stop(grace=0)  # a port in use must not leave the other server running
            raise
        self._start_heartbeat()
        if backups is not None:
            self._start_backups(backups)
        log.info(
            "node %s (%s) serving gRPC on %s:%d and OAI-PMH on http://%s:%d/oai",
            self.config.symbol,
            self.config.name,
            split_listen(self.config.grpc_listen)[0],
            self.grpc_port,
            split_listen(self.config.http_listen)[0],
            self.http_port,
        )

    async def _start_grpc(self, provider: OaiProvider) -> None:
        assert self.store is not None
        server = grpc_server()
        servicer = LibraryNodeServicer(
            HoldingsCatalog(self.store),
            LendingPolicy(self.store),
            provider.identifier,
            loan_token=coordinator_credential_in(str(self.config.coordinator.get("token") or "")),
        )
        node_service_pb2_grpc.add_LibraryNodeServicer_to_server(servicer, server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        names = [_SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        names += await self._optional_services(server)
        reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
        host, port = split_listen(self.config.grpc_listen)
        try:
            self.grpc_port = server.add_insecure_port(f"{host}:{port}")
        except RuntimeError as error:  # grpcio raises, older versions returned 0
            raise OSError(f"cannot listen for gRPC on {host}:{port}: {error}") from error
        if self.grpc_port == 0:
            raise OSError(f"cannot listen for gRPC on {host}:{port}")
        await server.start()
        for name in ("", _SERVICE):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._grpc = server

    async def _optional_services(self, server: grpc.aio.Server) -> list[str]:
        """The reader register (node.patrons), served when that module is installed."""
        try:
            patrons = importlib.import_module("node.patrons")
        except ModuleNotFoundError as error:
            if error.name != "node.patrons":
                raise
            return []
        register = await patrons.add_patron_service(server, self.config)
        self._closers.append(register.close)
        from libfed.v1 import patron_service_pb2

        return [svc.full_name for svc in patron_service_pb2.DESCRIPTOR.services_by_name.values()]

    def _start_heartbeat(self) -> None:
        """Beat to the coordinator when node.toml names one (``libfed node join``)."""
        try:
            link_module = importlib.import_module("node.coordinator_link")
        except ModuleNotFoundError as error:
            if error.name != "node.coordinator_link":
                raise
            return
        link = link_module.CoordinatorLink.from_config(self.config)
        if link is None:
            return
        # advertise the addresses actually bound (a config may say port 0)
        grpc_host = split_listen(self.config.grpc_listen)[0]
        http_host = split_listen(self.config.http_listen)[0]
        table = dict(self.config.coordinator)
        table.setdefault("advertise_grpc", f"{grpc_host}:{self.grpc_port}")
        table.setdefault("advertise_oai", f"http://{http_host}:{self.http_port}/oai")
        self.config.extra["coordinator"] = table
        store = self.store
        assert store is not None

        async def record_count() -> int:
            return (await store.stats())["records"]

        task = asyncio.create_task(link_module.heartbeat_loop(link, self.config, record_count))
        self._tasks.append(task)
        self._closers.append(link.close)
        log.info("node %s: heartbeat to the coordinator at %s", self.config.symbol, link.address)

    def _start_backups(self, plan: BackupPlan) -> None:
        """Back up the holdings and readers on the ``[backup]`` schedule (in a worker thread,
        on connections of its own: the node goes on serving)."""
        config = self.config
        task = asyncio.create_task(
            run_schedule(plan, "node", config.symbol, lambda: node_stores(config))
        )
        self._tasks.append(task)

    async def _start_http(self, provider: OaiProvider) -> None:
        app = web.Application()
        app.add_routes(oai_routes(provider))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = split_listen(self.config.http_listen)
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.http_port = site._server.sockets[0].getsockname()[1]  # the bound port (0 → real)

    async def stop(self, grace: float = 2.0) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._grpc is not None:
            await self._grpc.stop(grace)
        for close in self._closers:
            await close()
        if self.store is not None:
            await self.store.close()
        log.info("node %s stopped", self.config.symbol)


async def serve(config: NodeConfig) -> None:
    """Run the node until SIGINT or SIGTERM."""
    node = NodeServer(config)
    await node.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("node %s: stopping on signal", config.symbol)
    finally:
        await node.stop()
