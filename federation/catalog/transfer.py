"""Moving a whole union catalog from one storage to another (`libfed catalog migrate`).

The SQLite storage reads everything from one snapshot (one read transaction, so a
harvest still writing to the file does not tear the copy); the PostgreSQL storage
loads it in one transaction (a migration that fails half-way leaves the target
empty). What moves: every source with its harvest state, every record (raw
payload, normalized record, match data, cluster), every dedup key, every cluster
with its display and search fields, every quarantined record, and the highest
cluster id ever used, so that ids stay stable and are never reused.

Records a harvest commits to the file after the snapshot are not in the copy;
but neither is their checkpoint, so the first harvest into the new catalog
fetches them again. That is how a running network moves: migrate, point
coordinator.toml's ``catalog_db`` at the URL, restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from federation.catalog.merge import ClusterRow
from federation.catalog.model import SourceState
from federation.catalog.storage import RecordRow
from federation.database_url import is_url, shown
from federation.errors import InvalidArgument

#: Rows read and written at a time.
BATCH = 2000
#: (what, done so far, how many in all): "records", "keys", "clusters", "quarantine".
Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class QuarantineRow:
    """A quarantined record with everything kept of it."""

    source: str
    oai_identifier: str
    reason: str
    raw: bytes
    quarantined_at: str


@dataclass(slots=True)
class Counts:
    """How much a catalog holds, as one snapshot saw it."""

    sources: int = 0
    records: int = 0
    keys: int = 0
    clusters: int = 0
    quarantine: int = 0
    #: The highest cluster pk ever used (ids are never reused).
    last_cluster: int = 0


@dataclass(slots=True)
class Batch:
    """Some rows of one kind (only one of the lists is filled)."""

    records: list[RecordRow] = field(default_factory=list)
    #: (key hash, source, record pk).
    keys: list[tuple[int, str, int]] = field(default_factory=list)
    clusters: list[ClusterRow] = field(default_factory=list)
    quarantine: list[QuarantineRow] = field(default_factory=list)


@dataclass(slots=True)
class MigrationReport:
    """What a migration copied, and how long it took."""

    source: str
    target: str
    copied: Counts
    seconds: float


async def migrate(
    source: str | Path, target: str, progress: Progress | None = None, batch: int = BATCH
) -> MigrationReport:
    """Copy the SQLite catalog at ``source`` into the empty PostgreSQL catalog at
    ``target`` (created there if need be); checks the counts after the copy."""
    if is_url(source) or not Path(source).is_file():
        raise InvalidArgument(f"--from must be a SQLite catalog file: {shown(source)}")
    if not is_url(target):
        raise InvalidArgument(f"--to must be a postgresql:// URL, not {target!r}")
    from federation.catalog.postgres import PostgresStorage
    from federation.catalog.postgres.load import analyze, loading
    from federation.catalog.sqlite import SqliteStorage
    from federation.catalog.sqlite.export import snapshot

    started = time.perf_counter()
    report = progress or (lambda _what, _done, _total: None)
    reader = await SqliteStorage.open(source)
    try:
        writer = await PostgresStorage.open(target)
        try:
            async with snapshot(reader, batch) as export, loading(writer) as load:
                await load.sources(export.sources)
                done = {"records": 0, "keys": 0, "clusters": 0, "quarantine": 0}
                async for part in export.batches():
                    await load.batch(part)
                    for what, rows in (("records", part.records), ("keys", part.keys),
                                       ("clusters", part.clusters),
                                       ("quarantine", part.quarantine)):  # fmt: skip
                        if rows:
                            done[what] += len(rows)
                            report(what, done[what], getattr(export.counts, what))
                await load.finish(export.counts)
                copied = export.counts
            await analyze(writer)
        finally:
            await writer.close()
    finally:
        await reader.close()
    return MigrationReport(shown(source), shown(target), copied, time.perf_counter() - started)


__all__ = ["Batch", "Counts", "MigrationReport", "QuarantineRow", "SourceState", "migrate"]
