"""What each room's verifier does the same way, whatever it checks.

The node, the catalog and the coordinator each know their own tables
(``node/verify.py``, ``federation/catalog/sqlite/verify.py``,
``federation/coordinator/verify.py``); reading the schema version, running the
checks in turn with progress, and asking FTS5 to check its own index are the
same in all three.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from federation.backup.model import Progress, StoreReport

#: A check: (its name in the report, the table it reads, the function that checks).
Step = tuple[str, str, Callable[[sqlite3.Connection, StoreReport], None]]


def known_schema(db: sqlite3.Connection, report: StoreReport, known: int) -> int | None:
    """The file's schema version; None, with the problem noted, when it is newer than
    the ``known`` migrations of this libfed (no other check could read it rightly)."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > known:
        report.problem("schema", f"schema version {version} is newer than this libfed knows "
                       f"({known})")  # fmt: skip
        return None
    return version


def run_checks(
    db: sqlite3.Connection, report: StoreReport, progress: Progress | None, steps: Sequence[Step]
) -> None:
    """Each check in turn; a table SQLite cannot read stops only its own check."""
    for done, (check, table, step) in enumerate(steps, start=1):
        with report.reading(check, table):
            step(db, report)
        if progress is not None:
            progress(f"{report.store}: {check}", done, len(steps))


def check_full_text_index(db: sqlite3.Connection, report: StoreReport, check: str,
                          table: str) -> None:  # fmt: skip
    """FTS5's own integrity check of ``table`` (it needs a writable connection)."""
    try:
        db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as error:
        report.problem(check, f"the full-text index is damaged: {error}", table=table)
