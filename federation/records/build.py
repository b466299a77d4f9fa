"""Building pymarc fields fast.

``pymarc.Field.__init__`` re-validates tags and indicators on every call; the
readers already know what they hand over, and field construction is the
largest cost of reading a record. These helpers fill the same slots directly
and share the few distinct ``Indicators`` values.
"""

from __future__ import annotations

from pymarc import Field, Indicators, Subfield

_new = Field.__new__
_tuple_new = tuple.__new__
_INDICATORS: dict[str, Indicators] = {}


def indicators(pair: str) -> Indicators:
    """The shared Indicators for a two-character string."""
    found = _INDICATORS.get(pair)
    if found is None:
        pair = (pair + "  ")[:2]
        found = _INDICATORS.setdefault(pair, Indicators(pair[0], pair[1]))
    return found


def control_field(tag: str, data: str) -> Field:
    field = _new(Field)
    field.tag = tag
    field.data = data
    field._indicators = None
    field.subfields = []
    field.control_field = True
    return field


def data_field(tag: str, pair: str, subfields: list[Subfield]) -> Field:
    field = _new(Field)
    field.tag = tag
    field.data = None
    field._indicators = indicators(pair)
    field.subfields = subfields
    field.control_field = False
    return field


def subfield(code: str, value: str) -> Subfield:
    return _tuple_new(Subfield, (code, value))


def is_control_tag(tag: str) -> bool:
    """Control fields are 001-009 (numeric only), as pymarc and ruby-marc assume."""
    return tag < "010" and tag.isdigit()
