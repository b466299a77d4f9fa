"""`libfed demo --once`: the README's first command builds a federation, prints where to
look as soon as the web pages answer, runs its loans, and leaves no process behind."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import urllib.request
from dataclasses import dataclass

import pytest

from federation.demo.processes import libfed_command

READERS = re.compile(r"readers: (http://127\.0\.0\.1:\d+/)")
SRU_EXAMPLE = re.compile(r"e\.g\. (http://127\.0\.0\.1:\d+/sru\?\S+)")


@dataclass
class DemoRun:
    root: object
    returncode: int
    out: str
    stderr: str
    #: The readers' URL, and the status it answered with the moment the demo printed it
    #: (the demo was still running: the loans come after).
    readers_url: str
    readers_status: int | str | None
    #: The output up to the line with the readers' URL.
    before_url: str
    #: What the printed SRU example answered once the catalog was built.
    sru_answer: bytes = b""


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoRun:
    """One `libfed demo --once` for this module's tests, its output read as it comes."""
    folder = tmp_path_factory.mktemp("demo")
    root, errors = folder / "demo-run", folder / "stderr.txt"
    env = dict(os.environ, COLUMNS="200")
    with open(errors, "w") as stderr:  # a file: a full pipe nobody reads would block the demo
        process = subprocess.Popen(libfed_command("demo", "--dir", str(root), "--once"),
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    timer = threading.Timer(280, process.kill)  # a hung demo fails the test, not the suite
    timer.start()
    lines: list[str] = []
    url, status, before, sru_url, sru_answer = "", None, "", "", b""
    try:
        for line in process.stdout:
            lines.append(line)
            if (example := SRU_EXAMPLE.search(line)) and not sru_url:
                sru_url = example.group(1)
            if "catalog built" in line and sru_url:
                with urllib.request.urlopen(sru_url, timeout=10) as answer:
                    sru_answer = answer.read()
            found = READERS.search(line)
            if found and not url:
                url, before = found.group(1), "".join(lines)
                try:
                    with urllib.request.urlopen(url, timeout=10) as answer:
                        status = answer.status
                except OSError as error:  # URLError, HTTPError: the test below says so
                    status = str(error)
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    return DemoRun(root, process.returncode, "".join(lines), errors.read_text(), url, status,
                   before, sru_answer)


def test_the_demo_runs_its_loans_and_stops_every_process(demo):
    run, out = demo.root, demo.out
    assert demo.returncode == 0, out[-3000:] + demo.stderr[-3000:]
    assert "LoanCompleted" in out and "CopyCompleted" in out and "Cancelled" in out
    # The failover: the first lender's Unfilled, then the second lender ships.
    assert re.search(r"unfilled\s*│\s*NotOnShelf", out)
    clusters = int(re.search(r"(\d+) records in (\d+) clusters", out).group(2))
    assert clusters > 100
    for symbol in ("LOC", "BL", "DNB", "GWU", "PUL", "RSL", "NLR"):
        assert (run / symbol.lower() / "holdings.sqlite").exists()
    # The running coordinator and a library are backed up, and the backups verify.
    assert re.search(r"coordinator coordinator: state \d+, staff 1, catalog \d+ — every store "
                     r"sound", out)
    assert re.search(r"node BL: holdings \d+, patrons 2 — every store sound", out)
    assert len(list((run / "backups").iterdir())) == 2
    # The partner library is no node: its records came from its OAI-PMH server,
    # harvested from the coordinator's sources file.
    assert re.search(r"partner UNI", out)
    assert 'name = "UNI"' in (run / "coordinator" / "partners.toml").read_text()
    # Every address the demo printed is closed again.
    addresses = set(re.findall(r"127\.0\.0\.1:(\d+)", out))
    assert len(addresses) >= 8
    for port in addresses:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open"


def test_the_urls_come_first_and_the_readers_page_answers_while_the_demo_runs(demo):
    assert demo.returncode == 0, demo.out[-3000:] + demo.stderr[-3000:]
    assert demo.readers_url, demo.out[-3000:]
    assert demo.readers_status == 200
    # Printed once the web pages answer: with the table of every address, before the
    # catalog is reported built and before any loan.
    assert "where everything listens" in demo.before_url
    assert "catalog built" not in demo.before_url
    assert "interlibrary loans" not in demo.before_url
    out = demo.out
    assert out.index(demo.readers_url) < out.index("interlibrary loans")
    built = re.search(r"catalog built: (\d+) records from (\d+) libraries in [\d.]+ s", out)
    assert built, out[-3000:]
    assert int(built.group(1)) > 700 and int(built.group(2)) == 8
    assert out.index(demo.readers_url) < built.start() < out.index("interlibrary loans")
    # The URLs are repeated at the end, after the long status tables.
    assert out.rindex(demo.readers_url) > out.index("the network: libfed status")


def test_the_demo_shows_an_sru_search_that_finds_its_books(demo):
    from lxml import etree

    root = etree.fromstring(demo.sru_answer)
    srw = {"srw": "http://www.loc.gov/zing/srw/"}
    assert int(root.findtext("srw:numberOfRecords", namespaces=srw)) >= 1
    assert root.xpath("//*[local-name()='datafield'][@tag='852']")


def test_the_demo_lends_and_borrows_with_an_outside_iso18626_partner(demo):
    """UNI is no node: its own ILL system lends a book to a node's reader and borrows one
    from the network, each to LoanCompleted, in ISO 18626 messages only."""
    assert demo.returncode == 0, demo.out[-3000:] + demo.stderr[-3000:]
    out = re.sub(r"\s+", " ", demo.out)
    lent = re.search(r"6\. A reader at (\w+) borrows from UNI.*?RequestReceived \(\1\) → "
                     r"WillSupply \(UNI\) → Loaned \(UNI\) → Received \(\1\) → "
                     r"ShippedReturn \(\1\) → LoanCompleted \(UNI\)", out)
    assert lent, demo.out[-4000:]
    borrowed = re.search(r"7\. UNI's own ILL system borrows.*?RequestReceived \(UNI\) → "
                         r"WillSupply \((\w+)\) → Loaned \(\1\) → Received \(UNI\) → "
                         r"ShippedReturn \(UNI\) → LoanCompleted \(\1\)", out)
    assert borrowed, demo.out[-4000:]
    assert "[[coordinator.peers]]" in (demo.root / "coordinator" / "coordinator.toml").read_text()
    # The partner's ILL system found every message libfed sent it schema-valid.
    log = (demo.root / "uni-ill.log").read_text()
    assert "outside ISO 18626 library" in log
    assert "failed the ISO 18626 schema" not in log
