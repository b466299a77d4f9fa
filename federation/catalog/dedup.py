"""Deduplication: which records are copies of the same work. Reads top-down.

The approach is RecordManager's (NatLibFi, Finna), in one place:

1. **Match data** — each record is reduced once, when it is stored, to what the
   rules look at (:class:`MatchData`): ISBNs, unique ids (LCCN, OCLC numbers…),
   ISSNs, year, pages, and the title and first author in their script-free
   matching form (:func:`federation.catalog.folding.latin`).
2. **Keys** — ``i:<isbn-13>``, ``u:<kind>:<id>``, and one title key
   ``t:<first words of the title>|<author surname>``. Records sharing a key are
   candidates. (RecordManager builds the title key only when there is an author;
   we also build it for authorless works — many old books and serials have none —
   because the rules below still guard the match.)
3. **Candidates in order** — ISBN against grouped records, unique id against
   grouped, ISBN against single ones, id against single ones, title key against
   grouped, title key against single ones. Only records of *other* sources, and
   never into a cluster that already holds a record of this source.
4. **Confirmation** — :data:`RULES`, one ordered list; the first rule with an
   opinion decides, and a candidate no rule rejects is a match.

The module knows no SQL: the storage hands it the neighbourhood of a page
(:class:`Neighbourhood`), it decides, and the storage writes the outcome.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Literal

from rapidfuzz.distance import Levenshtein

from federation.catalog import jsontext
from federation.catalog.folding import latin
from federation.pickling import pickled_by_fields
from federation.records.model import Record

#: Words a title key skips when a title starts with them (no non-filing
#: indicator survives normalization, so the common articles are listed here).
_ARTICLES = frozenset({"the", "a", "an", "der", "die", "das", "le", "la", "les", "l", "el"})
#: How many significant title words the title key keeps.
_TITLE_KEY_WORDS = 5
_SUBTITLE = re.compile(r"\s*[:;=/]\s|\.\s")
_DIGITS = re.compile(r"\b\d[\d\s-]*\b")


@pickled_by_fields
@dataclass(slots=True)
class MatchData:
    """What the rules compare, computed once per record and stored beside it."""

    source: str
    schema: str
    format: str
    isbns: list[str]
    ids: list[str]
    issns: list[str]
    year: int | None
    pages: int | None
    #: Full title, then the title proper (before a subtitle), in matching form.
    title: str
    short_title: str
    #: The first author in matching form ("surname forenames"), or "".
    author: str

    @classmethod
    def of(cls, record: Record, source: str) -> MatchData:
        """Reduce a normalized record to its match data."""
        ids = sorted(
            f"{kind.lower()}:{_compact(value)}"
            for kind, values in record.identifiers.items()
            for value in values
            if _compact(value)
        )
        title = latin(record.title)
        title_proper = _SUBTITLE.split(record.title, maxsplit=1)[0]
        return cls(
            source=source,
            schema=record.schema,
            format=record.format,
            isbns=sorted(set(record.isbns)),
            ids=ids,
            issns=sorted({_compact(issn) for issn in record.issns}),
            year=record.year,
            pages=record.pages,
            title=title,
            short_title=title if title_proper == record.title else latin(title_proper),
            author=_author_form(record.authors[0]) if record.authors else "",
        )

    def keys(self) -> list[str]:
        """The candidate keys of this record."""
        keys = [f"i:{isbn}" for isbn in self.isbns]
        keys += [f"u:{uid}" for uid in self.ids]
        title_words = self.title.split()
        while title_words and title_words[0] in _ARTICLES and len(title_words) > 1:
            title_words = title_words[1:]
        if title_words:
            surname = self.author.split()[0] if self.author else ""
            keys.append(f"t:{' '.join(title_words[:_TITLE_KEY_WORDS])}|{surname}")
        return keys

    def to_json(self) -> str:
        # By hand: dataclasses.asdict deep-copies every value, and this runs per record.
        data = {name: getattr(self, name) for name in _MATCH_FIELDS}
        return jsontext.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> MatchData:
        return cls(**jsontext.loads(text))

    def digest(self) -> str:
        """Changes exactly when a re-harvested record must be re-deduplicated."""
        return hashlib.blake2b(self.to_json().encode(), digest_size=12).hexdigest()


_MATCH_FIELDS = tuple(f.name for f in fields(MatchData))


def _compact(value: str) -> str:
    return re.sub(r"[\s-]+", "", value).lower()


def _author_form(name: str) -> str:
    """Matching form of a name: script-free, without dates (``1828-1910``)."""
    return " ".join(_DIGITS.sub(" ", latin(name)).split())


# --- the rules, in order ------------------------------------------------------

Verdict = Literal["match", "reject"] | None


def _same_format(a: MatchData, b: MatchData) -> Verdict:
    # Dublin Core says little about format ("Text"), so it cannot contradict.
    if "dc" in (a.schema, b.schema):
        return None
    return None if a.format == b.format else "reject"


def _shared_isbn(a: MatchData, b: MatchData) -> Verdict:
    return "match" if set(a.isbns) & set(b.isbns) else None


def _shared_unique_id(a: MatchData, b: MatchData) -> Verdict:
    return "match" if set(a.ids) & set(b.ids) else None


def _issns_differ(a: MatchData, b: MatchData) -> Verdict:
    if a.issns and b.issns and not set(a.issns) & set(b.issns):
        return "reject"
    return None


def _years_differ(a: MatchData, b: MatchData) -> Verdict:
    if a.year is not None and b.year is not None and a.year != b.year:
        return "reject"
    return None


def _pages_differ(a: MatchData, b: MatchData) -> Verdict:
    if a.pages is not None and b.pages is not None and abs(a.pages - b.pages) > 10:
        return "reject"
    return None


def _titles_differ(a: MatchData, b: MatchData) -> Verdict:
    # One cataloguer may record the subtitle and another not: titles proper
    # that agree are enough, the author and year rules still stand guard.
    if titles_close(a.title, b.title) or titles_close(a.short_title, b.short_title):
        return None
    return "reject"


def _authors_incompatible(a: MatchData, b: MatchData) -> Verdict:
    if bool(a.author) != bool(b.author):
        return "reject"
    if a.author and not authors_compatible(a.author, b.author):
        return "reject"
    return None


#: The confirmation rules, in the order they are asked. The first verdict wins.
RULES: list[tuple[str, Callable[[MatchData, MatchData], Verdict]]] = [
    ("format differs", _same_format),
    ("shared ISBN", _shared_isbn),
    ("shared unique id", _shared_unique_id),
    ("ISSNs differ", _issns_differ),
    ("years differ", _years_differ),
    ("page counts differ by more than 10", _pages_differ),
    ("titles differ", _titles_differ),
    ("authors incompatible", _authors_incompatible),
]


def confirm(a: MatchData, b: MatchData) -> tuple[bool, str]:
    """Whether ``a`` and ``b`` are the same work, and the rule that said so."""
    for name, rule in RULES:
        verdict = rule(a, b)
        if verdict is not None:
            return verdict == "match", name
    return True, "no rule rejected"


def titles_close(a: str, b: str) -> bool:
    """Levenshtein distance under 10% of the longer title."""
    if not a or not b:
        return False
    if a == b:
        return True
    limit = max(len(a), len(b)) / 10
    return Levenshtein.distance(a, b, score_cutoff=int(limit) + 1) < limit


def authors_compatible(a: str, b: str) -> bool:
    """Equal, one a prefix of the other, same surname with compatible initials,
    or within 20% Levenshtein (spelling and romanization variants)."""
    if a == b or a.startswith(b) or b.startswith(a):
        return True
    words_a, words_b = a.split(), b.split()
    if sorted(words_a) == sorted(words_b):  # "Leo Tolstoy" / "Tolstoy, Leo"
        return True
    if words_a[0] == words_b[0]:
        initials_a = [word[0] for word in words_a[1:]]
        initials_b = [word[0] for word in words_b[1:]]
        shorter = min(len(initials_a), len(initials_b))
        if initials_a[:shorter] == initials_b[:shorter]:
            return True
    return Levenshtein.normalized_distance(a, b) <= 0.2


# --- candidates and clusters --------------------------------------------------

#: Candidate ranks in RecordManager's order: (key kind, grouped?) → rank.
_RANK = {("i", True): 0, ("u", True): 1, ("i", False): 2, ("u", False): 3,
         ("t", True): 4, ("t", False): 5}  # fmt: skip


@dataclass(slots=True)
class Neighbourhood:
    """The part of the catalog a page's records can meet, as the storage read it.

    ``match`` holds the match data of every record that may be compared (the
    page's own and the candidates); ``source_of``/``cluster_of`` cover every
    member of every cluster involved; ``key_hits`` maps keys to stored records.
    A record whose ``cluster_of`` is ``None`` is waiting to be (re)placed.
    """

    match: dict[int, MatchData]
    source_of: dict[int, str]
    cluster_of: dict[int, int | None]
    key_hits: dict[str, set[int]]
    _members: dict[int, set[int]] = field(init=False, repr=False)
    _keys: dict[int, list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._members = defaultdict(set)
        self._keys = {}
        for record, cluster in self.cluster_of.items():
            if cluster is not None:
                self._members[cluster].add(record)

    def members(self, cluster: int) -> set[int]:
        return self._members[cluster]

    def place(self, record: int, new_cluster: Callable[[], int]) -> int:
        """Put ``record`` into the first confirmed candidate's cluster, or a new one."""
        me = self.match[record]
        for candidate in self.candidates(record):
            cluster = self.cluster_of[candidate]
            assert cluster is not None
            if any(self.source_of[m] == me.source for m in self._members[cluster]):
                continue
            if confirm(me, self.match[candidate])[0]:
                return self._assign(record, cluster)
        return self._assign(record, new_cluster())

    def candidates(self, record: int) -> list[int]:
        """Placed records of other sources sharing a key, in RecordManager's order."""
        me = self.match[record]
        ranked: dict[int, int] = {}
        for key in self.keys(record):
            for other in self.key_hits.get(key, ()):
                cluster = self.cluster_of.get(other)
                if other == record or cluster is None or other not in self.match:
                    continue
                if self.source_of[other] == me.source:
                    continue
                rank = _RANK[key[0], len(self._members[cluster]) > 1]
                ranked[other] = min(rank, ranked.get(other, rank))
        return sorted(ranked, key=lambda other: (ranked[other], other))

    def _assign(self, record: int, cluster: int) -> int:
        self.cluster_of[record] = cluster
        self._members[cluster].add(record)
        for key in self.keys(record):
            self.key_hits.setdefault(key, set()).add(record)
        return cluster

    def keys(self, record: int) -> list[str]:
        found = self._keys.get(record)
        if found is None:
            found = self._keys[record] = self.match[record].keys()
        return found

    def detach(self, records: Iterable[int]) -> None:
        """Take records out of their clusters, to be placed again (or dropped)."""
        for record in records:
            cluster = self.cluster_of.get(record)
            if cluster is not None:
                self._members[cluster].discard(record)
            self.cluster_of[record] = None
