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


def _split(path) -> tuple[list[Record], list[RecordError]]:
    items = list(iter_file(path))
    return (
        [i for i in items if isinstance(i, Record)],
        [i for i in items if isinstance(i, RecordError)],
    )


def test_bad_records_in_the_middle_of_a_file_are_reported_and_reading_goes_on(fixtures):
    path = fixtures / "records" / "malformed" / "bad_records.mrc"
    records, errors = _split(path)
    # Record 4's directory has one 13-byte entry: repaired. 5 and 7 are beyond repair.
    assert len(records) == 6
    assert records[3].title == "The pragmatic programmer: from journeyman to master"
    assert [e.position for e in errors] == [5, 7]
    assert all(e.source == str(path) and e.reason for e in errors)


def test_truncated_marcxml_keeps_the_records_before_the_damage(fixtures):
    records, errors = _split(fixtures / "records" / "malformed" / "svod-18-partial.mrx")
    # Both records are complete; the document then stops (no </collection>).
    assert len(records) == 2 and all(r.schema == "unimarc" for r in records)
    assert len(errors) == 1 and errors[0].position == 3
    assert "not well-formed" in errors[0].reason


def test_every_malformed_fixture_reads_without_raising(fixtures):
    for path in sorted((fixtures / "records" / "malformed").iterdir()):
        records, errors = _split(path)
        assert records or errors, path


def test_records_separated_by_newlines_and_nul_filler_are_found(fixtures):
    data = (fixtures / "records" / "encodings" / "test.dat").read_bytes()
    spaced = b"\x00\x00\n" + data.replace(b"\x1d", b"\x1d\r\n") + b"\x1a"
    assert len([i for i in iter_bytes(spaced) if isinstance(i, Record)]) == 10


def test_leader_length_counting_characters_is_recovered(fixtures):
    data = (fixtures / "records" / "encodings" / "utf8_with_leader_flag.dat").read_bytes()
    (good,) = iter_bytes(data)
    # Write the length as if counted in characters, not bytes.
    chars = len(data.decode("utf-8"))
    assert chars != len(data)
    lying = f"{chars:05d}".encode() + data[5:]
    (record,) = [i for i in iter_bytes(lying + lying) if isinstance(i, Record)][:1]
    assert record.title == good.title
    assert len([i for i in iter_bytes(lying + lying) if isinstance(i, Record)]) == 2


def test_utf8_behind_a_blank_leader_and_cp866_are_detected(fixtures):
    (record,) = _split(fixtures / "records" / "encodings" / "utf8_without_leader_flag.dat")[0]
    (flagged,) = _split(fixtures / "records" / "encodings" / "utf8_with_leader_flag.dat")[0]
    assert record.summary() == flagged.summary()
    fields = [str(f) for f in record.raw.fields]
    assert fields == [str(f) for f in flagged.raw.fields]
    assert not "".join(fields).isascii()
    records, _ = _split(fixtures / "records" / "encodings" / "cp866_unimarc.marc")
    assert records[0].id == "Никитенко Е. А."


def test_latin1_export_with_a_blank_leader_is_not_taken_for_marc8():
    import pymarc
    from pymarc import Field, Indicators, Subfield

    from federation.records import normalize, to_iso2709

    marc = pymarc.Record()
    marc.leader = pymarc.leader.Leader("00000nam  2200000 a 4500")
    marc.fields = [
        Field(tag="001", data="se-1"),
        Field(
            tag="245",
            indicators=Indicators("1", "0"),
            subfields=[
                Subfield("a", "Det osynliga barnet och andra berättelser om Mumintrollet, café")
            ],
        ),
        Field(
            tag="260",
            indicators=Indicators(" ", " "),
            subfields=[Subfield("b", "Schildt, Helsingfors")],
        ),
    ]
    utf8 = to_iso2709(normalize(marc))
    latin1 = utf8.decode("utf-8").encode("latin-1")
    latin1 = latin1[:9] + b" " + latin1[10:]  # leader/09 blank: "MARC-8", which it is not
    (record,) = iter_bytes(latin1)
    assert record.title == "Det osynliga barnet och andra berättelser om Mumintrollet, café"
