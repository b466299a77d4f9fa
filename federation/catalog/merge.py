"""What a cluster shows: the best member's fields, the union of the many-valued ones.

RecordManager's display merge: single-valued fields (title, authors, year…) come
from the *best* member — the most complete one — while ISBNs, subjects and the
libraries holding the work are the union over all members. The search row
indexes every member's title and authors, so a reader finds a work by the
Cyrillic title of one library's record or the romanized one of another's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from federation.catalog.folding import fold, latin
from federation.pickling import pickled_by_fields
from federation.records.model import Record


def completeness(record: Record) -> int:
    """RecordManager's "best record" score: more fields and a longer title win,
    an all-capitals title (a sloppy copy) loses, Dublin Core ranks last."""
    fields = record.field_count or sum(1 for value in record.summary().values() if value)
    score = fields * 1000 + min(len(record.title), 999)
    if record.title.isupper():
        score -= 500
    if record.schema == "dc":
        score -= 100_000
    return score


@dataclass(slots=True)
class Member:
    """What the merge needs of one member."""

    pk: int
    library: str
    normalized: dict[str, Any]
    score: int


@pickled_by_fields
@dataclass(slots=True)
class ClusterRow:
    """A cluster as the storage writes it: display fields plus its search row."""

    pk: int
    best_pk: int
    title: str
    authors: list[str]
    year: int | None
    format: str | None
    language: str | None
    isbns: list[str]
    libraries: list[str]
    size: int
    search: dict[str, str] = field(default_factory=dict)


def summarize(pk: int, members: list[Member]) -> ClusterRow:
    """The displayed summary and the search row of cluster ``pk``."""
    best = max(members, key=lambda m: (m.score, -m.pk)) if len(members) > 1 else members[0]
    shown = best.normalized
    others = [m.normalized for m in members if m is not best]
    everyone = [shown, *others]
    titles = _unique(n.get("title") for n in everyone)
    authors = _unique(a for n in everyone for a in n.get("authors") or ())
    isbns = _unique(i for n in everyone for i in n.get("isbns") or ())
    subjects = _unique(s for n in everyone for s in n.get("subjects") or ())
    publishers = _unique(n.get("publisher") for n in everyone)
    year = next((n["year"] for n in everyone if n.get("year")), None)
    language = next((n["language"] for n in everyone if n.get("language")), None)
    row = ClusterRow(
        pk=pk,
        best_pk=best.pk,
        title=shown.get("title") or "",
        authors=list(shown.get("authors") or ()) or authors[:3],
        year=year,
        format=shown.get("format"),
        language=language,
        isbns=isbns,
        libraries=sorted({m.library for m in members}),
        size=len(members),
    )
    # Folded piece by piece: authors, subjects and publishers repeat across a
    # catalog, and the folding functions remember what they have seen.
    row.search = {
        "title": " ".join(fold(title) for title in titles),
        "authors": " ; ".join(fold(author) for author in authors),
        "authors_latin": " ".join(latin(author) for author in authors),
        "subjects": " ; ".join(fold(subject) for subject in subjects),
        "publisher": " ; ".join(fold(publisher) for publisher in publishers),
        "isbn": " ".join(isbns),
        "year": str(year) if year else "",
        "language": fold(language or ""),
        "format": fold(row.format or ""),
    }
    return row


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return list(seen)
