"""SRU 1.2 and 2.0 on the union catalog: ``/sru`` for Koha, VuFind, yaz and Z39.50 gateways.

HTTP GET and POST (form-encoded), the bindings SRU clients speak. ``searchRetrieve`` answers a
CQL query (:mod:`federation.catalog.cql_search`) with the clusters' best
records in the schema asked for — ``marcxml`` (MARC 21), ``rusmarc`` or ``dc`` —
each carrying its holding libraries: a 852 ``$a`` per library in MARC 21, a 899
``$a`` in RUSMARC, and for every schema an ``extraRecordData`` block; best match
first, or as the query's ``sortBy`` or the ``sortKeys`` parameter says. ``explain``
(also the answer to a bare ``/sru``) lists the indexes and schemas. Whatever
goes wrong is an SRU diagnostic with its standard ``info:srw/diagnostic/1/N``
URI inside a well-formed response, with HTTP 200 as SRU 1.2 expects.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from aiohttp import web
from lxml import etree

from federation.catalog.cql import CqlError
from federation.catalog.cql import parse as parse_cql
from federation.catalog.cql_search import INDEXES, RECORD_ID, SORT_INDEXES
from federation.records import record_from_marcxml, to_oai_dc
from federation.web.render import BACKEND

log = logging.getLogger(__name__)

_NS = {
    "1.1": ("http://www.loc.gov/zing/srw/", "http://www.loc.gov/zing/srw/diagnostic/"),
    "1.2": ("http://www.loc.gov/zing/srw/", "http://www.loc.gov/zing/srw/diagnostic/"),
    "2.0": (
        "http://docs.oasis-open.org/ns/search-ws/sruResponse",
        "http://docs.oasis-open.org/ns/search-ws/diagnostic",
    ),
}
DEFAULT_VERSION = "2.0"
EXPLAIN_NS = "http://explain.z3950.org/dtd/2.0/"
LIBFED_NS = "https://libfed.org/ns/holdings"
DEFAULT_RECORDS = 10
MAX_RECORDS = 100


@dataclass(frozen=True, slots=True)
class RecordSchema:
    name: str
    identifier: str
    #: The catalog's record schema served under it ("" = any, converted).
    stored: str
    #: The MARC field that carries a holding library in $a ("" = none).
    holding_tag: str


SCHEMAS = (
    RecordSchema("marcxml", "info:srw/schema/1/marcxml-v1.1", "marc21", "852"),
    RecordSchema("rusmarc", "info:srw/schema/1/rusmarc", "unimarc", "899"),
    RecordSchema("dc", "info:srw/schema/1/dc-v1.1", "", ""),
)
#: Every name and identifier a client may send for a schema.
_SCHEMA_NAMES = {
    **{s.name: s for s in SCHEMAS},
    **{s.identifier: s for s in SCHEMAS},
    "marc21": SCHEMAS[0],
    "marc": SCHEMAS[0],
    "unimarc": SCHEMAS[1],
    "oai_dc": SCHEMAS[2],
}


class Diagnostic(Exception):
    """A fatal SRU diagnostic: the response carries it instead of records."""

    def __init__(self, number: int, message: str, details: str = "") -> None:
        super().__init__(message)
        self.number, self.message, self.details = number, message, details


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/sru", sru, name="sru")
    router.add_post("/sru", sru, name="sru_post")  # the POST binding (yaz-client's default)


async def sru(request: web.Request) -> web.Response:
    params = {**request.query, **(await request.post() if request.method == "POST" else {})}
    version = params.get("version", DEFAULT_VERSION)
    if version not in _NS:
        return _answer(_diagnostic_only(DEFAULT_VERSION, Diagnostic(
            5, "Unsupported version", version)))  # fmt: skip
    operation = params.get("operation") or ("searchRetrieve" if "query" in params else "explain")
    try:
        if operation == "explain":
            return _answer(_explain(request, version))
        if operation != "searchRetrieve":
            raise Diagnostic(4, "Unsupported operation", operation)
        document = await _search_retrieve(request.app[BACKEND], params, version)
    except Diagnostic as diagnostic:
        log.info("SRU %s %r: diagnostic %d %s", operation, params.get("query"), diagnostic.number,
                 diagnostic.message)  # fmt: skip
        return _answer(_diagnostic_only(version, diagnostic))
    return _answer(document)


async def _search_retrieve(backend, params, version: str) -> etree._Element:
    query = params.get("query")
    if not query:
        raise Diagnostic(7, "Mandatory parameter not supplied", "query")
    if params.get("sortKeys"):
        query = _with_sort_keys(query, params["sortKeys"])
    start = _number(params, "startRecord", 1, minimum=1)
    count = _number(params, "maximumRecords", DEFAULT_RECORDS, minimum=0)
    count = min(count, MAX_RECORDS)
    schema = _SCHEMA_NAMES.get((params.get("recordSchema") or "marcxml").lower())
    if schema is None:
        raise Diagnostic(66, "Unknown schema for retrieval", params.get("recordSchema", ""))
    if params.get("recordPacking", "xml") not in ("xml",) and version != "2.0":
        raise Diagnostic(71, "Unsupported record packing", params["recordPacking"])
    try:
        result = await backend.search_cql(query, limit=max(count, 1), offset=start - 1)
    except CqlError as error:
        raise Diagnostic(error.diagnostic, str(error), query) from error
    if result.total and start > result.total:
        raise Diagnostic(61, "First record position out of range", str(start))
    hits = result.results[:count]
    members = await backend.member_records([hit.cluster_id for hit in hits])
    srw, diag = _NS[version]
    root = _response(version, "searchRetrieveResponse")
    etree.SubElement(root, f"{{{srw}}}numberOfRecords").text = str(result.total)
    if hits:
        records = etree.SubElement(root, f"{{{srw}}}records")
        for position, hit in enumerate(hits, start):
            _record(records, srw, diag, version, schema, hit, members.get(hit.cluster_id, []),
                    position)  # fmt: skip
    if start + len(hits) <= result.total and hits:
        etree.SubElement(root, f"{{{srw}}}nextRecordPosition").text = str(start + len(hits))
    log.info("SRU searchRetrieve %r: %d hits, %d returned from %d (%s)", query, result.total,
             len(hits), start, schema.name)  # fmt: skip
    return root


def _with_sort_keys(query: str, sort_keys: str) -> str:
    """``query`` sorted as the ``sortKeys`` parameter (SRU 1.1, 2.0) says, as CQL sortBy."""
    try:
        sorted_already = bool(parse_cql(query).sort_keys)
    except CqlError as error:
        raise Diagnostic(error.diagnostic, str(error), query) from error
    if sorted_already:
        raise Diagnostic(96, "Sort spec included both in query and protocol: error",
                         "sortKeys")  # fmt: skip
    return f"{query} sortBy {' '.join(_sort_key(key) for key in sort_keys.split())}"


_MISSING = {"": "", "highvalue": "/sort.missingHigh", "lowvalue": "/sort.missingLow"}


def _sort_key(key: str) -> str:
    """One key of ``sortKeys`` (``path,schema,ascending,caseSensitive,missingValue``,
    all but the path optional) as a CQL sort key, e.g. ``dc.date/sort.descending``."""
    path, schema, ascending, case, missing = (key.split(",") + [""] * 4)[:5]
    if not re.fullmatch(r"[A-Za-z][\w.]*", path):  # an XPath, say: we sort by indexes
        raise Diagnostic(88, "Unsupported path for sort", path)
    if schema and schema.lower() not in _SCHEMA_NAMES:
        raise Diagnostic(87, "Unsupported schema for sort", schema)
    if ascending not in ("", "1", "true", "0", "false"):
        raise Diagnostic(90, "Unsupported direction", ascending)
    if case not in ("", "0", "false"):
        raise Diagnostic(91, "Unsupported case", case)
    if missing.lower() not in _MISSING:
        raise Diagnostic(92, "Unsupported missing value action", missing)
    direction = "/sort.descending" if ascending in ("0", "false") else ""
    return path + direction + _MISSING[missing.lower()]


def _record(parent, srw, diag, version, schema: RecordSchema, hit, members, position) -> None:
    record = etree.SubElement(parent, f"{{{srw}}}record")
    payload = _payload(schema, hit.libraries, members)
    if payload is None:  # a surrogate diagnostic stands in for the record
        etree.SubElement(record, f"{{{srw}}}recordSchema").text = "info:srw/schema/1/diagnostics-v1.1"
        _packing(record, srw, version)
        data = etree.SubElement(record, f"{{{srw}}}recordData")
        _diagnostic(data, diag, Diagnostic(67, "Record not available in this schema",
                                           f"{hit.cluster_id}: no {schema.name} record"))  # fmt: skip
    else:
        etree.SubElement(record, f"{{{srw}}}recordSchema").text = schema.identifier
        _packing(record, srw, version)
        etree.SubElement(record, f"{{{srw}}}recordData").append(payload)
    etree.SubElement(record, f"{{{srw}}}recordPosition").text = str(position)
    extra = etree.SubElement(record, f"{{{srw}}}extraRecordData")
    holdings = etree.SubElement(extra, f"{{{LIBFED_NS}}}holdings", nsmap={"libfed": LIBFED_NS},
                                cluster=hit.cluster_id)  # fmt: skip
    for library in hit.libraries:
        etree.SubElement(holdings, f"{{{LIBFED_NS}}}library").text = library


def _packing(record, srw: str, version: str) -> None:
    if version == "2.0":
        etree.SubElement(record, f"{{{srw}}}recordXMLEscaping").text = "xml"
    else:
        etree.SubElement(record, f"{{{srw}}}recordPacking").text = "xml"


def _payload(schema: RecordSchema, libraries: list[str], members) -> etree._Element | None:
    """The best member in ``schema`` (with its holdings), or None when there is none."""
    for stored, _library, raw in members:
        if schema.stored and stored != schema.stored:
            continue
        element = _element(raw)
        if not schema.stored:  # Dublin Core: stored as such, or made from MARC
            return element if stored == "dc" else to_oai_dc(record_from_marcxml(element))
        namespace = etree.QName(element).namespace
        prefix = f"{{{namespace}}}" if namespace else ""
        # The source's own location fields name its shelves, not the network's
        # holdings: they give way to one field per holding library.
        for old in element.findall(f"{prefix}datafield[@tag='{schema.holding_tag}']"):
            element.remove(old)
        for library in libraries:
            field = etree.SubElement(element, f"{prefix}datafield", tag=schema.holding_tag,
                                     ind1=" ", ind2=" ")  # fmt: skip
            etree.SubElement(field, f"{prefix}subfield", code="a").text = library
        return element
    return None


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def _element(raw: bytes) -> etree._Element:
    element = etree.fromstring(raw, _PARSER)
    if etree.QName(element).localname == "collection" and len(element):
        element = element[0]
    return element


def _number(params, name: str, default: int, *, minimum: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or int(text) < minimum:
        raise Diagnostic(6, "Unsupported parameter value", f"{name}={text}")
    return int(text)


def _response(version: str, name: str) -> etree._Element:
    """An empty response element of ``version``; SRU 1.x responses start with their version."""
    srw = _NS[version][0]
    root = etree.Element(f"{{{srw}}}{name}", nsmap={"srw": srw})
    if version != "2.0":
        etree.SubElement(root, f"{{{srw}}}version").text = version
    return root


def _diagnostic_only(version: str, diagnostic: Diagnostic) -> etree._Element:
    srw, diag = _NS[version]
    root = _response(version, "searchRetrieveResponse")
    etree.SubElement(root, f"{{{srw}}}numberOfRecords").text = "0"
    _diagnostic(etree.SubElement(root, f"{{{srw}}}diagnostics"), diag, diagnostic)
    return root


def _diagnostic(parent, diag: str, diagnostic: Diagnostic) -> None:
    element = etree.SubElement(parent, f"{{{diag}}}diagnostic", nsmap={"diag": diag})
    etree.SubElement(element, f"{{{diag}}}uri").text = (
        f"info:srw/diagnostic/1/{diagnostic.number}"
    )
    if diagnostic.details:
        etree.SubElement(element, f"{{{diag}}}details").text = diagnostic.details
    etree.SubElement(element, f"{{{diag}}}message").text = diagnostic.message


def _explain(request: web.Request, version: str) -> etree._Element:
    srw, _diag = _NS[version]
    root = _response(version, "explainResponse")
    record = etree.SubElement(root, f"{{{srw}}}record")
    etree.SubElement(record, f"{{{srw}}}recordSchema").text = EXPLAIN_NS
    _packing(record, srw, version)
    data = etree.SubElement(record, f"{{{srw}}}recordData")
    explain = etree.SubElement(data, f"{{{EXPLAIN_NS}}}explain", nsmap={None: EXPLAIN_NS})
    server = etree.SubElement(explain, f"{{{EXPLAIN_NS}}}serverInfo", protocol="SRU",
                              version=version)  # fmt: skip
    host, _, port = (request.host or "localhost").partition(":")
    etree.SubElement(server, f"{{{EXPLAIN_NS}}}host").text = host
    etree.SubElement(server, f"{{{EXPLAIN_NS}}}port").text = port or "80"
    etree.SubElement(server, f"{{{EXPLAIN_NS}}}database").text = "sru"
    database = etree.SubElement(explain, f"{{{EXPLAIN_NS}}}databaseInfo")
    etree.SubElement(database, f"{{{EXPLAIN_NS}}}title", lang="en").text = (
        "libfed union catalog"
    )
    etree.SubElement(database, f"{{{EXPLAIN_NS}}}title", lang="ru").text = "Сводный каталог libfed"
    indexes = etree.SubElement(explain, f"{{{EXPLAIN_NS}}}indexInfo")
    for prefix, identifier in (("cql", "info:srw/cql-context-set/1/cql-v1.2"),
                               ("dc", "info:srw/cql-context-set/1/dc-v1.1"),
                               ("bath", "http://zing.z3950.org/cql/bath/2.0/")):  # fmt: skip
        etree.SubElement(indexes, f"{{{EXPLAIN_NS}}}set", name=prefix, identifier=identifier)
    for name in [*INDEXES, RECORD_ID]:
        index = etree.SubElement(indexes, f"{{{EXPLAIN_NS}}}index",
                                 sort="true" if name in SORT_INDEXES else "false")  # fmt: skip
        etree.SubElement(index, f"{{{EXPLAIN_NS}}}title").text = name
        mapped = etree.SubElement(etree.SubElement(index, f"{{{EXPLAIN_NS}}}map"),
                                  f"{{{EXPLAIN_NS}}}name", set=name.split(".")[0])  # fmt: skip
        mapped.text = name.split(".", 1)[1]
    schemas = etree.SubElement(explain, f"{{{EXPLAIN_NS}}}schemaInfo")
    for schema in SCHEMAS:
        item = etree.SubElement(schemas, f"{{{EXPLAIN_NS}}}schema", name=schema.name,
                                identifier=schema.identifier)  # fmt: skip
        etree.SubElement(item, f"{{{EXPLAIN_NS}}}title").text = schema.name
    config = etree.SubElement(explain, f"{{{EXPLAIN_NS}}}configInfo")
    etree.SubElement(config, f"{{{EXPLAIN_NS}}}default", type="numberOfRecords").text = str(
        DEFAULT_RECORDS
    )
    etree.SubElement(config, f"{{{EXPLAIN_NS}}}setting", type="maximumRecords").text = str(
        MAX_RECORDS
    )
    return root


def _answer(document: etree._Element) -> web.Response:
    body = etree.tostring(document, xml_declaration=True, encoding="UTF-8")
    return web.Response(body=body, content_type="text/xml", charset="utf-8")
