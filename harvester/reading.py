"""Reading a fetched page: the CPU-heavy half of harvesting, in a worker process.

Fetching a page is waiting; reading it is work — parsing the XML, MARCXML →
Record, match data, JSON: about three quarters of a harvest's CPU time. So a
run hands each page's bytes to a *reader* and keeps fetching and committing
meanwhile. On a big list the readers are worker processes, which put the
machine's other cores to work and leaves the harvesting process (a coordinator
serving gRPC and web pages, say) a free event loop; on a small list, where
starting a process would cost more than it saves, a thread of the harvesting
process. Both run :func:`read_page`, and what it returns is plain values, cheap
to send between processes (about 10 µs a record).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from federation.catalog.commit import Prepared, prepare
from federation.catalog.model import HarvestedRecord, QuarantinedRecord
from federation.pickling import pickled_by_fields
from harvester.formats import convert
from harvester.page import OaiPage, parse_repairing

#: A list announcing at least this many records is read in worker processes. Since a
#: reader starts in 0.27 s of CPU, processes break even at ~1,500 of the node
#: benchmark's records (0.87-1.00 s either way, three runs each) and win above:
#: 4,951 records, 2.3-2.9 s against 3.1-3.4 s in a thread.
PROCESS_MIN_RECORDS = 2_000


@pickled_by_fields
@dataclass(slots=True)
class ReadPage:
    """One page, read: its OAI envelope (without the records) and what to commit."""

    envelope: OaiPage
    records: list[Prepared]
    deleted: list[str]
    quarantined: list[QuarantinedRecord]
    #: The page needed repairing (broken UTF-8, characters XML forbids).
    repaired: bool
    #: CPU time reading it took (in the thread or process that read it).
    cpu_seconds: float
    #: When reading it ended (``time.monotonic``, one clock for every process here).
    read_at: float


def read_page(data: bytes, source: str, library: str) -> ReadPage:
    """Parse a page and prepare its records for the commit of ``source``, whose
    records ``library`` holds.

    Raises :class:`~harvester.page.PageError` when the bytes are no OAI-PMH
    response. A record that cannot be read goes to quarantine, never raises.
    """
    started = time.thread_time()
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
            records.append(prepare(result, source, library))
        else:
            quarantined.append(result)
    cpu = time.thread_time() - started
    return ReadPage(envelope, records, deleted, quarantined, repaired, cpu, time.monotonic())


def default_processes() -> int:
    """Worker processes for big lists: one per core, at most four; none on one core.

    The harvesting process itself needs about half as much CPU as reading does
    (fetching, deduplicating, committing), so on two cores two readers keep both
    busy: 30,000 records, one run, 6,300-6,590 rec/s with two readers against
    5,400-5,535 with one and 4,650-4,830 with reading in a thread.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 4)


class PageReader:
    """Where a run's pages are read: a thread of this process, or worker processes."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self.in_processes = isinstance(executor, ProcessPoolExecutor)

    @classmethod
    def in_thread(cls) -> PageReader:
        # One thread, reused: it keeps its own malloc arena (a thread per call would
        # spread lxml's and pymarc's allocations over many arenas: +100 MB RSS).
        return cls(ThreadPoolExecutor(1, thread_name_prefix="oai-read"))

    @classmethod
    def in_processes(cls, processes: int) -> PageReader:
        """Worker processes, spawned (the harvesting process has threads; forking one
        with threads is unsafe), and niced: reading is batch work, and a coordinator
        or node on the same machine must keep answering while a big list is read."""
        pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_reader,
            initargs=(os.getpid(),),
        )
        return cls(pool)

    def read(self, data: bytes, source: str, library: str) -> asyncio.Future[ReadPage]:
        """Start reading a page; the future has its :class:`ReadPage`."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, read_page, data, source, library)

    def close(self, *, drop_queued: bool = True) -> None:
        """Stop taking pages; a page already being read is finished, and so are the
        queued ones unless ``drop_queued`` (a run that ends drops them, a run moving
        to other readers still needs them)."""
        self._executor.shutdown(wait=False, cancel_futures=drop_queued)


#: Allocations between two young-generation collections while harvesting (CPython: 700).
GC_THRESHOLD = 20_000


def collect_less() -> None:
    """Run the cyclic garbage collector less often, in a process that harvests.

    Unpickling or reading a page of 500 records makes some 50,000 objects, almost
    all freed by reference counting, yet each 700 of them started a collection:
    the harvesting process spent 0.5-0.66 s of a 20,000-record run in 860
    collections, and 0.03 s in 5 with this threshold (a reader process about 4%
    of its time). The few cycles (tracebacks, futures) are still collected.
    """
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def trim_heap() -> None:
    """Hand freed memory back to the system: glibc keeps it, fragmented, and a
    harvesting process grew to 171 MB of heap over 100,000 records, 142 MB when
    trimmed every 8 pages (trimming every page cost 8% of the rate in refaults)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


def _start_reader(harvester_pid: int) -> None:
    """In each reader process: lower its priority, and end it with the harvester.

    A reader waits for pages on a queue whose writing end it holds itself, so a
    harvester killed outright (SIGKILL, the machine's OOM killer) would leave its
    readers waiting for ever; each watches that its harvester is still its parent.
    """
    collect_less()
    try:
        os.nice(5)
    except OSError:  # not allowed here: read at normal priority
        pass
    threading.Thread(
        target=_exit_with, args=(harvester_pid,), name="harvester-watch", daemon=True
    ).start()


def _exit_with(harvester_pid: int) -> None:
    while os.getppid() == harvester_pid:
        time.sleep(1.0)
    os._exit(1)
