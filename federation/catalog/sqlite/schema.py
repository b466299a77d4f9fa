"""The SQLite schema of the union catalog, as numbered migrations.

``PRAGMA user_version`` says how many of :data:`MIGRATIONS` a file has had; opening
a catalog applies the rest in one transaction each. Never edit a migration that
has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: sources, records with their match data, dedup keys, clusters, search.
    """
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        library TEXT NOT NULL,
        base_url TEXT NOT NULL,
        metadata_prefix TEXT NOT NULL,
        set_spec TEXT,
        next_from TEXT,
        run_from TEXT,
        run_response_date TEXT,
        resumption_token TEXT,
        last_harvest TEXT,
        last_error TEXT
    );
    CREATE TABLE records (
        pk INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        oai_identifier TEXT NOT NULL,
        library TEXT NOT NULL,
        record_id TEXT NOT NULL,
        datestamp TEXT NOT NULL,
        schema TEXT NOT NULL,
        raw BLOB NOT NULL,
        normalized TEXT NOT NULL,
        match TEXT NOT NULL,
        digest TEXT NOT NULL,
        score INTEGER NOT NULL,
        cluster_pk INTEGER NOT NULL,
        UNIQUE (source, oai_identifier)
    );
    -- Covering: holdings, dump order and cluster membership never touch the big rows.
    CREATE INDEX records_cluster
        ON records (cluster_pk, library, record_id, oai_identifier, source);
    -- Candidate keys, stored as 64-bit hashes of "i:…", "u:…", "t:…" (a collision
    -- only adds a candidate, which the rules then judge).
    CREATE TABLE match_keys (
        key INTEGER NOT NULL,
        record_pk INTEGER NOT NULL,
        PRIMARY KEY (key, record_pk)
    ) WITHOUT ROWID;
    CREATE TABLE clusters (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        best_record_pk INTEGER NOT NULL,
        title TEXT NOT NULL,
        authors TEXT NOT NULL,
        year INTEGER,
        format TEXT,
        language TEXT,
        isbns TEXT NOT NULL,
        size INTEGER NOT NULL
    );
    CREATE TABLE cluster_libraries (
        cluster_pk INTEGER NOT NULL,
        library TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (cluster_pk, library)
    ) WITHOUT ROWID;
    CREATE INDEX cluster_libraries_library ON cluster_libraries (library, cluster_pk);
    CREATE TABLE quarantine (
        source TEXT NOT NULL,
        oai_identifier TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw BLOB NOT NULL,
        quarantined_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        PRIMARY KEY (source, oai_identifier)
    );
    -- Text is folded in Python (federation.catalog.folding) before it gets here,
    -- so the tokenizer must not strip diacritics itself: that would merge й and и.
    CREATE VIRTUAL TABLE cluster_search USING fts5 (
        title, authors, authors_latin, subjects, publisher, isbn, year, language, format,
        tokenize = "unicode61 remove_diacritics 0"
    );
    """,
    # 2: a narrow copy of the facet fields, so counting facets over thousands of
    # hits reads a few megabytes instead of the wide cluster rows.
    """
    CREATE TABLE cluster_facets (
        pk INTEGER PRIMARY KEY,
        year INTEGER,
        language TEXT,
        format TEXT
    );
    INSERT INTO cluster_facets SELECT pk, year, language, format FROM clusters;
    """,
    # 3: the facet table also carries the libraries (joined by U+001F), so that
    # counting facets is one lookup per hit in one small table.
    """
    DROP TABLE cluster_facets;
    CREATE TABLE cluster_facets (
        pk INTEGER PRIMARY KEY,
        year INTEGER,
        language TEXT,
        format TEXT,
        libraries TEXT NOT NULL
    );
    INSERT INTO cluster_facets
        SELECT c.pk, c.year, c.language, c.format,
               coalesce((SELECT group_concat(library, char(31)) FROM
                   (SELECT library FROM cluster_libraries l WHERE l.cluster_pk = c.pk
                    ORDER BY library)), '')
        FROM clusters c;
    """,
    # 4: which full run of its source last listed a record, so that the end of a
    # full run can remove what the server no longer lists (servers without
    # persistent deletions simply stop listing a withdrawn record).
    """
    ALTER TABLE records ADD COLUMN harvest_run INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sources ADD COLUMN full_run INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: the keys carry their record's source, so that a page looks up only other
    # sources' records: one library holding many copies of an edition (same ISBN,
    # same title key) made every page read every earlier copy, only for the rules
    # to skip them as the same source (20,000 copies: 11 match data reads a record).
    """
    CREATE TABLE match_keys_by_source (
        key INTEGER NOT NULL,
        source TEXT NOT NULL,
        record_pk INTEGER NOT NULL,
        PRIMARY KEY (key, source, record_pk)
    ) WITHOUT ROWID;
    INSERT INTO match_keys_by_source
        SELECT k.key, r.source, k.record_pk FROM match_keys k JOIN records r ON r.pk = k.record_pk;
    DROP TABLE match_keys;
    ALTER TABLE match_keys_by_source RENAME TO match_keys;
    """,
]
