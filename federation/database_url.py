"""Telling a PostgreSQL URL from a SQLite file, and showing one without its password.

Every place that names a database (``--catalog``, coordinator.toml's
``catalog_db`` and ``state_db``, a backup's stores) takes a file path or a
``postgresql://`` URL; this is the one test of which it is, for every room.
"""

from __future__ import annotations

import re
from pathlib import Path

SCHEMES = ("postgresql://", "postgres://")


def is_url(location: str | Path) -> bool:
    """True for a PostgreSQL URL, false for a file path."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def shown(location: str | Path) -> str:
    """The location for messages, logs and manifests: a URL's password left out
    (``user:…@`` or ``?password=``)."""
    text = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", str(location))
    return re.sub(r"([?&]password=)[^&]*", r"\1***", text)


def resolve(home: Path, value: str) -> str | Path:
    """A location as a config file gives it: a URL as it is, a path relative to ``home``."""
    return value if is_url(value) else home / value
