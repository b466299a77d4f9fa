"""Reading the library's own holdings: search, one record, availability.

The read side of the node as a plain service, so the gRPC servicer only
translates messages. Deleted records are gone here (they live on only as
OAI-PMH deletion headers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stdnum import isbn as stdnum_isbn
from stdnum import issn as stdnum_issn

from federation.errors import InvalidArgument, NotFound
from node.model import Item
from node.store import HoldingsStore, SearchTerms, fold

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(slots=True)
class HeldRecord:
    """A record as the node shows it: summary, MARCXML, copies, last change."""

    id: str
    summary: dict[str, Any]
    marcxml: str
    items: list[Item]
    datestamp: int


class HoldingsCatalog:
    """Answers what this library holds and which copies are free."""

    def __init__(self, store: HoldingsStore) -> None:
        self.store = store

    async def search(
        self, terms: SearchTerms, page_size: int, page_token: str
    ) -> tuple[list[HeldRecord], str, int]:
        """One page of matching records, the next page's token ('' at the end), the total."""
        if page_size < 0:
            raise InvalidArgument("page_size must not be negative")
        if not (terms.fts_query() or terms.isbn or terms.issn):  # "***" has no word to find
            raise InvalidArgument("give keywords, a title, an author, an ISBN or an ISSN")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        offset = _offset(page_token)
        ids, total = await self.store.search(terms, size, offset)
        holdings = await self.holdings(ids)
        following = offset + len(ids)
        return holdings, (str(following) if following < total else ""), total

    async def holdings(self, ids: list[str]) -> list[HeldRecord]:
        if not ids:
            return []
        rows = await self.store.live_records(ids)
        items = await self.store.items_of(ids)
        by_id = {
            row["id"]: HeldRecord(
                row["id"],
                json.loads(row["summary"]),
                row["marcxml"] or "",
                items.get(row["id"], []),
                row["datestamp"],
            )
            for row in rows
        }
        return [by_id[record_id] for record_id in ids if record_id in by_id]

    async def record(self, record_id: str) -> HeldRecord:
        if not record_id:
            raise InvalidArgument("record_id is required")
        found = await self.holdings([record_id])
        if not found:
            raise NotFound(f"this library holds no record {record_id!r}")
        return found[0]

    async def availability(
        self, record_id: str = "", isbn: str = ""
    ) -> tuple[dict[str, list[Item]], int]:
        """Copies per record a record id or an ISBN names, and this library's open loans."""
        if not record_id and not isbn:
            raise InvalidArgument("give a record_id or an isbn")
        found, open_loans = await self.store.availability(
            record_id=record_id, isbn="" if record_id else normalize_isbn(isbn)
        )
        if record_id and not found:
            raise NotFound(f"this library holds no record {record_id!r}")
        return found, open_loans


def normalize_isbn(value: str) -> str:
    """An ISBN-13 without hyphens; an invalid one is an InvalidArgument naming it."""
    try:
        return stdnum_isbn.to_isbn13(stdnum_isbn.validate(value))
    except Exception as error:  # stdnum raises several ValidationError kinds
        raise InvalidArgument(f"{value!r} is not a valid ISBN") from error


def normalize_issn(value: str) -> str:
    """An ISSN as records store it (NNNN-NNNC); an invalid one is an InvalidArgument."""
    try:
        return stdnum_issn.format(stdnum_issn.validate(value))
    except Exception as error:  # stdnum raises several ValidationError kinds
        raise InvalidArgument(f"{value!r} is not a valid ISSN") from error


def search_terms(query: str, title: str, author: str, isbn: str, issn: str) -> SearchTerms:
    return SearchTerms(
        words=tuple(fold(query).split()),
        title=tuple(fold(title).split()),
        author=tuple(fold(author).split()),
        isbn=normalize_isbn(isbn) if isbn.strip() else "",
        issn=normalize_issn(issn) if issn.strip() else "",
    )


def _offset(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit() or len(token) > 15:  # SQLite's OFFSET is a 64-bit integer
        raise InvalidArgument(f"page_token {token!r} was not issued by this node")
    return int(token)
