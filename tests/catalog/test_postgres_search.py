"""How the PostgreSQL catalog answers a big search: the GIN index finds every hit.

A big answer is paged in parts (federation/catalog/tiers.py): the pk of a tier's
1,000th newest hit, then that part ranked. Written plainly, PostgreSQL's planner
answered both by walking the primary key and testing ``@@`` on every cluster it
passed — on a million records, up to the whole table for one page (p95 706 ms;
docs/catalog.md, "Why PostgreSQL search was slow"). Every statement of a search
must ask the search index instead, library filters included.
"""

from __future__ import annotations

from typing import Any

import pytest

from federation.catalog import UnionCatalog

from .conftest import DEMO, harvested, read, source


@pytest.fixture
async def catalog(postgres_url: str):
    opened = await UnionCatalog.open(postgres_url)
    try:
        yield opened
    finally:
        await opened.close()


async def _statements(catalog: UnionCatalog, query: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """The statements one search sends to the server."""
    storage = catalog._storage
    sent: list[tuple[str, Any]] = []
    read_ = storage._read

    async def recording(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        sent.append((sql, params))
        return await read_(sql, params)

    storage._read = recording  # type: ignore[method-assign]
    try:
        await catalog.search(query, **kwargs)
    finally:
        del storage._read
    return sent


async def _plan(catalog: UnionCatalog, sql: str, params: Any) -> str:
    rows = await catalog._storage._read(f"EXPLAIN {sql}", params)
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("library", [None, "NLM"])
async def test_every_part_of_a_huge_answer_is_found_through_the_search_index(catalog, library):
    """A reader searches a word of a hundred thousand works: the count, the tiers'
    boundaries and their ranked parts are all answered from the GIN index, never by
    testing the word against the clusters in pk order — even where the planner would
    rather not read the table at all (sequential scans off, as at a million records)."""
    loc, nlm = source("loc", "DLC"), source("nlm", "NLM")
    await catalog.commit_page(loc, [harvested(r, loc) for r in read(DEMO / "loc_general.xml")], [], [])
    await catalog.commit_page(nlm, [harvested(r, nlm) for r in read(DEMO / "nlm.xml")], [], [])
    storage = catalog._storage
    await storage._reader.execute("ANALYZE")
    storage.rank_all_limit = 2  # as if "history" were in a hundred thousand records
    storage.filtered_factor = 1
    await storage._reader.execute("SET enable_seqscan = off")
    statements = []
    for offset in range(0, 35, 5):  # every page: the newest and the older parts of each tier
        statements += await _statements(catalog, "history", library=library, limit=5, offset=offset)
    matching = [(sql, params) for sql, params in statements if "@@" in sql]
    assert any("ORDER BY pk DESC" in sql for sql, _ in matching)  # a boundary was asked for
    assert any("ts_rank" in sql and ">=" in sql for sql, _ in matching)  # and a newest part
    for sql, params in matching:
        plan = await _plan(catalog, sql, params)
        assert "cluster_search_doc" in plan, plan
        assert "cluster_search_pkey" not in plan, plan


async def test_a_catalog_made_before_library_lexemes_finds_the_same_after_its_migration(
    postgres_url,
):
    """A central library upgrades libfed over a catalog whose search rows hold no
    library lexemes (schema 1): opening it adds them, and library:X finds what it did."""
    loc, nlm = source("loc", "DLC"), source("nlm", "NLM")
    catalog = await UnionCatalog.open(postgres_url)
    try:
        await catalog.commit_page(loc, [harvested(r, loc) for r in read(DEMO / "loc_general.xml")], [], [])
        await catalog.commit_page(nlm, [harvested(r, nlm) for r in read(DEMO / "nlm.xml")], [], [])
        queries = [("history", "NLM"), ("history library:dlc", None), ("", "NLM"), ("history", "BL")]
        before = [await catalog.search(q, library=lib, limit=100) for q, lib in queries]
        reader = catalog._storage._reader
        await reader.execute(
            "UPDATE cluster_search SET doc = ts_delete(doc, coalesce((SELECT array_agg(x) "
            "FROM unnest(tsvector_to_array(doc)) x WHERE x LIKE 'h%'), '{}'))"
        )
        await reader.execute("UPDATE catalog_schema SET version = 1")
    finally:
        await catalog.close()
    catalog = await UnionCatalog.open(postgres_url)
    try:
        after = [await catalog.search(q, library=lib, limit=100) for q, lib in queries]
    finally:
        await catalog.close()
    assert before[0].total > 0 and before[1].total > 0 and before[3].total == 0
    for old, new in zip(before, after, strict=True):
        assert new.total == old.total and new.facets == old.facets
        assert [hit.cluster_id for hit in new.results] == [hit.cluster_id for hit in old.results]
