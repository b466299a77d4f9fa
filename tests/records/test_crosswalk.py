"""Records going out: MARCXML, ISO 2709 and oai_dc, checked against the real XSDs."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from federation.records import (
    Record,
    iter_bytes,
    iter_file,
    record_from_dc,
    record_from_marcxml,
    to_iso2709,
    to_marcxml,
    to_marcxml_collection,
    to_oai_dc,
)

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@pytest.fixture(scope="module")
def marc_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "MARC21slim.xsd")))


@pytest.fixture(scope="module")
def dc_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "oai_dc.xsd")))


@pytest.fixture(scope="module")
def all_fixture_records() -> list[Record]:
    root = Path(__file__).resolve().parent.parent / "fixtures" / "records"
    return [
        item
        for path in sorted(root.rglob("*.*"))
        for item in iter_file(path)
        if isinstance(item, Record)
    ]


def test_the_oai_pmh_bundle_schema_resolves_offline():
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "oai-pmh-all.xsd")))
    assert schema is not None


def test_every_fixture_record_makes_a_valid_marcxml_collection(marc_schema, all_fixture_records):
    document = etree.fromstring(to_marcxml_collection(all_fixture_records))
    assert marc_schema.validate(document), marc_schema.error_log
    assert len(document) == len(all_fixture_records) > 700


def test_every_fixture_record_makes_valid_oai_dc(dc_schema, all_fixture_records):
    for record in all_fixture_records:
        element = to_oai_dc(record)
        assert dc_schema.validate(element), (record.id, dc_schema.error_log)


def test_rusmarc_stays_rusmarc_through_marcxml_and_iso2709(fixtures):
    (rusmarc,) = iter_file(fixtures / "records" / "rsl" / "01002988236_rusmarc.iso")
    back = record_from_marcxml(to_marcxml(rusmarc))
    assert back.schema == "unimarc"
    assert back.summary() == rusmarc.summary()
    (again,) = iter_bytes(to_iso2709(rusmarc))
    assert again.schema == "unimarc" and again.summary() == rusmarc.summary()
    assert to_iso2709(rusmarc)[20:24] == b"450 "


def test_iso2709_round_trip_keeps_fields_and_marks_utf8(fixtures):
    for name in ("marc8.dat", "1251.dat", "utf8_without_leader_flag.dat"):
        for record in iter_file(fixtures / "records" / "encodings" / name):
            data = to_iso2709(record)
            assert data[9:10] == b"a" and int(data[:5]) == len(data)
            (back,) = iter_bytes(data)
            assert back.summary() == record.summary()
            assert [str(f) for f in back.raw.fields] == [str(f) for f in record.raw.fields]


def test_marc21_to_dc_follows_the_loc_crosswalk(fixtures):
    record = next(
        r
        for r in iter_file(fixtures / "records" / "demo" / "british_library.xml")
        if isinstance(r, Record) and r.id == "010279636"
    )
    dc = {}
    for child in to_oai_dc(record):
        dc.setdefault(etree.QName(child).localname, []).append(child.text)
    assert dc["title"][0].startswith("Stories for a cheerful heart")
    assert "urn:isbn:9780786254811" in dc["identifier"]
    assert dc["type"][0] == "Text"
    assert dc["language"][0] == "eng"


def test_dc_in_and_out_keeps_what_dc_can_say(dc_schema, fixtures):
    (rusmarc,) = iter_file(fixtures / "records" / "rsl" / "01002988236_rusmarc.iso")
    element = to_oai_dc(rusmarc)
    record = record_from_dc(element, "oai:example:1")
    assert (record.schema, record.id, record.raw) == ("dc", "oai:example:1", None)
    assert record.title == rusmarc.title
    assert record.year == 1804 and record.language == "rus"
    assert dc_schema.validate(to_oai_dc(record))
    # A DC-only record can still be offered as MARCXML.
    assert record_from_marcxml(to_marcxml(record)).title == rusmarc.title


def test_oai_dc_harvest_record_with_isbn_identifier():
    element = etree.fromstring(
        b'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"'
        b' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<dc:title>Anna Karenina</dc:title><dc:creator>Tolstoy, Leo</dc:creator>"
        b"<dc:identifier>ISBN 0-14-044917-5</dc:identifier>"
        b"<dc:identifier>http://example.org/1</dc:identifier>"
        b"<dc:date>2003-05-01</dc:date><dc:language>eng</dc:language>"
        b"<dc:type>Text</dc:type></oai_dc:dc>"
    )
    record = record_from_dc(element, "oai:x:1")
    assert record.isbns == ["9780140449174"]
    assert (record.title, record.authors, record.year) == ("Anna Karenina", ["Tolstoy, Leo"], 2003)
    assert record.format == "book"


def test_a_record_iso2709_cannot_hold_is_refused_not_corrupted(fixtures):
    from pymarc import Field, Indicators, Subfield

    from federation.records import RecordError

    (record,) = iter_file(fixtures / "records" / "rsl" / "7_rusmarc.mrc")
    record.raw.add_field(
        Field(tag="500", indicators=Indicators(" ", " "), subfields=[Subfield("a", "x" * 10_000)])
    )
    with pytest.raises(RecordError, match="over ISO 2709"):
        to_iso2709(record)


def test_a_unicode_digit_indicator_still_makes_valid_marcxml(marc_schema, shared_data):
    """marc4j's 185258.mrc has '²' as an 082 indicator: a digit to Python, not to the schema."""
    records = [
        item
        for item in iter_file(shared_data / "malformed" / "marc4j" / "185258.mrc")
        if isinstance(item, Record)
    ]
    assert records, "the record is read despite its odd indicator"
    document = etree.fromstring(to_marcxml_collection(records))
    assert marc_schema.validate(document), marc_schema.error_log
