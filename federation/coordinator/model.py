"""What the coordinator tracks, as typed values named the ISO 18626 way.

Statuses and requester actions are string enums holding the ISO 18626 names
(``WillSupply``, ``ShippedReturn``…) because those are what staff read in the
audit trail and what the JSON output shows; the gRPC adapter maps them onto
the protocol's enums by name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Status(StrEnum):
    """ISO 18626 request statuses (supplyingAgencyMessage/statusInfo/status)."""

    REQUEST_RECEIVED = "RequestReceived"
    EXPECT_TO_SUPPLY = "ExpectToSupply"
    WILL_SUPPLY = "WillSupply"
    LOANED = "Loaned"
    OVERDUE = "Overdue"
    RECALLED = "Recalled"
    RETRY_POSSIBLE = "RetryPossible"
    UNFILLED = "Unfilled"
    COPY_COMPLETED = "CopyCompleted"
    LOAN_COMPLETED = "LoanCompleted"
    COMPLETED_WITHOUT_RETURN = "CompletedWithoutReturn"
    CANCELLED = "Cancelled"


#: A request in one of these states is over: nothing more happens to it.
FINAL_STATUSES = frozenset(
    {
        Status.UNFILLED,
        Status.COPY_COMPLETED,
        Status.LOAN_COMPLETED,
        Status.COMPLETED_WITHOUT_RETURN,
        Status.CANCELLED,
    }
)
#: Finished requests that got the reader what they asked for (the fill rate's numerator).
FILLED_STATUSES = frozenset(
    {Status.COPY_COMPLETED, Status.LOAN_COMPLETED, Status.COMPLETED_WITHOUT_RETURN}
)


def supply_outcome(status: str) -> bool | None:
    """What a request says about how well the network supplies: True filled,
    False not filled, None nothing (still open, or withdrawn by its reader).

    The one definition behind every fill rate (``libfed status``, the dashboard).
    """
    if status not in FINAL_STATUSES or status == Status.CANCELLED:
        return None
    return status in FILLED_STATUSES


class Action(StrEnum):
    """ISO 18626 requester actions (requestingAgencyMessage/action)."""

    RECEIVED = "Received"
    SHIPPED_RETURN = "ShippedReturn"
    CANCEL = "Cancel"
    RENEW = "Renew"


class ServiceType(StrEnum):
    """ISO 18626 serviceType."""

    LOAN = "Loan"
    COPY = "Copy"


class Outcome(StrEnum):
    """What became of one lender of a rota."""

    PENDING = "pending"
    OFFERED = "offered"
    WILL_SUPPLY = "will_supply"
    SUPPLIED = "supplied"
    UNFILLED = "unfilled"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


#: The actor name of transitions the coordinator makes itself (deadlines, routing).
COORDINATOR = "coordinator"


def now() -> float:
    """Seconds since the epoch; one clock for the whole room."""
    return time.time()


def iso(when: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC, for JSON and people."""
    if when is None:
        return None
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day_start(text: str) -> float:
    """A YYYY-MM-DD day as the epoch time of its start (UTC), as a needed-before date
    is given; ValueError for anything else."""
    return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


@dataclass(slots=True)
class Node:
    """A library registered with the coordinator, with what its health checks saw."""

    symbol: str
    name: str
    grpc_address: str
    oai_url: str
    priority: int = 0
    up: bool = False
    latency_ms: float | None = None
    last_seen: float | None = None
    last_error: str = ""
    record_count: int = 0
    lent: int = 0
    borrowed: int = 0
    #: How many times the node's token was replaced (see auth.py).
    token_generation: int = 0
    #: 2: the node holds a random token and the coordinator presents its own
    #: credential; 1: a token issued before that, used both ways (auth.py).
    token_scheme: int = 2
    #: An outside library (a ReShare tenant, a Koha ILL backend) that speaks ISO 18626
    #: over HTTP instead of our gRPC: its endpoint, and its agency id ("TYPE:VALUE").
    #: Empty for a libfed node. Set from coordinator.toml's peers (see iso18626/).
    iso18626_url: str = ""
    agency_id: str = ""

    @property
    def is_peer(self) -> bool:
        """An outside ISO 18626 partner rather than a libfed node."""
        return bool(self.iso18626_url)

    def to_json(self) -> dict:
        return {
            "symbol": self.symbol,
            "name": self.name,
            "grpc_address": self.grpc_address,
            "oai_url": self.oai_url,
            "priority": self.priority,
            "up": self.up,
            "latency_ms": self.latency_ms,
            "last_seen": iso(self.last_seen),
            "last_error": self.last_error,
            "record_count": self.record_count,
            "lent": self.lent,
            "borrowed": self.borrowed,
            "token_generation": self.token_generation,
            "protocol": "iso18626" if self.is_peer else "grpc",
            "iso18626_url": self.iso18626_url,
            "agency_id": self.agency_id,
        }


@dataclass(slots=True)
class RotaEntry:
    """One candidate lender, with what the availability round and the offer found."""

    position: int
    lender: str
    record_id: str
    available_count: int = -1
    open_loans: int = -1
    score: float = 0.0
    outcome: Outcome = Outcome.PENDING
    reason: str = ""

    def to_json(self) -> dict:
        return {
            "position": self.position,
            "lender": self.lender,
            "record_id": self.record_id,
            "available_count": self.available_count,
            "open_loans": self.open_loans,
            "score": round(self.score, 4),
            "outcome": str(self.outcome),
            "reason": self.reason,
        }


@dataclass(slots=True)
class StatusEvent:
    """One line of a request's audit trail: when, who, what."""

    time: float
    actor: str
    from_status: Status | None
    to_status: Status
    action: Action | None = None
    note: str = ""

    def to_json(self) -> dict:
        return {
            "time": iso(self.time),
            "actor": self.actor,
            "from": self.from_status and str(self.from_status),
            "to": str(self.to_status),
            "action": self.action and str(self.action),
            "note": self.note,
        }


@dataclass(slots=True)
class LoanRequest:
    """An interlibrary loan request as the coordinator follows it.

    ``patron_ref`` is opaque: the requesting node derives it from the reader's
    card with a secret only it knows, so nothing here identifies the reader.
    """

    request_id: str
    requester: str
    patron_ref: str
    service_type: ServiceType
    status: Status = Status.REQUEST_RECEIVED
    idempotency_key: str = ""
    cluster_id: str = ""
    isbn: str = ""
    title: str = ""
    pickup_location: str = ""
    needed_before: float | None = None
    note: str = ""
    lender: str = ""
    attempt: int = 0
    routed: bool = False
    last_action: Action | None = None
    due_time: float | None = None
    deadline_at: float | None = None
    created: float = field(default_factory=now)
    updated: float = field(default_factory=now)
    supplied_time: float | None = None
    #: Renewals granted so far (the coordinator's renewal policy caps them).
    renewals: int = 0
    rota: list[RotaEntry] = field(default_factory=list)
    history: list[StatusEvent] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def current_entry(self) -> RotaEntry | None:
        """The rota entry of the lender asked now, if any."""
        for entry in self.rota:
            if entry.position == self.attempt:
                return entry
        return None

    def is_party(self, symbol: str) -> bool:
        """The requester and every library of the rota may see the request."""
        return symbol == self.requester or any(e.lender == symbol for e in self.rota)

    def to_json(self, *, with_patron: bool = True) -> dict:
        return {
            "request_id": self.request_id,
            "status": str(self.status),
            "requester": self.requester,
            "lender": self.lender,
            "attempt": self.attempt,
            "service_type": str(self.service_type),
            "cluster_id": self.cluster_id,
            "isbn": self.isbn,
            "title": self.title,
            "pickup_location": self.pickup_location,
            "needed_before": iso(self.needed_before),
            "patron_ref": self.patron_ref if with_patron else "",
            "last_requester_action": self.last_action and str(self.last_action),
            "due_time": iso(self.due_time),
            "renewals": self.renewals,
            "answer_deadline": iso(self.deadline_at),
            "note": self.note,
            "created": iso(self.created),
            "updated": iso(self.updated),
            "rota": [entry.to_json() for entry in self.rota],
            "history": [event.to_json() for event in self.history],
        }
