"""Restoring a backup: checked first, copied beside each store, then swapped in.

Nothing is replaced until every file of the backup matches its manifest and no
process holds a store (unless forced). Each copy is written next to the store
it replaces (same filesystem), checked again, and only then renamed into
place; the store it replaces is moved aside with its -wal and -shm, never
deleted. When anything fails half-way, every swap made so far is undone: a
store is either the old one or the restored one, never a mix.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from federation.backup.checksum import fsync_path, sha256_file
from federation.backup.manifest import Manifest, damaged_files
from federation.database_url import is_url, shown
from federation.errors import FailedPrecondition, InvalidArgument

log = logging.getLogger(__name__)

#: The files SQLite keeps beside a database in WAL mode.
SIDECARS = ("-wal", "-shm")


@dataclass(slots=True)
class Restored:
    """One store put back."""

    store: str
    #: The file, or the database (its URL without the password).
    path: Path | str
    #: Where the store it replaced was moved to (None: there was none, or a database).
    replaced: Path | None

    def as_json(self) -> dict[str, str | None]:
        return {"store": self.store, "path": str(self.path),
                "replaced": str(self.replaced) if self.replaced else None}


def holders(path: Path) -> list[tuple[int, str]] | None:
    """Processes with the store (or its -wal/-shm) open: (pid, command); None where no /proc.

    An open connection is an open file, so this sees a node or coordinator
    server, a running import, an sqlite3 shell — whoever would keep writing to
    the file a restore replaces.
    """
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    base = str(Path(path).resolve())
    wanted = {base, *(base + suffix for suffix in SIDECARS)}
    found: dict[int, str] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        if wanted.intersection(_open_files(entry)):
            found[int(entry.name)] = _command(entry)
    return sorted(found.items())


def _open_files(entry: Path) -> set[str]:
    """What one process has open (nothing when it ended or is not ours to look at)."""
    try:
        fds = list((entry / "fd").iterdir())
    except OSError:
        return set()
    links = set()
    for fd in fds:
        try:
            links.add(os.readlink(fd))
        except OSError:  # closed meanwhile (the listing's own descriptor, for one)
            continue
    return links


def _command(entry: Path) -> str:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return "?"
    words = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return " ".join(words.split())[:120]


def check_not_held(targets: Mapping[str, Path | str], force: bool) -> list[str]:
    """Refuse (FailedPrecondition) when a process holds a target; the warnings when forced.

    A store in PostgreSQL is held by any other session on its database."""
    warnings = []
    for store, path in targets.items():
        if isinstance(path, str):
            from federation.backup import pg_dump

            held = pg_dump.other_sessions(path)
            path = shown(path)
        else:
            held = holders(path)
        if held is None:
            message = (f"{path}: cannot tell whether a process has it open (no /proc); "
                       "stop its server first")
        elif held:
            who = "; ".join(f"pid {pid} ({command})" for pid, command in held)
            message = f"the {store} store {path} is open in {who}; stop it first"
        else:
            continue
        if not force:
            raise FailedPrecondition(message + " (or restore with --force)")
        warnings.append(message.replace("; stop it first", "") + "; restoring anyway (--force)")
    return warnings


def restore_backup(folder: Path, targets: Mapping[str, Path], *, force: bool = False,
                   kind: str | None = None, name: str | None = None,
                   now: float | None = None) -> tuple[list[Restored], list[str]]:
    """Put every store of the backup at ``folder`` back at its target path.

    ``targets`` maps each store name of the backup to where that store lives.
    With ``kind`` and ``name``, a backup of something else (node BR1's backup
    for node BR2) is refused unless ``force``. Returns what was restored and
    the warnings (stores restored while held, or a backup of another, with
    ``force``).
    """
    folder = Path(folder)
    manifest = Manifest.read(folder)
    warnings = []
    for wanted, found in ((kind, manifest.kind), (name, manifest.name)):
        if wanted is not None and wanted != found:
            message = (f"{folder} is a backup of {manifest.kind} {manifest.name}, not of "
                       f"{kind or manifest.kind} {name or manifest.name}")
            if not force:
                raise FailedPrecondition(message + " (restore it with --force if you mean it)")
            warnings.append(message + "; restoring anyway (--force)")
            break
    missing = [f.store for f in manifest.files if f.store not in targets]
    if missing:
        raise InvalidArgument(f"{folder}: the backup holds {', '.join(missing)}, which has no "
                              "place here (a store left out, or the backup of another kind); "
                              "nothing was restored")
    damaged = damaged_files(folder, manifest)
    if damaged:
        raise FailedPrecondition(f"{folder}: the backup is damaged, nothing was restored: "
                                 + "; ".join(damaged))
    wanted = {f.store: _place(targets[f.store], f.file, folder) for f in manifest.files}
    warnings += check_not_held(wanted, force)
    files = [f for f in manifest.files if not isinstance(wanted[f.store], str)]
    dumps = [f for f in manifest.files if isinstance(wanted[f.store], str)]
    done_in_postgres = []
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    staged: list[tuple[str, Path, Path]] = []
    swapped: list[tuple[Path, Path | None]] = []
    try:
        for entry in files:
            target = wanted[entry.store]
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.restoring.{os.getpid()}")
            staged.append((entry.store, target, tmp))
            shutil.copyfile(folder / entry.file, tmp)
            fsync_path(tmp)
            if sha256_file(tmp) != entry.sha256:
                raise FailedPrecondition(f"{tmp}: the copy of {entry.file} does not match the "
                                         "manifest (disk trouble?); nothing was restored")
        # The SQLite copies are staged and checked; now each dump goes back in one
        # transaction of its own, and only then do the files move.
        for entry in dumps:
            from federation.backup import pg_dump

            pg_dump.restore(folder / entry.file, wanted[entry.store])
            log.info("restored %s to %s from %s", entry.store,
                     shown(wanted[entry.store]), folder)
            done_in_postgres.append(Restored(entry.store, shown(wanted[entry.store]),
                                             None))
        for _store, target, tmp in staged:
            aside = _move_aside(target, stamp)
            swapped.append((target, aside))
            os.rename(tmp, target)
        for directory in {target.parent for _, target, _ in staged}:
            fsync_path(directory)
    except BaseException:
        _undo(swapped)
        for _, _, tmp in staged:
            tmp.unlink(missing_ok=True)
        raise
    done = [Restored(store, target, aside)
            for (store, target, _), (_, aside) in zip(staged, swapped, strict=True)]
    for item in done:
        log.info("restored %s to %s from %s", item.store, item.path, folder)
    return done_in_postgres + done, warnings


def _place(target: Path | str, file: str, folder: Path) -> Path | str:
    """Where one copy goes: a dump into a database URL, a SQLite copy to a file."""
    from federation.backup.pg_dump import SUFFIX

    database = is_url(target)
    if file.endswith(SUFFIX) != database:
        raise InvalidArgument(
            f"{folder}: {file} is a {'PostgreSQL dump' if file.endswith(SUFFIX) else 'SQLite copy'}"
            f", but its store here is {'a database' if database else 'a file'}: nothing was "
            "restored (move it with `libfed catalog migrate` / `coordinator migrate` first)")
    return target if database else Path(target)


def _move_aside(target: Path, stamp: str) -> Path | None:
    """Move the store (with its -wal and -shm) to ``<name>.replaced-<stamp>``; None if absent."""
    if not target.exists():
        for suffix in SIDECARS:  # a WAL without its database must not meet the new one
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        return None
    aside = target.with_name(f"{target.name}.replaced-{stamp}")
    number = 1
    while aside.exists():
        number += 1
        aside = target.with_name(f"{target.name}.replaced-{stamp}-{number}")
    os.rename(target, aside)
    for suffix in SIDECARS:
        sidecar = Path(f"{target}{suffix}")
        if sidecar.exists():
            os.rename(sidecar, f"{aside}{suffix}")
    return aside


def _undo(swapped: list[tuple[Path, Path | None]]) -> None:
    """Put back every store moved aside (the newest swap first)."""
    for target, aside in reversed(swapped):
        target.unlink(missing_ok=True)
        for suffix in SIDECARS:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        if aside is not None:
            os.rename(aside, target)
            for suffix in SIDECARS:
                if Path(f"{aside}{suffix}").exists():
                    os.rename(f"{aside}{suffix}", f"{target}{suffix}")
