"""Incremental, resumable harvesting of one source into the union catalog.

The run's shape, and why:

* ``from`` is the responseDate of the last complete run (in the server's
  granularity), so records changed while a run was going are fetched again next
  time rather than lost.
* Every page is committed together with its checkpoint (the next resumption
  token and the run's ``from``) in one catalog transaction, so a harvester
  killed at any moment resumes at the first uncommitted page and nothing of a
  page is visible half-done.
* Pages are fetched ahead: a quick look at a page's tail predicts its
  resumption token, so the next page is on its way while this one is read (in a
  worker process on a big list, :mod:`~harvester.reading`) and the one before
  is committed. The page's full parse decides; a wrong guess is fetched again.
  Commits stay in list order, each with its own copy of the checkpoint, and a
  commit that has started always finishes before a failure is recorded.
* An expired token (badResumptionToken) restarts the list from the run's
  ``from``: records are re-fetched, never skipped. A token that comes back
  again means the server is looping: the run stops with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from federation.catalog.commit import CommitTimes, Prepared
from federation.catalog.model import QuarantinedRecord, SourceState
from federation.errors import FailedPrecondition, LibfedError, NotFound, Unavailable
from harvester.client import OaiClient, OaiProtocolError
from harvester.page import OaiPage, PageError, predict_list_size, predict_token
from harvester.reading import (
    PROCESS_MIN_RECORDS,
    PageReader,
    ReadPage,
    default_processes,
    trim_heap,
)
from harvester.retry import RetryPolicy
from harvester.sources import Source
from harvester.summary import HarvestSummary

log = logging.getLogger(__name__)

#: Pages between two trims of the heap (see :func:`~harvester.reading.trim_heap`).
TRIM_EVERY = 8
#: Progress callback: the summary so far and the server's completeListSize.
Progress = Callable[[HarvestSummary], None]


class CatalogWriter(Protocol):
    """The part of the union catalog's storage interface a harvester writes to."""

    async def get_source(self, name: str) -> SourceState | None: ...

    async def save_source(self, state: SourceState) -> None: ...

    async def commit_prepared(
        self,
        source_state: SourceState,
        records: list[Prepared],
        deleted: list[str],
        quarantined: list[QuarantinedRecord],
    ) -> CommitTimes: ...

    async def record_error(self, source_name: str, message: str) -> None: ...

    async def unlisted_records(self, source_state: SourceState) -> list[str]: ...


class Harvester:
    """Harvests sources into a catalog; one instance can run many sources."""

    def __init__(
        self,
        catalog: CatalogWriter,
        policy: RetryPolicy | None = None,
        *,
        max_restarts: int = 3,
        progress: Progress | None = None,
        processes: int | None = None,
        process_min_records: int = PROCESS_MIN_RECORDS,
    ) -> None:
        """``processes``: worker processes that read the pages of a list of at
        least ``process_min_records`` (0: read them in a thread of this process;
        None: one per core, see :func:`~harvester.reading.default_processes`)."""
        self.catalog = catalog
        self.policy = policy or RetryPolicy()
        self.max_restarts = max_restarts
        self.progress = progress
        self.processes = default_processes() if processes is None else processes
        self.process_min_records = process_min_records

    async def harvest(self, source: Source, *, full: bool = False) -> HarvestSummary:
        """Harvest ``source``; a failure is recorded on the source and in the summary."""
        summary = HarvestSummary(source.name, source.library, source.url, source.prefix, full=full)
        started = time.monotonic()
        client = OaiClient(source.url, self.policy)
        try:
            state = await self._state(source, full)
            async with _Run(self, client, source, state, summary) as run:
                await run.run()
        except LibfedError as error:
            summary.error = str(error)
            log.error("harvest of %s failed: %s", source.name, error)
            await self._record_error(source, summary.error)
        finally:
            client.close()
            summary.seconds = time.monotonic() - started
        timings = summary.timings
        log.info(
            "harvest of %s: %d records, %d deleted, %d quarantined in %.1f s (reading %.1f s "
            "of CPU, deduplicating %.1f s, storing %.1f s, waiting %.1f s for pages)",
            source.name, summary.records, summary.deleted, summary.quarantined, summary.seconds,
            timings.reading_cpu, timings.deduplicating, timings.storing,
            timings.waiting_for_pages,
        )  # fmt: skip
        return summary

    async def harvest_each(self, sources: list[Source]) -> list[HarvestSummary]:
        """Harvest ``sources`` in turn; one that fails, even unexpectedly, is recorded
        on its source and in its summary, and the others are still harvested."""
        summaries = []
        for source in sources:
            try:
                summary = await self.harvest(source)
            except Exception as error:  # noqa: BLE001 - one bad source must not stop the others
                log.exception("harvest of %s failed", source.name)
                summary = HarvestSummary(source.name, source.library, source.url, source.prefix,
                                         error=f"{type(error).__name__}: {error}")
                await self._record_error(source, summary.error)
            summaries.append(summary)
        return summaries

    async def _record_error(self, source: Source, message: str) -> None:
        """Note the failure on the source, saving the source first if it is new."""
        try:
            await self.catalog.record_error(source.name, message)
        except NotFound:
            state = SourceState(
                source.name, source.library, source.url, source.prefix, source.set_spec
            )
            state.last_error = message
            await self.catalog.save_source(state)

    async def _state(self, source: Source, full: bool) -> SourceState:
        """The saved state, reset where the source's list is no longer the same list."""
        state = await self.catalog.get_source(source.name)
        if state is None:
            return SourceState(
                source.name, source.library, source.url, source.prefix, source.set_spec
            )
        changed = (state.base_url, state.metadata_prefix, state.set_spec) != (
            source.url,
            source.prefix,
            source.set_spec,
        )
        if changed:
            log.warning("%s: URL, prefix or set changed; harvesting everything", source.name)
        if changed or full:
            state.next_from = None
            _clear_checkpoint(state)
        state.library = source.library
        state.base_url, state.metadata_prefix = source.url, source.prefix
        state.set_spec = source.set_spec
        return state


class _Run:
    """One pass over a source's list, page by page, pages fetched and read ahead."""

    def __init__(
        self,
        harvester: Harvester,
        client: OaiClient,
        source: Source,
        state: SourceState,
        summary: HarvestSummary,
    ) -> None:
        self.harvester = harvester
        self.client = client
        self.source = source
        self.state = state
        self.summary = summary
        self.seen_tokens: set[str] = set()
        self.started = time.monotonic()
        self.fetcher = ThreadPoolExecutor(1, thread_name_prefix="oai-fetch")
        self.reader = PageReader.in_thread()
        self.pages = _Pages(self)

    async def __aenter__(self) -> _Run:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.pages.close()
        self.fetcher.shutdown(wait=False, cancel_futures=True)
        self.reader.close()

    async def run(self) -> None:
        granularity = await self._granularity()
        state = self.state
        token = state.resumption_token
        if token is not None:
            self.summary.resumed = True
            run_from, response_date = state.run_from, state.run_response_date
            log.info("%s: resuming a killed run at token %r", self.source.name, token)
        else:
            run_from, response_date = to_granularity(state.next_from, granularity), None
            if run_from is None:  # the whole list: what it leaves out is gone (see _unlisted)
                state.full_run += 1
        self.summary.from_date = run_from
        self.pages.start(token, run_from)
        committing: asyncio.Task[None] | None = None
        try:
            while True:
                page = await self._next_page()
                envelope = page.envelope
                if envelope.error_code == "badResumptionToken" and token is not None:
                    token = None
                    self._restart(run_from)
                    continue
                if envelope.error_code == "noRecordsMatch" and token is None:
                    envelope.error_code, envelope.resumption_token = None, None
                if envelope.error_code is not None:
                    raise OaiProtocolError(envelope.error_code, envelope.error_message)
                response_date = response_date or envelope.response_date or _utc_now()
                token = self._next_token(envelope, token)
                seen = self.summary.records + len(page.records)
                self.read_in_processes_if_big(max(envelope.complete_list_size or 0, seen), token)
                self.pages.follow(token, run_from)
                if committing is not None:
                    waited = time.monotonic()
                    await committing
                    self.summary.timings.waiting_for_commits += time.monotonic() - waited
                checkpoint = self._checkpoint(token, run_from, response_date)
                unlisted = await self._unlisted(page) if token is None and not run_from else []
                committing = asyncio.create_task(self._commit(checkpoint, page, unlisted))
                if token is None:
                    waited = time.monotonic()
                    await committing
                    self.summary.timings.waiting_for_commits += time.monotonic() - waited
                    return
        finally:
            if committing is not None and not committing.done():
                await asyncio.shield(committing)  # a started commit finishes before we report

    async def _next_page(self) -> ReadPage:
        timings, waited = self.summary.timings, time.monotonic()
        try:
            page = await self.pages.next()
        except PageError as error:
            raise self.client.not_a_page(error) from error
        except BrokenProcessPool as error:  # a reader killed (the OOM killer, an operator)
            raise Unavailable(
                f"{self.source.name}: a page reader process died ({error}); the run stops at "
                "its last committed page and the next run goes on from there"
            ) from error
        now = time.monotonic()
        if not timings.first_page:
            timings.first_page = now - self.started
        else:  # until the page was read; what came after was this loop being busy
            timings.waiting_for_pages += max(0.0, min(now, page.read_at) - waited)
        timings.reading_cpu += page.cpu_seconds
        if page.repaired:
            self.client.log_repaired()
        return page

    def read_in_processes_if_big(self, size: int, token: str | None) -> None:
        """Move reading to worker processes once the list shows itself big: ``size``
        records (announced or seen), and more pages to come after ``token``."""
        processes = self.harvester.processes
        if self.reader.in_processes or not processes or token is None:
            return
        if size < self.harvester.process_min_records:
            return
        log.info("%s: a big list; reading pages in %d worker process(es)", self.source.name,
                 processes)  # fmt: skip
        try:
            readers = PageReader.in_processes(processes)
        except OSError as error:  # no semaphores here (a container without /dev/shm…)
            log.warning("%s: cannot start reader processes (%s); reading in this process",
                        self.source.name, error)
            self.harvester.processes = 0
            return
        thread, self.reader = self.reader, readers
        self.summary.timings.reader_processes = processes
        thread.close(drop_queued=False)  # the pages handed to it are still read there

    async def _unlisted(self, page: ReadPage) -> list[str]:
        """At the end of a full list: the stored records no page listed, to remove.

        Servers that keep no deletions (deletedRecord "no" or "transient") just
        stop listing a withdrawn record; only a full list shows that it is gone.
        Two guards, because a server that cuts its list short looks the same: a
        list with no records removes nothing, and a list that would lose more
        records than it still has removes nothing unless an operator asked for
        this run (``--full``). Both say so in the log.
        """
        listed = {r.oai_identifier for r in page.records} | set(page.deleted)
        listed |= {q.oai_identifier for q in page.quarantined}
        unlisted = await self.harvester.catalog.unlisted_records(self.state)
        gone = [oai for oai in unlisted if oai not in listed]
        if not gone:
            return []
        stored = await self.harvester.catalog.get_source(self.source.name)
        # Stamped by this run's earlier pages (counted from the catalog, so a resumed
        # run counts the pages committed before it was killed), plus this last page.
        seen = (stored.records if stored else 0) - len(unlisted) + len(listed)
        if seen <= 0 or (len(gone) > seen and not self.summary.full):
            log.warning(
                "%s: the list had %d records but %d stored ones were missing from it; "
                "keeping them (a server cutting its list short?) - run with --full to remove "
                "them if the library really withdrew them", self.source.name, max(seen, 0),
                len(gone),
            )
            return []
        log.info("%s: removing %d records the server no longer lists", self.source.name, len(gone))
        return gone

    async def _granularity(self) -> str:
        """The granularity Identify announces; day granularity when Identify fails,
        as some servers' does while their lists work."""
        loop = asyncio.get_running_loop()
        try:
            identify = await loop.run_in_executor(
                self.fetcher, self.client.fetch_page, {"verb": "Identify"}
            )
        except FailedPrecondition as error:
            log.warning(
                "%s: Identify failed (%s); assuming day granularity", self.source.name, error
            )
            return "YYYY-MM-DD"
        return identify.identify.get("granularity") or "YYYY-MM-DD"

    def params(self, token: str | None, run_from: str | None) -> dict[str, str]:
        """The ListRecords arguments of the page after ``token`` (the first when None)."""
        if token is not None:
            return {"verb": "ListRecords", "resumptionToken": token}
        params = {"verb": "ListRecords", "metadataPrefix": self.source.prefix}
        if self.source.set_spec:
            params["set"] = self.source.set_spec
        if run_from:
            params["from"] = run_from
        return params

    def _restart(self, run_from: str | None) -> None:
        self.summary.restarts += 1
        if self.summary.restarts > self.harvester.max_restarts:
            raise FailedPrecondition(
                f"{self.source.url}: resumption tokens keep expiring "
                f"({self.summary.restarts} restarts); giving up"
            )
        log.warning(
            "%s: resumption token expired; restarting the list from %s",
            self.source.name,
            run_from or "the beginning",
        )
        self.seen_tokens.clear()
        self.pages.start(None, run_from)

    def _next_token(self, page: OaiPage, token: str | None) -> str | None:
        new = page.resumption_token
        if new is not None and (new == token or new in self.seen_tokens):
            raise FailedPrecondition(
                f"{self.source.url}: resumption token {new!r} repeated without progress "
                f"after {self.summary.pages + 1} pages; the server is looping"
            )
        if new is not None:
            self.seen_tokens.add(new)
        if page.complete_list_size is not None and self.summary.expected is None:
            self.summary.expected = page.complete_list_size
        return new

    def _checkpoint(
        self, token: str | None, run_from: str | None, response_date: str
    ) -> SourceState:
        """The source's state to commit with a page: a copy, as the run goes on meanwhile."""
        state = self.state
        state.resumption_token = token
        if token is not None:
            state.run_from, state.run_response_date = run_from, response_date
        else:
            _clear_checkpoint(state)
            state.next_from = response_date
            state.last_harvest = _utc_now()
            state.last_error = None
            self.summary.next_from = response_date
        return replace(state)

    async def _commit(self, state: SourceState, page: ReadPage, unlisted: list[str]) -> None:
        records, deleted, quarantined = page.records, page.deleted, page.quarantined
        times = await self.harvester.catalog.commit_prepared(
            state, records, deleted + unlisted, quarantined
        )
        self.summary.timings.add_commit(times.deduplicating, times.storing)
        for item in quarantined:
            log.warning(
                "%s: quarantined %s: %s", self.source.name, item.oai_identifier, item.reason
            )
        summary = self.summary
        summary.pages += 1
        summary.records += len(records)
        summary.deleted += len(deleted)
        summary.unlisted += len(unlisted)
        summary.quarantined += len(quarantined)
        summary.seconds = time.monotonic() - self.started
        if summary.pages % TRIM_EVERY == 0:
            trim_heap()
        log.info(
            "%s: page %d committed (%d records, %d deleted, %d quarantined)",
            self.source.name,
            summary.pages,
            len(records),
            len(deleted),
            len(quarantined),
        )
        if self.harvester.progress is not None:
            self.harvester.progress(summary)


@dataclass(slots=True)
class _Ahead:
    """A page fetched ahead: its reading, and the token the fetching went on with."""

    reading: asyncio.Future[ReadPage]
    continued: str | None


class _Pages:
    """A run's pages in list order, each fetched as soon as its token is guessed.

    The producer fetches page N+1 by the token :func:`predict_token` saw at the
    end of page N and hands every page to the run's reader; at most ``DEPTH``
    pages wait to be taken. The run calls :meth:`follow` with each page's real
    token: when the guess was right nothing happens, otherwise the pages fetched
    ahead are dropped and fetching starts again from the real token.
    """

    DEPTH = 2

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.queue: asyncio.Queue[_Ahead] = asyncio.Queue(self.DEPTH)
        self.producer: asyncio.Task[None] | None = None
        self.current: _Ahead | None = None

    def start(self, token: str | None, run_from: str | None) -> None:
        """Fetch from the page after ``token`` (the list's first page when None)."""
        self.close()
        self.producer = asyncio.create_task(self._produce(token, run_from))

    async def next(self) -> ReadPage:
        """The next page of the list, read (or the error fetching or reading it)."""
        self.current = await self.queue.get()
        return await self.current.reading

    def follow(self, token: str | None, run_from: str | None) -> None:
        """Go on after the page just taken, whose real next token is ``token``."""
        assert self.current is not None
        if self.current.continued == token:
            return
        if token is None:
            self.close()
        else:
            self.start(token, run_from)

    def close(self) -> None:
        """Stop fetching and drop what was fetched ahead."""
        if self.producer is not None:
            self.producer.cancel()
            self.producer = None
        while not self.queue.empty():
            self.queue.get_nowait().reading.cancel()

    async def _produce(self, token: str | None, run_from: str | None) -> None:
        run, loop = self.run, asyncio.get_running_loop()
        fetched = {token}
        while True:
            try:
                data = await loop.run_in_executor(
                    run.fetcher, run.client.fetch_blocking, run.params(token, run_from)
                )
                predicted = predict_token(data)
                # Decided before the page is handed to a reader: the thread would
                # otherwise read the first pages of a big list under our GIL.
                run.read_in_processes_if_big(predict_list_size(data) or 0, predicted)
                reading = run.reader.read(data, run.source.name, run.source.library)
            except Exception as error:  # noqa: BLE001 - reported when the run takes this page
                # (a failed fetch, or readers that died: the run must hear of it, not wait)
                failed: asyncio.Future[ReadPage] = loop.create_future()
                failed.set_exception(error)
                await self.queue.put(_Ahead(failed, None))
                return
            if predicted in fetched:  # a looping server: the run will say so
                predicted = None
            fetched.add(predicted)
            reading.add_done_callback(_seen)
            await self.queue.put(_Ahead(reading, predicted))
            if predicted is None:
                return
            token = predicted


def _seen(future: asyncio.Future) -> None:
    """Mark a page's failure as seen: a page fetched ahead and then dropped must
    not log "exception never retrieved"; the run sees the failures it takes."""
    if not future.cancelled():
        future.exception()


def to_granularity(stamp: str | None, granularity: str) -> str | None:
    """A UTC timestamp written in the granularity the server's Identify announced."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    if "hh" in granularity:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.strftime("%Y-%m-%d")


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clear_checkpoint(state: SourceState) -> None:
    state.resumption_token = None
    state.run_from = None
    state.run_response_date = None
