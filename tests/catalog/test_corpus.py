"""The catalog over the real corpus beside the checkout (skipped where it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.catalog import UnionCatalog
from federation.records import RecordError, iter_file

from .conftest import harvested, members, source

pytestmark = pytest.mark.corpus


async def feed(catalog: UnionCatalog, name: str, files: list[Path]) -> int:
    src = source(name)
    page = []
    for path in files:
        for number, record in enumerate(iter_file(path)):
            if not isinstance(record, RecordError):
                page.append(harvested(record, src, f"oai:{name}:{path.name}:{number}"))
    await catalog.commit_page(src, page, [], [])
    return len(page)


async def test_rsl_marc21_and_rusmarc_exports_meet(shared_data: Path, catalog):
    marc21 = shared_data / "marc21" / "neb-rsl"
    rusmarc = shared_data / "unimarc" / "neb-rusmarc"
    await feed(catalog, "rsl", [marc21 / "01002988236_marc21.mrc", marc21 / "01003120729.mrc",
                                marc21 / "01007496813.mrc"])  # fmt: skip
    await feed(catalog, "rsl-rusmarc", sorted(rusmarc.glob("*.iso")))
    clusters = await members(catalog)
    for record_id in ("002988236", "003120729", "007496813"):
        assert {("RSL", record_id), ("RSL-RUSMARC", record_id)} in clusters


async def test_seven_catalogues_never_put_two_records_of_one_library_together(
    shared_data: Path, catalog
):
    total = 0
    for path in sorted((shared_data / "marc21" / "marc2bibframe2").glob("*.xml")):
        total += await feed(catalog, path.stem, [path])
    stats = await catalog.stats()
    assert stats.records == total
    async for cluster in catalog.dump():
        libraries = [m["library"] for m in cluster["members"]]
        assert len(libraries) == len(set(libraries)), cluster
