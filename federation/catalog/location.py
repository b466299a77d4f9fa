"""Where a union catalog lives: a SQLite file (the default) or a PostgreSQL URL.

Every place that names a catalog — ``--catalog`` on the command line,
``catalog_db`` in coordinator.toml — takes either; :func:`open_storage` opens
the right storage. A ``postgresql://`` (or ``postgres://``) URL is passed to
libpq as it is, so everything libpq reads from a URL works: user, password,
host, port, database, ``?sslmode=…``, a socket folder as ``?host=/run/postgresql``.
"""

from __future__ import annotations

import re
from pathlib import Path

from federation.catalog.storage import CatalogStorage
from federation.errors import FailedPrecondition, NotFound

_SCHEMES = ("postgresql://", "postgres://")


def is_url(location: str | Path) -> bool:
    """True for a PostgreSQL URL, false for a file path."""
    return isinstance(location, str) and location.startswith(_SCHEMES)


def resolve(home: Path, value: str) -> str | Path:
    """A location as a config file gives it: a URL as it is, a path relative to ``home``."""
    return value if is_url(value) else home / value


def shown(location: str | Path) -> str:
    """The location for messages and logs: a URL's password is left out."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", str(location))


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
