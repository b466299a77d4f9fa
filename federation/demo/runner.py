"""`libfed demo`: build, start and show a federation; stop everything on the way out."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from federation.cli.request import print_request
from federation.cli.status import print_status
from federation.demo.desk import ROUND_SECONDS, Desk
from federation.demo.libraries import LIBRARIES, PARTNERS, files_for
from federation.demo.network import FederationRun
from federation.demo.script import Story, clusters_held_by_many
from federation.errors import ConfigError

MARKER = ".libfed-demo"
#: The demo's staff login for the central library's dashboard (a demo, not a secret).
STAFF_USER = "staff"
STAFF_PASSWORD = "libfed-demo-staff"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(root: Path) -> None:
    """A fresh run folder; an old demo run is replaced, anything else is left alone."""
    if root.exists():
        if not (root / MARKER).exists():
            raise ConfigError(f"{root} exists and is not a demo run folder; choose another --dir")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("created by `libfed demo`; deleted by the next run\n")


def build(run: FederationRun, console: Console) -> None:
    """The coordinator's files, then each library: created, loaded, registered and its
    `node serve` launched at once (it starts while the next library is built)."""
    web_port = free_port()
    run.init_coordinator(
        free_port(), answer_deadline=600.0, health_interval=5.0, harvest_interval=300.0,
        tick_interval=0.5, availability_timeout=2.0, web_listen=f"127.0.0.1:{web_port}",
        partner_check_interval=2.0,
    )
    for spec in LIBRARIES:
        files = files_for(spec, run.root / "slices")
        run.add_library(spec.symbol, spec.name, files)
        run.launch_node(spec.symbol)
        console.print(f"  {spec.symbol:4} {spec.name}: {len(files)} file(s) of records")
    for spec in PARTNERS:
        files = files_for(spec, run.root / "slices")
        run.add_partner(spec.symbol, spec.name, files)
        run.launch_node(spec.symbol)
        console.print(f"  {spec.symbol:4} {spec.name}: {len(files)} file(s) of records, "
                      "harvested from its OAI-PMH server (coordinator sources file)")
        url = run.add_peer(spec.symbol, spec.name, free_port(), f"ISIL:XX-{spec.symbol}")
        console.print(f"       and its own ILL system speaks ISO 18626 at {url} "
                      + escape("(coordinator.toml [[coordinator.peers]])"))
    password = run.root / "coordinator" / "staff-password.txt"
    password.write_text(f"{STAFF_PASSWORD}\n", encoding="utf-8")
    run.cli("coordinator", "add-user", "--config", run.coordinator_config, STAFF_USER,
            "--password-file", password)


def where(run: FederationRun, console: Console) -> None:
    """The table of every process's addresses and folders, then the URLs to open."""
    table = Table(title="where everything listens")
    for column in ("process", "gRPC", "OAI-PMH / web", "folder"):
        table.add_column(column, overflow="fold")
    from federation.coordinator.config import CoordinatorConfig

    config = CoordinatorConfig.load(run.coordinator_config)
    table.add_row("coordinator", config.listen, run.web_url, str(config.home))
    for library in run.libraries.values():
        table.add_row(f"node {library.symbol}", library.grpc_address, library.oai_url,
                      str(library.config.parent))
    for partner in run.partners.values():
        table.add_row(f"partner {partner.symbol}", "—", partner.oai_url,
                      str(partner.config.parent))
    for symbol, url in run.peers.items():
        table.add_row(f"peer {symbol} (ISO 18626)", "—", url, "")
    console.print(table)
    urls(run, console)


def urls(run: FederationRun, console: Console) -> None:
    """The readers' pages, the central library's dashboard and the metrics."""
    web = run.web_url
    if web:
        console.print(f"[bold]readers:[/bold] {web}  (library BL, card BL-1001, PIN 1234; "
                      "every library has cards SYMBOL-1001/1234 and SYMBOL-1002/5678)")
        console.print(f"[bold]central library:[/bold] {web}staff  "
                      f"(login {STAFF_USER} / {STAFF_PASSWORD})")
        console.print(f"[bold]metrics:[/bold] {web}metrics")
        console.print(f"[bold]ISO 18626[/bold] (ReShare, Koha ILL): POST to {web}iso18626")
        console.print(f"[bold]SRU[/bold] (Koha, VuFind, yaz-client): {web}sru  e.g. "
                      f"{web}sru?version=1.2&query=dc.title%3D%D0%B8%D1%81%D1%82%D0%BE%D1%80%D0%B8%D1%8F")


def safekeeping(run: FederationRun, console: Console) -> None:
    """Back up the running coordinator and one library, and verify both backups."""
    folder = run.root / "backups"
    console.rule(f"safe-keeping: libfed backup … --to {folder}, then libfed verify backup")
    library = run.libraries["BL"]
    for kind, config in (("coordinator", run.coordinator_config), ("node", library.config)):
        backup = run.cli_json("backup", kind, "--config", config, "--to", folder)
        # verify exits 1 (and so the demo stops, saying why) when anything is wrong
        report = json.loads(run.cli("verify", "backup", backup["path"], "--json"))
        held = ", ".join(f"{store['store']} {store['records']}" for store in report["stores"])
        console.print(f"  {kind} {backup['name']}: {held} — every store sound  "
                      f"[dim]{backup['path']}[/dim]")


def run_demo(root: Path, *, once: bool, console: Console | None = None) -> int:
    started = time.monotonic()
    console = console or Console()
    root = root.resolve()
    prepare(root)
    run = FederationRun(root, in_process=True)
    try:
        console.rule("libfed demo: building a federation of real libraries")
        build(run, console)
        console.print("waiting for every library to listen, then starting the coordinator…")
        run.wait_nodes()
        for symbol in run.peers:  # up before the coordinator's first health check
            run.launch_peer(symbol)
        run.start_coordinator()
        coordinator_started = time.monotonic()
        run.wait_web()
        where(run, console)
        console.print(f"[dim]({time.monotonic() - started:.1f} s) the web pages are up; "
                      f"the coordinator is harvesting {len(run.libraries) + len(run.partners)} "
                      "libraries into the union catalog, then the scripted loans run[/dim]")
        status = run.wait_harvested(timeout=180)
        done = time.monotonic()
        libraries = {source.library_symbol for source in status.sources if source.records}
        console.print(f"[bold]catalog built:[/bold] {status.catalog_records} records from "
                      f"{len(libraries)} libraries in {done - started:.1f} s "
                      f"({status.catalog_clusters} clusters; harvested "
                      f"{done - coordinator_started:.1f} s after the coordinator started)")
        console.rule("interlibrary loans")
        works = asyncio.run(clusters_held_by_many(
            run.coordinator_config.parent / "catalog.sqlite"))
        story = Story(run, console)
        story.loan_to_completion(works)
        story.copy_request(works)
        failover = story.failover(works)
        story.russian_loan(works)
        story.cancelled(works)
        story.outside_partner(works)
        story.outside_borrower(works)
        console.rule(f"request {failover} (the failover): libfed request show")
        print_request(json.loads(run.cli("request", "show", failover, "--config",
                                         run.coordinator_config, "--json")), console)
        console.rule(f"the network: libfed status --coordinator {run.coordinator_address}")
        print_status(json.loads(run.cli("status", "--coordinator", run.coordinator_address,
                                        "--json")), console)
        safekeeping(run, console)
        console.rule("open these")
        urls(run, console)
        console.print(f"[dim]demo ready in {time.monotonic() - started:.1f} s[/dim]")
        if once:
            return 0
        console.print("[bold]running; press Ctrl-C to stop every process[/bold]")
        console.print(f"the demo's desk acts for every library's staff every {ROUND_SECONDS:.0f} s: "
                      "lenders ship what they promised, borrowers receive what arrives — so a "
                      "request made on the web pages travels while you watch")
        desk = Desk(run.libraries, lambda text: console.print(f"  [dim]desk:[/dim] {text}"))
        _wait_for_interrupt(desk.round, ROUND_SECONDS)
        return 0
    finally:
        console.print("stopping…")
        run.stop()


def _wait_for_interrupt(every: Callable[[], None], seconds: float) -> None:
    """Call ``every`` each ``seconds`` until Ctrl-C or SIGTERM."""
    stopped = False

    def stop(*_):
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    next_round = time.monotonic() + seconds
    try:
        while not stopped:
            time.sleep(0.5)
            if time.monotonic() >= next_round:
                every()
                next_round = time.monotonic() + seconds
    except KeyboardInterrupt:
        pass
