"""Records out: MARCXML (MARC21slim), ISO 2709, and MARC built from a DC-only record."""

from __future__ import annotations

from collections.abc import Iterable

import pymarc
from lxml import etree
from pymarc import Field, Indicators, Subfield
from pymarc.leader import Leader

from federation.records import iso2709, marcxml
from federation.records.model import Record


def marc_of(record: Record) -> pymarc.Record:
    """The record's MARC: its raw record, or MARC 21 built from the normalized fields."""
    if record.raw is not None:
        return record.raw
    return _synthesize(record)


def to_marcxml(record: Record) -> bytes:
    """One ``<record xmlns="http://www.loc.gov/MARC21/slim">``, no XML declaration."""
    return etree.tostring(_element(record), encoding="utf-8")


def to_marcxml_collection(records: Iterable[Record]) -> bytes:
    """A full MARC21slim ``<collection>`` document (UTF-8, with declaration)."""
    return marcxml.collection(_element(record) for record in records)


def to_iso2709(record: Record) -> bytes:
    """UTF-8 ISO 2709 (leader/09 'a'), lengths counted in bytes."""
    return iso2709.write(marc_of(record), unimarc=record.schema == "unimarc")


def _element(record: Record) -> etree._Element:
    return marcxml.record_element(marc_of(record), unimarc=record.schema == "unimarc")


def _synthesize(record: Record) -> pymarc.Record:
    """Minimal MARC 21 for a record known only by its normalized fields (e.g. oai_dc)."""
    marc = pymarc.Record()
    kind = {
        "serial": "as",
        "article": "ab",
        "map": "em",
        "score": "cm",
        "video": "gm",
        "recording": "im",
        "music-recording": "jm",
        "image": "km",
        "electronic": "mm",
        "kit": "om",
        "mixed": "pc",
        "manuscript": "tm",
    }
    leader = f"00000n{kind.get(record.format, 'am')} a22000007a 4500"
    marc.leader = Leader(leader)

    def data(tag: str, ind: str, *pairs: tuple[str, str | None]) -> None:
        subfields = [Subfield(code, value) for code, value in pairs if value]
        if subfields:
            marc.add_field(
                Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=subfields)
            )

    marc.add_field(Field(tag="001", data=record.id))
    year = f"{record.year:04d}" if record.year else "    "
    lang = (record.language or "   ")[:3].ljust(3)
    marc.add_field(Field(tag="008", data=f"000000s{year}    xx            000 0 {lang} d"))
    for isbn in record.isbns:
        data("020", "  ", ("a", isbn))
    for issn in record.issns:
        data("022", "  ", ("a", issn))
    if record.authors:
        data("100", "1 ", ("a", record.authors[0]))
    data("245", "00", ("a", record.title))
    data("250", "  ", ("a", record.edition))
    data(
        "260",
        "  ",
        ("a", record.place),
        ("b", record.publisher),
        ("c", str(record.year) if record.year else None),
    )
    data("300", "  ", ("a", record.extent))
    for subject in record.subjects:
        data("653", "  ", ("a", subject))
    for author in record.authors[1:]:
        data("700", "1 ", ("a", author))
    return marc
