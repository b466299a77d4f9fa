"""Fixtures of the harvester's tests: real recorded OAI-PMH data, a real catalog file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.harvester.oai_server import StoredRecord, records_from

OAI_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "oai"


@pytest.fixture
def oai_fixtures() -> Path:
    """Recorded responses copied from permissively licensed projects (see SOURCES.md)."""
    return OAI_FIXTURES


@pytest.fixture
def dnb_records() -> list[StoredRecord]:
    """50 MARC 21 records (DNB/ZDB serials) from a recorded OAI-PMH page."""
    return records_from(OAI_FIXTURES / "xbib-zdb-oai-marc.xml")


@pytest.fixture
def ucldc_records() -> list[StoredRecord]:
    """8 oai_dc records of the California Digital Library, 5 of them deleted headers."""
    return records_from(OAI_FIXTURES / "ucldc-testOAI.xml")


def snapshot(path: Path) -> dict[str, object]:
    """The catalog's stored content, for "record for record" comparisons.

    Read straight from the SQLite file (read-only): what is really stored,
    cluster membership by OAI identifiers rather than by numbers that depend on
    insertion order.
    """
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        records = db.execute(
            "SELECT source, oai_identifier, library, datestamp, raw, normalized FROM records "
            "ORDER BY source, oai_identifier"
        ).fetchall()
        clusters = db.execute(
            "SELECT cluster_pk, source || ' ' || oai_identifier FROM records"
        ).fetchall()
        quarantine = db.execute(
            "SELECT source, oai_identifier, reason, raw FROM quarantine ORDER BY 1, 2"
        ).fetchall()
    members: dict[int, set[str]] = {}
    for cluster, member in clusters:
        members.setdefault(cluster, set()).add(member)
    return {
        "records": records,
        "clusters": sorted(sorted(group) for group in members.values()),
        "quarantine": quarantine,
    }


def stored_ids(path: Path) -> set[str]:
    """The OAI identifiers the catalog holds records for."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT oai_identifier FROM records")}
