"""The SQLite implementation of the catalog storage: every SQL statement of the catalog."""

from federation.catalog.sqlite.storage import SqliteStorage

__all__ = ["SqliteStorage"]
