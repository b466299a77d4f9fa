"""The shared safe-keeping mechanism on plain SQLite files: copy, manifest, restore, retention.

The rooms' own stories (a node under loan traffic, a catalog under a harvest, the
coordinator's loans) are in tests/node, tests/catalog and tests/coordinator.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from federation.backup import (
    Manifest,
    StoreKind,
    backup_folder,
    backups_in,
    holders,
    prune,
    restore_backup,
    sha256_file,
    take_backup,
    verify_backup,
    verify_store,
)
from federation.errors import FailedPrecondition, NotFound

SHELF = StoreKind("shelf", "SELECT count(*) FROM books")


def make_shelf(path: Path, books: int = 200) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
    db.executemany("INSERT INTO books (title) VALUES (?)", [(f"Book {n}" * 40,) for n in
                                                             range(books)])
    db.close()


def test_a_copy_taken_while_another_connection_writes_is_one_consistent_moment(tmp_path):
    """Each write adds a book and bumps the counter in one transaction: a copy that mixed
    two moments would disagree with itself."""
    path = tmp_path / "shelf.sqlite"
    make_shelf(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
    db.execute("INSERT INTO counter VALUES ((SELECT count(*) FROM books))")
    writes, stop = [0], threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO books (title) VALUES (?)", ("x" * 3000,))
            conn.execute("UPDATE counter SET n = n + 1")
            conn.execute("COMMIT")
            writes[0] += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while writes[0] < 50:
            time.sleep(0.01)
        seen_during = []

        def slow(_what: str, done: int, total: int) -> None:  # holds the copy open a while
            start = writes[0]
            while writes[0] < start + 20:
                time.sleep(0.005)
            seen_during.append(writes[0] - start)

        backup = take_backup("shelf", "main", [SHELF.at(path)], tmp_path / "backups",
                             progress=slow)
    finally:
        stop.set()
        thread.join()
    assert seen_during and min(seen_during) >= 20  # writers went on while it copied
    copy = sqlite3.connect(backup.path / "shelf.sqlite")
    books = copy.execute("SELECT count(*) FROM books").fetchone()[0]
    assert copy.execute("SELECT n FROM counter").fetchone()[0] == books
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    entry = backup.manifest.file("shelf")
    assert entry.records == books and entry.tables == {"books": books, "counter": 1}
    assert entry.sha256 == sha256_file(backup.path / "shelf.sqlite")
    assert sqlite3.connect(path).execute("SELECT count(*) FROM books").fetchone()[0] > books


def test_a_damaged_backup_is_refused_before_anything_is_replaced(tmp_path):
    path = tmp_path / "shelf.sqlite"
    make_shelf(path)
    backup = take_backup("shelf", "main", [SHELF.at(path)], tmp_path / "backups")
    db = sqlite3.connect(path)
    db.execute("DELETE FROM books WHERE id > 10")
    db.commit()
    db.close()
    before = sha256_file(path)
    copy = backup.path / "shelf.sqlite"
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(FailedPrecondition, match="damaged, nothing was restored.*SHA-256"):
        restore_backup(backup.path, {"shelf": path})
    assert sha256_file(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "shelf.sqlite"]
    _, (report,) = verify_backup(backup.path, {"shelf": SHELF})
    assert [(p.check, p.key) for p in report.problems][:1] == [("manifest", "shelf.sqlite")]


def test_restore_swaps_the_store_in_whole_and_keeps_the_one_it_replaced(tmp_path):
    path = tmp_path / "shelf.sqlite"
    make_shelf(path, books=50)
    backup = take_backup("shelf", "main", [SHELF.at(path)], tmp_path / "backups")
    db = sqlite3.connect(path)
    db.execute("DELETE FROM books")
    db.commit()
    db.close()
    (restored,), warnings = restore_backup(backup.path, {"shelf": path})
    assert warnings == []
    assert sqlite3.connect(path).execute("SELECT count(*) FROM books").fetchone()[0] == 50
    assert sqlite3.connect(restored.replaced).execute("SELECT count(*) FROM books").fetchone() \
        == (0,)
    report = verify_store(SHELF.at(path), expected=backup.manifest.file("shelf"))
    assert report.ok, report.problems


def test_a_store_another_process_holds_is_not_restored_unless_forced(tmp_path):
    path = tmp_path / "shelf.sqlite"
    make_shelf(path)
    backup = take_backup("shelf", "main", [SHELF.at(path)], tmp_path / "backups")
    keeper = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"db = sqlite3.connect({str(path)!r}); db.execute('SELECT 1 FROM books')\n"
         "print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert keeper.stdout.readline().strip() == "open"
        assert [pid for pid, _ in holders(path)] == [keeper.pid]
        with pytest.raises(FailedPrecondition, match=rf"(?s)pid {keeper.pid} .*--force"):
            restore_backup(backup.path, {"shelf": path})
        _, warnings = restore_backup(backup.path, {"shelf": path}, force=True)
        assert "restoring anyway" in warnings[0]
    finally:
        keeper.kill()
        keeper.wait()
    assert holders(path) == []


def test_a_failure_while_staging_leaves_every_store_as_it_was(tmp_path):
    shelf, other = tmp_path / "shelf.sqlite", tmp_path / "other.sqlite"
    make_shelf(shelf)
    make_shelf(other, books=3)
    other_kind = StoreKind("other")
    backup = take_backup("shelf", "main", [SHELF.at(shelf), other_kind.at(other)],
                         tmp_path / "backups")
    before = sha256_file(shelf)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(OSError):
        restore_backup(backup.path, {"shelf": shelf, "other": blocked / "other.sqlite"})
    assert sha256_file(shelf) == before
    assert not list(tmp_path.glob(".*restoring*"))


def test_retention_keeps_the_newest_and_touches_nothing_else(tmp_path):
    path = tmp_path / "shelf.sqlite"
    make_shelf(path, books=5)
    backups = tmp_path / "backups"
    made = [take_backup("shelf", "main", [SHELF.at(path)], backups, now=1_800_000_000 + n)
            for n in range(4)]
    other = take_backup("shelf", "annex", [SHELF.at(path)], backups, now=1_700_000_000)
    (backups / "notes").mkdir()
    removed = prune(backups, "shelf", "main", keep=2)
    assert sorted(removed) == sorted(b.path for b in made[:2])
    assert [p for p, _ in backups_in(backups, "shelf", "main")] == [b.path for b in made[2:]]
    assert other.path.exists() and (backups / "notes").exists()
    assert backup_folder(backups, "shelf", "main") == made[-1].path
    assert backup_folder(made[2].path) == made[2].path
    with pytest.raises(NotFound):
        backup_folder(backups, "node", "main")


def test_a_backup_that_died_half_way_is_never_taken_for_one(tmp_path):
    path = tmp_path / "shelf.sqlite"
    make_shelf(path, books=5)
    with pytest.raises(NotFound):  # the second store is missing: the backup fails
        take_backup("shelf", "main", [SHELF.at(path), SHELF.at(tmp_path / "gone.sqlite")],
                    tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []
    assert backups_in(tmp_path / "backups") == []
    with pytest.raises(NotFound, match="no manifest.json"):
        Manifest.read(tmp_path)
