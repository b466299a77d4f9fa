"""What a harvest run did, for people (the CLI's summary) and scripts (--json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class HarvestTimings:
    """Where a run's time went, in seconds: what to look at when a harvest is slow.

    The steps overlap (pages are fetched and read while the one before is
    committed), so they do not add up to the run's duration: ``waiting_for_pages``
    is the time the run had nothing to commit (the server, the network or the
    readers were behind), ``waiting_for_commits`` the time a read page waited for
    the catalog (deduplicating and storing were behind). A page counts as waited
    for until it was read, not until the run took it: deduplicating runs on the
    harvester's event loop, and a loop busy with the page before is no wait for
    the server or the readers.
    """

    #: From the start of the run to its first page fetched and read.
    first_page: float = 0.0
    waiting_for_pages: float = 0.0
    waiting_for_commits: float = 0.0
    #: CPU time the readers spent parsing pages and preparing records.
    reading_cpu: float = 0.0
    #: Reader processes used (0: pages were read in a thread of the harvester).
    reader_processes: int = 0
    #: In the catalog's write transaction: deduplicating and summarizing clusters…
    deduplicating: float = 0.0
    #: …and writing the rows, the search index and the commit itself.
    storing: float = 0.0

    def add_commit(self, deduplicating: float, storing: float) -> None:
        self.deduplicating += deduplicating
        self.storing += storing


@dataclass(slots=True)
class HarvestSummary:
    """The outcome of harvesting one source once."""

    source: str
    library: str
    url: str
    prefix: str
    #: The ``from`` this run asked for (None: everything).
    from_date: str | None = None
    #: The ``from`` of the next incremental run (set when the list completed).
    next_from: str | None = None
    full: bool = False
    #: True when the run continued a killed run's checkpoint.
    resumed: bool = False
    #: How many times an expired token made the run start its list again.
    restarts: int = 0
    pages: int = 0
    records: int = 0
    deleted: int = 0
    #: Records removed because a full list no longer had them.
    unlisted: int = 0
    quarantined: int = 0
    #: The server's completeListSize when it gave one.
    expected: int | None = None
    seconds: float = 0.0
    error: str | None = None
    timings: HarvestTimings = field(default_factory=HarvestTimings)

    @property
    def ok(self) -> bool:
        """True when the list was harvested to its end."""
        return self.error is None

    @property
    def rate(self) -> float:
        """Records (and deletions) per second over the whole run."""
        done = self.records + self.deleted + self.quarantined
        return done / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the derived ``ok`` and ``rate``."""
        data = asdict(self)
        data["ok"] = self.ok
        data["rate"] = round(self.rate, 1)
        data["seconds"] = round(self.seconds, 3)
        data["timings"] = {
            name: round(value, 3) if isinstance(value, float) else value
            for name, value in data["timings"].items()
        }
        return data
