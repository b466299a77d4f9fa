"""A harvester's story: any standard OAI-PMH client harvests this library without trouble."""

from __future__ import annotations

import asyncio
import re
import time

from lxml import etree
from sickle import Sickle

from node.oai.tokens import ListState, TokenCodec
from tests.node.conftest import expected_ids, make_config, start_node
from tests.node.oai_client import NS, OaiClient, error_code, token_of


def _harvest(url: str, verb: str, **params) -> list:
    sickle = Sickle(url, max_retries=0, timeout=30)
    return list(getattr(sickle, verb)(**params))


async def test_sickle_harvests_exactly_the_imported_records(node):
    ids = expected_ids()
    marc = await asyncio.to_thread(_harvest, node.oai_url, "ListRecords", metadataPrefix="marc21")
    rusmarc = await asyncio.to_thread(
        _harvest, node.oai_url, "ListRecords", metadataPrefix="rusmarc"
    )
    dc = await asyncio.to_thread(_harvest, node.oai_url, "ListRecords", metadataPrefix="oai_dc")
    local = f"oai:{node.config.domain}:"
    marc_ids = [r.header.identifier for r in marc]
    rus_ids = [r.header.identifier for r in rusmarc]
    assert len(marc_ids) == len(set(marc_ids)) == 131  # 14 pages of 10
    assert len(rus_ids) == 6
    from urllib.parse import unquote

    assert {unquote(i.removeprefix(local)) for i in marc_ids + rus_ids} == ids
    assert {r.header.identifier for r in dc} == set(marc_ids + rus_ids)
    titles = [r.xml.find(".//dc:title", NS) for r in dc]
    assert all(t is not None and t.text for t in titles)
    assert sum(bool(re.search("[а-яё]", t.text, re.I)) for t in titles) >= 6  # Russian titles


async def test_every_list_page_validates_and_counts(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    root = await client.get(verb="ListIdentifiers", metadataPrefix="oai_dc")
    seen, cursors = [], []
    while True:
        seen += [
            h.findtext("oai:identifier", namespaces=NS) for h in root.iterfind(".//oai:header", NS)
        ]
        token = token_of(root)
        assert token is not None
        assert token.get("completeListSize") == "137"
        cursors.append(int(token.get("cursor")))
        if not token.text:
            break
        again = await client.get(verb="ListIdentifiers", resumptionToken=token.text)
        root = await client.get(method="POST", verb="ListIdentifiers", resumptionToken=token.text)
        assert _identifiers(again) == _identifiers(root)  # asking twice gives the same page
    assert cursors == list(range(0, 137, 10))
    assert len(seen) == len(set(seen)) == 137


def _identifiers(root):
    return [h.findtext("oai:identifier", namespaces=NS) for h in root.iterfind(".//oai:header", NS)]


async def test_identify_describes_the_repository(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    root = await client.get(verb="Identify")
    identify = root.find("oai:Identify", NS)
    assert identify.findtext("oai:repositoryName", namespaces=NS) == node.config.name
    assert identify.findtext("oai:baseURL", namespaces=NS) == node.oai_url
    assert identify.findtext("oai:protocolVersion", namespaces=NS) == "2.0"
    assert identify.findtext("oai:adminEmail", namespaces=NS) == "ill@example.org"
    assert identify.findtext("oai:deletedRecord", namespaces=NS) == "persistent"
    assert identify.findtext("oai:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    earliest = identify.findtext("oai:earliestDatestamp", namespaces=NS)
    stamps = await node.store.fetchall("SELECT MIN(datestamp) FROM records")
    assert earliest == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamps[0][0]))
    sample = identify.findtext(".//id:sampleIdentifier", namespaces=NS)
    assert sample.startswith(f"oai:{node.config.domain}:")
    posted = await client.get(method="POST", verb="Identify")
    assert posted.find("oai:Identify", NS) is not None


async def test_get_record_and_formats_per_record(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    marc_id = f"oai:{node.config.domain}:000000794"
    root = await client.get(verb="GetRecord", identifier=marc_id, metadataPrefix="marc21")
    assert root.findtext(".//marc:controlfield[@tag='001']", namespaces=NS) == "000000794"
    formats = await client.get(verb="ListMetadataFormats", identifier=marc_id)
    assert _prefixes(formats) == {"oai_dc", "marc21"}
    rus_id = f"oai:{node.config.domain}:RU%5CNLR%5Cbibl%5C1100073"
    formats = await client.get(verb="ListMetadataFormats", identifier=rus_id)
    assert _prefixes(formats) == {"oai_dc", "rusmarc"}
    root = await client.get(verb="GetRecord", identifier=rus_id, metadataPrefix="rusmarc")
    # MarcXchange (ISO 25577), saying which MARC it is: a harvester that picks its
    # reader by namespace never takes these UNIMARC tags for MARC 21 ones.
    record = root.find(".//oai:metadata/mx:record", NS)
    assert record is not None and record.get("format") == "RUSMARC"
    assert record.findtext("mx:controlfield[@tag='001']", namespaces=NS) == "RU\\NLR\\bibl\\1100073"
    assert record.find("mx:datafield[@tag='899']", NS) is not None  # native RUSMARC fields
    root = await client.get(verb="GetRecord", identifier=rus_id, metadataPrefix="marc21")
    assert error_code(root) == "cannotDisseminateFormat"
    assert _prefixes(await client.get(verb="ListMetadataFormats")) == {
        "oai_dc",
        "marc21",
        "rusmarc",
    }


def _prefixes(root):
    return {p.text for p in root.iterfind(".//oai:metadataPrefix", NS)}


async def test_sets_by_location_and_by_schema(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    root = await client.get(verb="ListSets")
    specs = {
        s.findtext("oai:setSpec", namespaces=NS): s.findtext("oai:setName", namespaces=NS)
        for s in root.iterfind(".//oai:set", NS)
    }
    assert {"schema", "schema:marc21", "schema:unimarc", "location", "location:NLR"} <= set(specs)
    assert specs["location:BC"] == "Held at BC"  # the Koha record's holding branch
    root = await client.get(verb="ListIdentifiers", metadataPrefix="oai_dc", set="schema:unimarc")
    assert len(root.findall(".//oai:header", NS)) == 6
    assert token_of(root) is None  # one page: no token at all
    root = await client.get(verb="ListRecords", metadataPrefix="marc21", set="location:BC")
    assert [h.text for h in root.iterfind(".//oai:identifier", NS)] == [
        f"oai:{node.config.domain}:u53329"
    ]


async def test_from_until_are_inclusive_in_both_granularities(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    stamp = (await node.store.fetchall("SELECT MAX(datestamp) FROM records"))[0][0]
    second = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    day = second[:10]
    root = await client.get(
        verb="ListIdentifiers", metadataPrefix="rusmarc", **{"from": second, "until": second}
    )
    assert len(root.findall(".//oai:header", NS)) >= 1
    root = await client.get(
        verb="ListIdentifiers", metadataPrefix="rusmarc", **{"from": day, "until": day}
    )
    assert len(root.findall(".//oai:header", NS)) == 6
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp + 1))
    root = await client.get(verb="ListIdentifiers", metadataPrefix="rusmarc", **{"from": later})
    assert error_code(root) == "noRecordsMatch"
    root = await client.get(verb="ListRecords", metadataPrefix="oai_dc", until="1999-12-31")
    assert error_code(root) == "noRecordsMatch"  # until before earliestDatestamp


async def test_deleted_records_show_in_lists_and_get_record(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    identifier = f"oai:{node.config.domain}:000000794"
    first = await client.get(verb="ListIdentifiers", metadataPrefix="marc21")
    await node.store.delete_record("000000794")
    # the harvest started before the deletion goes on without skipping anything
    seen = _identifiers(first)
    token = token_of(first).text
    while token:
        page = await client.get(verb="ListIdentifiers", resumptionToken=token)
        seen += _identifiers(page)
        token = token_of(page).text
    assert len(set(seen)) == 131
    root = await client.get(verb="GetRecord", identifier=identifier, metadataPrefix="marc21")
    header = root.find(".//oai:header", NS)
    assert header.get("status") == "deleted"
    assert root.find(".//oai:metadata", NS) is None
    stamp = header.findtext("oai:datestamp", namespaces=NS)
    root = await client.get(verb="ListRecords", metadataPrefix="marc21", **{"from": stamp})
    deleted = [h for h in root.iterfind(".//oai:header", NS) if h.get("status") == "deleted"]
    assert [h.findtext("oai:identifier", namespaces=NS) for h in deleted] == [identifier]
    root = await client.get(verb="ListMetadataFormats", identifier=identifier)
    assert error_code(root) == "noMetadataFormats"


async def test_every_error_code(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    cases = [
        ([], "badVerb"),
        ([("verb", "junk")], "badVerb"),
        ([("verb", "Identify"), ("verb", "Identify")], "badVerb"),
        ([("verb", "Identify"), ("set", "x")], "badArgument"),
        ([("verb", "GetRecord")], "badArgument"),
        ([("verb", "ListRecords")], "badArgument"),
        (
            [("verb", "ListRecords"), ("metadataPrefix", "marc21"), ("metadataPrefix", "oai_dc")],
            "badArgument",
        ),
        (
            [
                ("verb", "ListRecords"),
                ("metadataPrefix", "marc21"),
                ("from", "2020-01-01"),
                ("until", "2030-01-01T00:00:00Z"),
            ],
            "badArgument",
        ),
        (
            [("verb", "ListRecords"), ("metadataPrefix", "marc21"), ("from", "2020-13-45")],
            "badArgument",
        ),
        (
            [("verb", "ListRecords"), ("metadataPrefix", "marc21"), ("from", "yesterday")],
            "badArgument",
        ),
        (
            [
                ("verb", "ListRecords"),
                ("metadataPrefix", "marc21"),
                ("from", "2021-01-01"),
                ("until", "2020-01-01"),
            ],
            "badArgument",
        ),
        (
            [
                ("verb", "ListRecords"),
                ("metadataPrefix", "marc21"),
                ("until", "2030-01-01T00:00:00.5Z"),
            ],
            "badArgument",
        ),
        (
            [("verb", "ListRecords"), ("resumptionToken", "abc"), ("until", "2030-01-01")],
            "badArgument",
        ),
        ([("verb", "ListRecords"), ("resumptionToken", "forged.token")], "badResumptionToken"),
        ([("verb", "ListSets"), ("resumptionToken", "x")], "badResumptionToken"),
        ([("verb", "ListRecords"), ("metadataPrefix", "mods")], "cannotDisseminateFormat"),
        (
            [
                ("verb", "GetRecord"),
                ("metadataPrefix", "oai_dc"),
                ("identifier", "oai:other.org:1"),
            ],
            "idDoesNotExist",
        ),
        (
            [("verb", "GetRecord"), ("metadataPrefix", "oai_dc"), ("identifier", 'invalid"id')],
            "idDoesNotExist",
        ),
        (
            [
                ("verb", "GetRecord"),
                ("metadataPrefix", "oai_dc"),
                ("identifier", f"oai:{node.config.domain}:nope"),
            ],
            "idDoesNotExist",
        ),
        (
            [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "location:Nowhere")],
            "noRecordsMatch",
        ),
    ]
    for pairs, code in cases:
        for method in ("GET", "POST"):
            root = await client.request(pairs, method)
            assert error_code(root) == code, (pairs, method)
            request = root.find("oai:request", NS)
            if code in ("badVerb", "badArgument"):
                assert not request.attrib  # the spec: no attributes echoed then


async def test_tokens_from_elsewhere_or_too_old_are_refused(node, oai_schema, tmp_path):
    client = OaiClient(node.oai_url, oai_schema)
    first = await client.get(verb="ListRecords", metadataPrefix="marc21")
    token = token_of(first).text
    body, _, mac = token.partition(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    state = ListState("ListRecords", "marc21", None, None, None, 0, "", 10, 131)
    foreign = TokenCodec(b"another node's secret", 3600).encode(state)
    secret = (await node.store.meta("token_secret")).encode()
    stale = TokenCodec(secret, 3600).encode(
        ListState(
            "ListRecords",
            "marc21",
            None,
            None,
            None,
            0,
            "",
            10,
            131,
            issued=int(time.time()) - 10**6,
        )
    )
    other_verb = await client.get(verb="ListIdentifiers", resumptionToken=token)
    assert error_code(other_verb) == "badResumptionToken"
    for bad in (tampered, foreign, stale, token + "x"):
        root = await client.get(verb="ListRecords", resumptionToken=bad)
        assert error_code(root) == "badResumptionToken", bad


async def test_an_empty_repository_has_no_sets_and_no_records(tmp_path, oai_schema):
    empty = await start_node(make_config(tmp_path), [])
    try:
        client = OaiClient(empty.oai_url, oai_schema)
        assert error_code(await client.get(verb="ListSets")) == "noSetHierarchy"
        root = await client.get(verb="ListRecords", metadataPrefix="oai_dc", set="schema")
        assert error_code(root) == "noSetHierarchy"
        root = await client.get(verb="ListIdentifiers", metadataPrefix="oai_dc")
        assert error_code(root) == "noRecordsMatch"
        assert (await client.get(verb="Identify")).find("oai:Identify", NS) is not None
    finally:
        await empty.server.stop(grace=0.1)


async def test_every_page_of_every_format_is_valid(node, oai_schema):
    """All 137 real records, in each format they have, pass the OAI-PMH/MARCXML/DC schemas."""
    client = OaiClient(node.oai_url, oai_schema)
    counts = {}
    for prefix in ("marc21", "rusmarc", "oai_dc"):
        root = await client.get(verb="ListRecords", metadataPrefix=prefix)
        counts[prefix] = len(root.findall(".//oai:record", NS))
        token = token_of(root)
        while token is not None and token.text:
            root = await client.get(method="POST", verb="ListRecords", resumptionToken=token.text)
            counts[prefix] += len(root.findall(".//oai:record", NS))
            token = token_of(root)
    assert counts == {"marc21": 131, "rusmarc": 6, "oai_dc": 137}


async def test_list_metadata_formats_of_an_unknown_record(node, oai_schema):
    client = OaiClient(node.oai_url, oai_schema)
    root = await client.get(verb="ListMetadataFormats", identifier=f"oai:{node.config.domain}:nope")
    assert error_code(root) == "idDoesNotExist"


async def test_a_post_whose_form_is_not_utf8_is_bad_argument(node, oai_schema):
    """OAI-PMH arguments are UTF-8: a form that is not gets an OAI error, never an HTTP 500."""
    import aiohttp

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in (b"verb=GetRecord&identifier=\xff&metadataPrefix=marc21",
                 b"verb=GetRecord&identifier=%FF&metadataPrefix=marc21"):
        async with aiohttp.ClientSession() as session:
            async with session.post(node.oai_url, data=body, headers=form) as response:
                assert response.status == 200
                root = etree.fromstring(await response.read())
        oai_schema.assertValid(root)
        assert error_code(root) == "badArgument"
