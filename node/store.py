"""The holdings store: one SQLite file per node, all SQL of the node in one place.

Why two connections: aiosqlite runs each connection on its own thread, and a
write transaction that spans several awaits must not see (or be seen by) reads
from other tasks. Writes go through :meth:`HoldingsStore.transaction`, which
holds an asyncio lock and ``BEGIN IMMEDIATE`` so one task writes at a time;
reads use a second connection that, in WAL mode, sees only committed data.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from federation.backup.checksum import sha256_text
from federation.errors import FailedPrecondition, NotFound
from node.model import PARENT_SETS, Holding, Item, location_set, schema_set
from node.queries import OaiQuery, SearchTerms, fold
from node.schema import MIGRATIONS

__all__ = ["HoldingsStore", "OaiQuery", "SearchTerms", "fold", "item_from_row"]


#: Copy states a library cannot drop: the copy is out, or promised to a loan.
_IN_CIRCULATION = "('on_loan', 'reserved', 'in_transit')"


class HoldingsStore:
    """Records, copies, sets, deletions and loans of one library."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> HoldingsStore:
        """Open (creating and migrating when needed) the database at ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path)
        await _migrate(writer)
        reader = await _connect(path)
        await reader.execute("PRAGMA query_only = ON")
        return cls(writer, reader)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back on any error."""
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.rollback()
                raise
            await self._writer.commit()

    async def meta(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    # --- writing -----------------------------------------------------------

    async def save_holdings(self, holdings: Sequence[Holding], now: int | None = None) -> int:
        """Insert or update a batch of records with their copies; returns how many were new.

        A re-imported record gets a new datestamp. Its copies are matched by
        barcode so a copy out on loan keeps its circulation state. The batch is
        written with a handful of set-wise statements, not per record, because
        each statement is a thread hop in aiosqlite.
        """
        now = int(time.time()) if now is None else now
        holdings = list({h.id: h for h in holdings}.values())  # the last one of an id wins
        ids = [h.id for h in holdings]
        async with self.transaction() as db:
            marks = ",".join("?" * len(ids))
            async with db.execute(
                f"SELECT COUNT(*) FROM records WHERE deleted = 0 AND id IN ({marks})", ids
            ) as cur:
                existing = (await cur.fetchone())[0]
            await _write_holdings(db, holdings, now)
        return len(holdings) - existing

    async def delete_record(self, record_id: str, now: int | None = None) -> int:
        """Mark a record deleted (kept for OAI-PMH), drop its copies; its datestamp.

        Refused while a copy is out in circulation (reserved for or on an
        interlibrary loan, in transit): deleting it would leave that loan without
        its copy. The loan is finished or cancelled first.
        """
        now = int(time.time()) if now is None else now
        async with self.transaction() as db:
            async with db.execute(
                f"SELECT barcode, status FROM items WHERE record_id = ?"
                f" AND status IN {_IN_CIRCULATION}", (record_id,)
            ) as cur:
                busy = [f"{row[0] or 'copy'} ({row[1]})" for row in await cur.fetchall()]
            if busy:
                raise FailedPrecondition(
                    f"record {record_id!r} has copies in circulation: {', '.join(busy)}; "
                    "finish or cancel their loans before deleting it"
                )
            cur = await db.execute(
                "UPDATE records SET deleted = 1, datestamp = ?, marcxml = NULL, oai_dc = NULL,"
                " marcxml_sha256 = NULL, search_text = '' WHERE id = ? AND deleted = 0",
                (now, record_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no record {record_id!r} at this library")
            await db.execute("DELETE FROM record_isbns WHERE record_id = ?", (record_id,))
            await db.execute("DELETE FROM record_issns WHERE record_id = ?", (record_id,))
            await db.execute(
                "DELETE FROM records_fts WHERE rowid = (SELECT rowid FROM records WHERE id = ?)",
                (record_id,),
            )
            await db.execute("DELETE FROM items WHERE record_id = ?", (record_id,))
            await db.execute(
                "INSERT INTO deletions (record_id, datestamp) VALUES (?, ?)", (record_id, now)
            )
        return now

    # --- reading -----------------------------------------------------------

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """A read on the committed state (the read-only connection), in one thread hop."""
        return list(await self._reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def live_records(self, ids: Sequence[str]) -> list[aiosqlite.Row]:
        """Summary, MARCXML and datestamp of the given records that are not deleted."""
        marks = ",".join("?" * len(ids))
        return await self.fetchall(
            f"SELECT id, summary, marcxml, datestamp FROM records"
            f" WHERE id IN ({marks}) AND deleted = 0",
            list(ids),
        )

    async def oai_record(self, record_id: str, column: str) -> aiosqlite.Row | None:
        """One record's OAI-PMH header fields and one stored rendering as ``metadata``."""
        if column not in ("marcxml", "oai_dc"):
            raise ValueError(f"no stored rendering {column!r}")
        return await self.fetchone(
            f"SELECT id, datestamp, deleted, sets, schema, {column} AS metadata"
            " FROM records WHERE id = ?",
            (record_id,),
        )

    async def first_record_id(self) -> str | None:
        row = await self.fetchone("SELECT id FROM records ORDER BY id LIMIT 1")
        return row[0] if row else None

    async def record(self, record_id: str) -> aiosqlite.Row | None:
        return await self.fetchone("SELECT * FROM records WHERE id = ?", (record_id,))

    async def items_of(self, record_ids: Sequence[str]) -> dict[str, list[Item]]:
        """Copies per record, in a stable order."""
        found: dict[str, list[Item]] = {record_id: [] for record_id in record_ids}
        if not record_ids:
            return found
        marks = ",".join("?" * len(record_ids))
        rows = await self.fetchall(
            f"SELECT * FROM items WHERE record_id IN ({marks}) ORDER BY record_id, id",
            list(record_ids),
        )
        for row in rows:
            found[row["record_id"]].append(item_from_row(row))
        return found

    async def availability(
        self, record_id: str = "", isbn: str = ""
    ) -> tuple[dict[str, list[Item]], int]:
        """Copies of a record (or of every record with an ISBN) and the open loans, in one query.

        One query because availability is the call peers make most: each
        aiosqlite round trip costs more than the lookup itself.
        """
        target = (
            "r.id = ?"
            if record_id
            else ("r.id IN (SELECT record_id FROM record_isbns WHERE isbn = ?)")
        )
        rows = await self.fetchall(
            "SELECT r.id AS rid, i.*, (SELECT COUNT(*) FROM loans WHERE status IN"
            " ('WillSupply', 'Loaned', 'Overdue', 'Recalled')) AS open_loans"
            " FROM (SELECT 1) LEFT JOIN records r ON " + target + " AND r.deleted = 0"
            " LEFT JOIN items i ON i.record_id = r.id ORDER BY r.id, i.id",
            (record_id or isbn,),
        )
        found: dict[str, list[Item]] = {}
        for row in rows:
            if row["rid"] is None:
                continue
            copies = found.setdefault(row["rid"], [])
            if row["id"] is not None:
                copies.append(item_from_row(row))
        return found, int(rows[0]["open_loans"]) if rows else 0

    async def records_with_isbn(self, isbn: str) -> list[str]:
        rows = await self.fetchall(
            "SELECT r.id FROM record_isbns i JOIN records r ON r.id = i.record_id"
            " WHERE i.isbn = ? AND r.deleted = 0 ORDER BY r.id",
            (isbn,),
        )
        return [row[0] for row in rows]

    async def oai_page(
        self, query: OaiQuery, after: tuple[int, str] | None, limit: int, column: str | None
    ) -> list[aiosqlite.Row]:
        """One page of an OAI-PMH list in (datestamp, id) order, after a keyset cursor."""
        where, params = query.where()
        if after is not None:
            where.append("(datestamp, id) > (?, ?)")
            params.extend(after)
        metadata = f", {column} AS metadata" if column in ("marcxml", "oai_dc") else ""
        return await self.fetchall(
            f"SELECT id, datestamp, deleted, sets{metadata} FROM records"
            f" WHERE {' AND '.join(where)} ORDER BY datestamp, id LIMIT ?",
            [*params, limit],
        )

    async def oai_count(self, query: OaiQuery) -> int:
        where, params = query.where()
        row = await self.fetchone(
            f"SELECT COUNT(*) FROM records WHERE {' AND '.join(where)}", params
        )
        return int(row[0]) if row else 0

    async def sets(self) -> list[aiosqlite.Row]:
        return await self.fetchall("SELECT spec, name FROM sets ORDER BY spec")

    async def search(self, terms: SearchTerms, limit: int, offset: int) -> tuple[list[str], int]:
        """Ids of live records matching every given term (one page) and the total."""
        where, params = ["r.deleted = 0"], []
        match = terms.fts_query()
        source = "records r"
        if match:
            source = "records_fts f JOIN records r ON r.rowid = f.rowid"
            where.append("records_fts MATCH ?")
            params.append(match)
        if terms.isbn:
            where.append("r.id IN (SELECT record_id FROM record_isbns WHERE isbn = ?)")
            params.append(terms.isbn)
        if terms.issn:
            where.append("r.id IN (SELECT record_id FROM record_issns WHERE issn = ?)")
            params.append(terms.issn)
        condition = " AND ".join(where)
        total = await self.fetchone(f"SELECT COUNT(*) FROM {source} WHERE {condition}", params)
        rows = await self.fetchall(
            f"SELECT r.id FROM {source} WHERE {condition} ORDER BY r.id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [row[0] for row in rows], int(total[0]) if total else 0

    async def earliest_datestamp(self) -> int:
        """The oldest datestamp of any record or deletion (a true lower bound)."""
        row = await self.fetchone("SELECT MIN(datestamp) FROM records")
        if row and row[0] is not None:
            return int(row[0])
        return int(await self.meta("created") or time.time())

    async def stats(self) -> dict[str, Any]:
        """Records by schema, copies by status, deletions, open loans."""
        schemas = await self.fetchall(
            "SELECT schema, COUNT(*) FROM records WHERE deleted = 0 GROUP BY schema"
        )
        statuses = await self.fetchall("SELECT status, COUNT(*) FROM items GROUP BY status")
        deleted = await self.fetchone("SELECT COUNT(*) FROM records WHERE deleted = 1")
        loans = await self.fetchall("SELECT status, COUNT(*) FROM loans GROUP BY status")
        by_schema = {row[0]: row[1] for row in schemas}
        return {
            "records": sum(by_schema.values()),
            "records_by_schema": by_schema,
            "items": sum(row[1] for row in statuses),
            "items_by_status": {row[0]: row[1] for row in statuses},
            "deleted_records": deleted[0] if deleted else 0,
            "loans_by_status": {row[0]: row[1] for row in loans},
        }


def item_from_row(row: aiosqlite.Row) -> Item:
    return Item(
        id=row["id"],
        record_id=row["record_id"],
        barcode=row["barcode"],
        location=row["location"],
        call_number=row["call_number"],
        status=row["status"],
        due=row["due"],
    )


async def _connect(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA synchronous = NORMAL")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute("PRAGMA busy_timeout = 5000")
    await db.create_function("fold", 1, fold, deterministic=True)
    await db.create_function("libfed_sha256", 1, sha256_text, deterministic=True)
    return db


async def _migrate(db: aiosqlite.Connection) -> None:
    """Bring the schema to the newest version, one transaction per step."""
    async with db.execute("PRAGMA user_version") as cur:
        version = (await cur.fetchone())[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        statements = [part for part in script.split(";") if part.strip()]
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                await db.execute(statement)
            if number == 1:
                await db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("created", str(int(time.time()))), ("token_secret", secrets.token_hex(32))],
                )
            await db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            await db.rollback()
            raise
        await db.commit()


async def _write_holdings(db: aiosqlite.Connection, holdings: list[Holding], now: int) -> None:
    """Upsert records, their ISBNs, sets and copies (inside a transaction)."""
    ids = [h.id for h in holdings]
    marks = ",".join("?" * len(ids))
    sets = {h.id: _sets_of(h) for h in holdings}
    await db.executemany(
        "INSERT INTO records (id, datestamp, deleted, schema, title, summary, search_text,"
        " sets, marcxml, oai_dc, marcxml_sha256) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET datestamp = excluded.datestamp, deleted = 0,"
        " schema = excluded.schema, title = excluded.title, summary = excluded.summary,"
        " search_text = excluded.search_text, sets = excluded.sets,"
        " marcxml = excluded.marcxml, oai_dc = excluded.oai_dc,"
        " marcxml_sha256 = excluded.marcxml_sha256",
        [
            (
                h.id,
                now,
                h.schema,
                h.title,
                json.dumps(h.summary, ensure_ascii=False),
                h.search_text,
                " ".join(spec for spec, _ in sets[h.id]),
                h.marcxml,
                h.oai_dc,
                sha256_text(h.marcxml),
            )
            for h in holdings
        ],
    )
    await db.executemany(
        "INSERT OR REPLACE INTO records_fts (rowid, words, title, authors)"
        " SELECT rowid, ?, ?, ? FROM records WHERE id = ?",
        [
            (h.search_text, fold(h.title), fold(" ".join(h.summary.get("authors") or [])), h.id)
            for h in holdings
        ],
    )
    await db.execute(f"DELETE FROM record_issns WHERE record_id IN ({marks})", ids)
    await db.executemany(
        "INSERT OR IGNORE INTO record_issns (issn, record_id) VALUES (?, ?)",
        [(issn, h.id) for h in holdings for issn in h.summary.get("issns") or []],
    )
    await db.execute(f"DELETE FROM record_isbns WHERE record_id IN ({marks})", ids)
    await db.executemany(
        "INSERT OR IGNORE INTO record_isbns (isbn, record_id) VALUES (?, ?)",
        [(isbn, h.id) for h in holdings for isbn in h.isbns],
    )
    all_sets = {pair for pairs in sets.values() for pair in pairs}
    await db.executemany("INSERT OR IGNORE INTO sets (spec, name) VALUES (?, ?)", sorted(all_sets))
    await db.execute(f"DELETE FROM record_sets WHERE record_id IN ({marks})", ids)
    await db.executemany(
        "INSERT OR IGNORE INTO record_sets (set_spec, record_id) VALUES (?, ?)",
        [(spec, record_id) for record_id, pairs in sets.items() for spec, _ in pairs],
    )
    await _write_items(db, holdings)


def _sets_of(holding: Holding) -> list[tuple[str, str]]:
    """The sets a record belongs to: its schema, its copies' locations, their parents."""
    locations = [location_set(item.location) for item in holding.items if item.location]
    parents = [PARENT_SETS[1]] + ([PARENT_SETS[0]] if locations else [])
    return list(dict.fromkeys([*parents, schema_set(holding.schema), *locations]))


async def _write_items(db: aiosqlite.Connection, holdings: list[Holding]) -> None:
    """Copies matched by barcode; a copy in circulation keeps its state."""
    await db.executemany(
        "INSERT INTO items (record_id, barcode, location, call_number, status, due)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (record_id, barcode) DO UPDATE SET"
        " location = excluded.location, call_number = excluded.call_number,"
        f" status = CASE WHEN items.status IN {_IN_CIRCULATION}"
        " THEN items.status ELSE excluded.status END,"
        f" due = CASE WHEN items.status IN {_IN_CIRCULATION}"
        " THEN items.due ELSE excluded.due END",
        [
            (h.id, item.barcode, item.location, item.call_number, item.status, item.due)
            for h in holdings
            for item in h.items
        ],
    )
    # copies the export no longer lists go, unless they are out in circulation
    await db.executemany(
        "DELETE FROM items WHERE record_id = ? AND barcode NOT IN (SELECT value FROM json_each(?))"
        f" AND status NOT IN {_IN_CIRCULATION}",
        [(h.id, json.dumps([item.barcode for item in h.items])) for h in holdings],
    )
