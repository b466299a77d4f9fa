"""The demo's libraries and the records each one holds.

Whole sample files make each library's own collection; overlapping slices of
the same files give some books to several libraries (real clusters, real
choices of lender). The Russian libraries share RSL/NLR records in MARC 21 and
RUSMARC, so the catalog clusters records across formats and scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

DATA = Path(__file__).resolve().parent / "data"
MARC_NS = "http://www.loc.gov/MARC21/slim"


@dataclass(frozen=True)
class Part:
    """Records ``start:stop`` of a MARCXML sample file (all when both are None)."""

    file: str
    start: int | None = None
    stop: int | None = None


@dataclass(frozen=True)
class LibrarySpec:
    symbol: str
    name: str
    parts: tuple[Part, ...]


RUSSIAN_SHARED = (
    "01002988236_marc21.mrc", "01003120729.mrc", "01007496813.mrc", "1_marc21.mrc",
    "2_marc21.mrc", "rsl01003501478.mrc", "rsl01003546177.mrc", "rsl01003579789.mrc",
)

LIBRARIES: tuple[LibrarySpec, ...] = (
    LibrarySpec("LOC", "Library of Congress (sample)", (Part("loc_general.xml"),)),
    LibrarySpec("BL", "British Library (sample)",
                (Part("british_library.xml"), Part("loc_general.xml", 0, 30))),
    LibrarySpec("DNB", "Deutsche Nationalbibliothek (sample)",
                (Part("dnb.xml"), Part("loc_general.xml", 10, 40))),
    LibrarySpec("GWU", "George Washington University Libraries (sample)",
                (Part("gwu.xml"), Part("british_library.xml", 0, 40),
                 Part("loc_general.xml", 0, 12))),
    LibrarySpec("PUL", "Princeton University Library (sample)",
                (Part("princeton.xml"), Part("gwu.xml", 0, 30), Part("dnb.xml", 0, 25))),
    LibrarySpec("RSL", "Российская государственная библиотека (образцы)", (Part("rsl"),)),
    LibrarySpec("NLR", "Российская национальная библиотека (образцы)",
                tuple(Part(f"rsl/{name}") for name in RUSSIAN_SHARED)
                + (Part("rsl/01002988236_rusmarc.mrc"), Part("rsl/01003120729_rusmarc.mrc"),
                   Part("rsl/01007496813_rusmarc.mrc"))),
)


#: Libraries that are not nodes of the network: only their OAI-PMH server is known
#: to the central library (here a libfed node that never joins, standing in for a
#: partner's Koha or DSpace), harvested on its schedule from the coordinator's
#: sources file. Their books are found in the union catalog; their own ILL system
#: (federation/demo/outside_ill.py) lends and borrows over ISO 18626.
PARTNERS: tuple[LibrarySpec, ...] = (
    LibrarySpec("UNI", "University partner library (OAI-PMH and ISO 18626, not a node)",
                (Part("loc_general.xml", 40, 70), Part("princeton.xml", 0, 20))),
)


def slice_marcxml(source: Path, start: int | None, stop: int | None, target: Path) -> Path:
    """Write records ``start:stop`` of a MARCXML collection to ``target``."""
    tree = etree.parse(str(source))
    records = tree.getroot().findall(f"{{{MARC_NS}}}record")
    collection = etree.Element(f"{{{MARC_NS}}}collection", nsmap={None: MARC_NS})
    for record in records[start:stop]:
        collection.append(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    etree.ElementTree(collection).write(str(target), xml_declaration=True, encoding="UTF-8")
    return target


def files_for(spec: LibrarySpec, workdir: Path) -> list[Path]:
    """The files to import for a library, slicing into ``workdir`` where needed."""
    files = []
    for part in spec.parts:
        source = DATA / part.file
        if part.start is None and part.stop is None:
            files.append(source)
            continue
        name = f"{source.stem}-{part.start or 0}-{part.stop or 'end'}.xml"
        files.append(slice_marcxml(source, part.start, part.stop, workdir / name))
    return files
