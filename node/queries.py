"""The filters of the store's list and search queries, as values.

An OAI-PMH list request or a holdings search is built here from what the caller
asked, and turned into the WHERE clause the store runs; the store owns the rest
of the SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: A word as FTS5's unicode61 tokenizer sees one (letters and digits).
_TOKEN = re.compile(r"\w+")


@dataclass(slots=True, frozen=True)
class OaiQuery:
    """The selective-harvesting filters of an OAI-PMH list request."""

    schemas: tuple[str, ...] | None = None
    set_spec: str | None = None
    start: int | None = None
    end: int | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        where: list[str] = ["1"]
        params: list[Any] = []
        if self.schemas is not None:
            where.append(f"schema IN ({','.join('?' * len(self.schemas))})")
            params.extend(self.schemas)
        if self.start is not None:
            where.append("datestamp >= ?")
            params.append(self.start)
        if self.end is not None:
            where.append("datestamp <= ?")
            params.append(self.end)
        if self.set_spec is not None:
            where.append("id IN (SELECT record_id FROM record_sets WHERE set_spec = ?)")
            params.append(self.set_spec)
        return where, params


@dataclass(slots=True, frozen=True)
class SearchTerms:
    """Folded search words per field (see :func:`fold`)."""

    words: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    isbn: str = ""
    issn: str = ""

    def fts_query(self) -> str:
        """The FTS5 query: every word, as a word prefix, in its column ('' when none)."""
        parts = []
        for column, words in (
            ("words", self.words),
            ("title", self.title),
            ("authors", self.author),
        ):
            tokens = [token for word in words for token in _TOKEN.findall(word)]
            parts.extend(f'{column} : "{token}"*' for token in tokens)
        return " AND ".join(parts)


def fold(value: str | None) -> str:
    """Case-folded with ё as е: how Russian and English words are compared here."""
    return (value or "").casefold().replace("ё", "е")

