"""A consistent copy of a live SQLite file, and what one holds.

The copy uses SQLite's online backup API from a connection that first opens a
read transaction: in WAL mode that pins one snapshot, so the copy is exactly
the database as of that moment while the node, the harvester or the coordinator
go on writing (their writes go to the WAL; none is blocked, and the backup
never restarts because of them). The copy is then switched out of WAL mode, so
it is one self-contained file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from federation.backup.checksum import fsync_path
from federation.backup.model import Progress
from federation.errors import NotFound

#: Pages copied per backup step (4 MiB at 4 KiB pages): a step is where progress is told.
PAGES_PER_STEP = 1024


def copy_online(source: Path, target: Path, progress: Progress | None = None,
                what: str = "") -> None:
    """Copy the database at ``source`` to a new file ``target``, consistently, while it is in use.

    Raises NotFound for a missing file and sqlite3.DatabaseError for one SQLite
    cannot read (not a database, a damaged header).
    """
    if not source.is_file():
        raise NotFound(f"{source}: no such database file")
    src = sqlite3.connect(source, isolation_level=None)
    try:
        src.execute("PRAGMA query_only = ON")
        src.execute("PRAGMA busy_timeout = 10000")
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(what or source.name, total - remaining, total)

            src.backup(dst, pages=PAGES_PER_STEP, progress=step)
            src.execute("COMMIT")
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    fsync_path(target)


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def table_names(db: sqlite3.Connection) -> list[str]:
    """Every table of the main database (full-text tables included, their shadow tables not)."""
    return sorted(
        row[1]
        for row in db.execute("PRAGMA table_list")
        if row[0] == "main" and row[2] in ("table", "virtual") and not row[1].startswith("sqlite_")
    )


def count_rows(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def table_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Rows of every table (see :func:`table_names`)."""
    return {name: count_rows(db, name) for name in table_names(db)}


def count_records(db: sqlite3.Connection, records_sql: str) -> int | None:
    """The one number a person recognises (see StoreKind.records_sql)."""
    return int(db.execute(records_sql).fetchone()[0]) if records_sql else None
