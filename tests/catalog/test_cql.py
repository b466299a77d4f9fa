"""CQL parsing, with the examples of the CQL specification (loc.gov/standards/sru/cql)."""

from __future__ import annotations

import pytest

from federation.catalog.cql import (
    PARENTHESES,
    QUOTES,
    SYNTAX_ERROR,
    Boolean,
    CqlError,
    Modifier,
    Relation,
    SearchClause,
    SortKey,
    parse,
)


def clause(index: str, relation: str, term: str, *modifiers: Modifier) -> SearchClause:
    return SearchClause(index, Relation(relation, tuple(modifiers)), term)


def test_a_bare_term_searches_the_servers_choice():
    assert parse("cat").root == clause("cql.serverchoice", "=", "cat")
    assert parse('"cat hat"').root == clause("cql.serverchoice", "=", "cat hat")


def test_index_relation_term():
    assert parse("dc.title any fish").root == clause("dc.title", "any", "fish")
    assert parse('dc.creator = "Толстой, Лев"').root == clause("dc.creator", "=", "Толстой, Лев")
    assert parse("bath.isbn=9785170906300").root == clause("bath.isbn", "=", "9785170906300")
    assert parse("dc.date >= 1990").root == clause("dc.date", ">=", "1990")
    assert parse("dc.date<>1990").root == clause("dc.date", "<>", "1990")
    assert parse("DC.Title ALL \"War Peace\"").root == clause("dc.title", "all", "War Peace")


def test_booleans_group_to_the_left_and_keep_their_modifiers():
    query = parse("dc.title any fish or dc.creator any sanderson and dc.date > 2000")
    assert query.root == Boolean(
        "and",
        Boolean("or", clause("dc.title", "any", "fish"), clause("dc.creator", "any", "sanderson")),
        clause("dc.date", ">", "2000"),
    )
    query = parse("cat prox/unit=word/distance>2 hat")
    assert query.root == Boolean(
        "prox",
        clause("cql.serverchoice", "=", "cat"),
        clause("cql.serverchoice", "=", "hat"),
        (Modifier("unit", "=", "word"), Modifier("distance", ">", "2")),
    )


def test_parentheses_override_the_left_grouping():
    query = parse("dc.title any fish or (dc.creator any sanderson and dc.identifier = 456)")
    assert query.root == Boolean(
        "or",
        clause("dc.title", "any", "fish"),
        Boolean("and", clause("dc.creator", "any", "sanderson"),
                clause("dc.identifier", "=", "456")),
    )  # fmt: skip


def test_relation_modifiers_prefixes_and_sorting():
    query = parse('> dc = "info:srw/cql-context-set/1/dc-v1.1" dc.title =/relevant/stem fish')
    assert query.prefixes == {"dc": "info:srw/cql-context-set/1/dc-v1.1"}
    assert query.root == clause("dc.title", "=", "fish", Modifier("relevant"), Modifier("stem"))
    query = parse("dc.title any fish sortBy dc.date/sort.descending dc.title")
    assert query.sort_keys == (
        SortKey("dc.date", (Modifier("sort.descending"),)),
        SortKey("dc.title"),
    )


def test_a_quoted_keyword_is_a_term_and_escapes_are_kept_for_masking():
    assert parse('"and"').root == clause("cql.serverchoice", "=", "and")
    assert parse(r'dc.title = "say \"hi\""').root == clause("dc.title", "=", 'say "hi"')
    assert parse(r'dc.title = "fish\*"').root == clause("dc.title", "=", r"fish\*")
    assert parse("dc.title = fish*").root == clause("dc.title", "=", "fish*")


@pytest.mark.parametrize(
    ("text", "diagnostic"),
    [
        ("", SYNTAX_ERROR),
        ("dc.title =", SYNTAX_ERROR),
        ("cat and", SYNTAX_ERROR),
        ("and", SYNTAX_ERROR),
        ("cat dog", SYNTAX_ERROR),
        ("(cat and dog", PARENTHESES),
        ("cat and dog)", PARENTHESES),
        ('dc.title = "war and peace', QUOTES),
        ("cat sortBy", SYNTAX_ERROR),
    ],
)
def test_a_malformed_query_names_its_sru_diagnostic(text, diagnostic):
    with pytest.raises(CqlError) as raised:
        parse(text)
    assert raised.value.diagnostic == diagnostic
    assert raised.value.uri == f"info:srw/diagnostic/1/{diagnostic}"
