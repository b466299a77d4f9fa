"""MARCXML read with lxml (fast, namespace-agnostic) and written valid against MARC21slim.xsd.

Reading accepts the MARC 21 slim namespace, no namespace at all (many UNIMARC
exports), MarcXchange and the rba.ru UNISlim dialect: only the local names
``record``/``leader``/``controlfield``/``datafield``/``subfield`` matter. A
``format`` attribute on ``<record>`` (MarcXchange, UNISlim) is kept as a schema
hint.

Writing: the slim schema has no attribute to say "this is UNIMARC", and its
leader pattern only allows "4500" or four blanks at positions 20-23. So a
UNIMARC record is written with its own fields in the slim container and a
leader ending in four blanks — the marker :func:`federation.records.schema.detect`
reads back (MARC 21 always ends in "4500"). ISO 2709 output restores UNIMARC's
"450 ".
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Sequence

import pymarc
from lxml import etree
from pymarc import Field, Indicators, Subfield
from pymarc.leader import Leader

from federation.errors import RecordError
from federation.records import build

SLIM = "http://www.loc.gov/MARC21/slim"
_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_RECOVER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, recover=True)


def _local(tag: object) -> str:
    """The local name of an element tag; '' for comments and processing instructions."""
    if not isinstance(tag, str):
        return ""
    return tag[tag.rfind("}") + 1 :]


def parse_element(xml: bytes | etree._Element) -> etree._Element:
    """The ``<record>`` element of an XML snippet (or the element itself)."""
    if isinstance(xml, bytes | str):
        try:
            element = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, _PARSER)
        except etree.XMLSyntaxError as error:
            raise RecordError(f"not well-formed XML: {error}") from None
    else:
        element = xml
    if _local(element.tag) != "record" or element.tag.startswith(_OAI):
        found = next(iter_record_elements(element), None)
        if found is None:
            raise RecordError(f"no MARC <record> element in <{_local(element.tag)}>")
        element = found
    return element


def iter_record_elements(root: etree._Element) -> Iterator[etree._Element]:
    """Every MARC ``<record>`` under ``root`` (OAI-PMH ``<record>`` wrappers skipped)."""
    if _local(root.tag) == "record" and not root.tag.startswith(_OAI):
        yield root
        return
    for element in root.iter("{*}record", "record"):
        if not element.tag.startswith(_OAI):
            yield element


#: Element tag -> local name, filled as tags are met (a handful per document).
_KINDS: dict[object, str] = {}
#: The tags whose local name is "subfield" (Clark names as lxml gives them).
_SUBFIELD_TAGS = {f"{{{SLIM}}}subfield", "subfield"}
#: ``(ind1, ind2)`` attribute values as read -> the shared Indicators. Bounded,
#: because attribute values in a broken file can be anything.
_PAIRS: dict[tuple[str | None, str | None], Indicators] = {}
_new_subfield = tuple.__new__
_new_field = Field.__new__


def _no_code(tag: str) -> str:
    raise RecordError(f"subfield without a code in field {tag}")


def _kind(tag: object) -> str:
    kind = _KINDS.get(tag)
    if kind is None:
        kind = _KINDS[tag] = _local(tag)
        if kind == "subfield":
            _SUBFIELD_TAGS.add(tag)  # type: ignore[arg-type]  # a str: _local gave a name
    return kind


def _indicators(ind1: str | None, ind2: str | None) -> Indicators:
    """The shared Indicators for two indicator attributes (absent or empty = blank)."""
    pair = (ind1 or " ")[:1] + (ind2 or " ")[:1]
    found = build.SHARED_INDICATORS.get(pair) or build.indicators(pair)
    if len(_PAIRS) < 1024:
        _PAIRS[ind1, ind2] = found
    return found


def to_pymarc(element: etree._Element) -> tuple[pymarc.Record, str | None]:
    """A ``<record>`` element as a pymarc.Record, plus its ``format`` attribute if any."""
    marc, hint, _ = read_element(element)
    return marc, hint


def read_element(
    element: etree._Element,
) -> tuple[pymarc.Record, str | None, dict[str, list[Field]]]:
    """:func:`to_pymarc`, plus the record's fields by tag (what the normalizers index).

    Raises RecordError for a field without a tag or a subfield without a code:
    such a record cannot be written back faithfully.
    """
    leader, hint, by_tag, fields = _walk(element, None)
    record = pymarc.Record()
    record.leader = Leader(leader)
    record.fields = fields
    return record, hint, by_tag  # type: ignore[return-value]  # every list built here


#: The value :func:`read_selected` gives for a tag it did not build: present, no fields.
_SKIPPED: tuple[Field, ...] = ()


def read_selected(
    element: etree._Element, wanted: frozenset[str]
) -> tuple[str, str | None, dict[str, Sequence[Field]], int]:
    """``(leader, format hint, fields by tag, field count)``, building only ``wanted`` tags.

    Why: the normalizers read some thirty tags, and building every other field
    (notes, local 9XX, 880 pairs…) as a pymarc Field was a third of the cost of
    reading MARCXML. A skipped field still counts: its tag maps to an empty
    sequence (schema detection looks at which tags are present), it is in the
    count, and it is checked as :func:`read_element` would check it, so a
    record that reads here can always be built whole later (``Record.raw``).
    """
    leader, hint, by_tag, fields = _walk(element, wanted)
    return leader, hint, by_tag, len(fields)


def _walk(
    element: etree._Element, wanted: frozenset[str] | None
) -> tuple[str, str | None, dict[str, Sequence[Field]], list[Field | None]]:
    """One pass over a ``<record>``: ``(leader, format hint, fields by tag, fields)``.

    Builds every field (``wanted`` None) or only those with a wanted tag; the
    list holds None for each field not built. This loop is the hot path of
    MARCXML reading (once per element and subfield), hence the plain code:
    lxml builds a new tag string on every ``.tag``, so subfields are recognised
    by set membership, indicator pairs come from a dict keyed by the raw
    attribute values, the tag index is filled as the fields are made, and the
    subfield loop and the data field's slots are written out (a call per
    subfield or field costs a few percent).
    """
    leader = None
    fields: list[Field | None] = []
    append = fields.append
    by_tag: dict[str, Sequence[Field]] = {}
    kinds = _KINDS
    subfield_tags = _SUBFIELD_TAGS
    pairs = _PAIRS
    new_subfield = _new_subfield
    new_field = _new_field
    for child in element:
        kind = kinds.get(child.tag) or _kind(child.tag)
        if kind == "datafield":
            get = child.get
            tag = get("tag")
            if not tag:
                raise RecordError("datafield without a tag attribute")
            if wanted is not None and tag not in wanted:
                tag = tag.strip()
                if tag not in wanted:
                    for sub in child:
                        if not sub.get("code") and (
                            sub.tag in subfield_tags or _kind(sub.tag) == "subfield"
                        ):
                            _no_code(tag)
                    if tag not in by_tag:
                        by_tag[tag] = _SKIPPED
                    append(None)
                    continue
            subfields: list[Subfield] = []
            add = subfields.append
            for sub in child:
                if sub.tag in subfield_tags or _kind(sub.tag) == "subfield":
                    add(new_subfield(Subfield, (sub.get("code") or _no_code(tag), sub.text or "")))
            ind1 = get("ind1")
            ind2 = get("ind2")
            field = new_field(Field)
            field.tag = tag = tag.strip()
            field.data = None
            field._indicators = pairs.get((ind1, ind2)) or _indicators(ind1, ind2)
            field.subfields = subfields
            field.control_field = False
        elif kind == "controlfield":
            tag = child.get("tag")
            if not tag:
                raise RecordError("controlfield without a tag attribute")
            tag = tag.strip()
            if wanted is not None and tag not in wanted:
                if tag not in by_tag:
                    by_tag[tag] = _SKIPPED
                append(None)
                continue
            field = _control_field(child)
            tag = field.tag
        else:
            if kind == "leader":
                leader = child.text or ""
            continue
        append(field)
        same = by_tag.get(tag)
        if same:
            same.append(field)  # type: ignore[attr-defined]  # a list: built here
        else:
            by_tag[tag] = [field]
    if not fields:
        raise RecordError("record has no fields")
    leader = _fix_leader(leader) if leader is not None else " " * 24
    return leader, element.get("format"), by_tag, fields


def _control_field(element: etree._Element) -> Field:
    """A ``<controlfield>`` as a field; 001-009 as control fields, like pymarc."""
    tag = element.get("tag")
    if not tag:
        raise RecordError("controlfield without a tag attribute")
    tag = tag.strip()
    if build.is_control_tag(tag):
        return build.control_field(tag, element.text or "")
    return Field(tag=tag, data=element.text or "")


def _fix_leader(leader: str) -> str:
    """Exactly 24 characters: real files carry 23, 25 or padded leaders."""
    leader = leader.replace("\n", "").replace("\r", "")
    if len(leader) > 24:
        leader = leader.strip()
    return leader[:24].ljust(24)


def stream_records(data: bytes) -> Iterator[etree._Element]:
    """Each MARC ``<record>`` element of a document, as the parser reaches its end.

    Records already handed out leave the tree, so a file of a million records
    needs the memory of the records its reader keeps. Raises lxml's
    XMLSyntaxError where the document stops being well-formed; the records
    before that point have been yielded.
    """
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag=("{*}record", "record"),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    )
    for _, element in events:
        if not element.tag.startswith(_OAI):
            yield element
        # Free what is done: every earlier sibling (this record goes at the next
        # one). Not element.clear(): a Record whose raw fields are built on first
        # use holds its element, which lives on, detached, until that Record goes.
        # In an OAI-PMH envelope the MARC record is alone in its <metadata>, so the
        # OAI <record> around it is what frees its earlier siblings.
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]


def recover_records(data: bytes) -> list[etree._Element]:
    """The MARC records lxml's recover mode finds in a document that is not well-formed."""
    root = etree.fromstring(data, _RECOVER)
    return [] if root is None else list(iter_record_elements(root))


# --------------------------------------------------------------------------- writing

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TAG = re.compile(r"^(0[1-9A-Za-z][0-9A-Za-z]|[1-9A-Za-z][0-9A-Za-z]{2})$")
_CONTROL_TAG = re.compile(r"^00[1-9A-Za-z]$")
_SUBFIELD_CODE = re.compile(r"""^[\dA-Za-z!"#$%&'()*+,\-./:;<=>?{}_^`~\[\]\\]$""")
_LEADER = re.compile(
    r"^[\d ]{5}[\dA-Za-z ][\dA-Za-z][\dA-Za-z ]{3}(2| )(2| )[\d ]{5}[\dA-Za-z ]{3}(4500|    )$"
)


def _text(value: str | None) -> str:
    """Text XML 1.0 can carry (control characters dropped)."""
    return _CONTROL_CHARS.sub("", value or "")


def slim_leader(leader: str, unimarc: bool) -> str:
    """A leader the slim schema accepts; ends in four blanks for UNIMARC (see module notes)."""
    chars = list(str(leader).ljust(24)[:24])
    for index in (*range(5), *range(12, 17)):
        if not ("0" <= chars[index] <= "9" or chars[index] == " "):
            chars[index] = "0"
    for index in (5, 7, 8, 9, 17, 18, 19):
        if not (chars[index].isascii() and (chars[index].isalnum() or chars[index] == " ")):
            chars[index] = " "
    if not (chars[6].isascii() and chars[6].isalnum()):
        chars[6] = "a"
    chars[10], chars[11] = "2", "2"
    chars[20:24] = list("    " if unimarc else "4500")
    result = "".join(chars)
    assert _LEADER.match(result), result
    return result


def record_element(marc: pymarc.Record, unimarc: bool) -> etree._Element:
    """One ``<record>`` in the slim namespace, valid against MARC21slim.xsd."""
    root = etree.Element(f"{{{SLIM}}}record", nsmap={None: SLIM})
    root.set("type", "Bibliographic")
    etree.SubElement(root, f"{{{SLIM}}}leader").text = slim_leader(marc.leader, unimarc)
    controls = [f for f in marc.fields if f.control_field and _CONTROL_TAG.match(f.tag)]
    datas = [f for f in marc.fields if not f.control_field and _TAG.match(f.tag)]
    for field in controls:
        element = etree.SubElement(root, f"{{{SLIM}}}controlfield", tag=field.tag)
        element.text = _text(field.data)
    for field in datas:
        if not field.subfields:
            continue
        ind = field.indicators or Indicators(" ", " ")
        element = etree.SubElement(
            root,
            f"{{{SLIM}}}datafield",
            tag=field.tag,
            ind1=_indicator(ind[0]),
            ind2=_indicator(ind[1]),
        )
        for code, value in field.subfields:
            sub = etree.SubElement(element, f"{{{SLIM}}}subfield")
            sub.set("code", code if _SUBFIELD_CODE.match(code or "") else "?")
            sub.text = _text(value)
    return root


def _indicator(value: str) -> str:
    """The slim schema allows digits, lowercase letters and blank only."""
    value = (value or " ")[:1]
    # str.isdigit() would let Unicode digits such as "²" through; the schema does not.
    if ("0" <= value <= "9") or ("a" <= value <= "z") or value == " ":
        return value
    if "A" <= value <= "Z":
        return value.lower()
    return " "


def collection(elements: Iterable[etree._Element]) -> bytes:
    """A full MARC21slim ``<collection>`` document."""
    root = etree.Element(f"{{{SLIM}}}collection", nsmap={None: SLIM})
    for element in elements:
        root.append(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
