"""A parsed CQL query (:mod:`.cql`) as the catalog's search expression.

What SRU clients send, mapped onto the columns readers search
(:data:`federation.catalog.query.FIELDS`): ``dc.title``, ``dc.creator``,
``dc.subject``, ``dc.publisher``, ``dc.date``, ``dc.language``, ``bath.isbn``
and the server's choice (every plain column); ``rec.identifier = c42``, alone,
fetches one work by its id. Relations: ``=``, ``==`` and
``adj`` search the words as one phrase, ``all`` each word, ``any`` one of them;
``and``/``or``/``not`` keep their meaning; a trailing ``*`` is a prefix.
``sortBy dc.title`` / ``dc.date`` (``/sort.descending``, ``/sort.missingLow``…)
orders the answer (:class:`SortedQuery`); without it, best match first. What
the catalog cannot answer raises :class:`~.cql.CqlError` with the SRU diagnostic
that says so, never a silently different search.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.catalog.cql import Boolean, CqlError, Node, Query, SearchClause, SortKey
from federation.catalog.query import ParsedQuery, field_clause

#: CQL index → the reader query field it searches ("" = the plain columns).
INDEXES: dict[str, str] = {
    "cql.serverchoice": "",
    "cql.anywhere": "",
    "dc.anywhere": "",
    "dc.title": "title",
    "dc.creator": "author",
    "dc.author": "author",
    "dc.subject": "subject",
    "dc.publisher": "publisher",
    "dc.date": "year",
    "dc.language": "language",
    "bath.isbn": "isbn",
    "dc.identifier": "isbn",
}
_PHRASE_RELATIONS = frozenset({"=", "==", "adj", "cql.adj", "exact", "cql.exact"})
_WORD_RELATIONS = {"all": " AND ", "cql.all": " AND ", "any": " OR ", "cql.any": " OR "}
_BOOLEANS = {"and": "AND", "or": "OR", "not": "NOT"}

#: SRU diagnostics (info:srw/diagnostic/1/N) of what the catalog does not support.
UNSUPPORTED_INDEX = 16
UNSUPPORTED_RELATION = 19
UNSUPPORTED_RELATION_MODIFIER = 20
EMPTY_TERM = 27
UNSUPPORTED_MASKING = 28
UNSUPPORTED_BOOLEAN = 37
UNSUPPORTED_SORT_SEQUENCE = 82
UNSUPPORTED_SORT_INDEX = 88  # "Unsupported path for sort"
UNSUPPORTED_CASE = 91
UNSUPPORTED_MISSING_VALUE = 92

#: CQL index → the cluster field a ``sortBy`` orders by.
SORT_INDEXES: dict[str, str] = {"dc.title": "title", "dc.date": "year"}
#: Sort modifiers (sort context set, with or without its ``sort.`` prefix) that change
#: nothing: titles are compared folded, as they are searched (case, accents, ё = е).
_SORT_AS_DONE = frozenset({"ignorecase", "ignoreaccents", "cql.string", "cql.number"})


#: The index of a work's own id (``rec.identifier = c42``): answered by a lookup.
RECORD_ID = "rec.identifier"


def record_id(query: Query) -> str | None:
    """The cluster id a ``rec.identifier = ID`` query asks for, or None for any other query."""
    root = query.root
    if isinstance(root, SearchClause) and root.index == RECORD_ID:
        if root.relation.name not in ("=", "==", "exact", "cql.exact") or root.relation.modifiers:
            raise CqlError(f"the relation {root.relation.name!r} is not supported with "
                           f"{RECORD_ID}", UNSUPPORTED_RELATION)  # fmt: skip
        return root.term
    return None


@dataclass(frozen=True, slots=True)
class SortOrder:
    """One key of a sorted answer: a cluster field (``title``, ``year``), its
    direction, and whether works without a value come first (by default they come
    last, whichever the direction: undated books after the dated ones)."""

    field: str
    descending: bool = False
    missing_first: bool = False


@dataclass(slots=True)
class SortedQuery(ParsedQuery):
    """A search whose hits come in ``order`` (most significant key first, then the
    order the works were made) instead of best match first. A storage's ``search``
    reads ``order`` off the query it is given (:mod:`.sqlite.reading`,
    :mod:`.postgres.reading`); one that ignored it would answer in the wrong
    order, silently."""

    order: tuple[SortOrder, ...] = ()


def to_search(query: Query) -> ParsedQuery:
    """The FTS5 expression of ``query`` (a :class:`SortedQuery` when it has
    ``sortBy``); raises CqlError for what cannot be searched or sorted."""
    match = _node(query.root)
    if query.sort_keys:
        return SortedQuery(match=match, order=tuple(_sort_order(k) for k in query.sort_keys))
    return ParsedQuery(match=match)


def _sort_order(key: SortKey) -> SortOrder:
    field = SORT_INDEXES.get(key.index)
    if field is None:
        raise CqlError(f"cannot sort by {key.index!r}: only by {', '.join(SORT_INDEXES)}",
                       UNSUPPORTED_SORT_INDEX)  # fmt: skip
    descending, missing = False, ""
    for modifier in key.modifiers:
        name = modifier.name.removeprefix("sort.")
        if modifier.comparison is None and name in ("ascending", "descending"):
            descending = name == "descending"
        elif modifier.comparison is None and name in ("missinghigh", "missinglow"):
            missing = name
        elif modifier.comparison is None and name in _SORT_AS_DONE:
            continue
        elif name == "respectcase":
            raise CqlError("sorting is case-insensitive only", UNSUPPORTED_CASE)
        elif name.startswith("missing"):
            raise CqlError(f"works without a value sort high or low, not {modifier.name!r}",
                           UNSUPPORTED_MISSING_VALUE)  # fmt: skip
        else:
            raise CqlError(f"the sort modifier {modifier.name!r} is not supported",
                           UNSUPPORTED_SORT_SEQUENCE)  # fmt: skip
    # missingHigh: missing counts as the highest value, so it comes last ascending.
    first = bool(missing) and (missing == "missinghigh") == descending
    return SortOrder(field, descending, first)


def _node(node: Node) -> str:
    if isinstance(node, Boolean):
        operator = _BOOLEANS.get(node.operator)
        if operator is None or node.modifiers:
            raise CqlError(f"the boolean {node.operator!r} is not supported", UNSUPPORTED_BOOLEAN)
        return f"({_node(node.left)} {operator} {_node(node.right)})"
    return _clause(node)


def _clause(clause: SearchClause) -> str:
    if clause.index == RECORD_ID:
        raise CqlError(f"{RECORD_ID} is supported only as the whole query", UNSUPPORTED_INDEX)
    field = INDEXES.get(clause.index)
    if field is None:
        raise CqlError(f"the index {clause.index!r} is not supported", UNSUPPORTED_INDEX)
    relation = clause.relation
    if relation.modifiers:
        raise CqlError(f"relation modifiers (/{relation.modifiers[0].name}) are not supported",
                       UNSUPPORTED_RELATION_MODIFIER)  # fmt: skip
    term = clause.term
    if "?" in term or "*" in term.rstrip("*") or "\\" in term:
        raise CqlError(f"masking is supported only at a term's end: {term!r}",
                       UNSUPPORTED_MASKING)  # fmt: skip
    if relation.name in _PHRASE_RELATIONS:
        parts = [field_clause(field, term)]
        joiner = ""
    elif relation.name in _WORD_RELATIONS:
        parts = [field_clause(field, word) for word in term.split()]
        joiner = _WORD_RELATIONS[relation.name]
    else:
        raise CqlError(f"the relation {relation.name!r} is not supported", UNSUPPORTED_RELATION)
    parts = [part for part in parts if part]
    if not parts:
        raise CqlError(f"the term {term!r} has nothing to search for", EMPTY_TERM)
    return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
