"""Copies (items) from the holdings fields real library systems export.

- MARC 21 852 (Location): $b sublocation/collection, else $a institution; call
  number from $k $h $i (or $j); barcode $p.
- Koha 952: $b holding branch, else $a home branch; $o call number; $p barcode;
  $1 lost, $0 withdrawn, $q the due date of a copy on loan.
- RUSMARC 899 (Location and call number, Russian practice): $b sublocation, else
  $a holding library; $j shelf mark; $p barcode, else $x inventory number.
- SirsiDynix 999: $m library, $l location, $a call number, $i barcode.

A record with none of these still stands for a book on the shelf: it gets one
available copy, so a library exporting bare bibliographic records can lend.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable

import pymarc

from node.model import AVAILABLE, LOST, MISSING, ON_LOAN, Item


def items_of(raw: pymarc.Record | None, record_id: str, default_location: str) -> list[Item]:
    """Every copy the record's holdings fields describe (at least one)."""
    items: list[Item] = []
    if raw is not None:
        for tag, reader in _READERS.items():
            for field in raw.get_fields(tag):
                if field.is_control_field():
                    continue
                item = reader(field)
                if item is not None:
                    items.append(item)
    if not items:
        items.append(Item(barcode="", location=default_location))
    return _with_unique_barcodes(items, record_id)


def _first(field: pymarc.Field, *codes: str) -> str:
    for code in codes:
        for value in field.get_subfields(code):
            if value and value.strip():
                return value.strip()
    return ""


def _join(field: pymarc.Field, *codes: str) -> str:
    return " ".join(v.strip() for c in codes for v in field.get_subfields(c) if v.strip())


def _from_852(field: pymarc.Field) -> Item:
    return Item(
        barcode=_first(field, "p"),
        location=_first(field, "b", "a"),
        call_number=_join(field, "k", "h", "i") or _first(field, "j"),
    )


def _from_952(field: pymarc.Field) -> Item:
    status, due = AVAILABLE, None
    if _first(field, "1") not in ("", "0"):
        status = LOST
    elif _first(field, "0") not in ("", "0"):
        status = MISSING
    elif _first(field, "q"):
        status, due = ON_LOAN, _due(_first(field, "q"))
    return Item(
        barcode=_first(field, "p"),
        location=_first(field, "b", "a"),
        call_number=_first(field, "o"),
        status=status,
        due=due,
    )


def _from_899(field: pymarc.Field) -> Item:
    return Item(
        barcode=_first(field, "p", "x"),
        location=_first(field, "b", "a"),
        call_number=_first(field, "j"),
    )


_SIRSI_STATUS = {"LOST": LOST, "MISSING": MISSING, "CHECKEDOUT": ON_LOAN}


def _from_999(field: pymarc.Field) -> Item | None:
    if not (field.get_subfields("i") or field.get_subfields("l")):
        return None  # 999 is local: only the SirsiDynix shape is a copy
    return Item(
        barcode=_first(field, "i"),
        location=_first(field, "m", "l"),
        call_number=_first(field, "a"),
        status=_SIRSI_STATUS.get(_first(field, "l").upper(), AVAILABLE),
    )


_READERS: dict[str, Callable[[pymarc.Field], Item | None]] = {
    "852": _from_852,
    "952": _from_952,
    "899": _from_899,
    "999": _from_999,
}


def _due(text: str) -> int | None:
    """A Koha due date (YYYY-MM-DD) as Unix seconds at midnight UTC."""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    if not match:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        return calendar.timegm((year, month, day, 0, 0, 0))
    except ValueError:
        return None


def _with_unique_barcodes(items: list[Item], record_id: str) -> list[Item]:
    """Give copies without a barcode (or with a repeated one) a stable local one."""
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        if not item.barcode or item.barcode in seen:
            item.barcode = f"{record_id}#{number}"
        seen.add(item.barcode)
        item.record_id = record_id
    return items
