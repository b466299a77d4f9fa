"""Keeping the collection safe: online backups of SQLite stores, restore, verification.

The shared mechanism every room uses: a consistent copy of a live store (the
SQLite backup API), a manifest of checksums and counts, a restore that never
leaves a store half-replaced, and a verification that runs SQLite's own checks
and then the room's. The rooms say what their stores are and what a sound one
looks like (``node/verify.py``, ``federation/catalog/sqlite/verify.py``,
``federation/coordinator/verify.py``); this package never looks inside one.
Imports nothing of ours but :mod:`federation.errors`. See docs/backup.md.
"""

from federation.backup.checksum import sha256_file, sha256_text
from federation.backup.manifest import Manifest, StoreFile, damaged_files
from federation.backup.model import Problem, Progress, Store, StoreKind, StoreReport
from federation.backup.restore import Restored, holders, restore_backup
from federation.backup.retention import backup_folder, backups_in, prune
from federation.backup.schedule import BackupPlan, backup_once, run_schedule
from federation.backup.take import Backup, take_backup
from federation.backup.verify import all_ok, verify_backup, verify_store

__all__ = [
    "Backup",
    "BackupPlan",
    "Manifest",
    "Problem",
    "Progress",
    "Restored",
    "Store",
    "StoreFile",
    "StoreKind",
    "StoreReport",
    "all_ok",
    "backup_folder",
    "backup_once",
    "backups_in",
    "damaged_files",
    "holders",
    "prune",
    "restore_backup",
    "run_schedule",
    "sha256_file",
    "sha256_text",
    "take_backup",
    "verify_backup",
    "verify_store",
]
