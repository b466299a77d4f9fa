"""The MARCXML reader's fast paths give what a plain reading of the XML gives.

The reader recognises subfields by their tag strings, shares indicator objects
and builds the tag index while it makes the fields (see marcxml.read_element);
these stories pin down the odd exports that those shortcuts must not change.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from federation.errors import RecordError
from federation.records import (
    Record,
    iter_bytes,
    iter_file,
    normalize,
    record_from_marcxml,
    to_marcxml_collection,
)
from federation.records.fields import Fields
from federation.records.marcxml import read_element

ODD = b"""<?xml version="1.0" encoding="UTF-8"?>
<collection xmlns:mx="info:lc/xmlns/marcxchange-v1">
<mx:record format="MARC21">
  <mx:leader>00000nam a2200000 a 4500</mx:leader>
  <!-- exported by a script that comments its output -->
  <mx:controlfield tag=" 001 ">mx-1</mx:controlfield>
  <mx:controlfield tag="12">not a control tag</mx:controlfield>
  <mx:datafield tag="245" ind1="10" ind2="">
    <mx:subfield code="a">Title /</mx:subfield>
    <!-- a comment among the subfields -->
    <?processing instruction?>
    <mx:note>not a subfield</mx:note>
    <mx:subfield code="c">by someone.</mx:subfield>
    <mx:subfield code="x"/>
  </mx:datafield>
  <mx:datafield tag="650" ind2="0"><mx:subfield code="a">Cats</mx:subfield></mx:datafield>
  <mx:datafield tag="650" ind1=" " ind2="0"><mx:subfield code="a">Dogs</mx:subfield></mx:datafield>
</mx:record>
<record><leader>00000nam a2200000 a 4500</leader>
  <controlfield tag="001">plain-1</controlfield>
  <datafield tag="245" ind1="0" ind2="0"><subfield code="a">Plain title</subfield></datafield>
</record>
</collection>"""


def test_odd_marcxchange_export_reads_field_by_field():
    first, second = [r for r in iter_bytes(ODD) if isinstance(r, Record)]
    fields = first.raw.fields
    assert [f.tag for f in fields] == ["001", "012", "245", "650", "650"]
    assert fields[0].control_field and fields[0].data == "mx-1"
    assert not fields[1].control_field  # pymarc pads "12" and keeps it a data field
    title = fields[2]
    assert [(s.code, s.value) for s in title.subfields] == [
        ("a", "Title /"),
        ("c", "by someone."),
        ("x", ""),
    ]
    assert tuple(title.indicators) == ("1", " ")
    assert [tuple(f.indicators) for f in fields[3:]] == [(" ", "0"), (" ", "0")]
    assert first.title == "Title" and first.subjects == ["Cats", "Dogs"]
    assert second.id == "plain-1" and second.title == "Plain title"


def test_tag_index_built_while_reading_equals_a_fresh_index():
    root = etree.fromstring(ODD)
    for element in root.iter("{*}record"):
        marc, hint, by_tag = read_element(element)
        assert by_tag == Fields(marc).by_tag
        assert (
            record_from_marcxml(element).summary()
            == record_from_marcxml(etree.tostring(element)).summary()
        )
    assert hint is None


def _records_as_marcxml(folder) -> list[bytes]:
    """Every readable record under ``folder``, each written as one MARCXML collection."""
    documents = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        records = [r for r in iter_file(path) if isinstance(r, Record)]
        if records:
            documents.append(to_marcxml_collection(records))
    return documents


def _same_as_a_full_reading(documents: list[bytes]) -> int:
    """Reading only the normalized tags gives what building every field gives."""
    checked = 0
    for document in documents:
        root = etree.fromstring(document)
        fast = [r for r in iter_bytes(document) if isinstance(r, Record)]
        elements = list(root.iter("{*}record"))
        assert len(fast) == len(elements)
        for record, element in zip(fast, elements, strict=True):
            marc, _, _ = read_element(element)
            full = normalize(marc)
            assert record.summary() == full.summary(), full.id
            assert record.raw.as_marc() == marc.as_marc()  # built on first use
            checked += 1
    return checked


def test_reading_only_the_normalized_fields_changes_nothing(fixtures):
    assert _same_as_a_full_reading(_records_as_marcxml(fixtures / "records")) > 100


def test_reading_only_the_normalized_fields_changes_nothing_on_the_corpus(shared_data):
    documents = _records_as_marcxml(shared_data / "marc21") + _records_as_marcxml(
        shared_data / "unimarc"
    )
    assert _same_as_a_full_reading(documents) > 5_000


def test_a_skipped_field_is_still_checked():
    broken = ODD.replace(b'<subfield code="a">Plain title</subfield></datafield>',
                         b'<subfield code="a">Plain title</subfield></datafield>'
                         b'<datafield tag="500" ind1=" " ind2=" "><subfield>no code</subfield>'
                         b"</datafield>")
    results = list(iter_bytes(broken))
    assert isinstance(results[1], RecordError)
    assert "subfield without a code in field 500" in results[1].reason


def test_a_record_read_from_marcxml_crosses_a_process_boundary(fixtures):
    import pickle

    record = next(iter_file(fixtures / "records" / "demo" / "loc_general.xml"))
    copy = pickle.loads(pickle.dumps(record))
    assert copy == record and copy.raw.as_marc() == record.raw.as_marc()


def test_records_in_an_oai_pmh_envelope_are_freed_as_they_are_read():
    from federation.records.marcxml import stream_records

    page = Path(__file__).parent.parent / "fixtures" / "oai" / "xbib-zdb-oai-marc.xml"
    elements = stream_records(page.read_bytes())
    last, count = None, 0
    for last in elements:  # noqa: B007 - the last one shows what is left of the tree
        count += 1
    left = sum(1 for _ in last.getroottree().getroot().iter())
    assert count == 50 and left < 300  # the envelope and the last record, not all 50
