"""Moving a coordinator's state from its SQLite file into PostgreSQL.

``libfed coordinator migrate`` calls :func:`migrate_state`: the file is read in
one snapshot per table while the coordinator is stopped, written into an empty
PostgreSQL database in one transaction (a failed copy leaves it empty), and the
two are compared table by table before coordinator.toml is pointed at the URL.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.store import CoordinatorStore
from federation.database_url import is_url, shown
from federation.errors import FailedPrecondition, InvalidArgument


@dataclass(slots=True)
class StateMoved:
    source: str
    target: str
    rows: dict[str, int]
    seconds: float


def _listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1" if host != "::" else "::1"
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


async def migrate_state(
    config_path, url: str, report: Callable[[str, int, int], None] = lambda *a: None
) -> StateMoved:
    """Copy the state named by coordinator.toml into the empty database at ``url`` and
    make the config name it; FailedPrecondition when that cannot be done safely."""
    config = CoordinatorConfig.load(config_path)
    if not is_url(url):
        raise InvalidArgument(f"{url!r} is not a postgresql:// URL")
    if is_url(config.state_db):
        raise FailedPrecondition(f"the state is already in PostgreSQL ({config.state_db})")
    if not config.state_path.is_file():
        raise FailedPrecondition(f"no state file {config.state_path}")
    if _listening(config.listen):
        raise FailedPrecondition(f"a coordinator is listening on {config.listen}: stop it "
                                 "first, so no change is made after the copy")
    started, source_path = time.monotonic(), str(config.state_path)
    source = await CoordinatorStore.open(config.state_path)
    try:
        target = await CoordinatorStore.open(url)
    except BaseException:
        await source.close()
        raise
    try:
        if any((await target.row_counts()).values()):
            raise FailedPrecondition(f"{shown(url)} already holds a coordinator's "
                                     "state; migrate into an empty database")
        tables = {}
        for table in CoordinatorStore.TABLES:
            tables[table] = await source.table_rows(table)
            report(table, len(tables[table]), len(tables[table]))
        await target.load_tables(tables)
        copied, wanted = await target.row_counts(), await source.row_counts()
        if copied != wanted:
            raise FailedPrecondition(f"the copy differs from the file: {copied} != {wanted}")
    finally:
        await target.close()
        await source.close()
    config.state_db = url
    config.write(config_path)
    return StateMoved(source_path, shown(url), copied, time.monotonic() - started)
