"""ISO 18626 v1.2 messages as XML: reading what a peer sends, writing what we send.

Every message is checked against the standard's own schema (ISO-18626-v1_2.xsd,
beside this file) both ways: a peer's message before anything is done with it,
ours before it leaves, so a bug of ours cannot put an invalid message on the
wire. A message the schema refuses is a :class:`MessageError` carrying the ISO
18626 errorType a confirmation reports (BadlyFormedMessage, UnsupportedActionType…).

Only what the coordinator acts on is read into the dataclasses below; the rest
of a valid message is accepted and ignored, as the standard allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from lxml import etree

NS = "http://illtransactions.org/2013/iso18626"
VERSION = "1.2"
SCHEMA = Path(__file__).with_name("ISO-18626-v1_2.xsd")
#: A message bigger than this is refused before it is parsed.
MAX_BYTES = 1_000_000
_N = {"i": NS}
_KINDS = ("request", "supplyingAgencyMessage", "requestingAgencyMessage")
_CONFIRMATION_OF = {
    "request": "requestConfirmation",
    "supplyingAgencyMessage": "supplyingAgencyMessageConfirmation",
    "requestingAgencyMessage": "requestingAgencyMessageConfirmation",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True,
                          huge_tree=False)


class ErrorType(StrEnum):
    """ISO 18626 errorData/errorType."""

    UNSUPPORTED_ACTION_TYPE = "UnsupportedActionType"
    UNSUPPORTED_REASON_FOR_MESSAGE_TYPE = "UnsupportedReasonForMessageType"
    UNRECOGNISED_DATA_ELEMENT = "UnrecognisedDataElement"
    UNRECOGNISED_DATA_VALUE = "UnrecognisedDataValue"
    BADLY_FORMED_MESSAGE = "BadlyFormedMessage"


class MessageError(Exception):
    """A message we cannot take: what a confirmation's errorData says."""

    def __init__(self, error_type: ErrorType, value: str) -> None:
        super().__init__(f"{error_type}: {value}")
        self.error_type = error_type
        self.value = value


class InvalidOutgoing(AssertionError):
    """A message we built fails the schema: a bug of ours, never sent."""


@dataclass(frozen=True, slots=True)
class AgencyId:
    """agencyIdType + agencyIdValue, written "TYPE:VALUE" in coordinator.toml."""

    type: str
    value: str

    @classmethod
    def parse(cls, text: str) -> AgencyId:
        kind, _, value = text.partition(":")
        return cls(kind.strip(), value.strip())

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(slots=True)
class Header:
    """The header every message carries (and a confirmation echoes)."""

    supplying: AgencyId
    requesting: AgencyId
    requesting_request_id: str
    supplying_request_id: str = ""
    timestamp: str = ""
    security_code: str = ""


@dataclass(slots=True)
class Request:
    """A peer asks the network for an item (it is the requester)."""

    header: Header
    title: str = ""
    author: str = ""
    isbn: str = ""
    #: Our id of the work, when the peer found it in our catalog (SRU rec.identifier).
    record_id: str = ""
    service_type: str = "Loan"
    need_before: float | None = None
    patron_id: str = ""
    pickup: str = ""
    note: str = ""
    kind: str = field(default="request", init=False)


@dataclass(slots=True)
class SupplyingMessage:
    """A peer lending to the network says what it did."""

    header: Header
    reason: str
    status: str
    answer: str = ""
    note: str = ""
    reason_unfilled: str = ""
    due_date: float | None = None
    kind: str = field(default="supplyingAgencyMessage", init=False)


@dataclass(slots=True)
class RequestingMessage:
    """A peer borrowing from the network received, returned, cancelled, asks to renew…"""

    header: Header
    action: str
    note: str = ""
    kind: str = field(default="requestingAgencyMessage", init=False)


Message = Request | SupplyingMessage | RequestingMessage


@dataclass(slots=True)
class Confirmation:
    """A peer's answer to a message of ours."""

    ok: bool
    error_type: str = ""
    error_value: str = ""


# -- the schema --------------------------------------------------------------------


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The ISO 18626 v1.2 schema, compiled once (offline: it imports nothing)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def validation_error(root: etree._Element) -> MessageError | None:
    """Why the schema refuses ``root`` (the first problem), or None when it is valid."""
    checker = schema()
    if checker.validate(root):
        return None
    problem = checker.error_log[0]
    return MessageError(_error_type(problem), f"line {problem.line}: {problem.message}")


def _error_type(problem) -> ErrorType:
    """The errorType for a schema complaint: what the standard calls that mistake."""
    message = problem.message
    element = (problem.path or "").rsplit("/", 1)[-1].rpartition(":")[2]
    if "[facet 'enumeration']" in message:
        if element == "action":
            return ErrorType.UNSUPPORTED_ACTION_TYPE
        if element == "reasonForMessage":
            return ErrorType.UNSUPPORTED_REASON_FOR_MESSAGE_TYPE
        return ErrorType.UNRECOGNISED_DATA_VALUE
    if "is not a valid value" in message:
        return ErrorType.UNRECOGNISED_DATA_VALUE
    if "This element is not expected" in message and _unknown_element(message):
        return ErrorType.UNRECOGNISED_DATA_ELEMENT
    return ErrorType.BADLY_FORMED_MESSAGE


_DECLARED = None


def _unknown_element(message: str) -> bool:
    """Whether the unexpected element of a complaint is one the standard does not define
    (a misplaced known element is a badly formed message instead)."""
    global _DECLARED
    if _DECLARED is None:
        tree = etree.parse(str(SCHEMA))
        _DECLARED = {el.get("name") for el in tree.iter("{http://www.w3.org/2001/XMLSchema}element")
                     if el.get("name")}
    found = re.search(r"Element '(?:\{[^}]*\})?([^']+)'", message)
    return found is not None and found.group(1) not in _DECLARED


# -- reading a peer's message --------------------------------------------------------


def kind_of(body: bytes) -> str:
    """Which message this claims to be, read even from a broken one (for the confirmation)."""
    found = re.search(rb"<(?:[\w.-]+:)?(request|supplyingAgencyMessage|requestingAgencyMessage)\b",
                      body[:4096])
    return found.group(1).decode() if found else "request"


def parse(body: bytes) -> Message:
    """A peer's message, checked against the schema; MessageError when it is not one."""
    if len(body) > MAX_BYTES:
        raise MessageError(ErrorType.BADLY_FORMED_MESSAGE, f"message over {MAX_BYTES} bytes")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise MessageError(ErrorType.BADLY_FORMED_MESSAGE, f"not well-formed XML: {error}") from None
    problem = validation_error(root)
    if problem is not None:
        raise problem
    message = root[0]
    kind = etree.QName(message).localname
    if kind not in _KINDS:
        raise MessageError(ErrorType.BADLY_FORMED_MESSAGE,
                           f"{kind} is a confirmation; send it as the answer to our message")
    header = _header(message.find("i:header", _N))
    if kind == "request":
        return _request(message, header)
    if kind == "supplyingAgencyMessage":
        return SupplyingMessage(
            header=header,
            reason=_text(message, "i:messageInfo/i:reasonForMessage"),
            status=_text(message, "i:statusInfo/i:status"),
            answer=_text(message, "i:messageInfo/i:answerYesNo"),
            note=_text(message, "i:messageInfo/i:note"),
            reason_unfilled=_text(message, "i:messageInfo/i:reasonUnfilled"),
            due_date=_time(_text(message, "i:statusInfo/i:dueDate")),
        )
    return RequestingMessage(header=header, action=_text(message, "i:action"),
                             note=_text(message, "i:note"))


def _text(element: etree._Element, path: str) -> str:
    return (element.findtext(path, default="", namespaces=_N) or "").strip()


def _agency(element: etree._Element | None) -> AgencyId:
    if element is None:
        return AgencyId("", "")
    return AgencyId(_text(element, "i:agencyIdType"), _text(element, "i:agencyIdValue"))


def _header(header: etree._Element) -> Header:
    return Header(
        supplying=_agency(header.find("i:supplyingAgencyId", _N)),
        requesting=_agency(header.find("i:requestingAgencyId", _N)),
        requesting_request_id=_text(header, "i:requestingAgencyRequestId"),
        supplying_request_id=_text(header, "i:supplyingAgencyRequestId"),
        timestamp=_text(header, "i:timestamp"),
        security_code=_text(header, "i:requestingAgencyAuthentication/i:securityCode"),
    )


def _request(message: etree._Element, header: Header) -> Request:
    bib = message.find("i:bibliographicInfo", _N)
    isbn = ""
    for item in bib.iterfind("i:bibliographicItemId", _N):
        if _text(item, "i:bibliographicItemIdentifierCode").upper() == "ISBN":
            isbn = _text(item, "i:bibliographicItemIdentifier")
            break
    physical = message.find("i:requestedDeliveryInfo/i:address/i:physicalAddress", _N)
    pickup = ""
    if physical is not None:
        pickup = ", ".join(t for t in (_text(physical, "i:line1"), _text(physical, "i:locality"))
                           if t)
    return Request(
        header=header, title=_text(bib, "i:title"), author=_text(bib, "i:author"), isbn=isbn,
        record_id=_text(bib, "i:supplierUniqueRecordId"),
        service_type=_text(message, "i:serviceInfo/i:serviceType") or "Loan",
        need_before=_time(_text(message, "i:serviceInfo/i:needBeforeDate")),
        patron_id=_text(message, "i:patronInfo/i:patronId"), pickup=pickup,
        note=_text(message, "i:serviceInfo/i:note"),
    )


def _time(text: str) -> float | None:
    """An xs:dateTime as epoch seconds (no zone: UTC), None when absent."""
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:  # schema-valid, but not a moment (24:00:00, year 0…)
        raise MessageError(ErrorType.UNRECOGNISED_DATA_VALUE, f"{text}: {error}") from None
    if stamp.tzinfo is None:
        from datetime import UTC

        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def parse_confirmation(body: bytes, expected: str) -> Confirmation:
    """A peer's confirmation of our ``expected`` message kind; MessageError when it is not one."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise MessageError(ErrorType.BADLY_FORMED_MESSAGE, f"not well-formed XML: {error}") from None
    problem = validation_error(root)
    if problem is not None:
        raise problem
    want = _CONFIRMATION_OF[expected]
    if etree.QName(root[0]).localname != want:
        raise MessageError(ErrorType.BADLY_FORMED_MESSAGE,
                           f"expected a {want}, got {etree.QName(root[0]).localname}")
    status = _text(root[0], "i:confirmationHeader/i:messageStatus")
    return Confirmation(ok=status == "OK",
                        error_type=_text(root[0], "i:errorData/i:errorType"),
                        error_value=_text(root[0], "i:errorData/i:errorValue"))


# -- writing our messages --------------------------------------------------------------


#: Characters XML 1.0 cannot carry (MARC titles sometimes hold a stray \x1f).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        child.text = _NOT_XML.sub(" ", text)
    return child


def _agency_element(parent: etree._Element, name: str, agency: AgencyId) -> None:
    element = _sub(parent, name)
    _sub(element, "agencyIdType", agency.type)
    _sub(element, "agencyIdValue", agency.value)


def _envelope(kind: str) -> tuple[etree._Element, etree._Element]:
    # The schema qualifies attributes too, so version needs a prefix: "ill", as ReShare writes.
    root = etree.Element(f"{{{NS}}}ISO18626Message", nsmap={"ill": NS})
    root.set(f"{{{NS}}}version", VERSION)
    return root, _sub(root, kind)


def _header_element(parent: etree._Element, header: Header, timestamp: str) -> None:
    element = _sub(parent, "header")
    _agency_element(element, "supplyingAgencyId", header.supplying)
    _agency_element(element, "requestingAgencyId", header.requesting)
    _sub(element, "multipleItemRequestId", "")
    _sub(element, "timestamp", timestamp)
    _sub(element, "requestingAgencyRequestId", header.requesting_request_id)
    if header.supplying_request_id:
        _sub(element, "supplyingAgencyRequestId", header.supplying_request_id)
    if header.security_code:
        _sub(_sub(element, "requestingAgencyAuthentication"), "securityCode",
             header.security_code)


def _finish(root: etree._Element) -> bytes:
    problem = validation_error(root)
    if problem is not None:
        raise InvalidOutgoing(f"we built an invalid ISO 18626 message: {problem}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def request_message(
    header: Header, timestamp: str, *, title: str, isbn: str, record_id: str, service_type: str,
    need_before: str | None = None, requester_name: str = "", note: str = "",
) -> bytes:
    """Ask a peer to supply an item (we are the requester)."""
    root, message = _envelope("request")
    _header_element(message, header, timestamp)
    bib = _sub(message, "bibliographicInfo")
    if record_id:
        _sub(bib, "supplierUniqueRecordId", record_id)
    if title:
        _sub(bib, "title", title)
    if isbn:
        item = _sub(bib, "bibliographicItemId")
        _sub(item, "bibliographicItemIdentifier", isbn)
        _sub(item, "bibliographicItemIdentifierCode", "ISBN")
    service = _sub(message, "serviceInfo")
    _sub(service, "requestType", "New")
    _sub(service, "serviceType", service_type)
    if need_before:
        _sub(service, "needBeforeDate", need_before)
    if note:
        _sub(service, "note", note)
    if requester_name:
        _sub(_sub(message, "requestingAgencyInfo"), "name", requester_name)
    return _finish(root)


def supplying_message(
    header: Header, timestamp: str, *, reason: str, status: str, last_change: str,
    answer: str = "", note: str = "", reason_unfilled: str = "", due_date: str | None = None,
) -> bytes:
    """Tell a peer that borrows from us what became of its request (we are the supplier)."""
    root, message = _envelope("supplyingAgencyMessage")
    _header_element(message, header, timestamp)
    info = _sub(message, "messageInfo")
    _sub(info, "reasonForMessage", reason)
    if answer:
        _sub(info, "answerYesNo", answer)
    if note:
        _sub(info, "note", note)
    if reason_unfilled:
        _sub(info, "reasonUnfilled", reason_unfilled)
    status_info = _sub(message, "statusInfo")
    _sub(status_info, "status", status)
    if due_date:
        _sub(status_info, "dueDate", due_date)
    _sub(status_info, "lastChange", last_change)
    return _finish(root)


def requesting_message(header: Header, timestamp: str, *, action: str, note: str = "") -> bytes:
    """Tell a peer that lends to us what our reader's library did (received, returned…)."""
    root, message = _envelope("requestingAgencyMessage")
    _header_element(message, header, timestamp)
    _sub(message, "action", action)
    if note:
        _sub(message, "note", note)
    return _finish(root)


def confirmation(
    kind: str, header: Header | None, timestamp: str, received: str, *,
    error: MessageError | None = None, echo: str = "",
) -> bytes:
    """The confirmation of a peer's ``kind`` message: OK, or ERROR with its errorData.

    ``echo`` is the reasonForMessage or action confirmed, when known.
    """
    root, message = _envelope(_CONFIRMATION_OF.get(kind, "requestConfirmation"))
    head = _sub(message, "confirmationHeader")
    if header is not None:
        if header.supplying.type and header.supplying.value:
            _agency_element(head, "supplyingAgencyId", header.supplying)
        if header.requesting.type and header.requesting.value:
            _agency_element(head, "requestingAgencyId", header.requesting)
    _sub(head, "timestamp", timestamp)
    if header is not None and header.requesting_request_id:
        _sub(head, "requestingAgencyRequestId", header.requesting_request_id)
    _sub(head, "timestampReceived", received or timestamp)
    _sub(head, "messageStatus", "ERROR" if error else "OK")
    if echo and error is None and kind == "supplyingAgencyMessage":
        _sub(message, "reasonForMessage", echo)
    if echo and error is None and kind == "requestingAgencyMessage":
        _sub(message, "action", echo)
    if error is not None:
        data = _sub(message, "errorData")
        _sub(data, "errorType", str(error.error_type))
        _sub(data, "errorValue", error.value[:1000])
    return _finish(root)
