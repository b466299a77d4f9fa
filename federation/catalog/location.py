"""Where a union catalog lives: a SQLite file (the default) or a PostgreSQL URL.

Every place that names a catalog — ``--catalog`` on the command line,
``catalog_db`` in coordinator.toml — takes either; :func:`open_storage` opens
the right storage. A ``postgresql://`` (or ``postgres://``) URL is passed to
libpq as it is, so everything libpq reads from a URL works: user, password,
host, port, database, ``?sslmode=…``, a socket folder as ``?host=/run/postgresql``.
"""

from __future__ import annotations

from pathlib import Path

from federation.catalog.storage import CatalogStorage
from federation.database_url import is_url
from federation.errors import FailedPrecondition, NotFound


async def open_storage(location: str | Path, *, create: bool = True) -> CatalogStorage:
    """The storage at ``location``, its schema created or migrated; with ``create``
    false a catalog that does not exist yet is NotFound instead of made empty."""
    if is_url(location):
        try:
            from federation.catalog.postgres import PostgresStorage
        except ImportError as error:
            raise FailedPrecondition(
                "a PostgreSQL catalog needs psycopg: pip install 'libfed[postgres]'"
            ) from error
        return await PostgresStorage.open(str(location), create=create)
    from federation.catalog.sqlite import SqliteStorage

    path = Path(location)
    if not create and not path.is_file():
        raise NotFound(f"catalog database not found: {path}")
    return await SqliteStorage.open(path)
