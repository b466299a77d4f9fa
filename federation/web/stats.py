"""ILL figures for the central library, computed from the coordinator's requests.

Plain functions over ``LoanRequest`` values so that every number on the
dashboard can be checked by hand in a test.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from federation.coordinator.model import FILLED_STATUSES, FINAL_STATUSES, supply_outcome

#: Status order on the dashboard: the way a request travels.
STATUS_ORDER = (
    "RequestReceived", "ExpectToSupply", "WillSupply", "Loaned", "Overdue", "Recalled",
    "RetryPossible", "Unfilled", "CopyCompleted", "LoanCompleted", "CompletedWithoutReturn",
    "Cancelled",
)
BUCKETS = ("lt48", "48to72", "gt72")
#: The lender has sent the item (or copy): it counts as lent and borrowed.
SHIPPED = FILLED_STATUSES | {"Loaned", "Overdue", "Recalled"}


@dataclass(slots=True)
class IllStats:
    open_by_status: dict[str, int] = field(default_factory=dict)
    finished: int = 0
    filled: int = 0
    fill_rate: float | None = None
    median_turnaround_hours: float | None = None
    buckets: dict[str, int] = field(default_factory=dict)
    #: library -> {"lent": n, "borrowed": n}
    balance: dict[str, dict[str, int]] = field(default_factory=dict)
    slowest_open: list[Any] = field(default_factory=list)
    recent: list[Any] = field(default_factory=list)


def turnaround_seconds(loan: Any) -> float | None:
    """From submission until the item reached the reader's library (or was supplied)."""
    supplied = getattr(loan, "supplied_time", None)
    if supplied is None:
        return None
    return max(0.0, supplied - loan.created)


def bucket_of(seconds: float) -> str:
    hours = seconds / 3600
    if hours < 48:
        return "lt48"
    return "48to72" if hours <= 72 else "gt72"


def ill_stats(
    loans: list[Any], *, slowest: int = 10, recent: int = 20, now: float | None = None
) -> IllStats:
    """Open requests by status, fill rate, turnaround and lending balance."""
    now = time.time() if now is None else now
    stats = IllStats(buckets=dict.fromkeys(BUCKETS, 0))
    open_counts: Counter[str] = Counter()
    turnarounds: list[float] = []
    open_loans: list[Any] = []
    for loan in loans:
        status = str(loan.status)
        if status in FINAL_STATUSES:
            outcome = supply_outcome(status)  # as `libfed status` counts it
            stats.finished += outcome is not None
            stats.filled += bool(outcome)
        else:
            open_counts[status] += 1
            open_loans.append(loan)
        seconds = turnaround_seconds(loan)
        if seconds is not None:
            turnarounds.append(seconds)
            stats.buckets[bucket_of(seconds)] += 1
        if status in SHIPPED:
            lender = loan.lender
            if lender:
                stats.balance.setdefault(lender, {"lent": 0, "borrowed": 0})["lent"] += 1
            stats.balance.setdefault(loan.requester, {"lent": 0, "borrowed": 0})["borrowed"] += 1
    stats.open_by_status = {s: open_counts[s] for s in STATUS_ORDER if open_counts[s]}
    if stats.finished:
        stats.fill_rate = stats.filled / stats.finished
    if turnarounds:
        stats.median_turnaround_hours = statistics.median(turnarounds) / 3600
    open_loans.sort(key=lambda loan: loan.created)
    stats.slowest_open = [(loan, now - loan.created) for loan in open_loans[:slowest]]
    stats.balance = dict(sorted(stats.balance.items()))
    stats.recent = sorted(loans, key=lambda loan: loan.updated, reverse=True)[:recent]
    return stats
