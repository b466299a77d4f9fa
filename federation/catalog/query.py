"""A reader's search query, turned into an SQLite FTS5 expression.

Plain words (all must occur, in any of title, authors, subjects, publisher,
ISBN, year), ``"quoted phrases"``, ``word*`` prefixes, and ``field:value`` with
the fields of :data:`FIELDS`. Every word is folded exactly as the index was
(:mod:`federation.catalog.folding`), then quoted, so nothing a reader types can
be mistaken for FTS5 syntax. Author words also look in the romanized authors,
so ``tolstoi`` finds ``Толстой``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stdnum import isbn as stdnum_isbn

from federation.catalog.folding import latin, words

#: Query field → FTS5 columns it searches ("library" is a filter, not a column).
FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "author": ("authors", "authors_latin"),
    "subject": ("subjects",),
    "publisher": ("publisher",),
    "isbn": ("isbn",),
    "year": ("year",),
    "language": ("language",),
    "format": ("format",),
}
_PLAIN_COLUMNS = ("title", "authors", "subjects", "publisher", "isbn", "year")
_TERM = re.compile(r'(?:(\w+):)?(?:"([^"]*)"?|(\S+))')


@dataclass(slots=True)
class ParsedQuery:
    """The FTS5 MATCH expression (empty: match everything) and the library filters."""

    match: str = ""
    libraries: list[str] = field(default_factory=list)


def parse(text: str) -> ParsedQuery:
    """Parse a reader's query; terms that fold to nothing are ignored."""
    parsed = ParsedQuery()
    clauses: list[str] = []
    for name, phrase, word in _TERM.findall(text):
        value = phrase if phrase or word == "" else word
        name = name.lower()
        if name == "library":
            parsed.libraries.append(value)
            continue
        if name and name not in FIELDS:  # "foo:bar" is just text
            value, name = f"{name} {value}", ""
        clause = field_clause(name, value)
        if clause:
            clauses.append(clause)
    parsed.match = " AND ".join(clauses)
    return parsed


def field_clause(name: str, value: str) -> str:
    """One term as FTS5: a quoted phrase restricted to its columns (a query field
    name, or "" for the plain columns); "" when the value folds to nothing."""
    prefix = value.endswith("*")
    if name == "isbn" or (not name and _looks_like_isbn(value)):
        value = _isbn13(value)
    tokens = words(value)
    if not tokens:
        return ""
    columns = list(FIELDS[name]) if name else [*_PLAIN_COLUMNS, "authors_latin"]
    romanized = latin(value).split()
    if "authors_latin" in columns and romanized != tokens:
        # A Cyrillic (or other non-Latin) word: its romanization may be all
        # that a romanized author heading has in common with it.
        columns.remove("authors_latin")
        return (
            f"({{{' '.join(columns)}}} : {_phrase(tokens, prefix)} "
            f"OR authors_latin : {_phrase(romanized, prefix)})"
        )
    # One phrase over every column: the index walks the word's entries once.
    return f"{{{' '.join(columns)}}} : {_phrase(tokens, prefix)}"


def _phrase(tokens: list[str], prefix: bool) -> str:
    quoted = '"' + " ".join(token.replace('"', "") for token in tokens) + '"'
    return quoted + ("*" if prefix else "")


def _looks_like_isbn(value: str) -> bool:
    compact = re.sub(r"[\s-]", "", value)
    return len(compact) in (10, 13) and compact[:-1].isdigit()


def _isbn13(value: str) -> str:
    """An ISBN as the index holds it (ISBN-13 digits); unchanged when invalid."""
    compact = re.sub(r"[\s-]", "", value)
    try:
        return stdnum_isbn.to_isbn13(stdnum_isbn.validate(compact))
    except Exception:  # noqa: BLE001 - an invalid ISBN is searched as typed
        return compact
