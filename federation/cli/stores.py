"""Which stores `libfed backup`, `restore` and `verify` work on, and their progress bar.

Shared by those three command modules (not a command group itself): a *target*
is one node (node.toml: holdings + readers), the coordinator (coordinator.toml:
state + staff accounts + its union catalog file) or a catalog file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from federation.backup import Progress, Store, StoreKind
from federation.database_url import is_url

TARGETS = ("node", "coordinator", "catalog")


@dataclass(slots=True)
class Target:
    """What one command works on: its kind, its name in backup folders, its stores."""

    kind: str
    name: str
    stores: list[Store]
    #: What the target keeps outside SQLite files, and so is not worked on here.
    elsewhere: list[str] = field(default_factory=list)


def add_target(parser: argparse.ArgumentParser, kind: str) -> None:
    """The arguments naming a target of ``kind``."""
    if kind == "catalog":
        parser.add_argument("--catalog", required=True, metavar="DB",
                            help="the union catalog file, or its postgresql:// URL")
    else:
        parser.add_argument("--config", required=True, type=Path,
                            help=f"the {kind}'s {kind}.toml")
    if kind == "coordinator":
        parser.add_argument("--no-catalog", action="store_true",
                            help="leave out the coordinator's union catalog file")


def target(kind: str, args: argparse.Namespace) -> Target:
    """The target named by the arguments; a bad config is a LibfedError naming it."""
    if kind == "node":
        from node.config import load
        from node.verify import node_stores

        config = load(args.config)
        return Target("node", config.symbol, node_stores(config))
    if kind == "coordinator":
        from federation.coordinator.config import CoordinatorConfig
        from federation.coordinator.verify import coordinator_stores

        config = CoordinatorConfig.load(args.config)
        stores, elsewhere = coordinator_stores(config, catalog=not args.no_catalog)
        return Target("coordinator", Path(config.home).name, stores, elsewhere)
    from federation.catalog.sqlite.verify import CATALOG

    if is_url(args.catalog):
        name = args.catalog.rsplit("/", 1)[-1].split("?")[0] or "catalog"
        return Target("catalog", name, [CATALOG.at(args.catalog)])
    return Target("catalog", Path(args.catalog).stem, [CATALOG.at(Path(args.catalog))])


def tell_elsewhere(chosen: Target, work: str) -> None:
    """Say on stderr which stores this command leaves to PostgreSQL's own tools."""
    for place in chosen.elsewhere:
        sys.stderr.write(f"libfed: not {work} here: {place}; use PostgreSQL's own tools "
                         "(pg_dump, pg_restore, amcheck)\n")


def every_kind() -> dict[str, StoreKind]:
    """Every room's store kinds by name (to check a backup whatever it holds)."""
    from federation.coordinator.verify import KINDS as COORDINATOR
    from node.verify import KINDS as NODE

    return {**NODE, **COORDINATOR}


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress bar on stderr (none when stderr is no terminal), as a Progress."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        tasks: dict[str, int] = {}

        def tell(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield tell
