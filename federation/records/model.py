"""The normalized bibliographic record every later room of libfed works with.

A library exports MARC 21 or RUSMARC, ISO 2709 or MARCXML, in one of several
encodings; the reader (``federation.records.reader``) turns each of them into a
:class:`Record`, whose fields mean the same thing whatever the source format. The
raw ``pymarc.Record`` travels along so that nothing the cataloguer wrote is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pymarc

#: ``dc`` is a record that arrived only as Dublin Core (an oai_dc harvest).
Schema = Literal["marc21", "unimarc", "dc"]

#: Record formats, from MARC 21 leader/06-07 or UNIMARC leader/06-07.
FORMATS = (
    "book",
    "serial",
    "article",
    "map",
    "score",
    "recording",
    "music-recording",
    "video",
    "image",
    "electronic",
    "kit",
    "manuscript",
    "mixed",
    "other",
)


@dataclass(slots=True)
class Record:
    """One bibliographic record, normalized.

    ``isbns`` holds only valid ISBNs, as ISBN-13 without hyphens; anything in an
    ISBN field that does not validate goes to ``invalid_isbns`` so that nobody's
    data disappears silently.
    """

    id: str
    schema: Schema
    title: str
    authors: list[str] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)
    invalid_isbns: list[str] = field(default_factory=list)
    issns: list[str] = field(default_factory=list)
    #: Other unique identifiers, e.g. {"lccn": [...], "oclc": [...]}.
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    year: int | None = None
    language: str | None = None
    publisher: str | None = None
    place: str | None = None
    edition: str | None = None
    #: Number of pages when the extent states it.
    pages: int | None = None
    #: The extent statement as written (300$a / 215$a).
    extent: str | None = None
    subjects: list[str] = field(default_factory=list)
    format: str = "book"
    #: How many fields the source record has: the union catalog's measure of
    #: completeness when it picks a cluster's best record (0 for Dublin Core).
    field_count: int = 0
    #: The source record (see :attr:`raw`), or a function that builds it. An init
    #: field, so that ``dataclasses.replace`` keeps it.
    _raw: pymarc.Record | Callable[[], pymarc.Record] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def raw(self) -> pymarc.Record | None:
        """The record as read, with its fields decoded to Unicode (None for Dublin Core).

        Built on first use when the reader deferred it (:meth:`defer_raw`):
        normalizing MARCXML reads only the fields it needs, and most records
        read in bulk (a harvest, a benchmark) never need the rest.
        """
        raw = self._raw
        if raw is not None and not isinstance(raw, pymarc.Record):
            raw = self._raw = raw()
        return raw

    @raw.setter
    def raw(self, value: pymarc.Record | None) -> None:
        self._raw = value

    def __getstate__(self) -> list[Any]:
        """Pickling builds a deferred raw record first: its builder (a function of
        an lxml element) cannot cross a process boundary, the record can."""
        self.raw  # noqa: B018 - builds and keeps it
        return [getattr(self, name) for name in self.__dataclass_fields__]

    def __setstate__(self, state: list[Any]) -> None:
        for name, value in zip(self.__dataclass_fields__, state, strict=True):
            object.__setattr__(self, name, value)

    def defer_raw(self, build: Callable[[], pymarc.Record]) -> None:
        """Let :attr:`raw` be built by ``build`` when somebody first asks for it."""
        self._raw = build

    def summary(self) -> dict[str, Any]:
        """The record as plain JSON-ready data (without the raw MARC)."""
        return {
            name: _plain(getattr(self, name))
            for name in self.__dataclass_fields__
            if name != "_raw"
        }


def _plain(value: Any) -> Any:
    """A copy of list/dict field values, so callers cannot alter the record."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return {key: list(items) for key, items in value.items()}
    return value
