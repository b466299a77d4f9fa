"""The union catalog as libraries feed it: pages committed whole, clusters kept right."""

from __future__ import annotations

import pytest

from federation.catalog import QuarantinedRecord, UnionCatalog
from federation.errors import InvalidArgument, NotFound

from .conftest import DEMO, RSL, harvested, members, one, read, source, storage_module, variant

PAIRS = ["01002988236", "01003120729", "01007496813"]


async def feed_rsl_pairs(catalog: UnionCatalog) -> None:
    """RGB exports MARC 21, its RUSMARC feed goes to the union as library RGB-R."""
    rgb, rgb_r = source("rgb"), source("rgb-rusmarc", "RGB-R")
    marc21 = [one(RSL / f"{n}_marc21.mrc" if n == PAIRS[0] else RSL / f"{n}.mrc") for n in PAIRS]
    rusmarc = [one(RSL / f"{n}_rusmarc.iso" if n == PAIRS[0] else RSL / f"{n}.iso") for n in PAIRS]
    await catalog.commit_page(rgb, [harvested(r, rgb) for r in marc21], [], [])
    await catalog.commit_page(rgb_r, [harvested(r, rgb_r) for r in rusmarc], [], [])


async def test_marc21_and_rusmarc_copies_land_in_one_cluster(catalog):
    await feed_rsl_pairs(catalog)
    clusters = await members(catalog)
    assert len(clusters) == 3
    for number in PAIRS:
        expected = {("RGB", number[2:]), ("RGB-R", number[2:])}
        assert expected in clusters


async def test_a_record_held_by_several_libraries_is_found_once(catalog):
    book = one(RSL / "01003120729.mrc")
    for name in ("spb", "msk", "ekb"):
        src = source(name)
        await catalog.commit_page(src, [harvested(book, src)], [], [])
    [cluster] = await members(catalog)
    assert {library for library, _ in cluster} == {"SPB", "MSK", "EKB"}
    [cluster_id] = await catalog.clusters_for_isbn("978-5-901202-50-0")
    holdings = await catalog.holdings(cluster_id)
    assert sorted(h.library for h in holdings) == ["EKB", "MSK", "SPB"]
    assert all(h.record_id == "003120729" for h in holdings)


async def test_editions_and_namesakes_stay_apart(catalog):
    book = variant(one(RSL / "01003120729.mrc"), isbns=[])
    a, b, c, d = source("a"), source("b"), source("c"), source("d")
    await catalog.commit_page(a, [harvested(book, a)], [], [])
    await catalog.commit_page(b, [harvested(variant(book, year=2011), b)], [], [])
    await catalog.commit_page(c, [harvested(variant(book, pages=180), c)], [], [])
    await catalog.commit_page(d, [harvested(variant(book, authors=["Петров, Пётр"]), d)], [], [])
    assert len(await members(catalog)) == 4
    # …and the RSL and NLR records of "История XVIII столетия" (1804 / 1805).
    rsl, nlr = source("rsl"), source("nlr")
    await catalog.commit_page(rsl, [harvested(one(RSL / "01002988236_marc21.mrc"), rsl)], [], [])
    await catalog.commit_page(nlr, [harvested(one(RSL / "NLR005177748.mrc"), nlr)], [], [])
    assert len(await members(catalog)) == 6


async def test_one_source_never_has_two_members_in_a_cluster(catalog):
    book = one(RSL / "01003120729.mrc")
    a = source("a")
    copy = variant(book, id="copy-2")
    await catalog.commit_page(a, [harvested(book, a), harvested(copy, a)], [], [])
    assert len(await members(catalog)) == 2


async def test_a_deletion_removes_the_holding_and_re_evaluates(catalog):
    await feed_rsl_pairs(catalog)
    rgb_r = source("rgb-rusmarc", "RGB-R")
    [cluster_id] = await catalog.clusters_for_isbn("9785901202500")
    await catalog.commit_page(rgb_r, [], ["oai:rgb-rusmarc:003120729"], [])
    assert [h.library for h in await catalog.holdings(cluster_id)] == ["RGB"]
    assert (await catalog.stats()).records == 5
    # The last holding gone, the cluster is gone too.
    await catalog.commit_page(source("rgb"), [], ["oai:rgb:003120729"], [])
    assert await catalog.get_cluster(cluster_id) is None
    assert await catalog.clusters_for_isbn("9785901202500") == []
    assert (await catalog.search("isbn:9785901202500")).total == 0


async def test_a_bridge_leaving_splits_its_cluster(catalog):
    # A and C match only through B (B shares an ISBN with each); B withdrawn,
    # A and C are judged again on their own and part.
    book = one(RSL / "01003120729.mrc")
    a_rec = variant(book, isbns=["9785901202500"], year=2007)
    b_rec = variant(book, isbns=["9785901202500", "9780306406157"], year=None)
    c_rec = variant(book, isbns=["9780306406157"], year=2010)
    a, b, c = source("a"), source("b"), source("c")
    await catalog.commit_page(a, [harvested(a_rec, a)], [], [])
    await catalog.commit_page(b, [harvested(b_rec, b)], [], [])
    await catalog.commit_page(c, [harvested(c_rec, c)], [], [])
    assert len(await members(catalog)) == 1
    await catalog.commit_page(b, [], [f"oai:b:{book.id}"], [])
    assert sorted(len(cluster) for cluster in await members(catalog)) == [1, 1]


async def test_a_changed_record_moves_to_its_new_work(catalog):
    rgb, rgb_r = source("rgb"), source("rgb-rusmarc", "RGB-R")
    await feed_rsl_pairs(catalog)
    before = await members(catalog)
    # RGB-R corrects its record of the ISBN manual: it was another book after all.
    fixed = variant(one(RSL / "01003120729.iso"), isbns=[], title="Совсем другая книга", year=1990)
    await catalog.commit_page(rgb_r, [harvested(fixed, rgb_r)], [], [])
    after = await members(catalog)
    assert len(after) == 4
    assert {("RGB", "003120729")} in after and {("RGB-R", "003120729")} in after
    # Corrected back, it rejoins; re-harvesting unchanged records changes nothing.
    await catalog.commit_page(rgb_r, [harvested(one(RSL / "01003120729.iso"), rgb_r)], [], [])
    await feed_rsl_pairs(catalog)
    assert sorted(map(sorted, await members(catalog))) == sorted(map(sorted, before))
    assert (await catalog.stats()).records == 6
    del rgb


async def test_cluster_ids_survive_re_harvesting(catalog):
    await feed_rsl_pairs(catalog)
    ids = [c["cluster_id"] async for c in catalog.dump()]
    await feed_rsl_pairs(catalog)
    assert [c["cluster_id"] async for c in catalog.dump()] == ids


async def test_best_record_is_the_most_complete(catalog):
    await feed_rsl_pairs(catalog)
    [cluster_id] = await catalog.clusters_for_isbn("9785901202500")
    detail = await catalog.get_cluster(cluster_id)
    assert detail is not None
    assert len(detail.members) == 2 and sum(m.best for m in detail.members) == 1
    best = next(m for m in detail.members if m.best)
    assert detail.best == best.normalized
    assert detail.summary.title.startswith("Международный стандартный книжный номер")
    assert detail.summary.libraries == ["RGB", "RGB-R"]
    assert all(m.normalized["isbns"] == ["9785901202500"] for m in detail.members)


async def test_a_page_is_all_or_nothing(catalog):
    src = source("rgb")
    good = harvested(one(RSL / "01003120729.mrc"), src)
    await catalog.commit_page(src, [good], [], [])
    src.resumption_token = "page-2"
    broken = harvested(one(RSL / "01002988236_marc21.mrc"), src)
    broken.raw_xml = object()  # type: ignore[assignment]  # cannot be stored
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        await catalog.commit_page(src, [broken], ["oai:rgb:003120729"], [])
    assert (await catalog.stats()).records == 1
    assert len(await members(catalog)) == 1
    saved = await catalog.get_source("rgb")
    assert saved is not None and saved.resumption_token is None


async def test_checkpoint_and_quarantine_move_with_the_page(catalog):
    src = source("dnb")
    src.resumption_token = "token-1"
    src.run_from = "2026-01-01"
    bad = QuarantinedRecord("oai:dnb:broken", "not well-formed: line 3", b"<record><x")
    records = [harvested(r, src) for r in read(DEMO / "dnb.xml")[:20]]
    await catalog.commit_page(src, records, [], [bad])
    saved = await catalog.get_source("dnb")
    assert saved is not None
    assert (saved.resumption_token, saved.run_from) == ("token-1", "2026-01-01")
    assert (saved.records, saved.quarantined) == (20, 1)
    stats = await catalog.stats()
    assert (stats.records, stats.sources[0].quarantined) == (20, 1)
    # Staff can see which record was refused and why, to tell the partner library.
    [entry] = await catalog.quarantined()
    assert (entry.source, entry.oai_identifier, entry.reason) == (
        "dnb", "oai:dnb:broken", "not well-formed: line 3")
    assert await catalog.quarantined(source="elsewhere") == []
    await catalog.record_error("dnb", "HTTP 503 after 5 attempts")
    assert (await catalog.get_source("dnb")).last_error == "HTTP 503 after 5 attempts"
    with pytest.raises(NotFound):
        await catalog.record_error("nobody", "boom")


async def test_catalog_reopens_with_its_data(catalog_location):
    path = catalog_location
    catalog = await UnionCatalog.open(path)
    await feed_rsl_pairs(catalog)
    await catalog.close()
    catalog = await UnionCatalog.open(path)
    try:
        assert (await catalog.stats()).clusters == 3
        assert [s.name for s in await catalog.sources()] == ["rgb", "rgb-rusmarc"]
    finally:
        await catalog.close()


async def test_bad_arguments_are_named(catalog):
    with pytest.raises(InvalidArgument, match="ISBN"):
        await catalog.clusters_for_isbn("12345")
    with pytest.raises(NotFound):
        await catalog.holdings("c999")
    with pytest.raises(InvalidArgument, match="limit"):
        await catalog.search("war", limit=0)
    assert await catalog.get_cluster("not-a-cluster") is None


async def test_a_dublin_core_harvest_joins_the_marc_copies(catalog):
    # A partner's DSpace-like server gives only oai_dc: less data, same works.
    from federation.records import record_from_dc, to_oai_dc

    await feed_rsl_pairs(catalog)
    partner = source("partner", "PARTNER")
    page = []
    for name in ("01002988236_marc21.mrc", "01003120729.mrc"):
        marc = one(RSL / name)
        dc = record_from_dc(to_oai_dc(marc), f"dc-{marc.id}")
        assert dc.schema == "dc"
        page.append(harvested(dc, partner, f"oai:partner:{marc.id}"))
    await catalog.commit_page(partner, page, [], [])
    clusters = await members(catalog)
    assert len(clusters) == 3
    for number in ("002988236", "003120729"):
        assert {("RGB", number), ("RGB-R", number), ("PARTNER", f"dc-{number}")} in clusters
    [cluster_id] = await catalog.clusters_for_isbn("9785901202500")
    detail = await catalog.get_cluster(cluster_id)
    assert next(m for m in detail.members if m.best).schema != "dc"


async def test_an_older_catalog_is_migrated_and_a_newer_one_refused(tmp_path):
    import sqlite3

    from federation.errors import FailedPrecondition

    path = tmp_path / "union.db"
    catalog = await UnionCatalog.open(path)
    await feed_rsl_pairs(catalog)
    await catalog.close()
    with sqlite3.connect(path) as conn:  # as schema version 1 left it
        conn.execute("DROP TABLE cluster_facets")
        conn.execute("ALTER TABLE records DROP COLUMN harvest_run")
        conn.execute("ALTER TABLE sources DROP COLUMN full_run")
        conn.execute("PRAGMA user_version = 1")
    catalog = await UnionCatalog.open(path)
    try:
        result = await catalog.search("история")
        assert result.facets["year"] == {"1804": 1}
    finally:
        await catalog.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(FailedPrecondition, match="newer"):
        await UnionCatalog.open(path)


async def test_a_read_only_opening_never_creates_a_catalog(catalog_location):
    with pytest.raises(NotFound):
        await UnionCatalog.open(catalog_location, create=False)
    created = await UnionCatalog.open(catalog_location)
    await created.close()
    again = await UnionCatalog.open(catalog_location, create=False)
    await again.close()


async def test_a_newer_postgres_catalog_is_refused(postgres_url):
    import psycopg

    from federation.errors import FailedPrecondition

    await (await UnionCatalog.open(postgres_url)).close()
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute("UPDATE catalog_schema SET version = 99")
    with pytest.raises(FailedPrecondition, match="newer"):
        await UnionCatalog.open(postgres_url)


async def test_a_schema_4_catalog_keeps_deduplicating_after_its_keys_gain_sources(tmp_path):
    """Schema 5 copies every stored key with its record's source: a catalog built
    before still merges a new library's copy into the works it already holds."""
    import sqlite3

    path = tmp_path / "union.db"
    catalog = await UnionCatalog.open(path)
    rgb = source("rgb")
    await catalog.commit_page(rgb, [harvested(one(RSL / "01003120729.mrc"), rgb)], [], [])
    await catalog.close()
    with sqlite3.connect(path) as conn:  # match_keys as schema 4 had it
        conn.executescript(
            "CREATE TABLE old_keys (key INTEGER NOT NULL, record_pk INTEGER NOT NULL, "
            "PRIMARY KEY (key, record_pk)) WITHOUT ROWID; "
            "INSERT INTO old_keys SELECT key, record_pk FROM match_keys; "
            "DROP TABLE match_keys; ALTER TABLE old_keys RENAME TO match_keys; "
            "PRAGMA user_version = 4;"
        )
    catalog = await UnionCatalog.open(path)
    try:
        spb = source("spb")
        await catalog.commit_page(spb, [harvested(one(RSL / "01003120729.mrc"), spb)], [], [])
        assert await members(catalog) == [{("RGB", "003120729"), ("SPB", "003120729")}]
    finally:
        await catalog.close()


async def test_a_crowded_title_key_reads_only_the_newest_candidates(catalog, monkeypatch):
    monkeypatch.setattr(storage_module(catalog), "MAX_PER_KEY", 2)
    book = variant(one(RSL / "01003120729.mrc"), isbns=[])
    for number in range(5):  # five editions, one title key
        src = source(f"s{number}")
        await catalog.commit_page(src, [harvested(variant(book, year=2000 + number), src)], [], [])
    late = source("late")
    await catalog.commit_page(late, [harvested(variant(book, year=2004), late)], [], [])
    clusters = await members(catalog)
    assert len(clusters) == 5
    assert {("S4", book.id), ("LATE", book.id)} in clusters


async def test_a_librarys_own_editions_do_not_hide_another_librarys_copy(catalog, monkeypatch):
    """A library with many editions under one title key still finds the one copy
    of another library: its own records are never read as candidates, so they
    cannot use up the per-key limit."""
    monkeypatch.setattr(storage_module(catalog), "MAX_PER_KEY", 2)
    book = variant(one(RSL / "01003120729.mrc"), isbns=[])
    other = source("other")
    await catalog.commit_page(other, [harvested(variant(book, year=1990), other)], [], [])
    mine = source("mine")
    for year in (2001, 2002):  # two later editions, newer than the other library's copy
        edition = variant(book, year=year, id=f"{book.id}-{year}")
        await catalog.commit_page(mine, [harvested(edition, mine)], [], [])
    reprint = variant(book, year=1990, id=f"{book.id}-1990")
    await catalog.commit_page(mine, [harvested(reprint, mine)], [], [])
    clusters = await members(catalog)
    assert {("OTHER", book.id), ("MINE", f"{book.id}-1990")} in clusters
    assert len(clusters) == 3


async def test_overlap_counts_works_held_per_library_and_in_common(catalog):
    """The staff overlap matrix's numbers, counted by the database, agree with a walk
    over every cluster."""
    await feed_rsl_pairs(catalog)
    nlr = source("nlr", "NLR")
    await catalog.commit_page(nlr, [harvested(one(RSL / "NLR005177748.mrc"), nlr)], [], [])
    loc = source("loc", "DLC")
    await catalog.commit_page(loc, [harvested(r, loc) for r in read(DEMO / "loc_general.xml")],
                              [], [])
    overlap = await catalog.overlap()
    held, shared = overlap.held, overlap.shared
    walked_held: dict[str, int] = {}
    walked_shared: dict[tuple[str, str], int] = {}
    async for cluster in catalog.dump():
        libraries = sorted({m["library"] for m in cluster["members"]})
        for a in libraries:
            walked_held[a] = walked_held.get(a, 0) + 1
            for b in libraries:
                if a != b:
                    walked_shared[a, b] = walked_shared.get((a, b), 0) + 1
    assert held == walked_held and shared == walked_shared
    assert shared[("RGB", "RGB-R")] == 3 and held["DLC"] > 50
    assert overlap.share("RGB", "RGB-R") == 3 / held["RGB"] and overlap.share("DLC", "DLC") == 1.0


async def test_a_dropped_postgres_connection_fails_one_call_then_reconnects(
    postgres_url, postgres_server
):
    catalog = await UnionCatalog.open(postgres_url)
    try:
        await feed_rsl_pairs(catalog)
        database = postgres_url.rsplit("/", 1)[1]
        postgres_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            f"WHERE datname = '{database}'")  # fmt: skip
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver says of a lost server
            await catalog.search("история")
        assert (await catalog.search("история")).total == 1
        rgb = source("rgb")
        with pytest.raises(Exception):  # noqa: B017
            await catalog.commit_page(rgb, [harvested(one(RSL / "01005301426.mrc"), rgb)], [], [])
        await catalog.commit_page(rgb, [harvested(one(RSL / "01005301426.mrc"), rgb)], [], [])
        assert (await catalog.stats()).records == 7
    finally:
        await catalog.close()
