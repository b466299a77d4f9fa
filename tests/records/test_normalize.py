"""What a cataloguer's fields become in the normalized record."""

from __future__ import annotations

import pymarc
from pymarc import Field, Indicators, Subfield

from federation.records import Record, RecordError, detect_schema, iter_file, normalize


def _by_id(path, record_id: str) -> Record:
    for item in iter_file(path):
        if isinstance(item, Record) and item.id == record_id:
            return item
    raise AssertionError(f"{record_id} not in {path}")


def _marc(leader: str, *fields: Field) -> pymarc.Record:
    record = pymarc.Record()
    record.leader = pymarc.leader.Leader(leader)
    record.fields = list(fields)
    return record


def _data(tag: str, *pairs: str, ind: str = "  ") -> Field:
    subfields = [Subfield(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    return Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=subfields)


def test_british_library_large_print_book(fixtures):
    record = _by_id(fixtures / "records" / "demo" / "british_library.xml", "010279636")
    assert record.schema == "marc21"
    assert record.title == "Stories for a cheerful heart"
    assert record.isbns == ["9780786254811"]
    assert record.identifiers == {"lccn": ["2003047845"], "oclc": ["51942297"]}
    assert (record.year, record.pages, record.edition) == (2003, 155, "Large print ed")


def test_invalid_isbn_is_kept_apart_not_dropped():
    marc = _marc(
        "00000nam a2200000 a 4500",
        Field(tag="001", data="b1"),
        _data("020", "a", "0-201-61622-X (pbk.)"),
        _data("020", "a", "5-7443-0043-1"),
        _data("020", "z", "9781847262295 (PDF)"),
        _data("022", "a", "0317-8471"),
        _data("035", "a", "(OCoLC)ocm00012345"),
        _data(
            "245",
            "a",
            "The pragmatic programmer :",
            "b",
            "from journeyman to master /",
            "c",
            "Andrew Hunt, David Thomas.",
            ind="14",
        ),
        _data("100", "a", "Hunt, Andrew,", "e", "author."),
        _data("700", "a", "Thomas, David,"),
        _data("264", "a", "Reading, Mass. :", "b", "Addison-Wesley,", "c", "c2000.", ind=" 1"),
        _data("300", "a", "xxiv, 321 p. :", "b", "ill. ;", "c", "24 cm."),
        _data("650", "a", "Computer programming.", "x", "Methodology", ind=" 0"),
    )
    record = normalize(marc)
    assert record.title == "The pragmatic programmer: from journeyman to master"
    assert record.authors == ["Hunt, Andrew", "Thomas, David"]
    assert record.isbns == ["9780201616224"]
    assert record.invalid_isbns == ["5-7443-0043-1", "9781847262295 (PDF)"]
    assert record.issns == ["0317-8471"]
    assert record.identifiers["oclc"] == ["12345"]
    assert (record.publisher, record.place, record.year) == (
        "Addison-Wesley",
        "Reading, Mass",
        2000,
    )
    assert (record.extent, record.pages) == ("xxiv, 321 p", 321)
    assert record.subjects == ["Computer programming -- Methodology"]
    assert record.format == "book"


def test_rusmarc_fields_are_read_as_unimarc():
    marc = _marc(
        "00000nam0 2200000   450 ",
        Field(tag="001", data="RU\\NLR\\1"),
        _data("010", "a", "5-7443-0043-0", "9", "700"),
        _data("100", "a", "19980716d1997    u  y0rusy0189    ca"),
        _data("101", "a", "rus", ind="0 "),
        _data("200", "a", "Война и мир", "e", "роман", "f", "Л. Н. Толстой", ind="1 "),
        _data("205", "a", "2-е изд."),
        _data("210", "a", "М.", "c", "Худож. лит.", "d", "1997"),
        _data("215", "a", "684, [2] с."),
        _data("606", "a", "Художественная литература", "x", "Россия"),
        _data("700", "a", "Толстой", "g", "Лев Николаевич", ind=" 1"),
    )
    assert detect_schema(marc) == "unimarc"
    record = normalize(marc)
    assert record.schema == "unimarc"
    assert record.title == "Война и мир: роман"
    assert record.authors == ["Толстой, Лев Николаевич"]
    assert record.isbns == ["9785744300432"]
    assert (record.year, record.language, record.place, record.publisher) == (
        1997,
        "rus",
        "М",
        "Худож. лит",
    )
    assert (record.edition, record.pages) == ("2-е изд", 684)
    assert record.subjects == ["Художественная литература -- Россия"]


def test_formats_follow_the_leader(fixtures):
    demo = fixtures / "records" / "demo"
    assert _by_id(demo / "british_library.xml", "007177759").format == "serial"
    assert _by_id(demo / "gwu.xml", "7704213").format == "music-recording"
    assert _by_id(demo / "nlm.xml", "1057031").format == "article"
    assert _by_id(demo / "oclc.xml", "249049").format == "video"
    assert _by_id(demo / "princeton.xml", "3542217").format == "score"


def test_every_demo_library_reads_cleanly(fixtures):
    for path in sorted((fixtures / "records" / "demo").glob("*.xml")):
        items = list(iter_file(path))
        records = [i for i in items if isinstance(i, Record)]
        assert not [i for i in items if isinstance(i, RecordError)], path
        assert len(records) >= 90, path
        assert sum(1 for r in records if r.title) >= len(records) - 2, path


def test_issn_check_digits_agree_with_python_stdnum():
    import random

    from stdnum import issn

    from federation.records.text import issns

    rng = random.Random(2)
    for _ in range(3000):
        number = f"{rng.randrange(10**7):07d}" + rng.choice("0123456789X")
        candidate = f"{number[:4]}-{number[4:]}"
        valid, _ = issns([candidate])
        assert bool(valid) == issn.is_valid(candidate), candidate
