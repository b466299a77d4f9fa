"""Taking a backup: every store of one node (catalog, coordinator) into a new folder.

A backup is a folder ``<kind>-<name>-<UTC time>`` holding one copy per store
and ``manifest.json``. It is built under a ``.partial-`` name and renamed only
when every copy and the manifest are on disk, so a folder with the final name
is always a complete backup, and a crash leaves only a partial one that the
next run removes.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from federation import __version__
from federation.backup.checksum import fsync_path, sha256_file
from federation.backup.manifest import Manifest, StoreFile
from federation.backup.model import Progress, Store
from federation.backup.sqlite_copy import copy_online, count_records, table_counts, user_version
from federation.errors import InvalidArgument

log = logging.getLogger(__name__)

PARTIAL = ".partial-"


@dataclass(slots=True)
class Backup:
    """A finished backup: where it is and what its manifest says."""

    path: Path
    manifest: Manifest


def folder_prefix(kind: str, name: str) -> str:
    """The start of every backup folder of one node (catalog, coordinator): ``kind-name-``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "_"
    return f"{kind}-{safe}-"


def take_backup(kind: str, name: str, stores: Sequence[Store], directory: Path,
                progress: Progress | None = None, now: float | None = None) -> Backup:
    """Copy every store (online, consistently) into a new backup folder under ``directory``."""
    if not stores:
        raise InvalidArgument("nothing to back up")
    now = time.time() if now is None else now
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = _free_name(directory, folder_prefix(kind, name) + time.strftime(
        "%Y%m%dT%H%M%SZ", time.gmtime(now)))
    partial = directory / f"{PARTIAL}{final.name}.{os.getpid()}"
    partial.mkdir()
    try:
        files = [_dump(store, partial) if store.url else _copy(store, partial, progress)
                 for store in stores
                 if store.url or store.path.is_file() or not store.kind.optional]
        manifest = Manifest(
            kind=kind, name=name, libfed_version=__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), created_unix=now,
            host=socket.gethostname(), files=files,
        )
        manifest.write(partial)
        fsync_path(partial)
        os.rename(partial, final)
        fsync_path(directory)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Backup(final, manifest)


def _copy(store: Store, folder: Path, progress: Progress | None) -> StoreFile:
    """One store's copy, and its entry in the manifest (counted on the copy itself)."""
    target = folder / f"{store.name}.sqlite"
    started = time.monotonic()
    copy_online(store.path, target, progress, store.name)
    db = sqlite3.connect(target)
    try:
        version, tables = user_version(db), table_counts(db)
        records = count_records(db, store.kind.records_sql)
    finally:
        db.close()
    seconds = round(time.monotonic() - started, 3)
    log.debug("backed up %s (%s) in %.2fs", store.name, store.path, seconds)
    return StoreFile(
        store=store.name, file=target.name, source=str(store.path.resolve()),
        size=target.stat().st_size, sha256=sha256_file(target), user_version=version,
        tables=tables, records=records, seconds=seconds,
    )


def _dump(store: Store, folder: Path) -> StoreFile:
    """A store kept in PostgreSQL: pg_dump of one snapshot, counted in that snapshot."""
    from federation.backup import pg_dump

    target = folder / f"{store.name}{pg_dump.SUFFIX}"
    tables, version, seconds = pg_dump.dump(store.url, target)
    log.debug("dumped %s (%s) in %.2fs", store.name, store.place, seconds)
    return StoreFile(
        store=store.name, file=target.name, source=store.place, size=target.stat().st_size,
        sha256=sha256_file(target), user_version=version, tables=tables,
        records=None, seconds=round(seconds, 3),
    )


def _free_name(directory: Path, base: str) -> Path:
    """``base``, or ``base-2``, ``base-3``… when a backup of the same second exists."""
    candidate, number = directory / base, 1
    while candidate.exists():
        number += 1
        candidate = directory / f"{base}-{number}"
    return candidate
