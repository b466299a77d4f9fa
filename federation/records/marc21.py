"""MARC 21 bibliographic record -> normalized :class:`Record`.

Field choices follow the MARC 21 Format for Bibliographic Data: 245 title,
1XX/7XX names, 020/022 numbers, 010 LCCN, 035 (OCoLC), 008 dates and language,
264 (RDA) before 260 (AACR2) for publication, 250 edition, 300 extent, 6XX
subjects, leader/06-07 for the format.
"""

from __future__ import annotations

import re

from federation.records import text
from federation.records.fields import Fields, sub, subs
from federation.records.model import Record

#: leader/06 type of record -> format (language material is refined by leader/07).
_TYPES = {
    "c": "score",
    "d": "score",
    "e": "map",
    "f": "map",
    "g": "video",
    "i": "recording",
    "j": "music-recording",
    "k": "image",
    "m": "electronic",
    "o": "kit",
    "p": "mixed",
    "r": "other",
    "t": "manuscript",
}
_OCLC = re.compile(r"^\(OCoLC\)\s*(?:ocm|ocn|on)?\s*0*(\d+)", re.IGNORECASE)


#: Every tag :func:`from_fields` reads: a reader may skip building the others.
#: (tests/records/test_marcxml_reader.py checks the MARCXML fast path against it.)
TAGS = frozenset({
    "001", "008", "010", "020", "022", "035", "041", "100", "110", "111", "130", "210",
    "222", "240", "242", "245", "246", "250", "260", "264", "300", "600", "610", "611",
    "630", "648", "650", "651", "653", "655", "700", "710", "711", "720",
})


def from_fields(leader: str, fields: Fields) -> Record:
    """The normalized record from the leader and the fields of :data:`TAGS`;
    never raises on odd data, leaves unknowns empty."""
    fixed = fields.control("008")
    isbns, invalid_isbns = text.isbns(fields.values(("020",), "a"))
    # 020$z is by definition a cancelled or invalid ISBN: kept apart, never promoted.
    invalid_isbns += [text.clean(v) for v in fields.values(("020",), "z")]
    issns, bad_issns = text.issns(fields.values(("022",), "a"))
    publication = _publication(fields)
    extent = text.clean(" ".join(fields.values(("300",), "a")))
    return Record(
        id=fields.control("001").strip() or text.clean(next(fields.values(("035",), "a"), "")),
        schema="marc21",
        title=_title(fields),
        authors=_authors(fields),
        isbns=isbns,
        invalid_isbns=text.unique(invalid_isbns),
        issns=issns,
        identifiers=_identifiers(fields, bad_issns),
        year=text.year(
            fixed[7:11] if fixed[6:7] not in ("b", "n") else "", publication[2], fixed[11:15]
        ),
        language=text.language(fixed[35:38])
        or text.language(next(fields.values(("041",), "a"), "")[:3]),
        publisher=publication[1] or None,
        place=publication[0] or None,
        edition=text.clean(next(fields.values(("250",), "a"), "")) or None,
        pages=text.pages(extent),
        extent=extent or None,
        subjects=_subjects(fields),
        format=_format(leader),
    )


def _title(fields: Fields) -> str:
    """245 $a with $b subtitle and $n/$p part; other title fields when 245 is missing."""
    field = fields.first("245")
    if field is not None:
        main = text.clean(sub(field, "a")) or text.clean(sub(field, "k"))
        subtitle = text.clean(sub(field, "b"))
        parts = text.join(subs(field, "np"), ", ")
        title = main
        if subtitle:
            title = f"{title}: {subtitle}" if title else subtitle
        if parts:
            title = f"{title}. {parts}" if title else parts
        if title:
            return title
    for tag in ("246", "240", "130", "222", "210", "242"):
        value = text.clean(sub(fields.first(tag), "a"))
        if value:
            return value
    # No title field at all (e.g. an INSPIRE conference record): the meeting or
    # body it describes is the best name a reader can be shown.
    for tag in ("111", "110"):
        value = text.join(subs(fields.first(tag), "acd") if fields.first(tag) else [], ", ")
        if value:
            return value
    return ""


def _authors(fields: Fields) -> list[str]:
    names = []
    for field in fields.all("100", "110", "111", "700", "710", "711", "720"):
        name = " ".join(subs(field, "ab" if field.tag[1:] != "11" else "a"))
        names.append(text.clean(name, keep_initial=True))
    return text.unique(names)


def _identifiers(fields: Fields, bad_issns: list[str]) -> dict[str, list[str]]:
    identifiers: dict[str, list[str]] = {}
    lccn = text.unique(v.strip() for v in fields.values(("010",), "a"))
    if lccn:
        identifiers["lccn"] = lccn
    oclc = []
    for value in fields.values(("035",), "a"):
        match = _OCLC.match(value.strip())
        if match:
            oclc.append(match.group(1))
    if oclc:
        identifiers["oclc"] = text.unique(oclc)
    if bad_issns:
        identifiers["invalid_issn"] = bad_issns
    return identifiers


def _publication(fields: Fields) -> tuple[str, str, str]:
    """``(place, publisher, date)`` from 264 with ind2=1 (publication), else 260."""
    chosen = None
    for field in fields.all("264"):
        if field.indicators and field.indicators[1] == "1":
            chosen = field
            break
    if chosen is None:
        chosen = fields.first("260") or fields.first("264")
    if chosen is None:
        return "", "", ""
    return (
        text.clean(sub(chosen, "a")),
        text.clean(sub(chosen, "b")),
        sub(chosen, "c"),
    )


def _subjects(fields: Fields) -> list[str]:
    headings = []
    for field in fields.all("600", "610", "611", "630", "648", "650", "651", "653", "655"):
        headings.append(text.join(subs(field, "abcdtvxyz"), " -- "))
    return text.unique(headings)


def _format(leader: str) -> str:
    kind, level = leader[6:7], leader[7:8]
    if kind in ("a", " ", ""):
        if level in ("s", "i"):
            return "serial"
        if level in ("a", "b"):
            return "article"
        return "book"
    return _TYPES.get(kind, "other")
