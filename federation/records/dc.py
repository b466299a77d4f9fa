"""Dublin Core both ways: ``oai_dc`` in (harvests) and out (our OAI-PMH provider).

Out: MARC 21 follows the Library of Congress "MARC to Dublin Core Crosswalk"
(unqualified DC); RUSMARC maps 200 title, 700/701 creators, 702 contributors,
010/011 numbers, 210/214 publication, 215 extent, 101 language, 606/610
subjects; a record that came in as DC goes out from its normalized fields.
Numbers are written as URNs (``urn:isbn:…``, RFC 3187) so that any harvester
can tell an ISBN from a shelf mark.

In: an ``oai_dc:dc`` element becomes a Record with schema "dc" and no raw MARC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pymarc
from lxml import etree

from federation.records import text
from federation.records.fields import Fields, sub, subs
from federation.records.model import Record

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
#: Qualified DC refinements read as the element they refine.
_REFINES = {
    "created": "date",
    "issued": "date",
    "available": "date",
    "alternative": "title",
    "abstract": "description",
    "extent": "format",
    "medium": "format",
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ISBN_HINT = re.compile(r"isbn", re.IGNORECASE)
_ISSN_HINT = re.compile(r"issn", re.IGNORECASE)

#: Record.format -> DCMI Type vocabulary term.
_DCMI_TYPES = {
    "book": "Text",
    "serial": "Text",
    "article": "Text",
    "manuscript": "Text",
    "score": "Text",
    "map": "Image",
    "image": "StillImage",
    "video": "MovingImage",
    "recording": "Sound",
    "music-recording": "Sound",
    "electronic": "Software",
    "kit": "Collection",
    "mixed": "Collection",
    "other": "PhysicalObject",
}
#: DC type words (any language we meet) -> Record.format.
_FORMAT_WORDS = (
    ("serial", "serial"),
    ("journal", "serial"),
    ("periodical", "serial"),
    ("article", "article"),
    ("map", "map"),
    ("cartograph", "map"),
    ("score", "score"),
    ("moving", "video"),
    ("video", "video"),
    ("film", "video"),
    ("sound", "recording"),
    ("audio", "recording"),
    ("image", "image"),
    ("software", "electronic"),
    ("dataset", "electronic"),
    ("electronic", "electronic"),
    ("collection", "mixed"),
    ("text", "book"),
    ("book", "book"),
    ("книг", "book"),
    ("журнал", "serial"),
)


# --------------------------------------------------------------------------- in


def record_from_dc(element: etree._Element, record_id: str) -> Record:
    """An ``oai_dc:dc`` element as a Record (schema "dc", raw None).

    Any container works (nsdl_dc, qualified DC): DC elements and DC terms are
    picked up wherever they are; refinements count as what they refine.
    """
    values: dict[str, list[str]] = {}
    for child in element.iter():
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag.startswith(f"{{{DC}}}"):
            name = tag[len(DC) + 2 :]
        elif tag.startswith(f"{{{DCTERMS}}}"):
            name = tag[len(DCTERMS) + 2 :]
            name = _REFINES.get(name, name)
        else:
            continue
        value = " ".join((child.text or "").split())
        if value:
            values.setdefault(name, []).append(value)
    identifiers = values.get("identifier", [])
    isbn_values = [v for v in identifiers if _ISBN_HINT.search(v)]
    issn_values = [v for v in identifiers if _ISSN_HINT.search(v) and v not in isbn_values]
    isbns, invalid_isbns = text.isbns(isbn_values)
    issns, _ = text.issns(issn_values)
    languages = [text.language(v[:3]) for v in values.get("language", [])]
    return Record(
        id=record_id,
        schema="dc",
        title=text.clean((values.get("title") or [""])[0]),
        authors=text.unique(text.clean(v, keep_initial=True) for v in values.get("creator", [])),
        isbns=isbns,
        invalid_isbns=invalid_isbns,
        issns=issns,
        year=text.year(*values.get("date", [])),
        language=next((lang for lang in languages if lang), None),
        publisher=text.clean((values.get("publisher") or [""])[0]) or None,
        subjects=text.unique(text.clean(v) for v in values.get("subject", [])),
        format=_format_from_types(values.get("type", [])),
    )


def _format_from_types(types: list[str]) -> str:
    for value in types:
        lowered = value.lower()
        for word, fmt in _FORMAT_WORDS:
            if word in lowered:
                return fmt
    return "book"


# --------------------------------------------------------------------------- out


def to_oai_dc(record: Record) -> etree._Element:
    """The record as an ``oai_dc:dc`` element, valid against oai_dc.xsd."""
    if record.raw is not None and record.schema == "marc21":
        elements = _from_marc21(Fields(record.raw), record)
    elif record.raw is not None and record.schema == "unimarc":
        elements = _from_unimarc(Fields(record.raw), record)
    else:
        elements = _from_normalized(record)
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    for name, value in elements:
        # One line per value: DC is for display and search, and line breaks
        # inside would break the one-element-per-line CLI output.
        value = " ".join(_CONTROL_CHARS.sub("", value or "").split())
        if value:
            etree.SubElement(root, f"{{{DC}}}{name}").text = value
    return root


Pairs = list[tuple[str, str]]


def _numbers(record: Record) -> Pairs:
    pairs = [("identifier", f"urn:isbn:{isbn}") for isbn in record.isbns]
    pairs += [("identifier", f"urn:issn:{issn}") for issn in record.issns]
    return pairs


def _from_normalized(record: Record) -> Pairs:
    pairs: Pairs = [("title", record.title)]
    pairs += [("creator", name) for name in record.authors]
    pairs += [("subject", subject) for subject in record.subjects]
    pairs += [("publisher", record.publisher or "")]
    pairs += [("date", str(record.year) if record.year else "")]
    pairs += [("type", _DCMI_TYPES.get(record.format, "Text"))]
    pairs += [("format", record.extent or "")]
    pairs += _numbers(record)
    pairs += [("language", record.language or "")]
    return pairs


def _from_marc21(fields: Fields, record: Record) -> Pairs:
    """LoC MARC to Dublin Core Crosswalk (unqualified)."""
    pairs: Pairs = []
    for field in fields.all("245"):
        pairs.append(("title", text.clean(" ".join(subs(field, "abfgknps")))))
    for field in fields.all("100", "110", "111", "700", "710", "711", "720"):
        pairs.append(("creator", text.clean(" ".join(subs(field, "abcdq")), keep_initial=True)))
    for field in fields.all("600", "610", "611", "630", "650", "653"):
        pairs.append(("subject", text.join(subs(field, "abcdtvxyz"), " -- ")))
    for field in fields.all("050", "060", "080", "082"):
        pairs.append(("subject", text.clean(" ".join(subs(field, "ab")))))
    for field in _notes(fields):
        pairs.append(("description", " ".join(subs(field, "abcdefghijklmnopqrstuvwxyz"))))
    for field in fields.all("260", "264"):
        pairs.append(("publisher", text.clean(" ".join(subs(field, "ab")))))
        pairs.append(("date", text.clean(sub(field, "c"))))
    pairs.append(("type", _DCMI_TYPES.get(record.format, "Text")))
    for value in fields.values(("655",), "a"):
        pairs.append(("type", text.clean(value)))
    for value in fields.values(("856",), "q"):
        pairs.append(("format", value))
    for value in fields.values(("300",), "a"):
        pairs.append(("format", text.clean(value)))
    pairs += _numbers(record)
    pairs += [("identifier", v) for v in record.invalid_isbns]
    for value in fields.values(("024",), "a"):
        pairs.append(("identifier", value))
    for value in fields.values(("856",), "u"):
        pairs.append(("identifier", value))
    for value in fields.values(("534", "786"), "t"):
        pairs.append(("source", value))
    pairs.append(("language", record.language or ""))
    for value in fields.values(("041",), "abdefghj"):
        pairs.append(("language", value))
    for field in fields.all(*(str(tag) for tag in range(760, 788))):
        pairs.append(("relation", text.clean(" ".join(subs(field, "ot")))))
    for value in fields.values(("530",), "a"):
        pairs.append(("relation", value))
    for field in fields.all("651", "662", "043", "045", "255"):
        pairs.append(("coverage", text.join(subs(field, "abcdefgh"), " -- ")))
    for value in fields.values(("506", "540"), "a"):
        pairs.append(("rights", value))
    return _dedupe(pairs)


def _notes(fields: Fields) -> Iterable[pymarc.Field]:
    """5XX notes except those the crosswalk sends elsewhere (506, 530, 540, 546)."""
    for tag, found in fields.by_tag.items():
        if tag.startswith("5") and tag.isdigit() and tag not in ("506", "530", "540", "546"):
            yield from found


def _from_unimarc(fields: Fields, record: Record) -> Pairs:
    """RUSMARC -> DC: 200, 700-702, 710-712, 010/011, 210/214, 215, 101, 606/610."""
    pairs: Pairs = [("title", record.title)]
    for field in fields.all("700", "701", "710", "711"):
        pairs.append(("creator", _unimarc_name(field)))
    for field in fields.all("702", "712"):
        pairs.append(("contributor", _unimarc_name(field)))
    if not any(name == "creator" for name, _ in pairs) and record.authors:
        pairs.append(("creator", record.authors[0]))
    pairs += [("subject", subject) for subject in record.subjects]
    for value in fields.values(("330",), "a"):
        pairs.append(("description", value))
    for field in fields.all("210", "214"):
        pairs.append(("publisher", text.join(subs(field, "ac"), " : ")))
        pairs.append(("date", text.clean(sub(field, "d"))))
    pairs.append(("type", _DCMI_TYPES.get(record.format, "Text")))
    for value in fields.values(("215",), "acd"):
        pairs.append(("format", text.clean(value)))
    pairs += _numbers(record)
    pairs += [("identifier", v) for v in record.invalid_isbns]
    for value in fields.values(("101",), "a"):
        pairs.append(("language", value.strip()))
    return _dedupe(pairs)


def _unimarc_name(field: pymarc.Field) -> str:
    if field.tag.startswith("70"):
        surname = text.clean(sub(field, "a"))
        forenames = text.clean(sub(field, "g") or sub(field, "b"), keep_initial=True)
        return f"{surname}, {forenames}" if surname and forenames else surname
    return text.join(subs(field, "ab"), ". ")


def _dedupe(pairs: Pairs) -> Pairs:
    seen: set[tuple[str, str]] = set()
    result = []
    for pair in pairs:
        if pair[1] and pair not in seen:
            seen.add(pair)
            result.append(pair)
    return result
