"""The backups in a folder: listing them, finding the newest, keeping only the last few."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from federation.backup.manifest import MANIFEST, Manifest
from federation.backup.take import PARTIAL, folder_prefix
from federation.errors import LibfedError, NotFound

log = logging.getLogger(__name__)

#: A partial backup folder this old was left by a run that died; it is removed.
STALE_PARTIAL_SECONDS = 3600.0


def backups_in(directory: Path, kind: str | None = None,
               name: str | None = None) -> list[tuple[Path, Manifest]]:
    """Every complete backup in ``directory`` (of one kind and name when given), oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        if child.name.startswith(".") or not (child / MANIFEST).is_file():
            continue
        try:
            manifest = Manifest.read(child)
        except LibfedError as error:
            log.warning("%s: not a readable backup: %s", child, error)
            continue
        if (kind is None or manifest.kind == kind) and (name is None or manifest.name == name):
            found.append((child, manifest))
    return sorted(found, key=lambda pair: (pair[1].created_unix, pair[0].name))


def backup_folder(path: Path, kind: str | None = None, name: str | None = None) -> Path:
    """``path`` itself when it is a backup, else the newest backup of ``kind``/``name`` in it."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path
    found = backups_in(path, kind, name)
    if not found:
        what = " ".join(part for part in (kind, name) if part) or "libfed"
        raise NotFound(f"{path}: no {what} backup here")
    return found[-1][0]


def prune(directory: Path, kind: str, name: str, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` backups of one kind and name; the folders removed.

    Only folders with this kind's and name's manifest are ever touched, and
    partial folders a dead run left behind.
    """
    if keep < 1:
        raise ValueError("keep at least one backup")
    found = backups_in(directory, kind, name)
    removed = [path for path, _ in found[:-keep]]
    for path in removed:
        shutil.rmtree(path)
    stale = time.time() - STALE_PARTIAL_SECONDS
    for child in Path(directory).glob(PARTIAL + folder_prefix(kind, name) + "*"):
        if child.is_dir() and child.stat().st_mtime < stale and not _alive(child):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def _alive(partial: Path) -> bool:
    """Whether the process that is writing a partial backup (its pid ends the name) lives."""
    pid = partial.name.rpartition(".")[2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
