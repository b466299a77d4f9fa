"""Shared pieces of the union catalog tests: real records, a real catalog (file or database)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from federation.catalog import HarvestedRecord, SourceState, UnionCatalog
from federation.records import Record, RecordError, iter_file, to_marcxml

RECORDS = Path(__file__).resolve().parent.parent / "fixtures" / "records"
RSL = RECORDS / "rsl"
DEMO = RECORDS / "demo"


def read(path: Path) -> list[Record]:
    """The good records of a fixture file (the fixtures hold no bad ones here)."""
    records = [r for r in iter_file(path) if not isinstance(r, RecordError)]
    assert records, f"no records read from {path}"
    return records


def one(path: Path) -> Record:
    return read(path)[0]


def source(name: str, library: str | None = None) -> SourceState:
    return SourceState(name=name, library=library or name.upper(), base_url=f"http://{name}/oai")


def harvested(record: Record, src: SourceState, oai_id: str | None = None) -> HarvestedRecord:
    """A record as if harvested from ``src`` (raw payload: the record's own MARCXML)."""
    raw = to_marcxml(record) if record.raw is not None else b"<record/>"
    return HarvestedRecord(
        oai_identifier=oai_id or f"oai:{src.name}:{record.id}",
        datestamp="2026-11-01",
        record=record,
        raw_xml=raw,
    )


def variant(record: Record, **changes: object) -> Record:
    """Another record made from a real one (a different edition, a local copy…)."""
    return dataclasses.replace(record, **changes)


async def members(catalog: UnionCatalog) -> list[set[tuple[str, str]]]:
    """The catalog as sets of (library, record id), one per cluster."""
    return [
        {(m["library"], m["record_id"]) for m in cluster["members"]}
        async for cluster in catalog.dump()
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's catalog lives: a SQLite file, then a PostgreSQL database
    (skipped where PostgreSQL cannot start). Every catalog test runs on both."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return tmp_path / "union.db"


def storage_module(catalog: UnionCatalog) -> ModuleType:
    """The module of the catalog's storage (to patch its limits in a test)."""
    return sys.modules[type(catalog._storage).__module__]


@pytest.fixture
async def catalog(catalog_location: str | Path) -> AsyncIterator[UnionCatalog]:
    opened = await UnionCatalog.open(catalog_location)
    try:
        yield opened
    finally:
        await opened.close()
