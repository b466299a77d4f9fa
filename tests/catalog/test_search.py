"""A reader searches the union catalog: Cyrillic and Latin, fields, facets, pages."""

from __future__ import annotations

import pytest

from federation.catalog import UnionCatalog
from federation.catalog.query import parse
from federation.catalog.storage import cluster_pk

from .conftest import DEMO, RSL, harvested, one, read, source, variant


@pytest.fixture
async def filled(catalog: UnionCatalog) -> UnionCatalog:
    """RGB (MARC 21), RGB-R (RUSMARC), NLR, and LC's and NLM's sample records."""
    rgb, rgb_r, nlr = source("rgb", "RGB"), source("rgb-r", "RGB-R"), source("nlr", "NLR")
    loc, nlm = source("loc", "DLC"), source("nlm", "NLM")
    await catalog.commit_page(
        rgb,
        [harvested(one(RSL / n), rgb) for n in ("01002988236_marc21.mrc", "01003120729.mrc")],
        [],
        [],
    )
    await catalog.commit_page(
        rgb_r,
        [harvested(one(RSL / n), rgb_r) for n in ("01002988236_rusmarc.iso", "01003120729.iso")],
        [],
        [],
    )
    await catalog.commit_page(nlr, [harvested(one(RSL / "NLR005177748.mrc"), nlr)], [], [])
    await catalog.commit_page(
        loc, [harvested(r, loc) for r in read(DEMO / "loc_general.xml")], [], []
    )
    await catalog.commit_page(nlm, [harvested(r, nlm) for r in read(DEMO / "nlm.xml")], [], [])
    return catalog


async def test_a_cyrillic_word_finds_the_work_once_with_every_library(filled):
    result = await filled.search("история столетия")
    assert result.total == 2  # RSL's 1804 edition (two copies) and NLR's 1805 one
    libraries = sorted(tuple(hit.libraries) for hit in result.results)
    assert libraries == [("NLR",), ("RGB", "RGB-R")]


async def test_case_and_yo_fold_but_short_i_does_not(filled):
    catalog = filled
    upper = await catalog.search("ИСТОРИЯ")
    assert upper.total == 2
    # "ё" in the query finds "е" in the record and back.
    assert (await catalog.search("столётия")).total == 2
    rgb = source("rgb", "RGB")
    book = variant(one(RSL / "01005301426.mrc"), title="Мой ёжик", authors=[], isbns=[])
    await catalog.commit_page(rgb, [harvested(book, rgb)], [], [])
    assert (await catalog.search("ежик")).total == 1
    assert (await catalog.search("мой")).total == 1
    assert (await catalog.search("мои")).total == 0


async def test_latin_words_and_diacritics(filled):
    hits = await filled.search("title:history")
    assert hits.total >= 1
    assert all("history" in hit.title.lower() for hit in hits.results)
    # NLM's French and German titles, typed without their accents, or with.
    abrege = await filled.search("abrege cytologie")
    assert abrege.total == 2 and all(h.title == "Abrégé de cytologie" for h in abrege.results)
    assert (await filled.search("ABRÉGÉ")).total == 2
    einfuhrung = await filled.search("title:einfuhrung")
    assert einfuhrung.total >= 2
    assert all("Einführung" in hit.title for hit in einfuhrung.results)


async def test_author_in_cyrillic_or_romanized(filled):
    cyrillic = await filled.search("author:Калинин")
    latin = await filled.search("author:Kalinin")
    assert cyrillic.total == latin.total == 1
    assert cyrillic.results[0].cluster_id == latin.results[0].cluster_id
    assert (await filled.search("kalinin")).total == 1


async def test_isbn_year_and_field_values(filled):
    by_isbn = await filled.search("isbn:5-901202-50-3")
    assert by_isbn.total == 1 and by_isbn.results[0].year == 2007
    assert (await filled.search("978-5-901202-50-0")).total == 1
    assert (await filled.search("история year:1805")).total == 1
    assert (await filled.search("история year:1804")).results[0].libraries == ["RGB", "RGB-R"]
    russian = await filled.search("language:rus", limit=100)
    assert russian.total >= 3 and {hit.language for hit in russian.results} == {"rus"}
    assert (await filled.search("publisher:РКП")).total == 1
    assert (await filled.search('title:"стандартный книжный номер"')).total == 1
    assert (await filled.search('title:"номер стандартный"')).total == 0


async def test_facets_count_every_hit(filled):
    result = await filled.search("история", limit=1)
    assert result.total == 2 and len(result.results) == 1
    assert result.facets["library"] == {"RGB": 1, "RGB-R": 1, "NLR": 1}
    assert result.facets["year"] == {"1804": 1, "1805": 1}
    assert result.facets["language"] == {"rus": 2}
    assert result.facets["format"] == {"book": 2}


async def test_library_filter_and_pagination(filled):
    everything = await filled.search("", limit=1000)
    assert everything.total == len(everything.results) > 150
    dlc = await filled.search("", library="DLC", limit=1000)
    assert dlc.total == 99 and all("DLC" in hit.libraries for hit in dlc.results)
    assert (await filled.search("история", library="NLR")).total == 1
    assert (await filled.search("история library:nlr")).total == 1
    pages = [await filled.search("", library="NLM", limit=40, offset=o) for o in (0, 40, 80)]
    ids = [hit.cluster_id for page in pages for hit in page.results]
    assert len(ids) == len(set(ids)) == 99


async def test_ranking_prefers_title_hits(filled):
    result = await filled.search("history", limit=5)
    assert result.total >= 1
    assert "history" in result.results[0].title.lower()


def test_queries_cannot_inject_fts_syntax():
    parsed = parse('title:"a" OR NEAR(x) author:"Толстой" library:RGB foo:bar -x')
    assert parsed.libraries == ["RGB"]
    assert "NEAR(" not in parsed.match.replace('"near x"', "")
    assert '"толстой"' in parsed.match and '"tolstoi"' in parsed.match


async def test_queries_with_only_punctuation_match_everything(filled):
    assert (await filled.search("-- ;;")).total == (await filled.search("")).total


async def test_facets_of_very_many_hits_are_estimated(filled):
    exact = await filled.search("")
    assert not exact.facets_estimated
    filled._storage.facet_sample = 10  # as if the catalog were a thousand times bigger
    estimated = await filled.search("")
    assert estimated.facets_estimated and estimated.total == exact.total
    for facet in ("library", "format"):
        assert set(estimated.facets[facet]) <= set(exact.facets[facet])
    dlc = exact.facets["library"]["DLC"]
    assert abs(estimated.facets["library"].get("DLC", 0) - dlc) < dlc  # same order of size


async def test_a_huge_answer_ranks_title_and_author_matches_first_without_losing_any(catalog):
    """Past RANK_ALL_LIMIT hits the page comes in two tiers (sqlite/reading.py):
    readers see the title matches first, and paging still shows every hit once."""
    loc, nlm = source("loc", "DLC"), source("nlm", "NLM")
    await catalog.commit_page(loc, [harvested(r, loc) for r in read(DEMO / "loc_general.xml")], [], [])
    await catalog.commit_page(nlm, [harvested(r, nlm) for r in read(DEMO / "nlm.xml")], [], [])
    exact = await catalog.search("history", limit=100)
    in_titles = {hit.cluster_id for hit in (await catalog.search("title:history")).results}
    assert exact.total == 35 and len(in_titles) == 5
    catalog._storage.rank_all_limit = 10  # as if "history" were in a hundred thousand records
    pages = [await catalog.search("history", limit=7, offset=offset) for offset in range(0, 35, 7)]
    shown = [hit.cluster_id for page in pages for hit in page.results]
    assert {page.total for page in pages} == {35}
    assert set(shown[:5]) == in_titles
    assert len(shown) == len(set(shown)) == 35
    assert set(shown) == {hit.cluster_id for hit in exact.results}
    assert pages[0].facets == exact.facets
    # Past the limit a tier is ranked in parts, newest clusters first, so that a first
    # page never ranks more than RANK_ALL_LIMIT hits: the 30 others come as the newest
    # 10, each part by relevance, then the 20 older ones.
    rest = [cluster_pk(cluster) for cluster in shown[5:]]
    assert min(rest[:10]) > max(rest[10:])


async def test_a_common_word_filtered_down_to_a_few_libraries_hits_is_ranked_exactly(catalog):
    """The statement learns a filtered answer's size; a small one is ranked whole,
    in the same order as when nothing is tiered."""
    loc, nlm = source("loc", "DLC"), source("nlm", "NLM")
    await catalog.commit_page(loc, [harvested(r, loc) for r in read(DEMO / "loc_general.xml")], [], [])
    await catalog.commit_page(nlm, [harvested(r, nlm) for r in read(DEMO / "nlm.xml")], [], [])
    exact = await catalog.search("history", library="NLM", limit=100)
    everywhere = await catalog.search("history", limit=100)
    assert 0 < exact.total < everywhere.total
    catalog._storage.rank_all_limit = exact.total  # "history" alone is now big, NLM's part is not
    catalog._storage.filtered_factor = 1  # and too big to be ranked whole without counting
    again = await catalog.search("history", library="NLM", limit=100)
    assert [hit.cluster_id for hit in again.results] == [hit.cluster_id for hit in exact.results]
    assert again.total == exact.total and again.facets == exact.facets
