"""What backup, restore and verify talk about: a store, and what is wrong with one.

A *store* is one SQLite file a room keeps (a node's holdings and readers, the
union catalog, the coordinator's state and its staff accounts). Each room says
what its stores are (:class:`StoreKind`: how to count what it holds, which of
its own checks to run); the mechanism here never looks inside one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.database_url import is_url, shown

#: Told how far a long piece of work is: (what, done, total).
Progress = Callable[[str, int, int], None]

#: A room's own checks of one store's content, run on a consistent snapshot of it.
RoomCheck = Callable[[sqlite3.Connection, "StoreReport", "Progress | None"], None]

#: Problems listed per check; past this a report only counts them.
MAX_PER_CHECK = 100


@dataclass(frozen=True, slots=True)
class StoreKind:
    """A kind of store: its name in manifests and reports, and the room's knowledge of it."""

    #: "holdings", "patrons", "catalog", "state", "staff".
    name: str
    #: One number a person recognises: how many records (requests, readers…) it holds.
    records_sql: str = ""
    #: The room's checks of the content (MARCXML, deletion log, clusters, loans…).
    check: RoomCheck | None = None
    #: A store that may not exist yet (no staff account was ever made).
    optional: bool = False

    def at(self, place: Path | str) -> Store:
        """The store of this kind at a file, or in the PostgreSQL database at a URL."""
        if is_url(place):
            return Store(self, Path(), url=place)
        return Store(self, Path(place))


@dataclass(frozen=True, slots=True)
class Store:
    """One store of a kind: a SQLite file at ``path``, or a PostgreSQL database at ``url``
    (backed up with pg_dump: :mod:`federation.backup.pg_dump`)."""

    kind: StoreKind
    path: Path
    url: str = ""

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def place(self) -> str:
        """Where it is, for people (a URL without its password)."""
        return shown(self.url) if self.url else str(self.path)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a store, named as precisely as the check can."""

    store: str
    check: str
    message: str
    table: str = ""
    #: The record, request, cluster or row the problem is about.
    key: str = ""

    def __str__(self) -> str:
        where = " ".join(part for part in (self.table, repr(self.key) if self.key else "") if part)
        return f"{self.store}: {where}: {self.message}" if where else f"{self.store}: {self.message}"

    def as_json(self) -> dict[str, str]:
        return {"store": self.store, "check": self.check, "table": self.table, "key": self.key,
                "message": self.message}


@dataclass(slots=True)
class StoreReport:
    """What verifying one store found: the checks run, the counts, the problems."""

    store: str
    path: str
    checks: list[str] = field(default_factory=list)
    #: Rows per table, as counted on the snapshot that was checked.
    counts: dict[str, int] = field(default_factory=dict)
    records: int | None = None
    user_version: int | None = None
    problems: list[Problem] = field(default_factory=list)
    #: Problems a check found beyond MAX_PER_CHECK, by check: counted, not listed.
    omitted: dict[str, int] = field(default_factory=dict)
    #: Things worth knowing that are not wrong (an old schema without checksums…).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def ran(self, check: str) -> None:
        if check not in self.checks:
            self.checks.append(check)

    def problem(self, check: str, message: str, *, table: str = "", key: Any = "") -> None:
        """Note a problem; past MAX_PER_CHECK of one check only the number is kept."""
        self.ran(check)
        if sum(1 for p in self.problems if p.check == check) >= MAX_PER_CHECK:
            self.omitted[check] = self.omitted.get(check, 0) + 1
            return
        self.problems.append(Problem(self.store, check, message, table, str(key) if key else ""))

    @contextmanager
    def reading(self, check: str, table: str = "") -> Iterator[None]:
        """Run one check; a table SQLite cannot read is noted, and the next check runs."""
        self.ran(check)
        try:
            yield
        except sqlite3.DatabaseError as error:
            self.problem(check, f"SQLite stopped reading it: {error}", table=table)

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "path": self.path,
            "ok": self.ok,
            "checks": self.checks,
            "user_version": self.user_version,
            "records": self.records,
            "counts": self.counts,
            "problems": [p.as_json() for p in self.problems],
            "omitted": self.omitted,
            "notes": self.notes,
        }
