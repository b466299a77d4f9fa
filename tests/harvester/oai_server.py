"""A real OAI-PMH server on 127.0.0.1 for the harvester's tests, built from real records.

Two kinds:

* :class:`PagedRepository` serves real records (taken from recorded responses)
  in pages of its own, with working ``from`` filtering, resumption tokens that
  can be made to expire, and a script of faults (503 + Retry-After, 500,
  control characters, slow pages, a looping token).
* :class:`ReplayRepository` serves recorded response bodies exactly as recorded,
  matched by the request the recording says it answered (Zenodo token chains,
  Zenodo's error bodies with their HTTP 422).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from lxml import etree

OAI = "{http://www.openarchives.org/OAI/2.0/}"
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<responseDate>{date}</responseDate><request>{url}</request>{body}</OAI-PMH>"
)


@dataclass
class StoredRecord:
    identifier: str
    datestamp: str
    deleted: bool
    metadata: bytes


def records_from(path: Path) -> list[StoredRecord]:
    """The records of a recorded ListRecords page (deleted headers included)."""
    root = etree.parse(str(path)).getroot()
    found = []
    for node in root.iter(OAI + "record"):
        header = node.find(OAI + "header")
        metadata = node.find(OAI + "metadata")
        payload = b""
        if metadata is not None and len(metadata):
            payload = etree.tostring(metadata[0], encoding="utf-8")
        found.append(
            StoredRecord(
                header.findtext(OAI + "identifier").strip(),
                header.findtext(OAI + "datestamp").strip(),
                header.get("status") == "deleted",
                payload,
            )
        )
    return found


@dataclass
class Fault:
    """What to do instead of (or to) the next ListRecords answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Raw bytes inserted into the first record's metadata text.
    inject: bytes = b""
    #: Answer with this OAI error code instead of a page.
    oai_error: str = ""
    #: Answer with exactly this body (a recorded error response) and ``status``.
    body: bytes = b""
    #: Expire every token handed out so far before answering.
    expire: bool = False
    #: Seconds to wait before answering (longer than the harvester's timeout: a timeout).
    sleep: float = 0.0
    #: Close the connection without answering.
    drop: bool = False


class PagedRepository:
    """A repository of real records with tokens, ``from`` and scripted faults."""

    def __init__(
        self,
        records: list[StoredRecord],
        *,
        page_size: int = 10,
        granularity: str = "YYYY-MM-DDThh:mm:ssZ",
        now: str = "2026-11-28T10:00:00Z",
    ) -> None:
        self.records = {record.identifier: record for record in records}
        self.page_size = page_size
        self.granularity = granularity
        self.now = now
        self.generation = 0
        self.delay = 0.0
        self.faults: list[Fault] = []
        self.loop_token = False
        self.requests: list[dict[str, str]] = []
        self.url = ""

    # -- what tests do to the repository ------------------------------------
    def expire_tokens(self) -> None:
        """Every token handed out so far becomes badResumptionToken."""
        self.generation += 1

    def change(self, identifier: str, *, datestamp: str, deleted: bool = False) -> None:
        record = self.records[identifier]
        record.datestamp, record.deleted = datestamp, deleted

    def list_requests(self) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("verb") == "ListRecords"]

    # -- the protocol ---------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update(await request.post())
        self.requests.append(params)
        verb = params.get("verb")
        if verb == "Identify":
            return self._xml(
                "<Identify><repositoryName>libfed test</repositoryName>"
                f"<baseURL>{self.url}</baseURL><protocolVersion>2.0</protocolVersion>"
                "<adminEmail>test@example.org</adminEmail>"
                "<earliestDatestamp>1990-01-01T00:00:00Z</earliestDatestamp>"
                "<deletedRecord>persistent</deletedRecord>"
                f"<granularity>{self.granularity}</granularity></Identify>"
            )
        if verb != "ListRecords":
            return self._error("badVerb")
        if self.delay:
            await asyncio.sleep(self.delay)
        fault = self.faults.pop(0) if self.faults else Fault()
        if fault.expire:
            self.expire_tokens()
        if fault.sleep:
            await asyncio.sleep(fault.sleep)
        if fault.drop:
            request.transport.close()
            raise ConnectionResetError("dropped on purpose")
        if fault.body:
            return web.Response(status=fault.status, body=fault.body, content_type="text/xml")
        if fault.status != 200:
            return web.Response(status=fault.status, headers=fault.headers, text="busy")
        if fault.oai_error:
            return self._error(fault.oai_error)
        return self._list(params, fault.inject)

    def _list(self, params: dict[str, str], inject: bytes) -> web.Response:
        token = params.get("resumptionToken")
        if token is not None:
            try:
                generation, offset, since = token.split("|", 2)
                if int(generation) != self.generation:
                    raise ValueError(token)
                offset_n = int(offset)
            except ValueError:
                return self._error("badResumptionToken")
        else:
            offset_n, since = 0, params.get("from", "")
        matching = sorted(
            (r for r in self.records.values() if r.datestamp[: len(since)] >= since),
            key=lambda r: r.identifier,
        )
        if not matching:
            return self._error("noRecordsMatch")
        chunk = matching[offset_n : offset_n + self.page_size]
        body = b"".join(self._record(r) for r in chunk)
        if inject:
            body = body.replace(b"</", inject + b"</", 1)
        next_offset = offset_n + self.page_size
        if self.loop_token and token is not None:
            next_offset = offset_n
        if next_offset < len(matching):
            new_token = f"{self.generation}|{next_offset}|{since}"
            tail = (
                f'<resumptionToken completeListSize="{len(matching)}" cursor="{offset_n}">'
                f"{new_token}</resumptionToken>"
            )
        else:
            tail = f'<resumptionToken completeListSize="{len(matching)}" cursor="{offset_n}"/>'
        head, _, rest = ENVELOPE.format(date=self.now, url=self.url, body="\0").partition("\0")
        data = head.encode() + b"<ListRecords>" + body + tail.encode() + b"</ListRecords>"
        return web.Response(body=data + rest.encode(), content_type="text/xml")

    @staticmethod
    def _record(record: StoredRecord) -> bytes:
        if record.deleted:
            return (
                f'<record><header status="deleted"><identifier>{record.identifier}</identifier>'
                f"<datestamp>{record.datestamp}</datestamp></header></record>"
            ).encode()
        return (
            (
                f"<record><header><identifier>{record.identifier}</identifier>"
                f"<datestamp>{record.datestamp}</datestamp></header><metadata>"
            ).encode()
            + record.metadata
            + b"</metadata></record>"
        )

    def _xml(self, body: str) -> web.Response:
        text = ENVELOPE.format(date=self.now, url=self.url, body=body)
        return web.Response(body=text.encode(), content_type="text/xml")

    def _error(self, code: str) -> web.Response:
        return self._xml(f'<error code="{code}">{code}</error>')


class ReplayRepository:
    """Recorded bodies, each answering the request its ``<request>`` element names."""

    def __init__(self, files: list[Path], *, identify_granularity: str = "YYYY-MM-DD") -> None:
        self.bodies: dict[frozenset, tuple[int, bytes]] = {}
        self.granularity = identify_granularity
        self.requests: list[dict[str, str]] = []
        self.url = ""
        for path in files:
            data = path.read_bytes()
            if b"<error" in data:
                continue  # error bodies answer no particular request: serve them as a Fault
            request = etree.fromstring(data).find(OAI + "request")
            self.bodies[frozenset(request.attrib.items())] = (200, data)

    async def handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.requests.append(params)
        if params.get("verb") == "Identify":
            text = ENVELOPE.format(
                date="2026-08-13T18:00:00Z",
                url=self.url,
                body=f"<Identify><granularity>{self.granularity}</granularity></Identify>",
            )
            return web.Response(body=text.encode(), content_type="text/xml")
        status, data = self.bodies.get(frozenset(params.items()), (404, b"not recorded"))
        return web.Response(status=status, body=data, content_type="text/xml")


class OaiServer:
    """Runs a repository on a loopback port (use as ``async with``)."""

    def __init__(self, repository: PagedRepository | ReplayRepository) -> None:
        self.repository = repository
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> OaiServer:
        app = web.Application()
        app.router.add_route("*", "/oai", self.repository.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = self.repository.url = f"http://127.0.0.1:{port}/oai"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
