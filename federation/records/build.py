"""Building pymarc fields fast.

``pymarc.Field.__init__`` re-validates tags and indicators on every call; the
readers already know what they hand over, and field construction is the
largest cost of reading a record. So the readers fill a Field's slots
directly (``Field.__new__`` then ``tag``, ``data``, ``_indicators``,
``subfields``, ``control_field`` — exactly what ``__init__`` sets), inlined in
their hot loops, and share the few distinct ``Indicators`` values kept here.
"""

from __future__ import annotations

from pymarc import Field, Indicators

#: Indicator pairs seen so far ("  ", "10", "04", …): a few dozen in practice.
SHARED_INDICATORS: dict[str, Indicators] = {}


def indicators(pair: str) -> Indicators:
    """The shared Indicators for a two-character string (padded with blanks)."""
    found = SHARED_INDICATORS.get(pair)
    if found is None:
        padded = (pair + "  ")[:2]
        found = SHARED_INDICATORS.setdefault(pair, Indicators(padded[0], padded[1]))
    return found


def control_field(tag: str, data: str) -> Field:
    """A control field (001-009) without pymarc's checks."""
    field = Field.__new__(Field)
    field.tag = tag
    field.data = data
    field._indicators = None
    field.subfields = []
    field.control_field = True
    return field


def is_control_tag(tag: str) -> bool:
    """Control fields are 001-009 (numeric only), as pymarc and ruby-marc assume."""
    return tag < "010" and tag.isdigit()
