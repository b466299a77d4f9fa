"""The catalog's search text as PostgreSQL full-text search: tsvector and tsquery.

Both are built here, in Python, from the words :mod:`federation.catalog.folding`
makes — the same words the SQLite FTS5 index holds — so the two storages agree
on what a query finds: ``ё`` is ``е``, case and diacritics fold, ``й`` stays
``й``. PostgreSQL's own parser is not used: it splits some words differently
(``x²`` is two tokens to it, one to FTS5) and depends on the server's locale.

**Columns.** One tsvector per cluster holds every column; each lexeme starts
with its column's letter (:data:`TAGS`: ``tвойна`` is "война" in the title,
``aтолстой`` in the authors). A query for a column asks for its tagged
lexemes, so ``title:мир`` never matches a subject, and a phrase cannot run from
one column into the next. Weights rank like the FTS5 bm25 weights: title A,
authors B, subjects and ISBN C, the rest D (:data:`RANK_WEIGHTS`).

**Queries.** :func:`to_tsquery` reads the search expressions
:mod:`federation.catalog.query` and :mod:`federation.catalog.cql_search` write
(FTS5's syntax: ``{title authors} : "война мир"*``, ``AND``, ``OR``, ``NOT``,
parentheses; a column filter around an expression narrows every phrase in it).
"""

from __future__ import annotations

import re

from federation.catalog.folding import words

#: Column → the letter its lexemes start with, and its rank weight.
TAGS: dict[str, str] = {
    "title": "t",
    "authors": "a",
    "authors_latin": "l",
    "subjects": "s",
    "publisher": "p",
    "isbn": "i",
    "year": "y",
    "language": "g",
    "format": "f",
}
WEIGHTS: dict[str, str] = {
    "title": "A",
    "authors": "B",
    "authors_latin": "B",
    "subjects": "C",
    "isbn": "C",
    "publisher": "D",
    "year": "D",
    "language": "D",
    "format": "D",
}
#: The letter of a holding library's lexeme (no position, never ranked): ``library:X``
#: is ANDed into the tsquery, so that the GIN index intersects the word's hits with
#: the library's clusters instead of every hit being looked up in cluster_libraries.
LIBRARY_TAG = "h"
#: ts_rank's weights of D, C, B, A: the FTS5 bm25 weights (10, 5, 2–3, 1) over ten.
RANK_WEIGHTS = "{0.1, 0.25, 0.5, 1.0}"
#: The highest position a tsvector keeps; later words share it.
_MAX_POSITION = 16383
_ALL = frozenset(TAGS)
_COLUMNS = [(column, tag, WEIGHTS[column]) for column, tag in TAGS.items()]
#: Skipped at the start of a title when sorting (the SQLite storage's list).
_LEADING = " \"'«»„“”‘’[](){}<>.,:;!?¡¿-–—…*#/"


class QuerySyntaxError(ValueError):
    """A search expression this module cannot read (never one the catalog writes)."""


def to_tsvector(search: dict[str, str], libraries: list[str] | tuple[str, ...] = ()) -> str:
    """The tsvector text of a cluster's search row (column → folded text), with a
    lexeme (no position) for every library that holds it."""
    positions: dict[str, list[str]] = {}
    position = 0
    for column, tag, weight in _COLUMNS:
        text = search.get(column)
        if not text:
            continue
        for word in words(text):
            position += 1
            at = f"{min(position, _MAX_POSITION)}{weight}"
            lexeme = tag + word
            if lexeme in positions:
                positions[lexeme].append(at)
            else:
                positions[lexeme] = [at]
    # A word is letters and digits only (folding.words): nothing in it needs quoting.
    text = [f"'{lexeme}':{','.join(at)}" for lexeme, at in positions.items()]
    text += sorted({library_lexeme(library) for library in libraries})
    return " ".join(text)


def library_lexeme(library: str) -> str:
    """The quoted lexeme of a holding library, case folded as ``library:X`` is
    (SQL ``lower()`` on both sides before: the same for every ASCII symbol)."""
    return _quote(LIBRARY_TAG + library.lower())


def sort_title(title: str) -> str | None:
    """What ``sortBy dc.title`` orders a cluster by: its folded search title past
    leading punctuation (as the SQLite storage's ``ltrim``); None when nothing is left."""
    return title.lstrip(_LEADING) or None


def to_tsquery(expression: str) -> str | None:
    """The tsquery text of a search expression; None when it can match nothing."""
    parser = _Parser(expression)
    tree = parser.expression(_ALL)
    parser.expect_end()
    return tree


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


_TOKEN = re.compile(r'\s*(?:(\()|(\))|(\{[^}]*\})|("(?:[^"]|"")*")|(\*)|(:)|([^\s(){}":*]+))')


class _Parser:
    """Recursive descent over FTS5's grammar: OR < AND < NOT < column filter < phrase.

    Each method returns tsquery text, or None for "matches nothing" (a phrase
    whose column filter left no column), which the booleans simplify away.
    """

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        kinds = ("(", ")", "columns", "phrase", "*", ":", "word")
        text = text.rstrip()
        while position < len(text):
            found = _TOKEN.match(text, position)
            if found is None or found.end() == position:
                raise QuerySyntaxError(f"cannot read the search {text!r} at {position}")
            position = found.end()
            kind = next(k for k, group in zip(kinds, found.groups(), strict=True) if group)
            self.tokens.append((kind, found.group(kinds.index(kind) + 1)))
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def expect_end(self) -> None:
        if self.peek()[0] != "end":
            raise QuerySyntaxError(f"unexpected {self.peek()[1]!r} in the search")

    def _operator(self, name: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value == name:
            self.at += 1
            return True
        return False

    def expression(self, columns: frozenset[str]) -> str | None:
        parts = [self.conjunction(columns)]
        while self._operator("OR"):
            parts.append(self.conjunction(columns))
        kept = [part for part in parts if part is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else "(" + " | ".join(kept) + ")"

    def conjunction(self, columns: frozenset[str]) -> str | None:
        parts = [self.negation(columns)]
        while True:
            kind, value = self.peek()
            if self._operator("AND") or kind in ("(", "columns", "phrase") or (
                kind == "word" and value not in ("OR", "NOT")
            ):  # FTS5 reads two expressions side by side as AND
                parts.append(self.negation(columns))
            else:
                break
        if any(part is None for part in parts):
            return None
        return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"  # type: ignore[arg-type]

    def negation(self, columns: frozenset[str]) -> str | None:
        kept = self.primary(columns)
        while self._operator("NOT"):
            dropped = self.primary(columns)
            if kept is not None and dropped is not None:
                kept = f"({kept} & !{dropped})"
        return kept

    def primary(self, columns: frozenset[str]) -> str | None:
        kind, value = self.take()
        if kind == "(":
            inner = self.expression(columns)
            if self.take()[0] != ")":
                raise QuerySyntaxError("a parenthesis is not closed in the search")
            return inner
        if kind == "columns" or (kind == "word" and self.peek()[0] == ":"):
            named = value.strip("{}").split() if kind == "columns" else [value]
            unknown = set(named) - _ALL
            if unknown:
                raise QuerySyntaxError(f"no column {sorted(unknown)[0]!r} in the search index")
            if self.take()[0] != ":":
                raise QuerySyntaxError("a column filter without ':' in the search")
            return self.primary(columns & frozenset(named))
        if kind == "phrase":
            return self._phrase(value[1:-1].replace('""', '"'), columns)
        if kind == "word":
            return self._phrase(value, columns)
        raise QuerySyntaxError(f"unexpected {value!r} in the search")

    def _phrase(self, text: str, columns: frozenset[str]) -> str | None:
        prefix = self.peek()[0] == "*"
        if prefix:
            self.at += 1
        tokens = words(text)
        if not tokens or not columns:
            return None
        ordered = [column for column in TAGS if column in columns]
        chains = []
        for column in ordered:
            tag = TAGS[column]
            lexemes = [_quote(tag + token) for token in tokens]
            if prefix:
                lexemes[-1] += ":*"
            chains.append(" <-> ".join(lexemes))
        if len(tokens) > 1:
            chains = [f"({chain})" for chain in chains]
        return chains[0] if len(chains) == 1 else "(" + " | ".join(chains) + ")"
