"""Turn one OAI record's metadata into a catalog record, or into quarantine.

The metadataPrefix says little (``marc21``, ``marcxml``, ``MARC21-xml``,
``rusmarc``…), so the payload decides: a MARCXML-shaped ``record`` (MARC 21 slim,
another namespace, or none — the node's RUSMARC container too) goes to the
MARCXML reader; anything carrying Dublin Core elements to the DC reader. A
payload neither reader accepts is quarantined with the reason and its XML.
"""

from __future__ import annotations

from functools import partial

from lxml import etree

from federation.catalog.model import HarvestedRecord, QuarantinedRecord
from federation.records import marc_from_marcxml, record_from_dc, record_from_marcxml
from harvester.page import OaiRecord

DC_NS = "http://purl.org/dc/elements/1.1/"
_MARC_CHILDREN = {"leader", "controlfield", "datafield"}


def convert(record: OaiRecord) -> HarvestedRecord | QuarantinedRecord:
    """The record for the catalog, or its quarantine entry (never an exception)."""
    payload = record.metadata
    if payload is None:
        return QuarantinedRecord(record.identifier, "record has no metadata", b"")
    raw = etree.tostring(payload, encoding="utf-8")
    try:
        kind = payload_kind(payload)
        if kind == "marcxml":
            parsed = record_from_marcxml(payload)
        elif kind == "dc":
            parsed = record_from_dc(payload, record.identifier)
        else:
            return QuarantinedRecord(
                record.identifier, f"unsupported metadata format <{payload.tag}>", raw
            )
    except Exception as error:  # noqa: BLE001 - any reader failure quarantines the record
        return QuarantinedRecord(record.identifier, _reason(error), raw)
    if parsed.schema != "dc":
        # The record would otherwise hold its element, and with it the whole page's
        # tree, until the page is committed; its raw form can come from the bytes.
        parsed.defer_raw(partial(marc_from_marcxml, raw))
    return HarvestedRecord(record.identifier, record.datestamp, parsed, raw)


def payload_kind(payload: etree._Element) -> str:
    """``marcxml``, ``dc`` or ``unknown``, judged by the payload's shape."""
    name = etree.QName(payload).localname
    if name == "collection":
        return "marcxml"
    if name == "record":
        for child in payload:
            if isinstance(child.tag, str) and etree.QName(child).localname in _MARC_CHILDREN:
                return "marcxml"
    if etree.QName(payload).namespace == DC_NS or payload.find(f".//{{{DC_NS}}}*") is not None:
        return "dc"
    return "unknown"


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    if type(error).__name__ != "RecordError":
        text = f"{type(error).__name__}: {text}"
    return text[:500]
