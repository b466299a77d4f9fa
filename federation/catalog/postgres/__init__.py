"""The PostgreSQL implementation of the catalog storage: every SQL statement it runs.

Optional: it needs the ``postgres`` extra (psycopg 3), imported only when a
catalog location is a ``postgresql://`` URL
(:func:`federation.catalog.location.open_storage`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PostgresStorage"]


def __getattr__(name: str) -> Any:
    if name == "PostgresStorage":  # psycopg is imported only when it is asked for
        from federation.catalog.postgres.storage import PostgresStorage

        return PostgresStorage
    raise AttributeError(name)
