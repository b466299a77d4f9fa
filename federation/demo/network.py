"""Building a federation of separate processes in one folder: coordinator + nodes.

Used by ``libfed demo`` and by the end-to-end tests. Every step is a real
`libfed` command (``node init``, ``node import``, ``coordinator add-node``,
``node join``, ``node serve``, ``coordinator serve``), so the demo exercises
exactly what an administrator would type. The servers are always processes of
their own; the short commands are child processes too, or, with
``in_process=True`` (the demo), run by the same CLI code inside this process
(:mod:`federation.demo.inprocess`), which saves ~0.8 s of start-up per command.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from libfed.v1 import coordinator_service_pb2 as pb
from libfed.v1 import coordinator_service_pb2_grpc as pb_grpc

from federation.coordinator.config import CoordinatorConfig
from federation.demo.processes import ProcessGroup, wait_for_port
from federation.errors import LibfedError, Unavailable


class CommandFailed(LibfedError):
    """A `libfed` command of the demo exited with an error."""


@dataclass
class Library:
    """One library of the run: where its files are and where it listens."""

    symbol: str
    name: str
    config: Path
    grpc_address: str = ""
    oai_url: str = ""
    token: str = ""

    @property
    def process(self) -> str:
        return f"node-{self.symbol}"


@dataclass
class FederationRun:
    """A coordinator and its nodes under ``root``, each its own process."""

    root: Path
    group: ProcessGroup = field(default_factory=ProcessGroup)
    libraries: dict[str, Library] = field(default_factory=dict)
    #: Partner libraries: an OAI-PMH server the coordinator harvests, not a node.
    partners: dict[str, Library] = field(default_factory=dict)
    coordinator_config: Path | None = None
    #: Outside ISO 18626 peers (symbol → endpoint): partners whose ILL system lends.
    peers: dict[str, str] = field(default_factory=dict)
    #: Run the short commands inside this process instead of as child processes.
    in_process: bool = False

    # -- commands ------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120.0) -> str:
        """Run `libfed args…`; its stdout, or CommandFailed with its stderr."""
        if self.in_process:
            from federation.demo.inprocess import run_command

            done = run_command([str(a) for a in args])
        else:
            done = self.group.run([str(a) for a in args], timeout=timeout)
        if done.returncode != 0:
            raise CommandFailed(f"libfed {' '.join(map(str, args))}: {done.stderr.strip()}")
        return done.stdout

    def cli_json(self, *args: str):
        return json.loads(self.cli(*args, "--json"))

    # -- building ------------------------------------------------------------------

    def init_coordinator(self, port: int, **settings) -> CoordinatorConfig:
        directory = self.root / "coordinator"
        self.cli("coordinator", "init", "--dir", directory, "--grpc-port", str(port))
        self.coordinator_config = directory / "coordinator.toml"
        config = CoordinatorConfig.load(self.coordinator_config)
        for key, value in settings.items():
            setattr(config, key, value)
        config.write(self.coordinator_config)
        return config

    def add_libraries(self, specs: list[tuple[str, str, list[Path]]], workers: int = 4) -> None:
        """Several libraries at once (``(symbol, name, files)``), in registration order."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            paths = list(pool.map(lambda spec: self.create_node(*spec), specs))
        for (symbol, name, _), path in zip(specs, paths, strict=True):
            self.register(symbol, name, path)

    def add_library(self, symbol: str, name: str, files: list[Path]) -> Library:
        """Create a node, load its records, register it and let it join."""
        return self.register(symbol, name, self.create_node(symbol, name, files))

    def create_node(self, symbol: str, name: str, files: list[Path]) -> Path:
        """`node init` and `node import`: the library's own database, before it joins."""
        directory = self.root / symbol.lower()
        self.cli("node", "init", "--symbol", symbol, "--name", name, "--dir", directory)
        path = directory / "node.toml"
        if files:
            self.cli("node", "import", "--config", path, *files, timeout=300)
        readers = directory / "readers.csv"
        readers.write_text("card_number,pin,display_name\n"
                           + "".join(f"{card},{pin},{name}\n"
                                     for card, pin, name in demo_readers(symbol)),
                           encoding="utf-8")
        self.cli("node", "patrons", "import", "--config", path, readers)
        return path

    def add_partner(self, symbol: str, name: str, files: list[Path]) -> Library:
        """A library known only by its OAI-PMH server: listed in the coordinator's
        sources file (harvested hourly), never registered as a node."""
        from node import config as node_config

        path = self.create_node(symbol, name, files)
        loaded = node_config.load(path)
        partner = Library(symbol, name, path, oai_url=f"http://{loaded.http_listen}/oai")
        self.partners[symbol] = partner
        sources = self.coordinator_config.parent / "partners.toml"
        sources.write_text("".join(
            f'[[source]]\nname = "{p.symbol}"\nurl = "{p.oai_url}"\nlibrary = "{p.symbol}"\n'
            f'schedule = "hourly"\n\n' for p in self.partners.values()), encoding="utf-8")
        config = CoordinatorConfig.load(self.coordinator_config)
        config.sources = sources.name
        config.write(self.coordinator_config)
        return partner

    def add_peer(self, symbol: str, name: str, port: int, agency_id: str) -> str:
        """Make a partner an outside ISO 18626 peer too: its ILL system (the toy one in
        :mod:`federation.demo.outside_ill`) lends and borrows at ``port``.

        `libfed coordinator add-peer` writes it into coordinator.toml
        (``[[coordinator.peers]]``); the peer's process starts with :meth:`launch_peer`.
        Its endpoint URL.
        """
        url = f"http://127.0.0.1:{port}/iso18626"
        self.cli("coordinator", "add-peer", "--config", self.coordinator_config, "--symbol",
                 symbol, "--url", url, "--agency-id", agency_id, "--name", name)
        self.peers[symbol] = url
        return url

    def launch_peer(self, symbol: str) -> None:
        """Start the outside ILL system of a peer, pointed at the coordinator's /iso18626."""
        config = CoordinatorConfig.load(self.coordinator_config)
        peer = next(p for p in config.peers if p.symbol == symbol)
        port = peer.url.rsplit(":", 1)[1].split("/")[0]
        log = self.root / f"{symbol.lower()}-ill.log"
        self.group.start(f"ill-{symbol}", [
            "--port", port, "--network-url", f"{self.web_url}iso18626",
            "--agency", peer.agency_id, "--network-agency", config.agency_id,
        ], log, module="federation.demo.outside_ill")
        wait_for_port(f"127.0.0.1:{port}", process=self.group.processes[f"ill-{symbol}"], log=log)

    def register(self, symbol: str, name: str, path: Path) -> Library:
        """`coordinator add-node` and `node join`."""
        from node import config as node_config

        loaded = node_config.load(path)
        library = Library(symbol, name, path, grpc_address=loaded.grpc_listen,
                          oai_url=f"http://{loaded.http_listen}/oai")
        answer = self.cli_json("coordinator", "add-node", "--config", self.coordinator_config,
                               "--symbol", symbol, "--name", name, "--grpc",
                               library.grpc_address, "--oai", library.oai_url)
        library.token = answer["token"]
        self.cli("node", "join", "--config", path, "--coordinator", self.coordinator_address,
                 "--token", library.token)
        self.libraries[symbol] = library
        return library

    # -- processes -----------------------------------------------------------------

    @property
    def coordinator_address(self) -> str:
        return CoordinatorConfig.load(self.coordinator_config).listen

    def start_node(self, symbol: str) -> None:
        library = self.libraries[symbol]
        log = library.config.parent / "node.log"
        process = self.group.start(library.process, ["node", "serve", "--config",
                                                     str(library.config)], log)
        wait_for_port(library.grpc_address, process=process, log=log)
        wait_for_port(library.oai_url.split("/")[2], process=process, log=log)

    def start_nodes(self) -> None:
        """Start every node at once, then wait until each one listens."""
        for library in [*self.libraries.values(), *self.partners.values()]:
            self.launch_node(library.symbol)
        self.wait_nodes()

    def launch_node(self, symbol: str) -> None:
        """Start `node serve` for a library (or partner) without waiting for it; see
        :meth:`wait_nodes`. The demo launches each node as soon as it is built, so
        nodes start on the other core while the next library imports its records."""
        library = self.libraries.get(symbol) or self.partners[symbol]
        log = library.config.parent / "node.log"
        self.group.start(library.process, ["node", "serve", "--config", str(library.config)], log)

    def wait_nodes(self) -> None:
        """Until every launched node listens (gRPC, when it has one, and OAI-PMH)."""
        for library in [*self.libraries.values(), *self.partners.values()]:
            process = self.group.processes.get(library.process)
            log = self.group.logs.get(library.process)
            if library.grpc_address:
                wait_for_port(library.grpc_address, process=process, log=log)
            wait_for_port(library.oai_url.split("/")[2], process=process, log=log)

    def start_coordinator(self) -> None:
        log = self.coordinator_config.parent / "coordinator.log"
        process = self.group.start("coordinator", ["-v", "coordinator", "serve", "--config",
                                                   str(self.coordinator_config)], log)
        wait_for_port(self.coordinator_address, process=process, log=log)

    @property
    def web_url(self) -> str:
        """The coordinator's web pages (readers at ``/``, staff at ``/staff``), or ""."""
        listen = CoordinatorConfig.load(self.coordinator_config).web_listen
        return f"http://{listen}/" if listen else ""

    def wait_web(self, timeout: float = 60.0) -> None:
        """Until the readers' page answers 200 (the coordinator serves its web pages
        after its gRPC port opens)."""
        deadline = time.monotonic() + timeout
        process = self.group.processes.get("coordinator")
        while True:
            try:
                with urllib.request.urlopen(self.web_url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if process is not None and process.poll() is not None:
                raise Unavailable(f"the coordinator exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise Unavailable(f"the web pages at {self.web_url} do not answer after "
                                  f"{timeout:g}s")
            time.sleep(0.05)

    def network_status(self, timeout: float = 10.0) -> pb.NetworkStatus:
        with grpc.insecure_channel(self.coordinator_address) as channel:
            try:
                return pb_grpc.CoordinatorStub(channel).GetNetworkStatus(
                    pb.GetNetworkStatusRequest(), timeout=timeout)
            except grpc.RpcError as error:
                raise Unavailable(f"coordinator: {error.details()}") from None

    def wait_harvested(self, timeout: float = 120.0) -> pb.NetworkStatus:
        """Until every node's records are in the union catalog and every node is up."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.network_status()
            # Every source, both formats of every node (marc21 and rusmarc), once.
            harvested = {s.name for s in status.sources if s.HasField("last_harvest")}
            pending = {s.name for s in status.sources} - harvested
            up = {n.symbol for n in status.nodes if n.up}
            everyone = set(self.libraries) | set(self.partners)
            if everyone <= harvested and not pending and set(self.libraries) <= up:
                return status
            if time.monotonic() > deadline:
                raise Unavailable(f"harvest not done after {timeout:g}s: harvested {harvested},"
                                  f" up {up}")
            time.sleep(0.3)

    def stop(self) -> None:
        """The coordinator first (it may still be telling nodes something), then every
        node at once; anything else this run started, last started first."""
        self.group.stop("coordinator")
        nodes = [library.process for library in [*self.libraries.values(),
                                                 *self.partners.values()]]
        self.group.stop_together(nodes)
        self.group.stop_all()


def demo_readers(symbol: str) -> list[tuple[str, str, str]]:
    """The library cards a person can sign in with on the demo's reader pages:
    (card, PIN, name). The name is what pages greet the reader with; it never
    carries the card number, which stays at the reader's library."""
    return [(f"{symbol}-1001", "1234", "Ирина Смирнова"), (f"{symbol}-1002", "5678", "Alex Morgan")]
