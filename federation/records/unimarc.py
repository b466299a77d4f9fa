"""UNIMARC / RUSMARC bibliographic record -> normalized :class:`Record`.

200 title ($a, $e other title information, $h/$i part), 700/701/702 personal
names ($a surname, $g expanded forenames or $b initials), 710-712 corporate
names, 010 ISBN, 011 ISSN, 100$a/09-12 date, 101 language, 205 edition,
210 (or 214 in newer records) publication, 215 extent, 600-610 subjects,
leader/06-07 format. Multi-part works carry the set title in 461$t.
"""

from __future__ import annotations

from federation.records import text
from federation.records.fields import Fields, sub, subs
from federation.records.model import Record

_TYPES = {
    "b": "manuscript",
    "c": "score",
    "d": "score",
    "e": "map",
    "f": "map",
    "g": "video",
    "i": "recording",
    "j": "music-recording",
    "k": "image",
    "l": "electronic",
    "m": "kit",
    "r": "other",
}


#: Every tag :func:`from_fields` reads: a reader may skip building the others.
TAGS = frozenset({
    "001", "010", "011", "035", "100", "101", "200", "205", "210", "214", "215", "461",
    "462", "500", "517", "540", "600", "601", "602", "604", "605", "606", "607", "608",
    "610", "700", "701", "702", "710", "711", "712",
})


def from_fields(leader: str, fields: Fields) -> Record:
    """The normalized record from the leader and the fields of :data:`TAGS`;
    never raises on odd data, leaves unknowns empty."""
    coded = sub(fields.first("100"), "a")
    isbns, invalid_isbns = text.isbns(fields.values(("010",), "a"))
    invalid_isbns += [text.clean(v) for v in fields.values(("010",), "z")]
    issns, bad_issns = text.issns(fields.values(("011",), "a"))
    place, publisher, date = _publication(fields)
    extent = text.clean(" ".join(fields.values(("215",), "a")))
    identifiers = {"invalid_issn": bad_issns} if bad_issns else {}
    return Record(
        id=fields.control("001").strip() or text.clean(next(fields.values(("035",), "a"), "")),
        schema="unimarc",
        title=_title(fields, leader[8:9] == "2"),
        authors=_authors(fields),
        isbns=isbns,
        invalid_isbns=text.unique(invalid_isbns),
        issns=issns,
        identifiers=identifiers,
        year=text.year(coded[9:13], date, coded[13:17]),
        language=text.language(next(fields.values(("101",), "a"), "")[:3]),
        publisher=publisher or None,
        place=place or None,
        edition=text.clean(next(fields.values(("205",), "a"), "")) or None,
        pages=text.pages(extent),
        extent=extent or None,
        subjects=_subjects(fields),
        format=_format(leader),
    )


def _title(fields: Fields, subordinate: bool) -> str:
    field = fields.first("200")
    title = ""
    if field is not None:
        title = text.join(subs(field, "a"), " ; ")
        other = text.join(subs(field, "e"), ": ")
        if other:
            title = f"{title}: {other}" if title else other
        part = text.join(subs(field, "hi"), ", ")
        if part:
            title = f"{title}. {part}" if title else part
    set_title = _set_title(fields)
    if set_title and (not title or subordinate or len(title) <= 15):
        # A volume of a multi-part work ("Вып. 13"): prefix the set's title.
        title = f"{set_title}. {title}" if title else set_title
    if not title:
        for tag, code in (("500", "a"), ("517", "a"), ("540", "a")):
            title = text.clean(next(fields.values((tag,), code), ""))
            if title:
                break
    return title


def _set_title(fields: Fields) -> str:
    """The title of the set a volume belongs to: 461/462 $t, or $a of an embedded 200."""
    for field in fields.all("461", "462"):
        embedded = ""
        for code, value in field.subfields:
            if code == "1":
                embedded = value[:3]
            elif code == "t" or (code == "a" and embedded == "200"):
                return text.clean(value)
    return ""


def _authors(fields: Fields) -> list[str]:
    names = []
    for field in fields.all("700", "701", "702"):
        surname = text.clean(sub(field, "a"))
        forenames = text.clean(sub(field, "g"), keep_initial=True) or text.clean(
            sub(field, "b"), keep_initial=True
        )
        names.append(f"{surname}, {forenames}" if surname and forenames else surname)
    for field in fields.all("710", "711", "712"):
        names.append(text.join(subs(field, "ab"), ". "))
    names = text.unique(names)
    if not names:
        responsibility = text.clean(sub(fields.first("200"), "f"))
        if responsibility:
            names = [responsibility]
    return names


def _publication(fields: Fields) -> tuple[str, str, str]:
    """``(place, publisher, date)`` from 210, or 214 (RUSMARC since 2017)."""
    for tag in ("210", "214"):
        field = fields.first(tag)
        if field is not None:
            return (
                text.clean(sub(field, "a")),
                text.clean(sub(field, "c")),
                sub(field, "d"),
            )
    return "", "", ""


def _subjects(fields: Fields) -> list[str]:
    headings = []
    for field in fields.all("600", "601", "602", "604", "605", "606", "607", "608"):
        headings.append(text.join(subs(field, "abcdfjtxyz"), " -- "))
    for value in fields.values(("610",), "a"):
        headings.append(text.clean(value))
    return text.unique(headings)


def _format(leader: str) -> str:
    kind, level = leader[6:7], leader[7:8]
    if kind in ("a", " ", ""):
        if level in ("s", "i"):
            return "serial"
        if level == "a":
            return "article"
        return "book"
    return _TYPES.get(kind, "other")
