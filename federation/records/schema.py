"""Is a MARC record MARC 21 or UNIMARC (RUSMARC)? Decided from what its fields look like.

Both use the same ISO 2709 / MARCXML containers and many of the same tags with
different meanings (100 is the author in MARC 21 but coded data in UNIMARC; 200
is the title in UNIMARC). So each side collects evidence and the stronger wins;
the leader's last four characters ("4500" in MARC 21, "450 " or blanks in
UNIMARC) and an explicit ``format`` attribute only tip the balance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pymarc

from federation.records.fields import Fields

MARC21 = "marc21"
UNIMARC = "unimarc"
#: The tags whose contents :func:`detect_fields` reads (the others only count as present).
TAGS = frozenset({"100"})


def detect(marc: pymarc.Record, hint: str | None = None) -> str:
    """``"marc21"`` or ``"unimarc"`` for a record; ``hint`` is a format attribute if any."""
    return detect_fields(str(marc.leader), Fields(marc).by_tag, hint)


def detect_fields(
    leader: str, by_tag: Mapping[str, Sequence[pymarc.Field]], hint: str | None = None
) -> str:
    """:func:`detect` from the leader and the fields by tag.

    Only the presence of a tag counts, except for 100, whose $a is read: a
    reader may give an empty list for any other tag it did not build.
    """
    if hint:
        lowered = hint.lower()
        if "unimarc" in lowered or "rusmarc" in lowered:
            return UNIMARC
        if "marc21" in lowered or "usmarc" in lowered or "marc 21" in lowered:
            return MARC21
    tags = by_tag
    unimarc = 0.0
    marc21 = 0.0
    if "200" in tags:
        unimarc += 2
    if "245" in tags:
        marc21 += 2
    if "101" in tags or "801" in tags or "215" in tags or "210" in tags:
        unimarc += 1
    if "008" in tags or "260" in tags or "264" in tags or "300" in tags or "040" in tags:
        marc21 += 1
    coded = by_tag.get("100")
    if coded and not coded[0].control_field:
        value = coded[0].get("a") or ""
        if len(value) >= 9 and value[:8].isdigit():
            unimarc += 1.5
        elif value:
            marc21 += 1
    tail = leader[20:24]
    if tail == "4500":
        marc21 += 0.5
    elif tail in ("450 ", "    "):
        unimarc += 0.5
    return UNIMARC if unimarc > marc21 else MARC21
