"""The holdings database schema, one migration per version (PRAGMA user_version).

A migration only ever adds; a database written by an older libfed is brought up
to date when a node opens it, inside one transaction per step.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: records, copies, sets, the deletion log, ILL loans.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE records (
        id          TEXT PRIMARY KEY,
        datestamp   INTEGER NOT NULL,
        deleted     INTEGER NOT NULL DEFAULT 0,
        schema      TEXT NOT NULL,
        title       TEXT NOT NULL DEFAULT '',
        summary     TEXT NOT NULL DEFAULT '{}',
        search_text TEXT NOT NULL DEFAULT '',
        sets        TEXT NOT NULL DEFAULT '',
        marcxml     TEXT,
        oai_dc      TEXT
    );
    CREATE INDEX records_by_datestamp ON records (datestamp, id);
    CREATE TABLE record_isbns (
        isbn      TEXT NOT NULL,
        record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
        PRIMARY KEY (isbn, record_id)
    ) WITHOUT ROWID;
    CREATE TABLE sets (spec TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE record_sets (
        set_spec  TEXT NOT NULL,
        record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
        PRIMARY KEY (set_spec, record_id)
    ) WITHOUT ROWID;
    CREATE TABLE items (
        id          INTEGER PRIMARY KEY,
        record_id   TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
        barcode     TEXT NOT NULL,
        location    TEXT NOT NULL DEFAULT '',
        call_number TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL DEFAULT 'available',
        due         INTEGER,
        UNIQUE (record_id, barcode)
    );
    CREATE INDEX items_by_status ON items (status);
    CREATE TABLE deletions (
        seq       INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL,
        datestamp INTEGER NOT NULL
    );
    CREATE TABLE loans (
        request_id       TEXT NOT NULL,
        attempt          INTEGER NOT NULL,
        record_id        TEXT NOT NULL DEFAULT '',
        item_id          INTEGER REFERENCES items (id) ON DELETE SET NULL,
        status           TEXT NOT NULL,
        reason_unfilled  TEXT NOT NULL DEFAULT '',
        requester_symbol TEXT NOT NULL DEFAULT '',
        pickup_location  TEXT NOT NULL DEFAULT '',
        created          INTEGER NOT NULL,
        updated          INTEGER NOT NULL,
        PRIMARY KEY (request_id, attempt)
    ) WITHOUT ROWID;
    CREATE INDEX loans_by_status ON loans (status);
    """,
    # 2: a full-text index of the words readers search by (was a LIKE scan of every row).
    """
    CREATE VIRTUAL TABLE records_fts USING fts5 (
        words, title, authors, tokenize = 'unicode61 remove_diacritics 0'
    );
    INSERT INTO records_fts (rowid, words, title, authors)
        SELECT rowid, search_text, fold(title),
               fold(COALESCE(json_extract(summary, '$.authors'), ''))
        FROM records WHERE deleted = 0;
    """,
    # 3: ISSNs indexed like ISBNs (a search by ISSN scanned every summary).
    """
    CREATE TABLE record_issns (
        issn      TEXT NOT NULL,
        record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
        PRIMARY KEY (issn, record_id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO record_issns (issn, record_id)
        SELECT j.value, r.id FROM records r, json_each(r.summary, '$.issns') j
        WHERE r.deleted = 0;
    """,
    # 4: each record's MARCXML carries its SHA-256, so `libfed verify` can tell a record
    # altered on disk from the one imported.
    """
    ALTER TABLE records ADD COLUMN marcxml_sha256 TEXT;
    UPDATE records SET marcxml_sha256 = libfed_sha256(marcxml) WHERE marcxml IS NOT NULL;
    """,
]
