"""CQL, the Contextual Query Language of SRU, parsed into a small tree.

Why our own: the one Python CQL parser in the registry (cql-parser 1.0.2, 2023)
calls its own prefix handling unfinished and was tested on Python 3.8 only. The
grammar is small (CQL 1.2 / searchRetrieve part 5)::

    cql-query     ::= query [sortby sort-spec]
    query         ::= prefix-assign query | scoped-clause
    scoped-clause ::= scoped-clause boolean-group search-clause | search-clause
    search-clause ::= '(' query ')' | [index relation] search-term
    boolean-group ::= ('and' | 'or' | 'not' | 'prox') modifier*
    relation      ::= comparitor modifier*      (=, ==, <>, <, >, <=, >=, or a name: any, all…)
    modifier      ::= '/' name [comparitor value]
    prefix-assign ::= '>' [prefix '='] uri

Booleans have one precedence and group to the left ("a or b and c" is
"(a or b) and c"). A term without index and relation means
``cql.serverChoice = term``. Keywords, indexes and relation names are
case-insensitive; terms keep their case. A malformed query raises
:class:`CqlError` carrying the SRU diagnostic the server must return.

This module only parses; :mod:`federation.catalog.query` decides what the
catalog can answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Comparison symbols, longest first so that "<=" is not read as "<" then "=".
_SYMBOLS = ("==", "<>", "<=", ">=", "=", "<", ">")
_BOOLEANS = frozenset({"and", "or", "not", "prox"})
#: Named relations of the cql context set; any other name must carry its prefix
#: ("dc.title bib.startsWith x"), so that two unquoted words are never taken as one.
_NAMED_RELATIONS = frozenset({"any", "all", "adj", "exact", "within", "encloses", "scr"})
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<quoted>"(?:[^"\\]|\\.)*")     # a quoted string, backslash escapes inside
      | (?P<open>")                       # a quote never closed
      | (?P<symbol>==|<>|<=|>=|[=<>()/])
      | (?P<word>[^\s()=<>/"]+)
    )""",
    re.VERBOSE,
)

#: SRU diagnostics (info:srw/diagnostic/1/N) a parse can end in.
SYNTAX_ERROR = 10
PARENTHESES = 13
QUOTES = 14


class CqlError(ValueError):
    """A query that is no CQL; ``diagnostic`` is its SRU diagnostic number."""

    def __init__(self, message: str, diagnostic: int = SYNTAX_ERROR) -> None:
        super().__init__(message)
        self.diagnostic = diagnostic

    @property
    def uri(self) -> str:
        return f"info:srw/diagnostic/1/{self.diagnostic}"


@dataclass(frozen=True, slots=True)
class Modifier:
    """``/name``, or ``/name comparitor value`` (``/relevant``, ``/distance<3``)."""

    name: str
    comparison: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    name: str
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchClause:
    index: str
    relation: Relation
    term: str


@dataclass(frozen=True, slots=True)
class Boolean:
    operator: str
    left: Node
    right: Node
    modifiers: tuple[Modifier, ...] = ()


Node = SearchClause | Boolean


@dataclass(frozen=True, slots=True)
class SortKey:
    index: str
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: its tree, its sort keys, and the prefixes it assigned."""

    root: Node
    sort_keys: tuple[SortKey, ...] = ()
    prefixes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Token:
    kind: str  # "word", "quoted", "symbol"
    text: str  # a quoted token's text is unquoted and unescaped
    position: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def parse(text: str) -> Query:
    """Parse a CQL query; raise :class:`CqlError` naming what is wrong and where."""
    tokens = _tokenize(text)
    if not tokens:
        raise CqlError("empty query")
    parser = _Parser(tokens)
    prefixes: dict[str, str] = {}
    root = parser.query(prefixes)
    sort_keys = parser.sort_spec() if parser.peek_word("sortby") else ()
    if (token := parser.peek()) is not None:
        if token.kind == "symbol" and token.text == ")":
            raise CqlError(f"unbalanced ')' at {token.position}", PARENTHESES)
        raise CqlError(f"unexpected {token.text!r} at {token.position}")
    return Query(root, sort_keys, prefixes)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while True:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise CqlError(f"cannot read the query at {position}")
            return tokens
        if match.group("open") is not None:
            raise CqlError(f"unbalanced quote at {match.start('open')}", QUOTES)
        kind = next(name for name in ("quoted", "symbol", "word") if match.group(name) is not None)
        value = match.group(kind)
        if kind == "quoted":
            value = re.sub(r"\\(.)", _unescape, value[1:-1])
        tokens.append(_Token(kind, value, match.start(kind)))
        position = match.end()


def _is_relation_name(name: str) -> bool:
    prefix, dot, base = name.rpartition(".")
    if not dot:
        return name in _NAMED_RELATIONS
    return base in _NAMED_RELATIONS if prefix == "cql" else bool(prefix and base)


def _unescape(match: re.Match[str]) -> str:
    # \" is a quote; any other escape (\*, \?, \^, \\) stays, for masking to read.
    char = match.group(1)
    return char if char == '"' else match.group(0)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def peek_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.is_word(*words)

    def peek_symbol(self, *symbols: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "symbol" and token.text in symbols

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise CqlError("the query ends too early")
        self.at += 1
        return token

    def query(self, prefixes: dict[str, str]) -> Node:
        while self.peek_symbol(">"):
            self.take()
            name = ""
            if self.peek_symbol("=", offset=1):
                name = self._name("a prefix").lower()
                self.take()
            prefixes[name] = self._value("a context set identifier")
        left = self.search_clause(prefixes)
        while (token := self.peek()) is not None and token.is_word(*_BOOLEANS):
            self.take()
            modifiers = self.modifiers()
            right = self.search_clause(prefixes)
            left = Boolean(token.text.lower(), left, right, modifiers)
        return left

    def search_clause(self, prefixes: dict[str, str]) -> Node:
        token = self.peek()
        if token is None:
            raise CqlError("a search term is missing at the end")
        if token.kind == "symbol" and token.text == "(":
            self.take()
            inner = self.query(prefixes)
            if not self.peek_symbol(")"):
                raise CqlError(f"'(' at {token.position} is never closed", PARENTHESES)
            self.take()
            return inner
        if token.kind == "symbol" and token.text == ")":
            raise CqlError(f"unbalanced ')' at {token.position}", PARENTHESES)
        # A keyword as a term must be quoted.
        if token.kind == "symbol" or token.is_word(*_BOOLEANS, "sortby"):
            raise CqlError(f"a search term is missing before {token.text!r} at {token.position}")
        if token.kind == "word" and self._relation_follows():
            self.take()
            relation = self.relation()
            return SearchClause(token.text.lower(), relation, self._term())
        return SearchClause("cql.serverchoice", Relation("="), self._term())

    def _relation_follows(self) -> bool:
        """After an index comes a comparison symbol or a relation name, then a term."""
        following = self.peek(1)
        if following is None:
            return False
        if following.kind == "symbol":
            return following.text in _SYMBOLS
        if following.kind != "word":
            return False
        if not _is_relation_name(following.text.lower()):
            return False
        after = self.peek(2)  # "dc.title any fish": a named relation needs a term after it
        return after is not None and not (after.kind == "symbol" and after.text == ")")

    def relation(self) -> Relation:
        token = self.take()
        if token.kind == "symbol" and token.text not in _SYMBOLS:
            raise CqlError(f"no relation {token.text!r} at {token.position}")
        return Relation(token.text.lower(), self.modifiers())

    def modifiers(self) -> tuple[Modifier, ...]:
        found: list[Modifier] = []
        while self.peek_symbol("/"):
            self.take()
            name = self._name("a modifier").lower()
            if self.peek_symbol(*_SYMBOLS):
                comparison = self.take().text
                found.append(Modifier(name, comparison, self._value("a modifier value")))
            else:
                found.append(Modifier(name))
        return tuple(found)

    def sort_spec(self) -> tuple[SortKey, ...]:
        self.take()  # sortBy
        keys: list[SortKey] = []
        while (token := self.peek()) is not None and token.kind != "symbol":
            self.take()
            keys.append(SortKey(token.text.lower(), self.modifiers()))
        if not keys:
            raise CqlError("sortBy names no index")
        return tuple(keys)

    def _term(self) -> str:
        return self._value("a search term")

    def _name(self, what: str) -> str:
        token = self.peek()
        if token is None or token.kind != "word":
            raise CqlError(f"{what} is missing")
        self.take()
        return token.text

    def _value(self, what: str) -> str:
        token = self.peek()
        if token is None or token.kind == "symbol":
            where = f"at {token.position}" if token else "at the end"
            raise CqlError(f"{what} is missing {where}")
        self.take()
        return token.text
