"""CQL sortBy on a real catalog: a librarian's list in title or date order, not best match first."""

from __future__ import annotations

import pytest

from federation.catalog import UnionCatalog
from federation.catalog.cql import CqlError

from .conftest import RSL, harvested, one, source, variant

#: Four books by one author; the titles test what sorting folds: case, ё, a leading «.
BOOKS = [("АЗБУКА", 1912), ("«Бесы»", None), ("Ель", 1990), ("Ёлка", 1871)]


@pytest.fixture
async def shelf(catalog: UnionCatalog) -> UnionCatalog:
    library = source("tver", "TVER")
    base = one(RSL / "01005301426.mrc")
    books = [
        variant(base, id=f"sort{n}", title=title, year=year, authors=["Сортова, Анна"], isbns=[],
                subjects=[], publisher=None)  # fmt: skip
        for n, (title, year) in enumerate(BOOKS)
    ]
    await catalog.commit_page(library, [harvested(book, library) for book in books], [], [])
    return catalog


@pytest.fixture
def sorting(shelf: UnionCatalog) -> UnionCatalog:
    """The shelf, in a test of the order itself: that is the storage's to get right
    (SQLite and PostgreSQL both)."""
    return shelf


async def titles(catalog: UnionCatalog, query: str, **page: int) -> list[str]:
    return [hit.title for hit in (await catalog.search_cql(query, **page)).results]


async def test_titles_sort_folded_past_leading_punctuation(sorting):
    query = "dc.creator = Сортова sortBy dc.title"
    # ё = е, so Ёлка ("елка") before Ель; АЗБУКА in capitals still first; « is skipped.
    assert await titles(sorting, query) == ["АЗБУКА", "«Бесы»", "Ёлка", "Ель"]
    descending = await titles(sorting, query + "/sort.descending")
    assert descending == ["Ель", "Ёлка", "«Бесы»", "АЗБУКА"]


async def test_dates_sort_either_way_with_undated_books_last_unless_asked(sorting):
    query = "dc.creator = Сортова sortBy dc.date"
    assert await titles(sorting, query) == ["Ёлка", "АЗБУКА", "Ель", "«Бесы»"]
    assert await titles(sorting, query + "/sort.descending") == ["Ель", "АЗБУКА", "Ёлка", "«Бесы»"]
    # missingLow: undated counts as earliest — first going up, last going down.
    assert (await titles(sorting, query + "/sort.missingLow"))[0] == "«Бесы»"
    assert (await titles(sorting, query + "/sort.descending/sort.missingLow"))[-1] == "«Бесы»"
    # missingHigh: undated counts as latest — first going down.
    assert (await titles(sorting, query + "/sort.missingHigh/sort.descending"))[0] == "«Бесы»"


async def test_pages_of_a_sorted_answer_follow_one_order(sorting):
    query = "dc.creator = Сортова sortBy dc.date/sort.descending dc.title"
    whole = await titles(sorting, query)
    pages = [await titles(sorting, query, limit=2, offset=offset) for offset in (0, 2)]
    assert pages[0] + pages[1] == whole and len(whole) == 4
    result = await sorting.search_cql(query, limit=1, offset=3)
    assert result.total == 4 and [h.title for h in result.results] == ["«Бесы»"]


@pytest.mark.parametrize(
    ("sort", "diagnostic"),
    [
        ("dc.subject", 88),  # searchable, but no sort order of its own
        ("bath.isbn", 88),
        ("dc.title/sort.respectCase", 91),
        ("dc.date/sort.missingOmit", 92),
        ("dc.date/sort.missingValue=1900", 92),
        ("dc.title/sort.locale=ru_RU", 82),
    ],
)
async def test_what_cannot_be_sorted_gets_its_sru_diagnostic(shelf, sort, diagnostic):
    with pytest.raises(CqlError) as raised:
        await shelf.search_cql(f"dc.creator = Сортова sortBy {sort}")
    assert raised.value.diagnostic == diagnostic


async def test_the_modifiers_sorting_already_honours_are_accepted(shelf):
    plain = await titles(shelf, "dc.creator = Сортова sortBy dc.title")
    same = await titles(shelf, "dc.creator = Сортова sortBy dc.title/sort.ignoreCase/ascending")
    assert same == plain
