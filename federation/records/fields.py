"""Fast access to a pymarc record's fields by tag, for the normalizers.

pymarc's ``get_fields`` scans every field on each call; a normalizer asks for
some twenty tags per record, so it indexes the record once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pymarc


class Fields:
    """A record's fields grouped by tag."""

    __slots__ = ("by_tag",)

    def __init__(self, marc: pymarc.Record) -> None:
        by_tag: dict[str, list[pymarc.Field]] = {}
        for field in marc.fields:
            found = by_tag.get(field.tag)
            if found is None:
                by_tag[field.tag] = [field]
            else:
                found.append(field)
        self.by_tag = by_tag

    @classmethod
    def indexed(cls, by_tag: dict[str, list[pymarc.Field]]) -> Fields:
        """Fields from an index a reader built while making the record (no second pass)."""
        fields = cls.__new__(cls)
        fields.by_tag = by_tag
        return fields

    def all(self, *tags: str) -> list[pymarc.Field]:
        """Fields with any of ``tags``, in tag order then record order."""
        by_tag = self.by_tag
        if len(tags) == 1:
            return by_tag.get(tags[0], [])
        return [field for tag in tags if tag in by_tag for field in by_tag[tag]]

    def first(self, tag: str) -> pymarc.Field | None:
        found = self.by_tag.get(tag)
        return found[0] if found else None

    def control(self, tag: str) -> str:
        """A control field's data, '' when absent."""
        field = self.first(tag)
        if field is None:
            return ""
        if field.control_field:
            return field.data or ""
        return " ".join(value for _, value in field.subfields)

    def values(self, tags: tuple[str, ...], codes: str) -> Iterator[str]:
        """Every subfield value with a code in ``codes`` of fields with ``tags``.

        Most calls ask for one tag the record lacks, so that case returns at once.
        """
        found = self.by_tag.get(tags[0]) if len(tags) == 1 else self.all(*tags)
        if not found:
            return iter(())
        return iter(
            [value for field in found for code, value in field.subfields if code in codes and value]
        )


def sub(field: pymarc.Field | None, code: str) -> str:
    """The first ``code`` subfield of a field, '' when absent."""
    if field is None or field.control_field:
        return ""
    for key, value in field.subfields:
        if key == code:
            return value
    return ""


def subs(field: pymarc.Field, codes: str) -> list[str]:
    """Values of the subfields with codes in ``codes``, in field order."""
    if field.control_field:
        return []
    return [value for key, value in field.subfields if key in codes and value]
