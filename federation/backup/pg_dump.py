"""Stores kept in PostgreSQL (the catalog or the coordinator's state at a URL): backed up
with pg_dump, put back with pg_restore, counted and checked through psycopg.

The copy is one consistent moment, like the SQLite one: a read-only REPEATABLE
READ transaction exports its snapshot, the table counts for the manifest are
taken in it, and ``pg_dump --snapshot`` dumps exactly that snapshot while the
transaction stays open. Writers go on meanwhile. ``pg_restore --single-transaction``
puts a dump back all or nothing, over whatever the database held.

PostgreSQL's client tools (Debian's postgresql-client) must be on PATH, of a
version no older than the server's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from federation.database_url import shown
from federation.errors import FailedPrecondition

#: The suffix of a dump in a backup folder (a SQLite copy ends .sqlite).
SUFFIX = ".pgdump"


def _split(url: str) -> tuple[str, dict[str, str]]:
    """The connection string without its password, and the environment that carries it:
    a password on a command line is seen by every local user (ps)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FailedPrecondition(f"{name} is not installed (apt-get install postgresql-client): "
                                 "a store in PostgreSQL is backed up with PostgreSQL's tools")
    return found


def _run(*argv: str, timeout: float = 3600.0, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env=env)
    if done.returncode != 0:
        raise FailedPrecondition(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def _connect(url: str):
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        raise FailedPrecondition(f"cannot reach {shown(url)}: {error}") from error


def table_counts(cursor) -> dict[str, int]:
    """Rows of every table of the public schema, in the cursor's transaction."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
    return counts


def schema_version(counts_cursor) -> int:
    """The store's own schema number (catalog_schema / coordinator_schema), 0 if none."""
    for table in ("catalog_schema", "coordinator_schema"):
        counts_cursor.execute("SELECT to_regclass(%s)", (table,))
        if counts_cursor.fetchone()[0] is not None:
            counts_cursor.execute(f"SELECT max(version) FROM {table}")
            return int(counts_cursor.fetchone()[0] or 0)
    return 0


def dump(url: str, target: Path) -> tuple[dict[str, int], int, float]:
    """Dump the database at ``url`` into ``target`` (pg_dump's custom format); the table
    counts and schema version of the same snapshot, and the seconds it took."""
    started = time.monotonic()
    pg_dump = _tool("pg_dump")
    connection = _connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts, version = table_counts(cursor), schema_version(cursor)
            conninfo, env = _split(url)
            _run(pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", f"--file={target}", f"--dbname={conninfo}", env=env)
            cursor.execute("COMMIT")
    finally:
        connection.close()
    return counts, version, time.monotonic() - started


def readable(dump_file: Path) -> str | None:
    """Why pg_restore cannot read the dump, or None when it lists its contents."""
    try:
        _run(_tool("pg_restore"), "--list", str(dump_file), timeout=600)
    except FailedPrecondition as error:
        return str(error)
    return None


def restore(dump_file: Path, url: str) -> None:
    """Put the dump back into the database at ``url``, in one transaction (all or nothing):
    what the database held of the dump's tables is dropped first."""
    conninfo, env = _split(url)
    _run(_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction",
         "--exit-on-error", "--no-owner", "--no-privileges", f"--dbname={conninfo}",
         str(dump_file), env=env)


def other_sessions(url: str) -> list[tuple[int, str]]:
    """(pid, application) of every other session on the database: whoever would keep
    writing to it while it is restored."""
    connection = _connect(url)
    try:
        rows = connection.execute(
            "SELECT pid, COALESCE(NULLIF(application_name, ''), client_addr::text, 'local')"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid != pg_backend_pid() AND backend_type = 'client backend'").fetchall()
    finally:
        connection.close()
    return [(pid, str(name)) for pid, name in rows]


def live_counts(url: str) -> tuple[dict[str, int], int]:
    """Table counts and schema version of the database now (one snapshot)."""
    connection = _connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            counts, version = table_counts(cursor), schema_version(cursor)
            cursor.execute("COMMIT")
    finally:
        connection.close()
    return counts, version
