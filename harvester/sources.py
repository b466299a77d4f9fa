"""Harvest sources: from a TOML file or given on the command line.

A sources file lists one ``[[source]]`` table per OAI-PMH endpoint::

    [[source]]
    name = "central"            # unique; the key of the source's state
    url = "http://127.0.0.1:8080/oai"
    prefix = "marc21"           # metadataPrefix (default marc21)
    set = "books"               # optional setSpec
    library = "CENTRAL"         # the library symbol its holdings belong to
    schedule = "daily"          # optional: hourly, daily, weekly, manual, or 30m / 6h / 2d

The coordinator harvests the sources of the file its ``sources`` setting names on
their schedules (:func:`schedule_seconds`); ``libfed harvest --config`` harvests
them now, whatever their schedule.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.errors import ConfigError

_KNOWN_KEYS = {"name", "url", "prefix", "set", "library", "schedule"}
_NAMED_SCHEDULES = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0, "manual": math.inf}
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def schedule_seconds(schedule: str | None) -> float | None:
    """Seconds between harvests for a schedule; None when none is given (the
    harvesting service's own interval applies), infinity for ``manual``.

    Raises ValueError for anything else, so a typo is caught when the file is read.
    """
    if schedule is None:
        return None
    named = _NAMED_SCHEDULES.get(schedule.strip().lower())
    if named is not None:
        return named
    found = _PERIOD.match(schedule)
    if found is None or float(found.group(1)) <= 0:
        raise ValueError(
            f"schedule {schedule!r} is not hourly, daily, weekly, manual or a period like 6h"
        )
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


@dataclass(slots=True, frozen=True)
class Source:
    """One OAI-PMH endpoint whose records belong to one library."""

    name: str
    url: str
    library: str
    prefix: str = "marc21"
    set_spec: str | None = None
    schedule: str | None = None

    def interval(self, default: float) -> float:
        """Seconds between automatic harvests of this source (``default`` without a schedule)."""
        seconds = schedule_seconds(self.schedule)
        return default if seconds is None else seconds


def load_sources(path: Path) -> list[Source]:
    """Read a sources file; :class:`ConfigError` names the file and the entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read sources file: {error.strerror}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    tables = data.get("source")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[source]] tables")
    sources = [_source(path, index, table) for index, table in enumerate(tables, 1)]
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ConfigError(f"{path}: source name {source.name!r} is used twice")
        seen.add(source.name)
    return sources


def _source(path: Path, index: int, table: Any) -> Source:
    where = f"{path}: [[source]] #{index}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: not a table")
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    for key in ("name", "url", "library"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise ConfigError(f"{where}: {key!r} is required (a non-empty string)")
    for key in ("prefix", "set", "schedule"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{where}: {key!r} must be a string")
    return adhoc_source(
        table["url"],
        table["library"],
        prefix=table.get("prefix", "marc21"),
        set_spec=table.get("set"),
        name=table["name"],
        schedule=table.get("schedule"),
        where=where,
    )


def adhoc_source(
    url: str,
    library: str,
    *,
    prefix: str = "marc21",
    set_spec: str | None = None,
    name: str | None = None,
    schedule: str | None = None,
    where: str = "--url",
) -> Source:
    """A source given on the command line; named after its library by default."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: url {url!r} is not an http(s) URL")
    try:
        schedule_seconds(schedule)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    return Source(
        name=(name or library).strip(),
        url=url.strip(),
        library=library.strip(),
        prefix=prefix.strip() or "marc21",
        set_spec=set_spec or None,
        schedule=schedule,
    )


def select_source(sources: list[Source], name: str, path: Path) -> Source:
    """The source called ``name``, or a :class:`ConfigError` listing the names."""
    for source in sources:
        if source.name == name:
            return source
    known = ", ".join(source.name for source in sources)
    raise ConfigError(f"{path}: no source named {name!r} (known: {known})")
