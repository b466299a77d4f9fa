"""Verifying a store: SQLite's own checks, the counts, then the room's checks.

Every check runs on a snapshot (an online copy into a scratch folder), never on
the store itself: the snapshot is one consistent moment of a store that may be
in use, and the checks that need a writable connection (FTS5's integrity-check)
cannot disturb the server that owns it. Whatever is wrong is named: the store,
the table, the row or record.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from federation.backup import pg_dump
from federation.backup.manifest import Manifest, StoreFile, damaged_files
from federation.backup.model import Problem, Progress, Store, StoreKind, StoreReport
from federation.backup.sqlite_copy import (
    copy_online,
    count_records,
    count_rows,
    table_names,
    user_version,
)
from federation.errors import LibfedError

#: Lines of PRAGMA integrity_check read at most.
INTEGRITY_LINES = 200


def verify_store(store: Store, *, expected: StoreFile | None = None, scratch: Path | None = None,
                 progress: Progress | None = None) -> StoreReport:
    """Every check of one store; ``expected`` (a manifest entry) adds the count comparison."""
    if store.url:
        return _verify_database(store, expected)
    report = StoreReport(store.name, str(store.path))
    if not store.path.is_file():
        if store.kind.optional:
            report.notes.append("no such file yet (nothing was ever kept in it)")
        else:
            report.problem("file", "no such file")
        return report
    with _scratch(scratch or store.path.parent) as folder:
        snapshot = Path(folder) / f"{store.name}.snapshot.sqlite"
        try:
            copy_online(store.path, snapshot, progress, f"{store.name}: snapshot")
        except (sqlite3.DatabaseError, LibfedError) as error:
            report.problem("readable", f"SQLite cannot read it: {error}")
            return report
        db = sqlite3.connect(snapshot, isolation_level=None)
        try:
            _check(db, store.kind, report, expected, progress)
        finally:
            db.close()
    return report


def verify_backup(folder: Path, kinds: Mapping[str, StoreKind], *, scratch: Path | None = None,
                  progress: Progress | None = None) -> tuple[Manifest, list[StoreReport]]:
    """A backup's files against its manifest, then every check of each copy."""
    folder = Path(folder)
    manifest = Manifest.read(folder)
    damaged = {line.partition(": ")[0]: line.partition(": ")[2]
               for line in damaged_files(folder, manifest)}
    reports = []
    for entry in manifest.files:
        kind = kinds.get(entry.store, StoreKind(entry.store))
        if entry.file.endswith(pg_dump.SUFFIX):
            report = _verify_dump(folder / entry.file, entry)
        else:
            report = verify_store(kind.at(folder / entry.file), expected=entry, scratch=scratch,
                                  progress=progress)
        report.checks.insert(0, "manifest")
        if entry.file in damaged:
            report.problems.insert(0, Problem(entry.store, "manifest", damaged[entry.file],
                                              key=entry.file))
        reports.append(report)
    return manifest, reports


def _verify_database(store: Store, expected: StoreFile | None) -> StoreReport:
    """A store in PostgreSQL: its tables counted in one snapshot (against the manifest,
    when given). PostgreSQL checks its own pages; run pg_amcheck for that."""
    report = StoreReport(store.name, store.place)
    report.ran("counts")
    try:
        report.counts, report.user_version = pg_dump.live_counts(store.url)
    except LibfedError as error:
        report.problem("readable", str(error))
        return report
    report.notes.append("in PostgreSQL: tables counted; the room's content checks run on "
                        "SQLite stores only, and pg_amcheck checks the database's own pages")
    if expected is not None:
        _compare(report, expected)
    return report


def _verify_dump(path: Path, entry: StoreFile) -> StoreReport:
    """A pg_dump in a backup: pg_restore must be able to read it (the manifest vouches for
    its bytes and says what it holds)."""
    report = StoreReport(entry.store, str(path))
    report.ran("readable")
    report.counts, report.user_version = dict(entry.tables), entry.user_version
    if not path.is_file():
        report.problem("readable", "no such file")
        return report
    why = pg_dump.readable(path)
    if why:
        report.problem("readable", f"pg_restore cannot read it: {why}")
    return report


def _scratch(near: Path):
    """A temporary folder beside the store (same disk, room for a copy), else the system's."""
    try:
        return tempfile.TemporaryDirectory(prefix=".libfed-verify-", dir=near)
    except OSError:
        return tempfile.TemporaryDirectory(prefix="libfed-verify-")


def _check(db: sqlite3.Connection, kind: StoreKind, report: StoreReport,
           expected: StoreFile | None, progress: Progress | None) -> None:
    """Each step on its own: a damaged table must not hide what the others can tell."""
    steps = [("integrity", _integrity), ("foreign keys", _foreign_keys),
             ("counts", lambda db, report: _counts(db, kind, report, expected))]
    if kind.check is not None:
        steps.append(("content", lambda db, report: kind.check(db, report, progress)))
    for name, step in steps:
        try:
            step(db, report)
        except sqlite3.DatabaseError as error:
            report.problem(name, f"SQLite stopped reading it: {error}")


def _integrity(db: sqlite3.Connection, report: StoreReport) -> None:
    """PRAGMA integrity_check, each line with the table it is about when it can be told."""
    report.ran("integrity")
    try:
        lines = [row[0] for row in db.execute(f"PRAGMA integrity_check({INTEGRITY_LINES})")]
    except sqlite3.DatabaseError as error:
        # Python's sqlite3 drops the rows read before an error (a page SQLite cannot even
        # read), so the check is run again table by table to name the damaged ones.
        _integrity_by_table(db, report, error)
        return
    if lines == ["ok"]:
        return
    names = _names_of_pages(db)
    for line in lines:
        for part in line.splitlines():
            if part.startswith("*** in database"):
                continue
            report.problem("integrity", part, table=_table_in(part, names, db))


def _integrity_by_table(db: sqlite3.Connection, report: StoreReport,
                        error: sqlite3.DatabaseError) -> None:
    tables = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0 ORDER BY name")]
    before = len(report.problems)
    for table in tables:
        quoted = table.replace("'", "''")
        try:
            lines = [row[0] for row in db.execute(f"PRAGMA integrity_check('{quoted}')")]
        except sqlite3.DatabaseError as failure:
            report.problem("integrity", f"damaged: {failure}", table=table)
            continue
        for line in lines if lines != ["ok"] else []:
            report.problem("integrity", line.replace("*** in database main ***\n", ""),
                           table=table)
    if len(report.problems) == before:
        report.problem("integrity", f"integrity_check failed: {error}")


def _names_of_pages(db: sqlite3.Connection) -> dict[int, str]:
    """Root page → table (an index stands for its table)."""
    try:
        rows = db.execute("SELECT rootpage, tbl_name FROM sqlite_master WHERE rootpage > 0")
        return {int(page): table for page, table in rows}
    except sqlite3.DatabaseError:
        return {}


def _table_in(line: str, roots: dict[int, str], db: sqlite3.Connection) -> str:
    """The table an integrity_check line is about: by tree root, index name or page."""
    if match := re.search(r"\bTree (\d+)", line):
        return roots.get(int(match.group(1)), "")
    if match := re.search(r"\bindex (\w+)", line):
        row = _quiet(db, "SELECT tbl_name FROM sqlite_master WHERE name = ?", match.group(1))
        return row or ""
    if match := re.search(r"\b[Pp]age (\d+)", line):
        found = _quiet(db, "SELECT name FROM dbstat WHERE pageno = ?", int(match.group(1)))
        if found:
            return _quiet(db, "SELECT tbl_name FROM sqlite_master WHERE name = ?", found) or found
    return ""


def _quiet(db: sqlite3.Connection, sql: str, value: object) -> str | None:
    try:
        row = db.execute(sql, (value,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _foreign_keys(db: sqlite3.Connection, report: StoreReport) -> None:
    """PRAGMA foreign_key_check, named by the value that refers to nothing."""
    report.ran("foreign keys")
    broken = {(table, parent, fk) for table, _rowid, parent, fk in
              db.execute("PRAGMA foreign_key_check")}
    for table, parent, fk in sorted(broken):
        columns = [(row[3], row[4]) for row in db.execute(f'PRAGMA foreign_key_list("{table}")')
                   if row[0] == fk]
        if len(columns) != 1:
            report.problem("foreign keys", f"a row refers to no {parent} row", table=table)
            continue
        (child, key), = columns
        key = key or "rowid"
        for (value,) in db.execute(
            f'SELECT DISTINCT "{child}" FROM "{table}" t WHERE "{child}" IS NOT NULL AND NOT '
            f'EXISTS (SELECT 1 FROM "{parent}" p WHERE p."{key}" = t."{child}") LIMIT 1000'
        ):
            report.problem("foreign keys", f"{child} refers to no {parent} row", table=table,
                           key=value)


def _counts(db: sqlite3.Connection, kind: StoreKind, report: StoreReport,
            expected: StoreFile | None) -> None:
    report.ran("counts")
    report.user_version = user_version(db)
    for table in table_names(db):
        try:
            report.counts[table] = count_rows(db, table)
        except sqlite3.DatabaseError as error:
            report.problem("counts", f"cannot be counted: {error}", table=table)
    try:
        report.records = count_records(db, kind.records_sql)
    except sqlite3.DatabaseError:
        report.records = None
    if expected is not None:
        _compare(report, expected)


def _compare(report: StoreReport, expected: StoreFile) -> None:
    """The counts found against what the backup's manifest says."""
    if report.user_version != expected.user_version:
        report.problem("counts", f"schema version {report.user_version}, the backup's manifest "
                       f"says {expected.user_version}")
    for table in sorted(set(expected.tables) | set(report.counts)):
        have, had = report.counts.get(table), expected.tables.get(table)
        if have != had and not (have is None and table in _uncountable(report)):
            report.problem("counts", f"{_rows(have)}, the backup's manifest says {_rows(had)}",
                           table=table)


def _uncountable(report: StoreReport) -> set[str]:
    return {p.table for p in report.problems if p.check == "counts"}


def _rows(count: int | None) -> str:
    return "no such table" if count is None else f"{count} rows"


def all_ok(reports: Iterable[StoreReport]) -> bool:
    return all(report.ok for report in reports)
