"""Scheduled backups, run by the server that owns the stores (a node, the coordinator).

A :class:`BackupPlan` says how often, where, and how many backups to keep. The
next backup is due ``interval`` seconds after the newest one in the folder, so
a server restarted every night still backs up once a day, and one that was down
past its time backs up as soon as it is up. The copy runs in a worker thread
on connections of its own; the server goes on serving while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.backup.model import Store
from federation.backup.retention import backups_in, prune
from federation.backup.take import take_backup
from federation.errors import ConfigError

log = logging.getLogger(__name__)

#: A failed backup is tried again after this long (or the interval, when shorter).
RETRY_SECONDS = 600.0
DEFAULT_KEEP = 7


@dataclass(frozen=True, slots=True)
class BackupPlan:
    """When and where a server backs up its own stores."""

    #: Seconds between backups.
    interval: float
    directory: Path
    #: How many of the newest backups are kept; older ones are removed.
    keep: int = DEFAULT_KEEP

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ConfigError("backup interval must be a positive number of seconds")
        if self.keep < 1:
            raise ConfigError("backup keep must be at least 1")

    @classmethod
    def from_table(cls, table: Any, home: Path) -> BackupPlan | None:
        """A plan from a ``[backup]`` table (``interval``, ``directory``, ``keep``); None when
        there is none. A relative directory is relative to ``home``."""
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigError("[backup] must be a table")
        unknown = set(table) - {"interval", "directory", "keep"}
        if unknown:
            raise ConfigError(f"[backup] has unknown setting(s) {', '.join(sorted(unknown))}")
        try:
            interval = float(table["interval"])
            directory = Path(str(table.get("directory", "backups")))
            keep = int(table.get("keep", DEFAULT_KEEP))
        except KeyError as error:
            raise ConfigError("[backup] needs an interval (seconds)") from error
        except (TypeError, ValueError) as error:
            raise ConfigError(f"[backup]: {error}") from error
        return cls(interval, directory if directory.is_absolute() else home / directory, keep)


def seconds_until_due(plan: BackupPlan, kind: str, name: str, now: float | None = None) -> float:
    """How long until the next backup: ``interval`` after the newest one, 0 when none."""
    now = time.time() if now is None else now
    found = backups_in(plan.directory, kind, name)
    if not found:
        return 0.0
    return max(0.0, found[-1][1].created_unix + plan.interval - now)


async def run_schedule(plan: BackupPlan, kind: str, name: str,
                       stores: Callable[[], Sequence[Store]]) -> None:
    """Back up ``stores()`` on ``plan`` until cancelled; each backup and removal is logged."""
    log.info("%s %s: a backup every %gs into %s, keeping %d", kind, name, plan.interval,
             plan.directory, plan.keep)
    while True:
        await asyncio.sleep(await asyncio.to_thread(seconds_until_due, plan, kind, name))
        try:
            await asyncio.to_thread(backup_once, plan, kind, name, list(stores()))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s: the scheduled backup into %s failed; trying again in %gs",
                          kind, name, plan.directory, min(plan.interval, RETRY_SECONDS))
            await asyncio.sleep(min(plan.interval, RETRY_SECONDS))


def backup_once(plan: BackupPlan, kind: str, name: str, stores: Sequence[Store]) -> Path:
    """One backup by the plan, then the old ones pruned (runs in a worker thread)."""
    started = time.monotonic()
    backup = take_backup(kind, name, stores, plan.directory)
    removed = prune(plan.directory, kind, name, plan.keep)
    sizes = sum(f.size for f in backup.manifest.files)
    counts = ", ".join(f"{f.store} {f.records}" for f in backup.manifest.files
                       if f.records is not None)
    log.info("%s %s: backed up to %s (%s; %.1f MB) in %.1fs; removed %d old backup(s)",
             kind, name, backup.path, counts, sizes / 1e6, time.monotonic() - started,
             len(removed))
    return backup.path
