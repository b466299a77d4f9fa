"""The six OAI-PMH 2.0 verbs over the holdings store.

:meth:`OaiProvider.respond` takes the request's (name, value) pairs and returns
the full response document. Argument checking follows the protocol's rules
(section 3.1.1: verb missing or repeated is badVerb, a repeated, missing or
illegal argument is badArgument, ``resumptionToken`` is exclusive); every
failure becomes an ``<error>`` in an HTTP 200 body, and for badVerb/badArgument
the ``<request>`` element carries no attributes, as the spec asks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from node.config import NodeConfig
from node.oai import xml
from node.oai.dates import GRANULARITY, parse_range
from node.oai.errors import OaiError
from node.oai.tokens import BadToken, ListState, TokenCodec
from node.store import HoldingsStore, OaiQuery

log = logging.getLogger(__name__)

_SLIM_NS = "http://www.loc.gov/MARC21/slim"
_SLIM_XSD = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
_SLIM_RECORD = f'<record xmlns="{_SLIM_NS}"'
_MARCXCHANGE_NS = "info:lc/xmlns/marcxchange-v1"
_MARCXCHANGE_XSD = "http://www.loc.gov/standards/iso25577/marcxchange-1-1.xsd"
_LIST_ARGS = ({"metadataPrefix"}, {"from", "until", "set"}, True)
#: verb -> (required arguments, optional arguments, takes resumptionToken)
VERBS: dict[str, tuple[set[str], set[str], bool]] = {
    "Identify": (set(), set(), False),
    "ListMetadataFormats": (set(), {"identifier"}, False),
    "ListSets": (set(), set(), True),
    "GetRecord": ({"identifier", "metadataPrefix"}, set(), False),
    "ListIdentifiers": _LIST_ARGS,
    "ListRecords": _LIST_ARGS,
}
#: Characters an oai-identifier's local part may hold unescaped.
_ID_SAFE = "-_.!~*'();/?:@&=+$,"


@dataclass(frozen=True, slots=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    #: The stored rendering served for it.
    column: str
    #: Record schemas it can carry (None: every record).
    schemas: tuple[str, ...] | None
    #: Turns the stored rendering into this format's (None: served as stored).
    render: Callable[[str], str] | None = None


def as_marcxchange(marcxml: str) -> str:
    """A stored MARCXML record as MarcXchange (ISO 25577): the same elements in the
    MarcXchange namespace, saying in ``format`` which MARC it is, so that a harvester
    choosing its reader by namespace never reads UNIMARC tags as MARC 21."""
    return marcxml.replace(_SLIM_RECORD, f'<record xmlns="{_MARCXCHANGE_NS}" format="RUSMARC"', 1)


#: oai_dc for every record; MARCXML as marc21 for MARC 21 records, and MarcXchange
#: as rusmarc (UNIMARC tags, format="RUSMARC", nothing crosswalked) for UNIMARC ones.
FORMATS = {
    "oai_dc": MetadataFormat(
        "oai_dc",
        "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
        "http://www.openarchives.org/OAI/2.0/oai_dc/",
        "oai_dc",
        None,
    ),
    "marc21": MetadataFormat("marc21", _SLIM_XSD, _SLIM_NS, "marcxml", ("marc21",)),
    "rusmarc": MetadataFormat(
        "rusmarc", _MARCXCHANGE_XSD, _MARCXCHANGE_NS, "marcxml", ("unimarc",), as_marcxchange
    ),
}


class OaiProvider:
    """An OAI-PMH repository of one library's records."""

    def __init__(self, store: HoldingsStore, config: NodeConfig, codec: TokenCodec) -> None:
        self.store = store
        self.config = config
        self.codec = codec
        self._prefix = f"oai:{config.domain}:"

    @classmethod
    async def create(cls, store: HoldingsStore, config: NodeConfig) -> OaiProvider:
        secret = await store.meta("token_secret") or ""
        return cls(store, config, TokenCodec(secret.encode(), config.oai_token_ttl))

    def identifier(self, record_id: str) -> str:
        return self._prefix + quote(record_id, safe=_ID_SAFE)

    def record_id(self, identifier: str) -> str:
        if not identifier.startswith(self._prefix) or len(identifier) == len(self._prefix):
            raise OaiError(
                "idDoesNotExist", f"{identifier!r} is not an identifier of this repository"
            )
        return unquote(identifier[len(self._prefix) :])

    async def respond(self, base_url: str, pairs: Sequence[tuple[str, str]]) -> bytes:
        """The response document for one request (always a valid OAI-PMH reply)."""
        try:
            verb, args = _check_arguments(pairs)
        except OaiError as error:
            return self.error(base_url, error.code, error.message)
        echo = {"verb": verb, **args}
        try:
            body = await getattr(self, f"_{verb}")(args, base_url)
        except OaiError as error:
            log.debug("OAI %s %s: %s", verb, error.code, error.message)
            if error.code in ("badVerb", "badArgument"):
                echo = {}  # the spec: do not echo arguments that were not valid
            return xml.envelope(base_url, echo, [xml.error(error.code, error.message)])
        return xml.envelope(base_url, echo, body)

    def error(self, base_url: str, code: str, message: str) -> bytes:
        """A reply that is only an error, echoing no arguments."""
        return xml.envelope(base_url, {}, [xml.error(code, message)])

    async def _Identify(self, args: dict[str, str], base_url: str) -> list[str]:  # noqa: N802
        earliest = await self.store.earliest_datestamp()
        first = await self.store.first_record_id()
        sample = self.identifier(first) if first else self._prefix + "1"
        return [
            "<Identify>",
            xml.element("repositoryName", self.config.name),
            xml.element("baseURL", base_url),
            "<protocolVersion>2.0</protocolVersion>",
            xml.element("adminEmail", self.config.admin_email),
            f"<earliestDatestamp>{xml.utc(earliest)}</earliestDatestamp>",
            "<deletedRecord>persistent</deletedRecord>",
            f"<granularity>{GRANULARITY}</granularity>",
            xml.identifier_description(self.config.domain, sample),
            "</Identify>",
        ]

    async def _ListMetadataFormats(self, args: dict[str, str], base_url: str) -> list[str]:  # noqa: N802
        formats = list(FORMATS.values())
        if "identifier" in args:
            row = await self.store.record(self.record_id(args["identifier"]))
            if row is None:
                raise OaiError("idDoesNotExist", f"no record {args['identifier']}")
            if row["deleted"]:
                raise OaiError(
                    "noMetadataFormats", "the record was deleted; no format is available"
                )
            formats = [f for f in formats if f.schemas is None or row["schema"] in f.schemas]
        parts = ["<ListMetadataFormats>"]
        for fmt in formats:
            parts.append(
                f"<metadataFormat>{xml.element('metadataPrefix', fmt.prefix)}"
                f"{xml.element('schema', fmt.schema)}"
                f"{xml.element('metadataNamespace', fmt.namespace)}</metadataFormat>"
            )
        return [*parts, "</ListMetadataFormats>"]

    async def _ListSets(self, args: dict[str, str], base_url: str) -> list[str]:  # noqa: N802
        if "resumptionToken" in args:
            raise OaiError("badResumptionToken", "ListSets fits on one page; no token was issued")
        sets = await self.store.sets()
        if not sets:
            raise OaiError("noSetHierarchy", "this repository has no records, hence no sets yet")
        parts = ["<ListSets>"]
        for row in sets:
            parts.append(
                f"<set>{xml.element('setSpec', row['spec'])}{xml.element('setName', row['name'])}</set>"
            )
        return [*parts, "</ListSets>"]

    async def _GetRecord(self, args: dict[str, str], base_url: str) -> list[str]:  # noqa: N802
        fmt = _format(args["metadataPrefix"])
        record_id = self.record_id(args["identifier"])
        row = await self.store.oai_record(record_id, fmt.column)
        if row is None:
            raise OaiError("idDoesNotExist", f"no record {args['identifier']}")
        if fmt.schemas is not None and row["schema"] not in fmt.schemas:
            raise OaiError(
                "cannotDisseminateFormat",
                f"this is a {row['schema']} record; it is not available as {fmt.prefix}",
            )
        return ["<GetRecord>", self._record(row, fmt), "</GetRecord>"]

    async def _ListIdentifiers(self, args: dict[str, str], base_url: str) -> list[str]:  # noqa: N802
        return await self._list("ListIdentifiers", args)

    async def _ListRecords(self, args: dict[str, str], base_url: str) -> list[str]:  # noqa: N802
        return await self._list("ListRecords", args)

    async def _list(self, verb: str, args: dict[str, str]) -> list[str]:
        state = await self._list_state(verb, args)
        fmt = FORMATS[state.prefix]
        query = OaiQuery(fmt.schemas, state.set_spec, state.start, state.end)
        after = (state.last_datestamp, state.last_id) if state.cursor else None
        size = self.config.oai_page_size
        column = fmt.column if verb == "ListRecords" else None
        rows = await self.store.oai_page(query, after, size + 1, column)
        if not rows:
            raise OaiError("noRecordsMatch", "no records match the request")
        more, rows = len(rows) > size, rows[:size]
        if verb == "ListRecords":
            parts = [f"<{verb}>", *(self._record(row, fmt) for row in rows)]
        else:
            parts = [f"<{verb}>", *(self._header(row) for row in rows)]
        complete = max(state.complete, state.cursor + len(rows) + more)
        if more:
            last = rows[-1]
            following = ListState(
                verb,
                state.prefix,
                state.set_spec,
                state.start,
                state.end,
                last["datestamp"],
                last["id"],
                state.cursor + len(rows),
                complete,
            )
            token = self.codec.encode(following)
            parts.append(
                xml.resumption_token(token, state.cursor, complete, self.codec.expires(following))
            )
        elif state.cursor:
            parts.append(xml.resumption_token("", state.cursor, complete, None))
        return [*parts, f"</{verb}>"]

    async def _list_state(self, verb: str, args: dict[str, str]) -> ListState:
        """The list's position: decoded from the token, or a new list checked and counted."""
        if "resumptionToken" in args:
            try:
                return self.codec.decode(args["resumptionToken"], verb)
            except BadToken as error:
                raise OaiError("badResumptionToken", str(error)) from error
        fmt = _format(args["metadataPrefix"])
        start, end = parse_range(args.get("from"), args.get("until"))
        set_spec = args.get("set")
        if set_spec is not None and not await self.store.sets():
            raise OaiError("noSetHierarchy", "this repository has no sets yet")
        query = OaiQuery(fmt.schemas, set_spec, start, end)
        complete = await self.store.oai_count(query)
        if complete == 0:
            raise OaiError("noRecordsMatch", "no records match the request")
        return ListState(verb, fmt.prefix, set_spec, start, end, 0, "", 0, complete)

    def _header(self, row) -> str:
        return xml.header(
            self.identifier(row["id"]), row["datestamp"], row["sets"], bool(row["deleted"])
        )

    def _record(self, row, fmt: MetadataFormat) -> str:
        head = self._header(row)
        if row["deleted"] or row["metadata"] is None:
            return f"<record>{head}</record>"
        metadata = fmt.render(row["metadata"]) if fmt.render else row["metadata"]
        return f"<record>{head}<metadata>{metadata}</metadata></record>"


def _format(prefix: str) -> MetadataFormat:
    fmt = FORMATS.get(prefix)
    if fmt is None:
        raise OaiError(
            "cannotDisseminateFormat",
            f"metadataPrefix {prefix!r} is not offered; use one of {', '.join(FORMATS)}",
        )
    return fmt


def _check_arguments(pairs: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """The verb and its arguments, or badVerb/badArgument (spec 3.1.1)."""
    verbs = [value for name, value in pairs if name == "verb"]
    if not verbs:
        raise OaiError("badVerb", "the verb argument is missing")
    if len(verbs) > 1:
        raise OaiError("badVerb", "the verb argument is repeated")
    verb = verbs[0]
    if verb not in VERBS:
        raise OaiError("badVerb", f"{verb!r} is not an OAI-PMH verb")
    args: dict[str, str] = {}
    for name, value in pairs:
        if name == "verb":
            continue
        if name in args:
            raise OaiError("badArgument", f"the argument {name!r} is repeated")
        args[name] = value
    required, optional, paged = VERBS[verb]
    if "resumptionToken" in args and paged:
        if len(args) > 1:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument")
        return verb, args
    illegal = sorted(set(args) - required - optional)
    if illegal:
        raise OaiError("badArgument", f"{verb} does not take {', '.join(illegal)}")
    missing = sorted(required - set(args))
    if missing:
        raise OaiError("badArgument", f"{verb} needs {', '.join(missing)}")
    return verb, args
