"""Reading the shipped fixture records: the story of a cataloguer's exports arriving."""

from __future__ import annotations

from federation.records import Record, RecordError, iter_bytes, iter_file, record_from_marcxml


def _records(path) -> list[Record]:
    items = list(iter_file(path))
    assert not [i for i in items if isinstance(i, RecordError)], items
    return items


def test_windows_1251_under_a_marc8_leader_comes_out_cyrillic(fixtures):
    records = _records(fixtures / "records" / "encodings" / "1251.dat")
    assert len(records) == 6
    assert all(any("\u0400" <= ch <= "\u04ff" for ch in r.title) for r in records)


def test_rusmarc_iso2709_is_unimarc_with_russian_title(fixtures):
    (record,) = _records(fixtures / "records" / "rsl" / "01002988236_rusmarc.iso")
    assert record.schema == "unimarc"
    assert record.title.startswith("История XVIII столетия")
    assert record.year == 1804
    assert record.language == "rus"


def test_same_book_in_marc21_and_rusmarc_agrees(fixtures):
    (marc21,) = _records(fixtures / "records" / "rsl" / "01002988236_marc21.mrc")
    (rusmarc,) = _records(fixtures / "records" / "rsl" / "01002988236_rusmarc.iso")
    assert marc21.schema == "marc21" and rusmarc.schema == "unimarc"
    assert marc21.title == rusmarc.title
    assert marc21.year == rusmarc.year


def test_marcxml_record_from_bytes_without_namespace():
    xml = b"""<record><leader>00000nam a2200000 a 4500</leader>
      <controlfield tag="001">x1</controlfield>
      <datafield tag="245" ind1="1" ind2="0"><subfield code="a">Title :</subfield>
      <subfield code="b">the subtitle /</subfield></datafield></record>"""
    record = record_from_marcxml(xml)
    assert (record.id, record.schema, record.title) == ("x1", "marc21", "Title: the subtitle")


def test_garbage_bytes_are_reported_not_raised():
    items = list(iter_bytes(b"this is not a MARC record at all" * 3, source="junk"))
    assert items and all(isinstance(i, RecordError) for i in items)
    assert str(items[0]).startswith("junk:#1: ")
