"""Reading a page in a worker process: what comes back is what was read."""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from federation.pickling import pickled_by_fields
from harvester.reading import read_page

PAGE = Path(__file__).parent.parent / "fixtures" / "oai" / "xbib-zdb-oai-marc.xml"


def test_a_read_page_crosses_a_process_boundary_unchanged():
    page = read_page(PAGE.read_bytes(), "zdb", "ZDB")
    copy = pickle.loads(pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL))
    assert len(page.records) == 50
    assert copy == page
    first = copy.records[0]
    assert first.alone.libraries == ["ZDB"] and first.alone.title == first.normalized["title"]
    assert first.match.keys() == first.keys


def test_only_plain_dataclasses_are_pickled_by_their_fields():
    @dataclass
    class Counted:
        name: str
        seen: int = field(default=0, init=False)

    with pytest.raises(TypeError, match="not positional"):
        pickled_by_fields(Counted)


def test_a_page_reader_process_imports_no_fetching_and_no_storage():
    # Each reader process imports harvester.reading; what it does not need is
    # start-up time paid once per reader, on every harvest of a big list.
    code = "import sys, harvester.reading; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "federation.catalog.commit" in loaded
    unneeded = {"sickle", "requests", "aiosqlite", "psycopg", "federation.catalog.sqlite",
                "federation.catalog.catalog", "harvester.harvester"}  # fmt: skip
    assert not unneeded & loaded


def test_reader_processes_collect_garbage_less_often():
    import gc

    from harvester.reading import GC_THRESHOLD, PageReader

    readers = PageReader.in_processes(1)
    try:
        threshold = readers._executor.submit(gc.get_threshold).result(timeout=60)
    finally:
        readers.close()
    assert threshold[0] == GC_THRESHOLD != gc.get_threshold()[0]


@pickled_by_fields
@dataclass
class Base:
    a: int


@dataclass
class Child(Base):
    b: int = 0


def test_a_subclass_refuses_to_pickle_as_its_base():
    assert pickle.loads(pickle.dumps(Base(1))) == Base(1)
    with pytest.raises(TypeError, match="would pickle as Base"):
        pickle.dumps(Child(1, 2))


def test_the_summary_made_in_the_reader_is_the_one_the_commit_would_make():
    # Prepared.alone stands in for summarize() when a record is alone in its cluster.
    from federation.catalog.merge import Member, summarize

    for p in read_page(PAGE.read_bytes(), "zdb", "ZDB").records:
        alone = p.alone
        alone.pk, alone.best_pk = 77, 5
        assert alone == summarize(77, [Member(5, "ZDB", p.normalized, p.score)])
