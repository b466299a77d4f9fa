"""What a harvest run did, for people (the CLI's summary) and scripts (--json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
        return data
