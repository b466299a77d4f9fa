"""The PostgreSQL schema of the union catalog, as numbered migrations.

The table ``catalog_schema`` says how many of :data:`MIGRATIONS` a database has
had; opening a catalog applies the rest, each in one transaction, under an
advisory lock so that two processes opening a new catalog at once do not both
create it. Never edit a migration that has shipped: append a new one.

The tables are the SQLite catalog's (federation/catalog/sqlite/schema.py, same
names and columns), with PostgreSQL's types: the search row is one ``tsvector``
with a GIN index (federation/catalog/postgres/textsearch.py), the libraries of
a cluster's facet row an array, and the highest cluster pk ever used is kept in
``cluster_counter`` (SQLite's AUTOINCREMENT), so that ids are never reused.
"""

from __future__ import annotations

#: Serializes migrations and page commits across processes (pg_advisory_xact_lock).
WRITER_LOCK = 0x6C6962666564  # "libfed"

#: Created before the first migration, outside the list.
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS catalog_schema (version integer NOT NULL)"

MIGRATIONS: list[str] = [
    # 1: what SQLite's schema 5 holds.
    """
    CREATE TABLE sources (
        name text PRIMARY KEY,
        library text NOT NULL,
        base_url text NOT NULL,
        metadata_prefix text NOT NULL,
        set_spec text,
        next_from text,
        run_from text,
        run_response_date text,
        resumption_token text,
        last_harvest text,
        last_error text,
        full_run integer NOT NULL DEFAULT 0
    );
    CREATE TABLE records (
        pk bigint PRIMARY KEY,
        source text NOT NULL,
        oai_identifier text NOT NULL,
        library text NOT NULL,
        record_id text NOT NULL,
        datestamp text NOT NULL,
        schema text NOT NULL,
        raw bytea NOT NULL,
        normalized text NOT NULL,
        match text NOT NULL,
        digest text NOT NULL,
        score integer NOT NULL,
        cluster_pk bigint NOT NULL,
        harvest_run integer NOT NULL DEFAULT 0,
        UNIQUE (source, oai_identifier)
    );
    -- Covering: holdings, dump order and cluster membership never touch the big rows.
    CREATE INDEX records_cluster
        ON records (cluster_pk, library, record_id) INCLUDE (oai_identifier, source);
    -- Candidate keys (64-bit hashes of "i:…", "u:…", "t:…") with their record's source.
    CREATE TABLE match_keys (
        key bigint NOT NULL,
        source text NOT NULL,
        record_pk bigint NOT NULL,
        PRIMARY KEY (key, source, record_pk)
    );
    CREATE TABLE clusters (
        pk bigint PRIMARY KEY,
        best_record_pk bigint NOT NULL,
        title text NOT NULL,
        authors text NOT NULL,
        year integer,
        format text,
        language text,
        isbns text NOT NULL,
        size integer NOT NULL
    );
    CREATE TABLE cluster_counter (last_pk bigint NOT NULL);
    INSERT INTO cluster_counter VALUES (0);
    CREATE TABLE cluster_libraries (
        cluster_pk bigint NOT NULL,
        library text NOT NULL,
        PRIMARY KEY (cluster_pk, library)
    );
    -- library:X is case-insensitive, as SQLite's NOCASE column.
    CREATE INDEX cluster_libraries_library ON cluster_libraries (lower(library), cluster_pk);
    -- The facet fields of a cluster, narrow, so that counting facets over
    -- thousands of hits reads little.
    CREATE TABLE cluster_facets (
        pk bigint PRIMARY KEY,
        year integer,
        language text,
        format text,
        libraries text[] NOT NULL
    );
    CREATE TABLE quarantine (
        source text NOT NULL,
        oai_identifier text NOT NULL,
        reason text NOT NULL,
        raw bytea NOT NULL,
        quarantined_at text NOT NULL
            DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        PRIMARY KEY (source, oai_identifier)
    );
    -- Lexemes carry their column's letter (textsearch.py); built in Python from
    -- the same folded words as the FTS5 index. sort_title and year are what CQL's
    -- sortBy orders by: the folded title past leading punctuation, in code point
    -- order as SQLite compares it.
    CREATE TABLE cluster_search (
        pk bigint PRIMARY KEY,
        doc tsvector NOT NULL,
        sort_title text COLLATE "C",
        year integer
    );
    -- New entries wait in GIN's pending list, which every search reads whole until
    -- (auto)vacuum merges it: kept small (512 kB, not 4 MB), a search after a big
    -- harvest took 5 ms instead of 0.1 for that list alone (20,000 records).
    CREATE INDEX cluster_search_doc ON cluster_search USING gin (doc)
        WITH (gin_pending_list_limit = 512);
    """,
    # 2: every search row holds a lexeme per holding library (textsearch.LIBRARY_TAG),
    # so that library:X narrows inside the GIN index: title:atlas library:NLR at a
    # million records, 8 ms instead of 111 (a hash of NLR's 167,000 clusters).
    """
    UPDATE cluster_search s SET doc = s.doc || h.lexemes
        FROM (SELECT cluster_pk, array_to_tsvector(array_agg(DISTINCT 'h' || lower(library)))
              AS lexemes FROM cluster_libraries GROUP BY cluster_pk) h
        WHERE h.cluster_pk = s.pk;
    """,
]


def statements(script: str) -> list[str]:
    """Split a migration into statements (they hold no semicolons inside)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
