"""Harvesting real recorded OAI-PMH data from flaky, sloppy servers into a real catalog."""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from federation.catalog import UnionCatalog
from harvester import Harvester, RetryPolicy, adhoc_source
from tests.harvester.conftest import snapshot, stored_ids
from tests.harvester.oai_server import (
    Fault,
    OaiServer,
    PagedRepository,
    ReplayRepository,
    StoredRecord,
    records_from,
)

FAST = RetryPolicy(retries=3, backoff=0.01, max_delay=2.0, timeout=5.0)


async def _harvest(path: Path, url: str, library: str = "DNB", **options):
    full = options.pop("full", False)
    catalog = await UnionCatalog.open(path)
    try:
        harvester = Harvester(catalog, options.pop("policy", FAST), **options)
        summary = await harvester.harvest(adhoc_source(url, library, prefix="marc21"), full=full)
        state = await catalog.get_source(library)
    finally:
        await catalog.close()
    return summary, state


async def test_zenodo_token_chain_is_followed_to_its_end(tmp_path: Path, oai_fixtures: Path):
    """Three recorded Zenodo pages chained by their real tokens, one deleted header."""
    repository = ReplayRepository(sorted(oai_fixtures.glob("zenodo_ListRecords_*.xml")))
    async with OaiServer(repository) as server:
        catalog = await UnionCatalog.open(tmp_path / "c.db")
        source = adhoc_source(server.url, "ZENODO", prefix="oai_dc")
        summary = await Harvester(catalog, FAST).harvest(source)
        state = await catalog.get_source("ZENODO")
        await catalog.close()
    assert summary.ok, summary.error
    assert (summary.pages, summary.records, summary.deleted) == (3, 8, 1)
    assert [r.get("resumptionToken", "")[:12] for r in repository.requests[1:]] == [
        "",
        ".eJwlzEuOgjA",
        ".eJwlzEuOgjA",
    ]
    # The next run asks for what changed since the first page's responseDate (day granularity).
    assert state.next_from == "2026-08-13T17:56:48Z"
    assert state.resumption_token is None
    assert len(stored_ids(tmp_path / "c.db")) == 8


async def test_incremental_run_fetches_changes_and_deletions_only(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    repository = PagedRepository(dnb_records, page_size=20, granularity="YYYY-MM-DD")
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        first, state = await _harvest(db, server.url)
        assert first.ok and first.records == 50 and first.pages == 3
        assert state.next_from == "2026-11-28T10:00:00Z"

        gone, changed = dnb_records[3].identifier, dnb_records[7].identifier
        repository.now = "2026-11-29T09:00:00Z"
        repository.change(gone, datestamp="2026-11-28T12:00:00Z", deleted=True)
        repository.change(changed, datestamp="2026-11-28T12:00:00Z")
        second, state = await _harvest(db, server.url)

    # `from` is written in the server's granularity (days), from the last run's responseDate.
    assert repository.list_requests()[-1]["from"] == "2026-11-28"
    assert (second.records, second.deleted, second.from_date) == (1, 1, "2026-11-28")
    assert state.next_from == "2026-11-29T09:00:00Z"
    assert gone not in stored_ids(db)
    assert changed in stored_ids(db) and len(stored_ids(db)) == 49


async def test_no_records_match_on_an_incremental_run_is_success(
    tmp_path: Path, dnb_records: list[StoredRecord], oai_fixtures: Path
):
    repository = PagedRepository(dnb_records[:5], page_size=10)
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        await _harvest(db, server.url)
        before = snapshot(db)
        repository.now = "2026-11-30T00:00:00Z"
        quiet, _ = await _harvest(db, server.url)  # our server: noRecordsMatch, HTTP 200
        body = (oai_fixtures / "zenodo_error_noRecordsMatch.xml").read_bytes()
        repository.faults = [Fault(status=422, body=body)]  # Zenodo's: the same, with HTTP 422
        zenodo_style, state = await _harvest(db, server.url)
    assert quiet.ok and quiet.records == 0
    assert zenodo_style.ok and zenodo_style.records == 0
    assert state.next_from == "2026-08-13T18:19:00Z"  # the responseDate of that answer
    assert snapshot(db) == before


async def test_busy_then_broken_then_good_pages_lose_nothing(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    """503 + Retry-After (an HTTP date), then 500, then the pages: every record arrives."""
    repository = PagedRepository(dnb_records, page_size=25)
    retry_at = formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1-2 s away
    repository.faults = [
        Fault(),
        Fault(status=503, headers={"Retry-After": retry_at}),
        Fault(status=500),
    ]
    db = tmp_path / "c.db"
    started = time.monotonic()
    async with OaiServer(repository) as server:
        summary, _ = await _harvest(db, server.url)
    assert summary.ok, summary.error
    assert time.monotonic() - started >= 1.0  # the Retry-After date was honoured
    assert len(repository.list_requests()) == 4
    assert len(stored_ids(db)) == 50


async def test_a_server_that_keeps_failing_leaves_the_catalog_as_it_was(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    repository = PagedRepository(dnb_records, page_size=25)
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        await _harvest(db, server.url)
        before = snapshot(db)
        repository.change(dnb_records[0].identifier, datestamp="2026-11-29T00:00:00Z", deleted=True)
        repository.faults = [Fault(status=500)] * 10
        summary, state = await _harvest(db, server.url)
    assert not summary.ok
    assert "failed after 4 attempts: HTTP 500" in summary.error
    assert state.last_error == summary.error
    assert snapshot(db) == before
    assert state.next_from == "2026-11-28T10:00:00Z"  # the next run asks for the same again


async def test_control_characters_and_broken_utf8_are_cleaned(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    repository = PagedRepository(dnb_records[:10], page_size=10)
    repository.faults = [Fault(inject=b"\x01\x0b\x1f\xef\xbf\xbf\xc3")]
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        summary, _ = await _harvest(db, server.url)
    assert summary.ok and (summary.records, summary.quarantined) == (10, 0)
    assert len(stored_ids(db)) == 10


async def test_unreadable_records_go_to_quarantine_and_the_harvest_goes_on(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    broken = [
        StoredRecord(
            "oai:test:no-leader",
            "2026-01-01",
            False,
            b'<record xmlns="http://www.loc.gov/MARC21/slim"><datafield tag="245" ind1="0" ind2="0"><subfield code="a">x</subfield></datafield><leader>bad</leader></record>',
        ),
        StoredRecord(
            "oai:test:unknown",
            "2026-01-01",
            False,
            b'<mods xmlns="http://www.loc.gov/mods/v3"><titleInfo/></mods>',
        ),
    ]
    repository = PagedRepository(dnb_records[:10] + broken, page_size=5)
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        summary, _ = await _harvest(db, server.url)
    assert summary.ok and summary.records + summary.quarantined == 12
    quarantine = {row[1]: (row[2], row[3]) for row in snapshot(db)["quarantine"]}
    assert "oai:test:unknown" in quarantine
    reason, raw = quarantine["oai:test:unknown"]
    assert "unsupported metadata format" in reason and raw.startswith(b"<mods")


async def test_an_expired_token_restarts_from_the_runs_from_without_losing_records(
    tmp_path: Path, dnb_records: list[StoredRecord], oai_fixtures: Path
):
    repository = PagedRepository(dnb_records, page_size=10)
    zenodo_body = (oai_fixtures / "zenodo_error_badResumptionToken.xml").read_bytes()
    # Page 2 fails with our own badResumptionToken, later page 3 with Zenodo's (HTTP 422).
    repository.faults = [
        Fault(),
        Fault(expire=True),
        Fault(),
        Fault(),
        Fault(status=422, body=zenodo_body),
    ]
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        summary, _ = await _harvest(db, server.url)
    assert summary.ok, summary.error
    assert summary.restarts == 2
    assert len(stored_ids(db)) == 50
    first_pages = [r for r in repository.list_requests() if "resumptionToken" not in r]
    assert len(first_pages) == 3


async def test_pages_read_in_a_worker_process_make_the_same_catalog(
    tmp_path: Path, dnb_records: list[StoredRecord], caplog: pytest.LogCaptureFixture
):
    """A big list's pages are read in a worker process: the catalog is the same as
    when they are read in a thread, record for record, quarantine and deletions too."""
    mods = b'<mods xmlns="http://www.loc.gov/mods/v3"><titleInfo/></mods>'
    records = [
        *dnb_records[:20],
        StoredRecord("oai:test:unknown", "2026-01-01", False, mods),
        StoredRecord("oai:test:gone", "2026-01-01", True, b""),
        *dnb_records[20:],
    ]
    repository = PagedRepository(records, page_size=10)
    async with OaiServer(repository) as server:
        repository.faults = [Fault(), Fault(inject=b"\x01\xc3")]  # page 2 needs repairing
        in_thread, _ = await _harvest(tmp_path / "thread.db", server.url, processes=0)
        repository.faults = [Fault(), Fault(inject=b"\x01\xc3")]
        caplog.clear()
        caplog.set_level(logging.INFO, logger="harvester")
        in_worker, _ = await _harvest(
            tmp_path / "worker.db", server.url, processes=1, process_min_records=1
        )
    assert "reading pages in 1 worker process" in caplog.text
    assert "page repaired" in caplog.text
    assert in_worker.ok, in_worker.error
    assert (in_worker.records, in_worker.quarantined, in_worker.deleted) == (50, 1, 1)
    assert (in_thread.records, in_thread.quarantined, in_thread.deleted) == (50, 1, 1)
    assert in_worker.timings.reader_processes == 1 and in_thread.timings.reader_processes == 0
    assert in_worker.timings.reading_cpu > 0  # measured in the worker, sent back with each page
    assert snapshot(tmp_path / "worker.db") == snapshot(tmp_path / "thread.db")


async def test_a_page_reader_killed_mid_run_fails_the_run_cleanly(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    """The OOM killer takes a reader process: the run stops at its last committed page
    with the reason on the source (it neither hangs nor escapes), and the next run
    goes on to the end."""
    import multiprocessing
    import os
    import signal

    repository = PagedRepository(dnb_records, page_size=5)
    repository.delay = 0.2
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        harvesting = asyncio.create_task(
            _harvest(db, server.url, processes=1, process_min_records=1)
        )
        for _ in range(200):
            readers = multiprocessing.active_children()
            if readers and len(stored_ids(db)) if db.exists() else False:
                break
            await asyncio.sleep(0.05)
        assert readers, "the list is read in a worker process"
        os.kill(readers[0].pid, signal.SIGKILL)
        summary, state = await asyncio.wait_for(harvesting, 30)
        assert not summary.ok and "page reader process died" in summary.error
        assert state.last_error == summary.error and state.resumption_token is not None
        repository.delay = 0.0
        again, _ = await _harvest(db, server.url)
    assert again.ok and again.resumed
    assert len(stored_ids(db)) == 50


async def test_a_repeated_token_stops_the_run_with_a_clear_error(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    repository = PagedRepository(dnb_records, page_size=10)
    repository.loop_token = True
    async with OaiServer(repository) as server:
        summary, state = await _harvest(tmp_path / "c.db", server.url)
    assert not summary.ok
    assert "repeated without progress" in summary.error
    assert state.last_error == summary.error
    assert len(repository.list_requests()) == 2


async def test_a_failed_run_resumes_at_its_checkpoint_even_when_the_token_expired(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    """Pages committed before the failure stay; the next run goes on from there, and
    when the saved token has expired meanwhile, restarts from the saved `from`."""
    repository = PagedRepository(dnb_records, page_size=10)
    repository.faults = [Fault(), Fault(), *[Fault(status=500)] * 4]
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        failed, state = await _harvest(db, server.url)
        assert not failed.ok and failed.pages == 2
        assert state.resumption_token is not None and state.last_error == failed.error
        assert len(stored_ids(db)) == 20

        again, state = await _harvest(db, server.url)  # the token is still good: resume
        assert again.ok and again.resumed and again.records == 30
        assert "resumptionToken" in repository.list_requests()[-3]

        repository.faults = [Fault(), Fault(), *[Fault(status=500)] * 4]
        repository.now = "2026-11-29T00:00:00Z"
        for record in dnb_records:
            repository.change(record.identifier, datestamp="2026-11-28T11:00:00Z")
        await _harvest(db, server.url)
        repository.expire_tokens()
        expired, state = await _harvest(db, server.url)
    assert expired.ok and expired.resumed and expired.restarts == 1
    assert expired.from_date == "2026-11-28T10:00:00Z"
    assert state.next_from == "2026-11-29T00:00:00Z" and state.last_error is None
    assert len(stored_ids(db)) == 50


@pytest.mark.parametrize(
    ("fixture", "prefix", "records", "deleted"),
    [
        ("xbib-zdb-oai-marc.xml", "MARC21-xml", 50, 0),  # DNB, slim: prefixed namespace
        ("ucldc-testOAI-tind.xml", "marcxml", 5, 0),  # Berkeley TIND, marc: prefix
        ("ucldc-testOAI-128-records.xml", "oai_dc", 128, 0),  # California Digital Library
        ("ucldc-testOAI.xml", "oai_dc", 3, 5),
        ("zenodo_ListRecords_oai_dc_from2026-04-01.xml", "oai_dc", 50, 0),  # Cyrillic among them
    ],
)
async def test_every_real_format_feeds_the_catalog(
    tmp_path: Path, oai_fixtures: Path, fixture: str, prefix: str, records: int, deleted: int
):
    repository = PagedRepository(records_from(oai_fixtures / fixture), page_size=40)
    async with OaiServer(repository) as server:
        catalog = await UnionCatalog.open(tmp_path / "c.db")
        source = adhoc_source(server.url, "LIB", prefix=prefix)
        summary = await Harvester(catalog, FAST).harvest(source)
        await catalog.close()
    assert summary.ok, summary.error
    assert (summary.records, summary.deleted, summary.quarantined) == (records, deleted, 0)
    assert repository.list_requests()[0]["metadataPrefix"] == prefix
    assert len(stored_ids(tmp_path / "c.db")) == records


async def test_a_harvested_russian_title_is_found_by_a_reader(tmp_path: Path, oai_fixtures: Path):
    """Zenodo's Cyrillic record, harvested as oai_dc, is found in lower case."""
    fixture = oai_fixtures / "zenodo_ListRecords_oai_dc_from2026-04-01.xml"
    repository = PagedRepository(records_from(fixture), page_size=25)
    async with OaiServer(repository) as server:
        catalog = await UnionCatalog.open(tmp_path / "c.db")
        await Harvester(catalog, FAST).harvest(adhoc_source(server.url, "ZEN", prefix="oai_dc"))
        found = await catalog.search("приверженности лечению")
        await catalog.close()
    assert found.total == 1
    assert found.results[0].title.startswith("СОВРЕМЕННЫЕ ПРОБЛЕМЫ ПРИВЕРЖЕННОСТИ")
    assert found.results[0].libraries == ["ZEN"]


async def test_timeouts_and_dropped_connections_are_retried(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    repository = PagedRepository(dnb_records, page_size=25)
    repository.faults = [Fault(), Fault(sleep=1.0), Fault(drop=True)]
    policy = RetryPolicy(retries=3, backoff=0.01, timeout=0.3)
    async with OaiServer(repository) as server:
        summary, _ = await _harvest(tmp_path / "c.db", server.url, policy=policy)
    assert summary.ok, summary.error
    assert len(repository.list_requests()) == 4
    assert len(stored_ids(tmp_path / "c.db")) == 50


async def test_a_server_nobody_answers_at_fails_with_the_reason(tmp_path: Path):
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/oai"
    summary, state = await _harvest(tmp_path / "c.db", url)
    assert not summary.ok
    assert "failed after 4 attempts: ConnectionError" in summary.error
    assert state.last_error == summary.error and state.next_from is None


async def test_a_full_run_removes_what_the_server_no_longer_lists(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    """A server without persistent deletions just stops listing a withdrawn record:
    --full then makes the catalog what a clean harvest of today's list would be."""
    repository = PagedRepository(dnb_records[:30], page_size=7)
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        first, _ = await _harvest(db, server.url)
        assert first.ok and (first.records, first.unlisted) == (30, 0)
        withdrawn = [record.identifier for record in dnb_records[:3]]
        for oai in withdrawn:
            del repository.records[oai]
        repository.now = "2026-11-29T10:00:00Z"
        incremental, _ = await _harvest(db, server.url)
        assert incremental.ok and incremental.unlisted == 0  # a from-list says nothing of them
        assert set(withdrawn) <= stored_ids(db)
        full, _ = await _harvest(db, server.url, full=True)
        assert full.ok and (full.records, full.deleted, full.unlisted) == (27, 0, 3)
        clean, _ = await _harvest(tmp_path / "clean.db", server.url)
    assert not set(withdrawn) & stored_ids(db)
    assert snapshot(db) == snapshot(tmp_path / "clean.db")


async def test_a_full_list_with_nothing_in_it_removes_nothing(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    repository = PagedRepository(dnb_records[:10], page_size=7)
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        await _harvest(db, server.url)
        repository.records.clear()  # a misconfigured server: noRecordsMatch for everything
        full, _ = await _harvest(db, server.url, full=True)
    assert full.ok and (full.records, full.unlisted) == (0, 0)
    assert len(stored_ids(db)) == 10


async def test_a_list_cut_short_removes_nothing_unless_an_operator_asks(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    """A server that suddenly lists a third of its records (a broken index, a filter
    glitch) must not empty the catalog on an automatic full run; --full confirms."""
    repository = PagedRepository(dnb_records[:30], page_size=7)
    db = tmp_path / "c.db"
    async with OaiServer(repository) as server:
        await _harvest(db, server.url)
        for record in dnb_records[10:30]:
            del repository.records[record.identifier]
        moved = adhoc_source(server.url + "?", "DNB", prefix="marc21")  # the URL changed
        catalog = await UnionCatalog.open(db)
        try:
            changed = await Harvester(catalog, FAST).harvest(moved)
        finally:
            await catalog.close()
        assert changed.ok
        assert changed.records == 10 and changed.unlisted == 0 and len(stored_ids(db)) == 30
        confirmed, _ = await _harvest(db, server.url, full=True)
    assert confirmed.ok and confirmed.unlisted == 20
    assert {r.identifier for r in dnb_records[:10]} <= stored_ids(db)
