"""Records per second: MARCXML -> normalized and ISO 2709 -> normalized.

The input is the real corpus (../shared/data/marc21 and unimarc; the shipped
fixtures when it is absent) repeated to ~100k records (~10k with --quick):

* ISO 2709: the corpus's own .mrc/.iso bytes, so MARC-8, cp1251 and broken
  records cost what they cost in real life;
* MARCXML: the same records written as one MARC21slim collection (most of the
  corpus is ISO 2709; this keeps both figures about the same records).

pymarc's own XML parser (SAX, ``parse_xml_to_array``) reads the same MARCXML
for comparison; it only builds pymarc records, it does not normalize. lxml's
iterparse alone (our reader's first step: find each ``<record>``, free it
after) is the other yardstick the issue names (~50,000 rec/s when the goals
were set); both scale the goal to the machine the benchmark runs on.

Times are the process's CPU time: "records per second on one core", whatever
else the machine is doing.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pymarc

from benchmarks import Row
from federation.records import Record, iter_bytes, normalize, to_marcxml
from federation.records.marcxml import read_element, stream_records

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data"
FIXTURES = ROOT / "tests" / "fixtures" / "records"
GOAL_XML = 15_000
GOAL_ISO = 10_000
#: The yardsticks' speeds on the machine where the issue set the goals.
PYMARC_THEN = 11_000
ITERPARSE_THEN = 50_000


def _corpus_files() -> list[Path]:
    folders = [CORPUS / "marc21", CORPUS / "unimarc"] if CORPUS.is_dir() else [FIXTURES]
    return sorted(p for folder in folders for p in folder.rglob("*") if p.is_file())


def _inputs(target: int) -> tuple[bytes, int, bytes, int]:
    """``(iso_unit, iso_count, xml_records, xml_count)``: one copy of the corpus each way."""
    iso_parts: list[bytes] = []
    iso_count = 0
    records: list[Record] = []
    for path in _corpus_files():
        data = path.read_bytes()
        items = [i for i in iter_bytes(data, str(path)) if isinstance(i, Record)]
        records.extend(items)
        if not data.lstrip()[:1] == b"<" and items:
            iso_parts.append(data.rstrip(b"\x00\r\n \x1a"))
            iso_count += len(items)
    xml_unit = b"".join(to_marcxml(record) + b"\n" for record in records)
    return b"".join(iso_parts), iso_count, xml_unit, len(records)


def _collection(xml_unit: bytes, times: int) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
        + xml_unit * times
        + b"</collection>\n"
    )


def _rate(data: bytes) -> tuple[float, int]:
    """Records per second through iter_bytes (read + normalize), and how many."""
    start = time.process_time()
    count = sum(1 for item in iter_bytes(data) if isinstance(item, Record))
    return count / (time.process_time() - start), count


def _pymarc_rate(xml: bytes) -> float:
    start = time.process_time()
    count = len(pymarc.parse_xml_to_array(io.BytesIO(xml)))
    return count / (time.process_time() - start)


def _every_field_rate(xml: bytes) -> float:
    """The same MARCXML read with every field built up front, then normalized.

    That was the reader before ``Record.raw`` was deferred; kept as the
    "before" of that change, measured in the same run.
    """
    start = time.process_time()
    count = 0
    for element in stream_records(xml):
        marc, hint, _ = read_element(element)
        normalize(marc, hint=hint)
        count += 1
    return count / (time.process_time() - start)


def _iterparse_rate(xml: bytes) -> float:
    """Records per second lxml's iterparse finds and frees, with no field read."""
    start = time.process_time()
    count = sum(1 for _ in stream_records(xml))
    return count / (time.process_time() - start)


def _scaled(rate: float, yardstick: float, then: float) -> str:
    goal = GOAL_XML * yardstick / then
    return f"{goal:,.0f}: {'met' if rate >= goal else 'not met'}"


def run(quick: bool) -> list[Row]:
    """The records benchmark rows."""
    target = 10_000 if quick else 100_000
    iso_unit, iso_count, xml_unit, xml_count = _inputs(target)
    iso = iso_unit * max(1, round(target / max(iso_count, 1)))
    xml = _collection(xml_unit, max(1, round(target / max(xml_count, 1))))
    source = "corpus" if CORPUS.is_dir() else "fixtures"
    # One warm-up pass over a single copy, so the figures are steady-state.
    _rate(iso_unit)
    _rate(_collection(xml_unit, 1))
    xml_rate, xml_n = _rate(xml)
    iso_rate, iso_n = _rate(iso)
    every_field_rate = _every_field_rate(xml)
    pymarc_rate = _pymarc_rate(xml)
    iterparse_rate = _iterparse_rate(xml)
    return [
        Row(
            "records: MARCXML -> normalized",
            xml_rate,
            "rec/s",
            f">= {GOAL_XML:,}",
            xml_rate >= GOAL_XML,
            f"{xml_n:,} records ({source}); goal scaled to this machine by pymarc "
            f"{_scaled(xml_rate, pymarc_rate, PYMARC_THEN)}, by lxml iterparse "
            f"{_scaled(xml_rate, iterparse_rate, ITERPARSE_THEN)}",
        ),
        Row(
            "records: ISO 2709 -> normalized",
            iso_rate,
            "rec/s",
            f">= {GOAL_ISO:,}",
            iso_rate >= GOAL_ISO,
            f"{iso_n:,} records ({source})",
        ),
        Row(
            "records: MARCXML, every field built first",
            every_field_rate,
            "rec/s",
            "",
            None,
            f"ours / every field built = {xml_rate / every_field_rate:.2f}x "
            "(only the normalized fields built, Record.raw on first use)",
        ),
        Row(
            "records: pymarc parse_xml (no normalizing)",
            pymarc_rate,
            "rec/s",
            "",
            None,
            f"ours / pymarc = {xml_rate / pymarc_rate:.2f}x (same MARCXML)",
        ),
        Row(
            "records: lxml iterparse alone (no fields read)",
            iterparse_rate,
            "rec/s",
            "",
            None,
            f"ours / iterparse = {xml_rate / iterparse_rate:.2f}x (same MARCXML; "
            f"{ITERPARSE_THEN:,} when the goal was set)",
        ),
    ]
