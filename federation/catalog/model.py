"""What the union catalog stores and answers, as typed values.

These dataclasses are the contract between the catalog and its writers (the
harvester) and readers (coordinator, web, CLI). The catalog does not know where
records come from: a writer hands it pages of :class:`HarvestedRecord` with the
source's :class:`SourceState` to save in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from federation.pickling import pickled_by_fields
from federation.records.model import Record


@dataclass(slots=True)
class HarvestedRecord:
    """One record as a source delivered it."""

    oai_identifier: str
    #: The header datestamp, as the source wrote it.
    datestamp: str
    record: Record
    #: The metadata payload as harvested (MARCXML, oai_dc…), kept verbatim.
    raw_xml: bytes


@pickled_by_fields
@dataclass(slots=True)
class QuarantinedRecord:
    """A record that could not be parsed: kept with the reason, never dropped."""

    oai_identifier: str
    reason: str
    raw_xml: bytes


@dataclass(slots=True)
class SourceState:
    """A harvest source and where its harvesting stands.

    ``next_from`` is the responseDate of the last complete run (the next run's
    ``from``); ``resumption_token`` and ``run_from`` are the checkpoint of a run
    in progress, saved with every committed page so a killed run resumes.
    """

    name: str
    library: str
    base_url: str
    metadata_prefix: str = "marc21"
    set_spec: str | None = None
    next_from: str | None = None
    run_from: str | None = None
    run_response_date: str | None = None
    resumption_token: str | None = None
    last_harvest: str | None = None
    last_error: str | None = None
    records: int = 0
    quarantined: int = 0
    #: Counts the source's full runs (lists harvested without ``from``); every
    #: record a run commits is stamped with it, so the end of a full run knows
    #: which records the server no longer lists.
    full_run: int = 0


@dataclass(slots=True)
class Holding:
    """A library holding a cluster's work, with its local record."""

    library: str
    record_id: str
    oai_identifier: str


@dataclass(slots=True)
class ClusterSummary:
    """A search hit: one work of the union catalog."""

    cluster_id: str
    title: str
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    format: str | None = None
    language: str | None = None
    isbns: list[str] = field(default_factory=list)
    libraries: list[str] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)


@dataclass(slots=True)
class SearchResult:
    """A page of search hits with the total and the facets of all hits."""

    total: int
    results: list[ClusterSummary]
    #: {"library": {"LIB1": 12, ...}, "year": {...}, "language": {...}, "format": {...}}
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    #: True when there were too many hits to count facets exactly: the counts are
    #: then scaled from a sample of the hits.
    facets_estimated: bool = False


@dataclass(slots=True)
class ClusterMember:
    """One record of a cluster, as stored: where it came from and what it says."""

    library: str
    record_id: str
    oai_identifier: str
    source: str
    datestamp: str
    schema: str
    #: The normalized record (``Record.summary()``).
    normalized: dict
    #: True for the member whose fields the cluster displays.
    best: bool = False


@dataclass(slots=True)
class ClusterDetail:
    """A cluster with everything about it: summary, members, holdings, best record."""

    summary: ClusterSummary
    members: list[ClusterMember]
    holdings: list[Holding]
    #: The most complete member's normalized record.
    best: dict
    subjects: list[str] = field(default_factory=list)
    publisher: str | None = None


@dataclass(slots=True)
class SourceStats:
    """One source's line in the catalog statistics."""

    name: str
    library: str
    records: int
    quarantined: int
    last_harvest: str | None
    last_error: str | None


@dataclass(slots=True)
class Overlap:
    """How many works each library holds, and each pair of libraries holds in common."""

    held: dict[str, int]
    #: (library a, library b) -> works both hold; both orders are present.
    shared: dict[tuple[str, str], int]

    @property
    def libraries(self) -> list[str]:
        return sorted(self.held)

    def share(self, a: str, b: str) -> float:
        """The share of library ``a``'s works that library ``b`` holds too."""
        return 1.0 if a == b else self.shared.get((a, b), 0) / self.held[a]


@dataclass(slots=True)
class QuarantineEntry:
    """A quarantined record as staff see it: where it came from and why it was refused."""

    source: str
    oai_identifier: str
    reason: str
    quarantined_at: str


@dataclass(slots=True)
class CatalogStats:
    """How big the catalog is, and how each source stands."""

    records: int
    clusters: int
    sources: list[SourceStats] = field(default_factory=list)
