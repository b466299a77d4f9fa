"""The library's lending policy: how it answers interlibrary loan offers.

An offer is answered at once. WillSupply when a copy on the shelf can be
reserved, and it is reserved in the same write transaction that chose it, so
two offers arriving together can never get the same copy. Unfilled otherwise,
with the ISO 18626 reasonUnfilled a lender's staff would give: ``NotHeld`` (no
such record or no copy), ``InUse`` (every copy is out), ``NotOnShelf`` (copies
are lost or missing).

A loan is keyed by (request id, attempt): the coordinator may resend an offer
after a timeout and gets the same answer, and a message for an older attempt
never touches the copy of a newer one. Loan statuses are the ISO 18626 names.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import aiosqlite

from federation.errors import FailedPrecondition, InvalidArgument, NotFound
from node.model import AVAILABLE, IN_TRANSIT, LOST, ON_LOAN, RESERVED, Item
from node.store import HoldingsStore, item_from_row

log = logging.getLogger(__name__)

WILL_SUPPLY = "WillSupply"
UNFILLED = "Unfilled"
#: Loan states in which this library still has a copy committed.
OPEN_STATES = ("WillSupply", "Loaned", "Overdue", "Recalled")
#: Loan states after which nothing more can happen.
CLOSED_STATES = (
    "Unfilled",
    "Cancelled",
    "LoanCompleted",
    "CopyCompleted",
    "CompletedWithoutReturn",
)
#: What each new loan state does to the lender's copy (None: nothing).
_ITEM_AFTER = {
    "Loaned": ON_LOAN,
    "Overdue": ON_LOAN,
    "Recalled": ON_LOAN,
    "LoanCompleted": AVAILABLE,
    "CopyCompleted": AVAILABLE,
    "CompletedWithoutReturn": LOST,
    "Cancelled": AVAILABLE,
    "Unfilled": AVAILABLE,
    "RetryPossible": AVAILABLE,
}
#: A release (cancel, unfilled) is only possible before the copy left the shelf.
_RELEASES = ("Cancelled", "Unfilled", "RetryPossible")
#: Default loan period when the requester gives no due date (28 days).
LOAN_PERIOD = 28 * 24 * 3600


@dataclass(slots=True)
class Offer:
    """The policy's answer to one loan offer."""

    status: str
    reason_unfilled: str = ""
    item: Item | None = None


@dataclass(slots=True)
class LoanOffer:
    """One interlibrary loan request offered to this library."""

    request_id: str
    attempt: int
    record_id: str = ""
    isbns: tuple[str, ...] = ()
    requester_symbol: str = ""
    pickup_location: str = ""


class LendingPolicy:
    """Answers loan offers and follows the loans through their ISO 18626 states."""

    def __init__(self, store: HoldingsStore) -> None:
        self.store = store

    async def offer(self, offer: LoanOffer, now: int | None = None) -> Offer:
        if not offer.request_id:
            raise InvalidArgument("request_id is required")
        if not offer.record_id and not offer.isbns:
            raise InvalidArgument("give the record_id or an isbn of the requested work")
        now = int(time.time()) if now is None else now
        async with self.store.transaction() as db:
            earlier = await _loan(db, offer.request_id, offer.attempt)
            if earlier is not None:
                return await _answer_of(db, earlier)
            answer = await _reserve(db, offer)
            await db.execute(
                "INSERT INTO loans (request_id, attempt, record_id, item_id, status,"
                " reason_unfilled, requester_symbol, pickup_location, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    offer.request_id,
                    offer.attempt,
                    answer.item.record_id if answer.item else offer.record_id,
                    answer.item.id if answer.item else None,
                    answer.status,
                    answer.reason_unfilled,
                    offer.requester_symbol,
                    offer.pickup_location,
                    now,
                    now,
                ),
            )
        log.info(
            "offer %s/%s from %s: %s %s",
            offer.request_id,
            offer.attempt,
            offer.requester_symbol,
            answer.status,
            answer.reason_unfilled,
        )
        return answer

    async def update(
        self,
        request_id: str,
        attempt: int,
        status: str,
        action: str = "",
        due: int | None = None,
        now: int | None = None,
    ) -> Item | None:
        """Apply a new loan state (and/or a requester action) to the loan's copy."""
        now = int(time.time()) if now is None else now
        async with self.store.transaction() as db:
            loan = await _loan(db, request_id, attempt)
            if loan is None:
                raise NotFound(f"this library has no loan {request_id} (attempt {attempt})")
            item = await _item(db, loan["item_id"])
            if status and status != loan["status"]:
                _check_transition(loan["status"], status, item)
                item = await _move_item(db, item, status, due, now)
                await db.execute(
                    "UPDATE loans SET status = ?, updated = ? WHERE request_id = ? AND attempt = ?",
                    (status, now, request_id, attempt),
                )
            item = await _apply_action(db, item, action, due)
        return item

    async def open_loans(self) -> int:
        marks = ",".join("?" * len(OPEN_STATES))
        row = await self.store.fetchone(
            f"SELECT COUNT(*) FROM loans WHERE status IN ({marks})", OPEN_STATES
        )
        return int(row[0]) if row else 0


async def _loan(db: aiosqlite.Connection, request_id: str, attempt: int) -> aiosqlite.Row | None:
    async with db.execute(
        "SELECT * FROM loans WHERE request_id = ? AND attempt = ?", (request_id, attempt)
    ) as cur:
        return await cur.fetchone()


async def _item(db: aiosqlite.Connection, item_id: int | None) -> Item | None:
    if item_id is None:
        return None
    async with db.execute("SELECT * FROM items WHERE id = ?", (item_id,)) as cur:
        row = await cur.fetchone()
    return item_from_row(row) if row else None


async def _answer_of(db: aiosqlite.Connection, loan: aiosqlite.Row) -> Offer:
    """The answer first given to a repeated offer (idempotent)."""
    item = await _item(db, loan["item_id"])
    if loan["reason_unfilled"] or item is None:
        return Offer(UNFILLED, loan["reason_unfilled"] or "NotHeld")
    return Offer(WILL_SUPPLY, item=item)


async def _reserve(db: aiosqlite.Connection, offer: LoanOffer) -> Offer:
    """Reserve the first copy on the shelf of a matching record, or say why not."""
    if offer.record_id:
        sql, params = "r.id = ?", [offer.record_id]
    else:
        sql = f"r.id IN (SELECT record_id FROM record_isbns WHERE isbn IN ({','.join('?' * len(offer.isbns))}))"
        params = list(offer.isbns)
    async with db.execute(
        f"SELECT i.* FROM items i JOIN records r ON r.id = i.record_id"
        f" WHERE {sql} AND r.deleted = 0 ORDER BY i.status != 'available', i.id",
        params,
    ) as cur:
        copies = [item_from_row(row) for row in await cur.fetchall()]
    free = [item for item in copies if item.status == AVAILABLE]
    if free:
        item = free[0]
        cur = await db.execute(
            "UPDATE items SET status = ? WHERE id = ? AND status = ?",
            (RESERVED, item.id, AVAILABLE),
        )
        if cur.rowcount == 1:
            item.status = RESERVED
            return Offer(WILL_SUPPLY, item=item)
    if not copies:
        return Offer(UNFILLED, "NotHeld")
    if any(item.status in (ON_LOAN, RESERVED, IN_TRANSIT) for item in copies):
        return Offer(UNFILLED, "InUse")
    return Offer(UNFILLED, "NotOnShelf")


def _check_transition(current: str, new: str, item: Item | None) -> None:
    if current in CLOSED_STATES:
        raise FailedPrecondition(f"the loan is closed ({current}); it cannot become {new}")
    if new in _RELEASES and item is not None and item.status in (ON_LOAN, IN_TRANSIT):
        raise FailedPrecondition(f"the copy {item.barcode} was already shipped; it cannot be {new}")


async def _move_item(
    db: aiosqlite.Connection, item: Item | None, status: str, due: int | None, now: int
) -> Item | None:
    target = _ITEM_AFTER.get(status)
    if item is None or target is None:
        return item
    item.status = target
    if target == ON_LOAN:
        item.due = due or item.due or now + LOAN_PERIOD
    else:
        item.due = None
    await db.execute(
        "UPDATE items SET status = ?, due = ? WHERE id = ?", (item.status, item.due, item.id)
    )
    return item


async def _apply_action(
    db: aiosqlite.Connection, item: Item | None, action: str, due: int | None
) -> Item | None:
    """ShippedReturn puts the copy in transit home; Renew moves the due date."""
    if item is None:
        return item
    if action == "ShippedReturn" and item.status == ON_LOAN:
        item.status = IN_TRANSIT
    elif action == "Renew" and due:
        item.due = due
    else:
        return item
    await db.execute(
        "UPDATE items SET status = ?, due = ? WHERE id = ?", (item.status, item.due, item.id)
    )
    return item
