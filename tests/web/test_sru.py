"""SRU on the live union catalog: what Koha, VuFind and yaz-client get from /sru."""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import quote

import aiohttp
import pytest
from lxml import etree

from tests.conftest import FIXTURES

SRW = "http://www.loc.gov/zing/srw/"
SRU2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
MARC = "http://www.loc.gov/MARC21/slim"
NS = {"srw": SRW, "sru": SRU2, "marc": MARC, "diag": "http://www.loc.gov/zing/srw/diagnostic/",
      "libfed": "https://libfed.org/ns/holdings", "dc": "http://purl.org/dc/elements/1.1/"}
SCHEMAS = FIXTURES.parent / "schemas"


async def get(live, **params: str) -> etree._Element:
    query = "&".join(f"{name}={quote(value)}" for name, value in params.items())
    async with aiohttp.ClientSession() as session, session.get(f"{live.url}/sru?{query}") as response:
        assert response.status == 200
        assert response.content_type == "text/xml"
        return etree.fromstring(await response.read())


def shared_work(live) -> dict:
    """A work two libraries hold, with a Cyrillic title."""
    return next(w for w in live.works() if len(w["libraries"]) > 1 and w["title"])


async def test_a_cyrillic_title_finds_the_work_with_a_852_per_holding_library(live):
    work = shared_work(live)
    words = " ".join(work["title"].split()[:3])
    root = await get(live, version="1.2", operation="searchRetrieve", maximumRecords="50",
                     query=f'dc.title all "{words}"', recordSchema="marcxml")
    assert int(root.findtext("srw:numberOfRecords", namespaces=NS)) >= 1
    holdings = root.xpath("//libfed:holdings[@cluster=$id]", namespaces=NS, id=work["cluster_id"])
    assert len(holdings) == 1
    record = holdings[0].getparent().getparent().find("srw:recordData/marc:record", NS)
    assert record is not None
    libraries = record.xpath("marc:datafield[@tag='852']/marc:subfield[@code='a']/text()",
                             namespaces=NS)
    assert sorted(libraries) == work["libraries"]
    etree.XMLSchema(etree.parse(str(SCHEMAS / "MARC21slim.xsd"))).assertValid(record)


async def test_isbn_dc_paging_and_sru_2(live):
    isbns = await _an_isbn(live)
    root = await get(live, query=f"bath.isbn = {isbns}", recordSchema="dc")  # SRU 2.0 default
    assert root.tag == f"{{{SRU2}}}searchRetrieveResponse"
    assert root.findtext("sru:numberOfRecords", namespaces=NS) == "1"
    assert root.find(".//sru:recordData/{http://www.openarchives.org/OAI/2.0/oai_dc/}dc", NS) \
        is not None
    page = await get(live, version="1.2", query="cql.serverchoice = 1*", maximumRecords="2",
                     startRecord="2")  # fmt: skip
    positions = page.xpath("//srw:recordPosition/text()", namespaces=NS)
    assert positions == ["2", "3"]
    total = int(page.findtext("srw:numberOfRecords", namespaces=NS))
    if total > 3:
        assert page.findtext("srw:nextRecordPosition", namespaces=NS) == "4"


@pytest.mark.parametrize(
    ("params", "number"),
    [
        ({"query": "dc.title = "}, "10"),
        ({"query": '(dc.title = "a"'}, "13"),
        ({"query": "rec.nosuch = 1"}, "16"),
        ({"query": "dc.title = x", "recordSchema": "mods"}, "66"),
        ({"query": "dc.title = 1*", "startRecord": "100000"}, "61"),
        ({"query": "dc.title = x", "startRecord": "0"}, "6"),
        ({"operation": "scan", "scanClause": "dc.title"}, "4"),
        ({"operation": "searchRetrieve"}, "7"),
        ({"query": "dc.title = x sortBy dc.subject"}, "88"),
        ({"query": "dc.title = x", "sortKeys": "/record/title"}, "88"),
        ({"query": "dc.title = x", "sortKeys": "dc.title,mods"}, "87"),
        ({"query": "dc.title = x", "sortKeys": "dc.title,,up"}, "90"),
        ({"query": "dc.title = x", "sortKeys": "dc.title,,1,1"}, "91"),
        ({"query": "dc.title = x", "sortKeys": "dc.date,,1,0,omit"}, "92"),
        ({"query": "x sortBy dc.title", "sortKeys": "dc.date"}, "96"),
    ],
)
async def test_bad_requests_get_standard_diagnostics(live, params, number):
    root = await get(live, version="1.2", **params)
    uris = root.xpath("//diag:uri/text()", namespaces=NS)
    assert uris == [f"info:srw/diagnostic/1/{number}"]
    assert root.findtext("srw:numberOfRecords", namespaces=NS) == "0"


async def test_explain_lists_indexes_and_schemas(live):
    root = await get(live, version="1.2")
    explain = root.find(".//{http://explain.z3950.org/dtd/2.0/}explain")
    names = {e.text for e in explain.iter("{http://explain.z3950.org/dtd/2.0/}title")}
    assert {"dc.title", "bath.isbn", "marcxml", "dc", "rusmarc"} <= names
    sortable = explain.xpath("//z:index[@sort='true']/z:title/text()",
                             namespaces={"z": "http://explain.z3950.org/dtd/2.0/"})  # fmt: skip
    assert sorted(sortable) == ["dc.date", "dc.title"]


async def test_newest_first_by_sortby_or_by_the_sortkeys_parameter(live):
    """VuFind's "date descending" comes as sortBy (SRU 1.2/2.0) or as sortKeys (1.1, 2.0)."""

    async def ids_and_years(**params: str) -> list[tuple[str, int | None]]:
        root = await get(live, recordSchema="dc", maximumRecords="100", **params)
        found = []
        for record in root.iter(f"{{{SRW}}}record", f"{{{SRU2}}}record"):
            date = record.findtext(".//dc:date", namespaces=NS) or ""
            year = next((int(w) for w in re.findall(r"\d{4}", date)), None)
            found.append((record.find(".//libfed:holdings", NS).get("cluster"), year))
        return found

    by_query = await ids_and_years(version="1.2", query="cql.serverchoice = 1* "
                                   "sortBy dc.date/sort.descending")  # fmt: skip
    years = [year for _id, year in by_query if year is not None]
    assert len(years) > 3 and years == sorted(years, reverse=True)
    assert years != sorted(years), "every work of the same year proves nothing"
    # Undated works, if any, come after the dated ones.
    assert all(year is None for _id, year in by_query[len(years):])
    by_parameter = await ids_and_years(version="1.1", query="cql.serverchoice = 1*",
                                       sortKeys="dc.date,,0")  # fmt: skip
    assert by_parameter == by_query
    unsorted = await ids_and_years(version="2.0", query="cql.serverchoice = 1*")
    assert sorted(unsorted) == sorted(by_query)  # the same works, in another order


@pytest.mark.skipif(shutil.which("yaz-client") is None, reason="yaz-client (Debian yaz) is missing")
async def test_yaz_client_finds_a_book_by_isbn_and_by_a_cyrillic_title(live):
    isbn = await _an_isbn(live)
    work = shared_work(live)
    word = max(work["title"].split(), key=len).strip(".,:;/")
    assert any("а" <= char <= "я" for char in word.lower()), word  # a Cyrillic title word
    script = (
        f"open {live.url}/sru\nquerytype cql\nsru post 1.2\n"
        f"find bath.isbn={isbn}\nshow 1\n"
        f"sru get 1.2\nfind dc.title=\"{word}\"\nshow 1\nquit\n"
    )
    run = subprocess.run(["yaz-client"], input=script, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    out = run.stdout
    by_isbn, by_title = out.split("Received SRW SearchRetrieve Response")[1::2][:2]
    assert "Number of hits: 1\n" in by_isbn, out
    hits = int(by_title.split("Number of hits: ", 1)[1].split()[0])
    assert hits >= 1, out
    assert 'tag="852"' in out and work["libraries"][0] in out, out


async def _an_isbn(live) -> str:
    async def first() -> str:
        async for cluster in live.coordinator.catalog.dump():
            detail = await live.coordinator.catalog.get_cluster(cluster["cluster_id"])
            if detail.summary.isbns and len(await live.coordinator.catalog.clusters_for_isbn(
                    detail.summary.isbns[0])) == 1:  # fmt: skip
                return detail.summary.isbns[0]
        raise AssertionError("no work with an ISBN of its own")

    return live.run(first())
