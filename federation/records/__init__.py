"""Records: reading MARC 21 and UNIMARC/RUSMARC (ISO 2709, MARCXML, oai_dc), normalizing, crosswalks.

The public API every other room uses; it imports nothing else of libfed but
:mod:`federation.errors`. See docs/records.md.
"""

from __future__ import annotations

from federation.errors import RecordError
from federation.records.dc import record_from_dc, to_oai_dc
from federation.records.model import FORMATS, Record, Schema
from federation.records.reader import (
    detect_schema,
    iter_bytes,
    iter_file,
    marc_from_marcxml,
    normalize,
    record_from_marcxml,
)
from federation.records.writer import to_iso2709, to_marcxml, to_marcxml_collection

__all__ = [
    "FORMATS",
    "Record",
    "RecordError",
    "Schema",
    "detect_schema",
    "iter_bytes",
    "iter_file",
    "marc_from_marcxml",
    "normalize",
    "record_from_dc",
    "record_from_marcxml",
    "to_iso2709",
    "to_marcxml",
    "to_marcxml_collection",
    "to_oai_dc",
]
