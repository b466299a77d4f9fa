"""One OAI-PMH response, read with lxml into plain values.

sickle's own response objects re-parse the page (up to three times) with a
recovering parser; we parse the cleaned bytes once, strictly, and keep only
what harvesting needs: the responseDate, an OAI error if any, the records
(header + metadata element) and the resumption token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import unescape

from lxml import etree

from federation.pickling import pickled_by_fields
from harvester.cleaning import clean_xml

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_OAI = f"{{{OAI_NS}}}"

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True
)


class PageError(ValueError):
    """The bytes are not an OAI-PMH response (not XML, or another document)."""


@dataclass(slots=True)
class OaiRecord:
    """A record of a ListRecords page: its header and its metadata element."""

    identifier: str
    datestamp: str
    deleted: bool
    metadata: etree._Element | None


@pickled_by_fields
@dataclass(slots=True)
class OaiPage:
    """What a harvester needs from one response."""

    response_date: str
    error_code: str | None = None
    error_message: str = ""
    records: list[OaiRecord] = field(default_factory=list)
    #: None when the list is complete (no token, or an empty final token).
    resumption_token: str | None = None
    complete_list_size: int | None = None
    #: The Identify payload, when this page answers Identify.
    identify: dict[str, str] = field(default_factory=dict)


def parse_repairing(data: bytes) -> tuple[OaiPage, bool]:
    """The page as sent; only a page lxml refuses is repaired and parsed again.

    Returns the page and whether it needed repairing. Every character clean_xml
    removes is one a strict XML parser rejects, so a page that parses needs no
    cleaning; skipping it saves a pass over every page (5 ms for 500 MARCXML
    records), and broken pages pay for two parses.
    """
    try:
        return parse_page(data), False
    except PageError:
        cleaned = clean_xml(data)
        if cleaned == data:
            raise
    return parse_page(cleaned), True


_NAME = rb"(?:[A-Za-z_][\w.-]*:)?"
#: The envelope's token: the last element of ListRecords, so a look at the tail finds it.
_TAIL_TOKEN = re.compile(
    rb"<" + _NAME + rb"resumptionToken(?:\s[^>]*)?>([^<]*)</" + _NAME + rb"resumptionToken>\s*</"
    + _NAME + rb"ListRecords>\s*</" + _NAME + rb"OAI-PMH>\s*$"
)
_TAIL = 4096


def predict_token(data: bytes) -> str | None:
    """The resumption token a quick look at the page's tail finds, or None.

    Only a guess, so the next page can be fetched while this one is still being
    read: the page's full parse decides, and a wrong guess is fetched again.
    None (no plain token at the very end: last page, error, unusual markup) means
    "wait for the parse".
    """
    found = _TAIL_TOKEN.search(data, max(0, len(data) - _TAIL))
    if found is None or b"&#" in found.group(1):
        return None
    try:
        token = unescape(found.group(1).decode("utf-8"), {"&quot;": '"', "&apos;": "'"})
    except UnicodeDecodeError:
        return None
    token = token.replace("\r\n", "\n").replace("\r", "\n")  # as XML parsers normalize
    return token.strip() or None


_LIST_SIZE = re.compile(rb"<" + _NAME + rb"resumptionToken\s[^>]*completeListSize\s*=\s*[\"'](\d+)")


def predict_list_size(data: bytes) -> int | None:
    """The completeListSize a quick look at the page's tail finds, or None (a guess,
    as :func:`predict_token`'s: it only decides where the pages are read)."""
    found = _LIST_SIZE.search(data, max(0, len(data) - _TAIL))
    return int(found.group(1)) if found else None


def parse_page(data: bytes) -> OaiPage:
    """Parse an OAI-PMH response; raise :class:`PageError` when it is none."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise PageError(f"not well-formed XML: {error}") from error
    if root.tag != _OAI + "OAI-PMH":
        raise PageError(f"not an OAI-PMH response (root element {root.tag!r})")
    page = OaiPage(response_date=(root.findtext(_OAI + "responseDate") or "").strip())
    error = root.find(_OAI + "error")
    if error is not None:
        page.error_code = error.get("code", "unknown")
        page.error_message = (error.text or "").strip()
        return page
    identify = root.find(_OAI + "Identify")
    if identify is not None:
        page.identify = {
            etree.QName(child).localname: (child.text or "").strip()
            for child in identify
            if isinstance(child.tag, str) and len(child) == 0
        }
        return page
    listing = root.find(_OAI + "ListRecords")
    if listing is None:
        listing = root.find(_OAI + "GetRecord")
    if listing is not None:
        page.records = [_read_record(node) for node in listing.iterchildren(_OAI + "record")]
        _read_token(page, listing.find(_OAI + "resumptionToken"))
    return page


def _read_record(node: etree._Element) -> OaiRecord:
    header = node.find(_OAI + "header")
    if header is None:
        return OaiRecord("", "", False, None)
    metadata = node.find(_OAI + "metadata")
    payload = None
    if metadata is not None:
        payload = next((child for child in metadata if isinstance(child.tag, str)), None)
    return OaiRecord(
        identifier=(header.findtext(_OAI + "identifier") or "").strip(),
        datestamp=(header.findtext(_OAI + "datestamp") or "").strip(),
        deleted=header.get("status") == "deleted",
        metadata=payload,
    )


def _read_token(page: OaiPage, token: etree._Element | None) -> None:
    if token is None:
        return
    page.resumption_token = (token.text or "").strip() or None
    size = token.get("completeListSize")
    if size and size.isdigit():
        page.complete_list_size = int(size)
