"""What the node stores: a holding (record + copies) and each copy's state.

These are the node's own value types; the gRPC and OAI-PMH adapters translate
them to protocol messages and XML. Item statuses are the words circulation
staff use, and map one to one onto ``libfed.v1.ItemStatus``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Circulation states of one copy (see common.proto ItemStatus).
AVAILABLE = "available"
ON_LOAN = "on_loan"
RESERVED = "reserved"
IN_TRANSIT = "in_transit"
LOST = "lost"
MISSING = "missing"
ITEM_STATUSES = (AVAILABLE, ON_LOAN, RESERVED, IN_TRANSIT, LOST, MISSING)

#: Characters a setSpec may hold unescaped (OAI-PMH.xsd setSpecType).
_SET_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!*'()")


@dataclass(slots=True)
class Item:
    """One physical copy of a record at this library."""

    barcode: str
    location: str = ""
    call_number: str = ""
    status: str = AVAILABLE
    #: Unix seconds when a copy on loan is due back.
    due: int | None = None
    record_id: str = ""
    id: int = 0


@dataclass(slots=True)
class Holding:
    """A record ready to store: its normalized fields, renderings and copies.

    The MARCXML is the stored raw record: lossless, and what OAI-PMH serves for
    ``marc21``/``rusmarc``, so serving needs no conversion. ``oai_dc`` is
    rendered once at import for the same reason.
    """

    id: str
    schema: str
    title: str
    summary: dict
    search_text: str
    marcxml: str
    oai_dc: str
    isbns: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


def set_spec_part(value: str) -> str:
    """A setSpec-safe, reversible-enough label: unsafe bytes become ``~XX``."""
    out = []
    for char in value.strip():
        if char in _SET_SAFE:
            out.append(char)
        else:
            out.extend(f"~{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out) or "~"


#: The parent sets of the two set families (setSpec hierarchy: "location:X").
PARENT_SETS = (("location", "Holdings by location or branch"), ("schema", "Records by format"))


def location_set(location: str) -> tuple[str, str]:
    """(setSpec, setName) of the set of records held at a location/branch."""
    return f"location:{set_spec_part(location)}", f"Held at {location}"


def schema_set(schema: str) -> tuple[str, str]:
    """(setSpec, setName) of the set of records in one cataloguing format."""
    names = {"marc21": "MARC 21 records", "unimarc": "UNIMARC / RUSMARC records"}
    return f"schema:{schema}", names.get(schema, f"{schema} records")
