"""Reading a fetched page: the CPU-heavy half of harvesting, in a worker process.

Fetching a page is waiting; reading it is work — parsing the XML, MARCXML →
Record, match data, JSON: about three quarters of a harvest's CPU time. So a
run hands each page's bytes to a *reader* and keeps fetching and committing
meanwhile. On a big list the reader is a worker process, which puts the
machine's second core to work and leaves the harvesting process (a coordinator
serving gRPC and web pages, say) a free event loop; on a small list, where
starting a process would cost more than it saves, a thread of the harvesting
process. Both run :func:`read_page`, and what it returns is plain values, cheap
to send between processes (about 10 µs a record).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from federation.catalog.commit import Prepared, prepare
from federation.catalog.model import HarvestedRecord, QuarantinedRecord
from harvester.formats import convert
from harvester.page import OaiPage, parse_repairing

#: A list announcing at least this many records is read in worker processes.
PROCESS_MIN_RECORDS = 5_000


@dataclass(slots=True)
class ReadPage:
    """One page, read: its OAI envelope (without the records) and what to commit."""

    envelope: OaiPage
    records: list[Prepared]
    deleted: list[str]
    quarantined: list[QuarantinedRecord]
    #: The page needed repairing (broken UTF-8, characters XML forbids).
    repaired: bool


def read_page(data: bytes, source: str) -> ReadPage:
    """Parse a page and prepare its records for ``source``'s commit.

    Raises :class:`~harvester.page.PageError` when the bytes are no OAI-PMH
    response. A record that cannot be read goes to quarantine, never raises.
    """
    envelope, repaired = parse_repairing(data)
    items, envelope.records = envelope.records, []
    records: list[Prepared] = []
    deleted: list[str] = []
    quarantined: list[QuarantinedRecord] = []
    for item in items:
        if item.deleted:
            deleted.append(item.identifier)
            continue
        result = convert(item)
        if isinstance(result, HarvestedRecord):
            records.append(prepare(result, source))
        else:
            quarantined.append(result)
    return ReadPage(envelope, records, deleted, quarantined, repaired)


def default_processes() -> int:
    """Worker processes for big lists: one when there is a core to spare."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def thread_reader() -> Executor:
    # One thread, reused: it keeps its own malloc arena (a thread per call would
    # spread lxml's and pymarc's allocations over many arenas: +100 MB RSS).
    return ThreadPoolExecutor(1, thread_name_prefix="oai-read")


def process_reader(processes: int) -> Executor:
    """Worker processes, spawned (the harvesting process has threads; forking
    one with threads is unsafe)."""
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
