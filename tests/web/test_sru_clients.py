"""Index Data's SRU clients against the live coordinator's /sru: what a Z39.50 gateway sees.

``zoomsh`` is the ZOOM API that yazproxy, Koha's Z39.50/SRU search and many gateways are
built on; ``yaz-url`` fetches a searchRetrieve URL as a script or a VuFind box would. Both
come with Debian's ``yaz``; each test skips cleanly without it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest
from lxml import etree

from federation.coordinator.config import CoordinatorConfig
from tests.web.test_sru import MARC, NS, SRW, _an_isbn, shared_work

needs_zoomsh = pytest.mark.skipif(shutil.which("zoomsh") is None,
                                  reason="zoomsh (Debian yaz) is missing")  # fmt: skip
needs_yaz_url = pytest.mark.skipif(shutil.which("yaz-url") is None,
                                   reason="yaz-url (Debian yaz) is missing")  # fmt: skip
#: How zoomsh introduces each record it shows: "0 database=unknown syntax=XML schema=dc".
_RECORD_LINE = re.compile(r"^\d+ database=\S+ syntax=\S+ schema=\S+$", re.MULTILINE)


def zoomsh(*commands: str) -> str:
    """Run zoomsh on ``commands`` (one argument each, as on its command line)."""
    run = subprocess.run(["zoomsh", *commands, "quit"], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def hits(out: str) -> int:
    found = re.search(r"/sru: (\d+) hits", out)
    assert found, out
    return int(found.group(1))


def shown_records(out: str) -> list[etree._Element]:
    """The XML records zoomsh printed after `show`."""
    chunks = _RECORD_LINE.split(out)[1:]
    return [etree.fromstring(chunk.strip().split("\n")[0].encode()) for chunk in chunks]


def holding_libraries(record: etree._Element) -> list[str]:
    return sorted(record.xpath("marc:datafield[@tag='852']/marc:subfield[@code='a']/text()",
                               namespaces={"marc": MARC}))  # fmt: skip


async def isbn_and_libraries(live) -> tuple[str, list[str]]:
    isbn = await _an_isbn(live)

    async def libraries() -> list[str]:
        [cluster] = await live.coordinator.catalog.clusters_for_isbn(isbn)
        return sorted({h.library for h in await live.coordinator.catalog.holdings(cluster)})

    return isbn, live.run(libraries())


def cyrillic_word(work: dict) -> str:
    word = max(re.findall(r"\w+", work["title"]), key=len)
    assert re.search("[а-яё]", word.lower()), word
    return word


@needs_zoomsh
@pytest.mark.parametrize(("method", "version"), [("get", "1.2"), ("post", "1.2"), ("get", "2.0"),
                                                 ("post", "2.0")])  # fmt: skip
async def test_zoomsh_finds_a_book_by_isbn_and_by_a_cyrillic_title_word(live, method, version):
    isbn, libraries = await isbn_and_libraries(live)
    work = shared_work(live)
    word = cyrillic_word(work)
    connect = [f"set sru {method}", f"set sru_version {version}", f"connect {live.url}/sru"]

    out = zoomsh(*connect, f"find cql:bath.isbn = {isbn}", "show 0 1")
    assert hits(out) == 1, out
    [record] = shown_records(out)
    assert holding_libraries(record) == libraries  # one 852 per library holding it

    out = zoomsh(*connect, f'find cql:dc.title = "{word}"', "show 0 10")
    assert hits(out) >= 1, out
    records = shown_records(out)
    assert len(records) == min(hits(out), 10)
    titles = [" ".join(r.xpath("marc:datafield[@tag='245']//text()", namespaces={"marc": MARC}))
              for r in records]  # fmt: skip
    assert all(word.lower() in title.lower() for title in titles), titles
    assert work["libraries"] in [holding_libraries(r) for r in records]


@needs_zoomsh
def test_zoomsh_gets_dublin_core_in_date_order_newest_first(live):
    out = zoomsh("set sru get", "set schema dc", f"connect {live.url}/sru",
                 "find cql:cql.serverchoice = 1* sortBy dc.date/sort.descending",
                 "show 0 10")  # fmt: skip
    records = shown_records(out)
    assert len(records) == min(hits(out), 10) and len(records) > 3
    assert {etree.QName(r).localname for r in records} == {"dc"}
    dates = [re.search(r"\d{4}", r.findtext("dc:date", "", NS)) for r in records]
    years = [int(date.group()) for date in dates if date]
    assert len(years) > 3 and years == sorted(years, reverse=True) and years != sorted(years)


@needs_zoomsh
@pytest.mark.parametrize(("query", "number"), [("dc.nosuch = x", 16), ('dc.title = "x', 14),
                                               ("x sortBy dc.subject", 88)])  # fmt: skip
def test_zoomsh_reports_our_diagnostics_as_sru_ones(live, query, number):
    out = zoomsh("set sru get", f"connect {live.url}/sru", f"find cql:{query}")
    assert f"(info:srw/diagnostic/1:{number})" in out, out


@needs_yaz_url
def test_yaz_url_fetches_a_search_by_a_cyrillic_title_and_a_sorted_one(live, tmp_path):
    work = shared_work(live)
    word = cyrillic_word(work)
    base = f"{live.url}/sru?"

    def fetch(**params: str) -> etree._Element:
        target = tmp_path / "answer.xml"
        run = subprocess.run(["yaz-url", "-O", str(target), base + urlencode(params)],
                             capture_output=True, timeout=60, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr
        return etree.parse(str(target)).getroot()

    root = fetch(version="1.2", operation="searchRetrieve", query=f'dc.title = "{word}"',
                 maximumRecords="50")  # fmt: skip
    assert int(root.findtext("srw:numberOfRecords", namespaces=NS)) >= 1
    clusters = root.xpath("//libfed:holdings/@cluster", namespaces=NS)
    assert work["cluster_id"] in clusters
    # SRU 1.1's sortKeys ("path,schema,ascending"): the same order as sortBy.
    by_keys = fetch(version="1.1", operation="searchRetrieve", query="cql.serverchoice = 1*",
                    sortKeys="dc.title,,0", maximumRecords="50")  # fmt: skip
    by_cql = fetch(version="1.1", operation="searchRetrieve",
                   query="cql.serverchoice = 1* sortBy dc.title/sort.descending",
                   maximumRecords="50")  # fmt: skip
    order = by_keys.xpath("//libfed:holdings/@cluster", namespaces=NS)
    assert len(order) > 3 and order == by_cql.xpath("//libfed:holdings/@cluster", namespaces=NS)
    assert by_keys.findtext("srw:version", namespaces=NS) == "1.1"
    assert by_keys.find(f"{{{SRW}}}diagnostics") is None


@needs_zoomsh
async def test_what_sru_url_prints_works_against_the_running_coordinator(live, tmp_path):
    """The settings `libfed catalog sru-url` gives a partner library, tried as they would."""
    config, path = CoordinatorConfig.create(tmp_path / "coordinator")
    config.web_listen = urlsplit(live.url).netloc
    config.write(path)
    done = subprocess.run([sys.executable, "-m", "federation.cli.main", "catalog", "sru-url",
                           "--config", str(path), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)
    assert settings["base_url"] == f"{live.url}/sru"
    async with aiohttp.ClientSession() as session:
        for name, url in settings["examples"].items():
            async with session.get(url) as response:
                root = etree.fromstring(await response.read())
            assert not root.xpath("//*[local-name()='diagnostic']"), (name, url)
            if name != "explain":
                assert int(root.xpath("string(//*[local-name()='numberOfRecords'])")) >= 1, name
    out = zoomsh(*settings["zoomsh"])
    assert hits(out) >= 1 and len(shown_records(out)) == 1, out
