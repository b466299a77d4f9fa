"""CQL queries (what SRU clients send) against a real catalog of real records."""

from __future__ import annotations

import pytest

from federation.catalog.cql import CqlError

from .test_search import filled  # noqa: F401 - the catalog fixture


async def test_isbn_and_cyrillic_title_find_the_work_with_its_libraries(filled):  # noqa: F811
    by_isbn = await filled.search_cql("bath.isbn = 5-901202-50-3")
    assert by_isbn.total == 1 and by_isbn.results[0].year == 2007
    title = await filled.search_cql('dc.title all "история столетия"')
    assert title.total == 2
    assert sorted(tuple(h.libraries) for h in title.results) == [("NLR",), ("RGB", "RGB-R")]
    assert (await filled.search_cql("dc.creator = Kalinin")).total == 1


async def test_relations_booleans_and_the_servers_choice(filled):  # noqa: F811
    assert (await filled.search_cql('dc.title = "стандартный книжный номер"')).total == 1
    assert (await filled.search_cql('dc.title = "номер стандартный"')).total == 0  # a phrase
    assert (await filled.search_cql('dc.title all "номер стандартный"')).total == 1
    either = await filled.search_cql('dc.title any "столетия стандартный"')
    assert either.total == 3
    assert (await filled.search_cql("история and dc.date = 1805")).total == 1
    assert (await filled.search_cql("история not dc.date = 1805")).total == 1
    assert (await filled.search_cql("dc.date = 1804 or dc.date = 1805")).total >= 2
    assert (await filled.search_cql("истори*")).total == (await filled.search("истори*")).total


async def test_rec_identifier_fetches_one_work_by_its_id(filled):  # noqa: F811
    some = (await filled.search_cql("bath.isbn = 5-901202-50-3")).results[0]
    found = await filled.search_cql(f"rec.identifier = {some.cluster_id}")
    assert [hit.cluster_id for hit in found.results] == [some.cluster_id]
    assert some.libraries == found.results[0].libraries
    assert (await filled.search_cql("rec.identifier = c999999")).total == 0
    with pytest.raises(CqlError) as raised:
        await filled.search_cql(f"rec.identifier = {some.cluster_id} and dc.title = x")
    assert raised.value.diagnostic == 16


@pytest.mark.parametrize(
    ("query", "diagnostic"),
    [
        ("dc.title =", 10),  # no term
        ("rec.nosuchindex = x", 16),
        ("dc.date < 1900", 19),
        ("dc.title =/stem fish", 20),
        ('dc.title = "--"', 27),
        ("dc.title = f?sh", 28),
        ("cat prox dog", 37),
        ("cat sortBy dc.subject", 88),
    ],
)
async def test_what_cannot_be_searched_gets_its_sru_diagnostic(filled, query, diagnostic):  # noqa: F811
    with pytest.raises(CqlError) as raised:
        await filled.search_cql(query)
    assert raised.value.diagnostic == diagnostic
