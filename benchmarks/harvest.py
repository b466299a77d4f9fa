"""Harvest benchmark: an OAI-PMH endpoint of real MARCXML records → deduplicated catalog.

The endpoint is a small aiohttp server in its own process, rendering pages on
the fly from real records (tests/fixtures/oai) replicated under new ids, new
ISBNs and a distinguishing title word, so each replica is a work of its own.

Figures, all from one run over the same endpoint:

* libfed end to end: fetch, clean, parse, MARCXML → Record, dedup, FTS index,
  commit with checkpoint (goal >= 5,000 rec/s);
* sickle's bare ``ListRecords`` iteration (nothing stored) and libfed's ratio to
  it (goal >= 1.0×);
* peak RSS of a `libfed harvest` process over 1,000,000 records (goal <= 300 MB;
  skipped with --quick), as VmHWM and as the sampled peak of its heap (RssAnon).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import Row

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "oai"
TEMPLATE_FILES = ("xbib-zdb-oai-marc.xml", "ucldc-testOAI-tind.xml")
PAGE_SIZE = 500
#: Each of sickle and libfed runs this many times, alternately, over the same endpoint.
ROUNDS = 2
_SLIM = "http://www.loc.gov/MARC21/slim"
#: Identifier fields dropped from the templates: every replica gets its own ISBN.
_ID_TAGS = {"001", "010", "015", "016", "020", "022", "024", "035"}


def run(quick: bool) -> list[Row]:
    """Measure libfed against sickle on 100,000 records (10,000 with --quick)."""
    count = 10_000 if quick else 100_000
    rows: list[Row] = []
    sickle_rates, libfed_rates = [], []
    with _Endpoint(count) as url, tempfile.TemporaryDirectory() as folder:
        bare_rate = _libfed_bare_rate(url)
        # Alternately, twice each: a busy moment of the machine then weighs on both.
        for attempt in range(ROUNDS):
            sickle_rates.append(_sickle_rate(url))
            started = time.perf_counter()
            catalog = Path(folder) / f"catalog-{attempt}.db"
            summary, searchable = asyncio.run(_libfed_harvest(url, catalog))
            libfed_rates.append(summary.records / (time.perf_counter() - started))
    sickle_rate = statistics.mean(sickle_rates)
    libfed_rate = statistics.mean(libfed_rates)
    rows.append(
        Row(
            f"harvest {count:,} MARCXML → catalog",
            libfed_rate,
            "rec/s",
            ">= 5,000",
            libfed_rate >= 5000,
            f"mean of {_rates(libfed_rates)}; {summary.records:,} stored, "
            f"{searchable:,} found by search",
        )
    )
    rows.append(Row("sickle bare ListRecords, same endpoint", sickle_rate, "rec/s",
                    note=f"mean of {_rates(sickle_rates)}"))
    ratio = libfed_rate / sickle_rate if sickle_rate else 0.0
    rows.append(
        Row("libfed end to end / sickle bare", ratio, "×", ">= 1.0", ratio >= 1.0,
            "same run, measured alternately")
    )
    rows.append(
        Row(
            "libfed bare pages (fetch, clean, parse)",
            bare_rate,
            "rec/s",
            note=f"{bare_rate / sickle_rate:.1f}× sickle; no records, no catalog",
        )
    )
    if not quick:
        rows.extend(_peak_rss_rows(1_000_000))
    return rows


def _rates(rates: list[float]) -> str:
    return " and ".join(f"{rate:,.0f}" for rate in rates)


# -- the endpoint ---------------------------------------------------------------


def _templates() -> list[bytes]:
    """Real MARCXML records with their identifiers removed and two placeholders."""
    from lxml import etree

    templates = []
    for name in TEMPLATE_FILES:
        root = etree.parse(str(FIXTURES / name)).getroot()
        for record in root.iter(f"{{{_SLIM}}}record"):
            for field in list(record):
                if field.get("tag") in _ID_TAGS:
                    record.remove(field)
            title = record.find(f"{{{_SLIM}}}datafield[@tag='245']/{{{_SLIM}}}subfield[@code='a']")
            if title is None:
                continue
            title.text = "@WORD@ " + (title.text or "")
            isbn = etree.SubElement(record, f"{{{_SLIM}}}datafield", tag="020", ind1=" ", ind2=" ")
            etree.SubElement(isbn, f"{{{_SLIM}}}subfield", code="a").text = "@ISBN@"
            control = etree.Element(f"{{{_SLIM}}}controlfield", tag="001")
            control.text = "@ID@"
            record.insert(1, control)
            templates.append(etree.tostring(record, encoding="utf-8"))
    return templates


def _isbn13(number: int) -> str:
    digits = f"979{number % 10**9:09d}1"[:12]
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def _word(number: int) -> str:
    letters = []
    number += 26**3
    while number:
        number, rest = divmod(number, 26)
        letters.append(chr(ord("a") + rest))
    return "".join(letters)


def _render(templates: list[bytes], start: int, count: int, total: int) -> bytes:
    parts = [
        b'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b"<responseDate>2026-11-28T10:00:00Z</responseDate><request>bench</request><ListRecords>"
    ]
    for number in range(start, min(start + count, total)):
        body = (
            templates[number % len(templates)]
            .replace(b"@ID@", b"bench%d" % number)
            .replace(b"@WORD@", _word(number).encode())
            .replace(b"@ISBN@", _isbn13(number).encode())
        )
        parts.append(
            b"<record><header><identifier>oai:bench:%d</identifier>"
            b"<datestamp>2026-11-27T00:00:00Z</datestamp></header><metadata>" % number
        )
        parts.append(body)
        parts.append(b"</metadata></record>")
    end = start + count
    token = b"%d" % end if end < total else b""
    parts.append(
        b'<resumptionToken completeListSize="%d" cursor="%d">%s</resumptionToken>'
        % (total, start, token)
    )
    parts.append(b"</ListRecords></OAI-PMH>")
    return b"".join(parts)


def _serve(total: int, port_queue: multiprocessing.Queue) -> None:
    from aiohttp import web

    templates = _templates()

    async def handle(request: web.Request) -> web.Response:
        params = request.query
        if params.get("verb") == "Identify":
            body = (
                b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>'
                b"2026-11-28T10:00:00Z</responseDate><request>bench</request><Identify>"
                b"<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify></OAI-PMH>"
            )
        else:
            start = int(params.get("resumptionToken", "0"))
            body = _render(templates, start, PAGE_SIZE, total)
        return web.Response(body=body, content_type="text/xml")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/oai", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


class _Endpoint:
    """The benchmark's OAI-PMH server, in a process of its own."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.process: multiprocessing.Process | None = None

    def __enter__(self) -> str:
        queue: multiprocessing.Queue = multiprocessing.Queue()
        self.process = multiprocessing.Process(target=_serve, args=(self.total, queue), daemon=True)
        self.process.start()
        return f"http://127.0.0.1:{queue.get(timeout=30)}/oai"

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)


# -- the measurements -----------------------------------------------------------


def _sickle_rate(url: str) -> float:
    """sickle's own iteration over the whole list, records counted and dropped."""
    from sickle import Sickle

    started = time.perf_counter()
    count = sum(1 for _ in Sickle(url).ListRecords(metadataPrefix="marc21"))
    return count / (time.perf_counter() - started)


def _libfed_bare_rate(url: str) -> float:
    """libfed's own transport over the list: what sickle's iteration does, no storing."""
    from harvester.client import OaiClient

    client = OaiClient(url)
    started = time.perf_counter()
    count, params = 0, {"verb": "ListRecords", "metadataPrefix": "marc21"}
    while True:
        page = client.fetch_page(params)
        count += len(page.records)
        if page.resumption_token is None:
            break
        params = {"verb": "ListRecords", "resumptionToken": page.resumption_token}
    client.close()
    return count / (time.perf_counter() - started)


async def _libfed_harvest(url: str, path: Path):
    from federation.catalog import UnionCatalog
    from harvester import Harvester, adhoc_source

    catalog = await UnionCatalog.open(path)
    try:
        summary = await Harvester(catalog).harvest(adhoc_source(url, "BENCH"))
        if not summary.ok:
            raise RuntimeError(summary.error)
        found = await catalog.search(_word(7), limit=1)  # the title word of record 7
    finally:
        await catalog.close()
    return summary, found.total


def _peak_rss_rows(total: int) -> list[Row]:
    """Peak memory of a real `libfed harvest` process over ``total`` records, its
    page-reading worker processes included.

    Two figures: VmHWM (everything resident, including the catalog database's
    memory-mapped file pages, which the kernel can drop at will) of the harvesting
    process plus the largest worker's times the number of workers (an upper
    bound: they need not peak together), and the peak of the whole process
    tree's RssAnon (its heaps), sampled every half second.
    """
    with _Endpoint(total) as url, tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            "-c",
            "import sys, resource; from federation.cli.main import main; code = main(sys.argv[1:]); "
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(code)",
            "harvest",
            "--catalog",
            os.path.join(folder, "catalog.db"),
            "--url",
            url,
            "--library",
            "BENCH",
            "--json",
        ]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        anon_kb, workers = 0, 0
        while process.poll() is None:
            children = _children(process.pid)
            tree = [process.pid, *children]
            workers = max(workers, sum(1 for child in children if _is_reader(child)))
            anon_kb = max(anon_kb, sum(_status_kb(pid, "RssAnon") for pid in tree))
            time.sleep(0.5)
        stderr = process.stderr.read()
    found = re.search(r"PEAK (\d+) (\d+)", stderr)
    if found:
        main_kb, worker_kb = int(found.group(1)), int(found.group(2))
        peak_mb = (main_kb + workers * worker_kb) / 1024
        split = f"{main_kb / 1024:.0f} MB harvesting + {workers} × {worker_kb / 1024:.0f} MB readers"
    else:
        peak_mb, split = float("nan"), ""
    note = f"{total:,} records; {split}" if process.returncode == 0 else f"failed: {stderr[-200:]}"
    return [
        Row("peak RSS (VmHWM), libfed harvest", peak_mb, "MB", "<= 300", peak_mb <= 300, note),
        Row(
            "peak heap (RssAnon), libfed harvest",
            anon_kb / 1024,
            "MB",
            "<= 300",
            anon_kb / 1024 <= 300,
            "all its processes together, without the catalog's mmap'd file pages",
        ),
    ]


def _is_reader(pid: int) -> bool:
    """A page-reading worker (not multiprocessing's resource tracker)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"spawn_main" in cmdline.read()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (the page readers), from /proc."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                found += [int(child) for child in children.read().split()]
    except OSError:
        pass
    return found


def _status_kb(pid: int, key: str) -> int:
    """One kB figure of /proc/PID/status (0 where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
