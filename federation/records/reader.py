"""Reading files and byte strings of records: sniff the container, yield records or errors.

Reading never stops at a bad record: each one becomes a :class:`RecordError`
carrying the source and its 1-based position, and the next record is read. Only
a file that cannot be opened raises (OSError).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pymarc
from lxml import etree

from federation.errors import RecordError
from federation.records import iso2709, marc21, marcxml, unimarc
from federation.records import schema as schemas
from federation.records.fields import Fields
from federation.records.model import Record

log = logging.getLogger(__name__)


def detect_schema(marc: pymarc.Record) -> str:
    """``"marc21"`` or ``"unimarc"``, judged from the record's fields and leader."""
    return schemas.detect(marc)


def normalize(marc: pymarc.Record, schema: str | None = None, hint: str | None = None) -> Record:
    """A pymarc record as a normalized Record; detects MARC 21 vs UNIMARC when not given.

    ``hint`` is a ``format`` attribute from MARCXML ("UNIMARC", "MARC21"), if any.
    """
    return _normalize(marc, Fields(marc), schema, hint)


def _normalize(marc: pymarc.Record, fields: Fields, schema: str | None, hint: str | None) -> Record:
    record = _from_fields(str(marc.leader), fields, schema, hint)
    record.field_count = len(marc.fields)
    record.raw = marc
    return record


def _from_fields(leader: str, fields: Fields, schema: str | None, hint: str | None) -> Record:
    """The normalized record of a leader and its fields by tag (all of them, or at
    least the normalizers' TAGS), by the schema given or detected."""
    schema = schema or schemas.detect_fields(leader, fields.by_tag, hint)
    if schema == schemas.UNIMARC:
        return unimarc.from_fields(leader, fields)
    return marc21.from_fields(leader, fields)


def record_from_marcxml(xml: bytes | etree._Element) -> Record:
    """One MARCXML ``<record>`` (any or no namespace, MARC 21 or UNIMARC) as a Record.

    Raises RecordError when the XML is not well-formed or the record is unusable.
    """
    return _from_marcxml(marcxml.parse_element(xml))


#: Every tag normalizing reads, whatever the schema turns out to be.
NORMALIZED_TAGS = marc21.TAGS | unimarc.TAGS | schemas.TAGS


def _from_marcxml(element: etree._Element) -> Record:
    """A ``<record>`` element as a Record whose raw pymarc record is built on first use.

    Only the fields normalizing reads are built now; most records read in bulk
    (a harvest, ``records read``) never need the others. The Record holds the
    element until then.
    """
    leader, hint, by_tag, count = marcxml.read_selected(element, NORMALIZED_TAGS)
    fields = Fields.indexed(by_tag)  # type: ignore[arg-type]  # read-only sequences
    record = _from_fields(leader, fields, None, hint)
    record.field_count = count
    record.defer_raw(partial(marc_from_marcxml, element))
    return record


def marc_from_marcxml(xml: bytes | etree._Element) -> pymarc.Record:
    """One MARCXML ``<record>`` as a pymarc record with every field, not normalized
    (what a deferred ``Record.raw`` is built with)."""
    return marcxml.read_element(marcxml.parse_element(xml))[0]


def iter_file(path: str | Path) -> Iterator[Record | RecordError]:
    """Every record of an ISO 2709 or MARCXML file (gzip allowed), bad ones as errors."""
    data = Path(path).read_bytes()
    return iter_bytes(data, source=str(path))


def iter_bytes(data: bytes, source: str = "<bytes>") -> Iterator[Record | RecordError]:
    """Every record in ``data``, sniffing gzip, MARCXML or ISO 2709."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            yield RecordError(f"broken gzip data: {error}", source=source, position=1)
            return
    if _looks_like_xml(data):
        yield from _iter_xml(data, source)
    else:
        yield from _iter_iso2709(data, source)


def _looks_like_xml(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf\x00 \t\r\n")
    return head.startswith(b"<")


def _iter_iso2709(data: bytes, source: str) -> Iterator[Record | RecordError]:
    seen = False
    for position, chunk in iso2709.split(data):
        seen = True
        try:
            yield normalize(iso2709.parse(chunk))
        except RecordError as error:
            yield RecordError(error.reason, source=source, position=position)
        except Exception as error:  # a record must never stop the file
            log.debug("record %s:#%d failed", source, position, exc_info=True)
            yield RecordError(
                f"unreadable record ({type(error).__name__}: {error})",
                source=source,
                position=position,
            )
    if not seen and data.strip(b"\x00\r\n \t\x1a"):
        yield RecordError("no ISO 2709 record found", source=source, position=1)


def _iter_xml(data: bytes, source: str) -> Iterator[Record | RecordError]:
    position = 0
    try:
        for element in marcxml.stream_records(data):
            position += 1
            yield _from_element(element, source, position)
    except etree.XMLSyntaxError as error:
        yield from _after_syntax_error(data, source, position, error)
        return
    if position == 0:
        yield RecordError("no MARC <record> in this XML document", source=source, position=1)


def _from_element(element: etree._Element, source: str, position: int) -> Record | RecordError:
    try:
        return _from_marcxml(element)
    except RecordError as error:
        return RecordError(error.reason, source=source, position=position)
    except Exception as error:  # a record must never stop the file
        return RecordError(
            f"unreadable record ({type(error).__name__}: {error})", source=source, position=position
        )


def _after_syntax_error(
    data: bytes, source: str, done: int, error: etree.XMLSyntaxError
) -> Iterator[Record | RecordError]:
    """The rest of a document that stops being well-formed after ``done`` records.

    lxml's recover mode reads on past the damage; the record whose text holds
    the error (the last one starting before its line) is reported, the others
    are read as usual.
    """
    line = error.lineno
    reason = f"not well-formed XML near line {line}: {getattr(error, 'msg', error)}"
    try:
        elements = marcxml.recover_records(data)
    except etree.XMLSyntaxError:
        elements = []
    broken = None
    for index, element in enumerate(elements):
        if element.sourceline is not None and line is not None and element.sourceline <= line:
            broken = index
    if broken is None or broken < done:
        yield RecordError(reason, source=source, position=done + 1)
        done += 1
        broken = None
    for index in range(done, len(elements)):
        if index == broken:
            yield RecordError(reason, source=source, position=index + 1)
        else:
            yield _from_element(elements[index], source, index + 1)
