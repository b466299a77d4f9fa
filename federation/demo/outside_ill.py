"""An outside library's ILL system that speaks only ISO 18626 over HTTP, for the demo
and the tests: the partner a ReShare tenant or a Koha ILL backend would be.

It shares no code with libfed's gateway on purpose (only aiohttp, lxml and the
standard's schema), so a test that runs a loan through it shows libfed talking
to an independent implementation. Every message it receives is checked against
ISO-18626-v1_2.xsd and kept (``received``; ``invalid`` lists any that fail).

As a **supplier** it confirms a ``request``, then answers WillSupply and ships
(Loaned, with a due date) by itself; when the borrower says ShippedReturn it
checks the item in (LoanCompleted); a Cancel is answered Cancelled.
As a **requester** :meth:`OutsideLibrary.borrow` sends a ``request`` to the
network; the statuses the network sends back are in :attr:`OutsideLibrary.borrowed`,
and :meth:`OutsideLibrary.act` sends Received, ShippedReturn, Cancel…. Run as a
process (the demo), it returns what it borrows by itself, and its staff desk is
``POST /desk/borrow`` (isbn= or record_id=) and ``GET /desk/loans``.

Run alone: ``python -m federation.demo.outside_ill --port 8626 --network-url
http://127.0.0.1:8000/iso18626``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from lxml import etree
from lxml.builder import ElementMaker

NS = "http://illtransactions.org/2013/iso18626"
XSD = Path(__file__).resolve().parents[1] / "coordinator" / "iso18626" / "ISO-18626-v1_2.xsd"
_N = {"i": NS}
E = ElementMaker(namespace=NS, nsmap={"ill": NS})
log = logging.getLogger("outside_ill")


def _now(days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _agency(tag, kind: str, value: str):
    return tag(E.agencyIdType(kind), E.agencyIdValue(value))


@dataclass
class Loan:
    """One loan as this library sees it: the statuses, in the order they came."""

    request_id: str
    network_request_id: str = ""
    statuses: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


@dataclass
class OutsideLibrary:
    """A tiny ISO 18626 library system on loopback."""

    agency: tuple[str, str] = ("ISIL", "XX-UNI")
    network: tuple[str, str] = ("LIBFED", "NETWORK")
    network_url: str = ""
    #: Supply by itself (WillSupply, then Loaned) when asked; False: answer Unfilled.
    will_supply: bool = True
    #: Seconds between its automatic answers.
    pause: float = 0.2
    #: As a borrower, say Received when a loan arrives and ShippedReturn soon after
    #: (the demo's partner); False: wait for :meth:`act` (the tests).
    auto_return: bool = False
    received: list[etree._Element] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    #: Loans it supplies to the network, by the network's request id.
    lent: dict[str, Loan] = field(default_factory=dict)
    #: Loans it borrows from the network, by its own request id.
    borrowed: dict[str, Loan] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self._schema = etree.XMLSchema(etree.parse(str(XSD)))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self.changed = asyncio.Event()

    # -- running ------------------------------------------------------------------

    async def start(self, port: int = 0) -> OutsideLibrary:
        app = web.Application()
        app.router.add_post("/iso18626", self._receive)
        app.router.add_get("/iso18626", self._describe)
        app.router.add_post("/desk/borrow", self._desk_borrow)
        app.router.add_get("/desk/loans", self._desk_loans)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/iso18626"

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _later(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- receiving ----------------------------------------------------------------

    async def _describe(self, request: web.Request) -> web.Response:
        return web.Response(text="ISO 18626 endpoint\n")

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            root = etree.fromstring(body)
        except etree.XMLSyntaxError as error:
            self.invalid.append(f"not XML: {error}")
            return web.Response(status=400, text="not XML")
        if not self._schema.validate(root):
            self.invalid.append(f"{self._schema.error_log[0].message}\n{body.decode()}")
            log.warning("a message failed the ISO 18626 schema: %s", self.invalid[-1])
        self.received.append(root)
        message = root[0]
        kind = etree.QName(message).localname
        header = message.find("i:header", _N)
        their_id = header.findtext("i:requestingAgencyRequestId", namespaces=_N)
        if kind == "request":
            loan = self.lent.setdefault(their_id, Loan(their_id, their_id))
            loan.statuses.append("RequestReceived")
            self._later(self._answer_request(loan))
            confirm = E.requestConfirmation(self._confirmation_header(header))
        elif kind == "requestingAgencyMessage":
            action = message.findtext("i:action", namespaces=_N)
            loan = self.lent.get(their_id)
            if loan is not None:
                loan.actions.append(action)
                if action == "ShippedReturn":
                    self._later(self._supply(loan, "StatusChange", "LoanCompleted"))
                elif action == "Cancel":
                    self._later(self._supply(loan, "CancelResponse", "Cancelled", answer="Y"))
            confirm = E.requestingAgencyMessageConfirmation(
                self._confirmation_header(header), E.action(action))
        elif kind == "supplyingAgencyMessage":
            status = message.findtext("i:statusInfo/i:status", namespaces=_N)
            loan = self.borrowed.get(their_id)
            if loan is not None:
                loan.statuses.append(status)
                loan.network_request_id = (
                    header.findtext("i:supplyingAgencyRequestId", namespaces=_N) or "")
                if status == "Loaned" and self.auto_return:
                    self._later(self._read_and_return(loan))
            confirm = E.supplyingAgencyMessageConfirmation(
                self._confirmation_header(header),
                E.reasonForMessage(message.findtext("i:messageInfo/i:reasonForMessage",
                                                    namespaces=_N)))
        else:
            return web.Response(status=400, text=f"unexpected {kind}")
        self.changed.set()
        return self._xml(confirm)

    def _confirmation_header(self, header) -> etree._Element:
        supplying = header.find("i:supplyingAgencyId", _N)
        requesting = header.find("i:requestingAgencyId", _N)
        return E.confirmationHeader(
            _agency(E.supplyingAgencyId, *self._pair(supplying)),
            _agency(E.requestingAgencyId, *self._pair(requesting)),
            E.timestamp(_now()),
            E.requestingAgencyRequestId(
                header.findtext("i:requestingAgencyRequestId", namespaces=_N)),
            E.timestampReceived(header.findtext("i:timestamp", namespaces=_N)),
            E.messageStatus("OK"),
        )

    @staticmethod
    def _pair(agency) -> tuple[str, str]:
        return (agency.findtext("i:agencyIdType", namespaces=_N),
                agency.findtext("i:agencyIdValue", namespaces=_N))

    def _xml(self, message) -> web.Response:
        root = E.ISO18626Message(message, {f"{{{NS}}}version": "1.2"})
        return web.Response(body=etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                            content_type="application/xml")

    # -- lending to the network ---------------------------------------------------

    async def _answer_request(self, loan: Loan) -> None:
        await asyncio.sleep(self.pause)
        if not self.will_supply:
            await self._supply(loan, "RequestResponse", "Unfilled", note="not on the shelf")
            return
        await self._supply(loan, "RequestResponse", "WillSupply")
        await asyncio.sleep(self.pause)
        await self._supply(loan, "StatusChange", "Loaned", due=_now(days=28))

    async def _supply(self, loan: Loan, reason: str, status: str, *, answer: str = "",
                      note: str = "", due: str = "") -> None:
        info = E.messageInfo(E.reasonForMessage(reason))
        if answer:
            info.append(E.answerYesNo(answer))
        if note:
            info.append(E.note(note))
        status_info = E.statusInfo(E.status(status))
        if due:
            status_info.append(E.dueDate(due))
        status_info.append(E.lastChange(_now()))
        message = E.supplyingAgencyMessage(
            self._header(supplying=self.agency, requesting=self.network,
                         request_id=loan.request_id),
            info, status_info)
        loan.statuses.append(status)
        await self._send(message)

    # -- borrowing from the network -----------------------------------------------

    async def borrow(self, *, isbn: str = "", record_id: str = "", title: str = "") -> str:
        """Ask the network for an item; this library's request id."""
        request_id = f"uni-{uuid.uuid4().hex[:10]}"
        bib = E.bibliographicInfo()
        if record_id:
            bib.append(E.supplierUniqueRecordId(record_id))
        if title:
            bib.append(E.title(title))
        if isbn:
            bib.append(E.bibliographicItemId(E.bibliographicItemIdentifier(isbn),
                                             E.bibliographicItemIdentifierCode("ISBN")))
        message = E.request(
            self._header(supplying=self.network, requesting=self.agency, request_id=request_id),
            bib, E.serviceInfo(E.serviceType("Loan")),
            E.patronInfo(E.patronId("reader-17")))
        self.borrowed[request_id] = Loan(request_id)
        await self._send(message)
        return request_id

    async def _read_and_return(self, loan: Loan) -> None:
        await asyncio.sleep(self.pause)
        await self.act(loan.request_id, "Received")
        await asyncio.sleep(self.pause)
        await self.act(loan.request_id, "ShippedReturn")

    async def _desk_borrow(self, request: web.Request) -> web.Response:
        """The library's staff desk (for the demo): ask the network for an item."""
        form = await request.post()
        try:
            request_id = await self.borrow(isbn=form.get("isbn", ""),
                                           record_id=form.get("record_id", ""),
                                           title=form.get("title", ""))
        except RuntimeError as error:
            return web.json_response({"error": str(error)}, status=409)
        return web.json_response({"request_id": request_id})

    async def _desk_loans(self, request: web.Request) -> web.Response:
        return web.json_response({
            "borrowed": {k: {"statuses": v.statuses, "actions": v.actions,
                             "network_request_id": v.network_request_id}
                         for k, v in self.borrowed.items()},
            "lent": {k: {"statuses": v.statuses, "actions": v.actions}
                     for k, v in self.lent.items()},
            "invalid": self.invalid,
        })

    async def act(self, request_id: str, action: str) -> etree._Element:
        """Tell the network what this library did with a loan it borrowed."""
        loan = self.borrowed[request_id]
        header = self._header(supplying=self.network, requesting=self.agency,
                              request_id=request_id, supplying_id=loan.network_request_id)
        loan.actions.append(action)
        return await self._send(E.requestingAgencyMessage(header, E.action(action)))

    def _header(self, *, supplying, requesting, request_id: str, supplying_id: str = ""):
        header = E.header(
            _agency(E.supplyingAgencyId, *supplying),
            _agency(E.requestingAgencyId, *requesting),
            E.multipleItemRequestId(""),
            E.timestamp(_now()),
            E.requestingAgencyRequestId(request_id),
        )
        if supplying_id:
            header.append(E.supplyingAgencyRequestId(supplying_id))
        return header

    async def _send(self, message) -> etree._Element:
        """POST to the network; its confirmation (raises when it is not OK)."""
        root = E.ISO18626Message(message, {f"{{{NS}}}version": "1.2"})
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        async with self._session.post(self.network_url, data=body,
                                      headers={"Content-Type": "application/xml"}) as response:
            answer = etree.fromstring(await response.read())
        if not self._schema.validate(answer):
            self.invalid.append(f"confirmation: {self._schema.error_log[0].message}")
            log.warning("a message failed the ISO 18626 schema: %s", self.invalid[-1])
        status = answer.findtext(".//i:messageStatus", namespaces=_N)
        if status != "OK":
            raise RuntimeError("the network refused our message: "
                               + (answer.findtext(".//i:errorValue", namespaces=_N) or ""))
        return answer


async def _main(port: int, network_url: str, agency: str, network: str) -> None:
    library = OutsideLibrary(agency=tuple(agency.split(":", 1)),
                             network=tuple(network.split(":", 1)), network_url=network_url,
                             auto_return=True)
    await library.start(port)
    log.info("outside ISO 18626 library %s at %s", agency, library.url)
    try:
        await asyncio.Event().wait()
    finally:
        await library.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8626)
    parser.add_argument("--network-url", required=True, help="the network's /iso18626 URL")
    parser.add_argument("--agency", default="ISIL:XX-UNI")
    parser.add_argument("--network-agency", default="LIBFED:NETWORK")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(_main(arguments.port, arguments.network_url, arguments.agency,
                      arguments.network_agency))


if __name__ == "__main__":
    main()
