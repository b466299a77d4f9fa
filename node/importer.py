"""Importing a library's export files into its holdings store.

Reading and rendering are CPU work (MARC parsing, MARCXML and Dublin Core made
once here so OAI-PMH serves them as stored), so each batch is prepared in a
worker thread and written in one transaction. A bad record never stops the
import: it is reported with its file and position and the rest go in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from federation.errors import RecordError
from federation.records import Record, iter_file, to_marcxml, to_oai_dc
from node.holdings import items_of
from node.model import Holding
from node.store import HoldingsStore, fold

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(slots=True)
class ImportReport:
    """What an import did, for the summary a person reads."""

    files: int = 0
    read: int = 0
    new: int = 0
    updated: int = 0
    bad: list[RecordError] = field(default_factory=list)
    #: Files that could not be read at all.
    unusable: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "read": self.read,
            "new": self.new,
            "updated": self.updated,
            "bad": len(self.bad),
            "unusable": list(self.unusable),
        }


class Importer:
    """Reads export files and stores their records and copies."""

    def __init__(self, store: HoldingsStore, default_location: str = "") -> None:
        self.store = store
        self.default_location = default_location

    async def import_files(
        self,
        paths: list[Path],
        on_record: Callable[[Path, Record | RecordError], None] | None = None,
    ) -> ImportReport:
        report = ImportReport()
        for path in paths:
            await self.import_file(Path(path), report, on_record)
        return report

    async def import_file(
        self,
        path: Path,
        report: ImportReport,
        on_record: Callable[[Path, Record | RecordError], None] | None = None,
    ) -> None:
        report.files += 1
        try:
            batches = await asyncio.to_thread(self._batches, path)
        except OSError as error:
            report.unusable.append(f"{path}: {error.strerror or error}")
            return
        stored = 0
        # the next batch is read in the worker thread while this one is written
        pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        while True:
            batch = await pending
            if batch is None:
                break
            pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            holdings, outcomes = batch
            for outcome in outcomes:
                if isinstance(outcome, RecordError):
                    report.bad.append(outcome)
                if on_record is not None:
                    on_record(path, outcome)
            if holdings:
                new = await self.store.save_holdings(holdings)
                report.new += new
                report.updated += len(holdings) - new
            report.read += len(outcomes)
            stored += len(holdings)
        log.info("imported %s: %d records stored", path, stored)

    def _batches(self, path: Path) -> Iterator[tuple[list[Holding], list[Record | RecordError]]]:
        """Batches of prepared holdings (runs in a worker thread)."""
        records = iter_file(path)  # opens the file now: OSError surfaces to the caller
        holdings: list[Holding] = []
        outcomes: list[Record | RecordError] = []

        def generate():
            nonlocal holdings, outcomes
            for position, outcome in enumerate(records, start=1):
                if isinstance(outcome, Record):
                    try:
                        holdings.append(self.prepare(outcome))
                    except RecordError as error:
                        error.source, error.position = str(path), position
                        outcome = error
                outcomes.append(outcome)
                if len(outcomes) >= BATCH:
                    yield holdings, outcomes
                    holdings, outcomes = [], []
            if outcomes:
                yield holdings, outcomes

        return generate()

    def prepare(self, record: Record) -> Holding:
        """A Record as a storable holding: renderings made, copies read, words folded."""
        if not record.id or not record.id.strip():
            raise RecordError("the record has no identifier (001)")
        if record.schema not in ("marc21", "unimarc"):
            raise RecordError(f"a {record.schema} record cannot be held (MARC only)")
        try:
            marcxml = to_marcxml(record).decode("utf-8")
            oai_dc = etree.tostring(to_oai_dc(record), encoding="unicode")
            items = items_of(record.raw, record.id.strip(), self.default_location)
        except Exception as error:  # one odd record must never stop a library's import
            raise RecordError(f"the record cannot be stored: {error}") from error
        summary = record.summary()
        words = [
            record.title,
            *record.authors,
            *record.subjects,
            *record.isbns,
            *record.issns,
            record.publisher or "",
            str(record.year or ""),
        ]
        return Holding(
            id=record.id.strip(),
            schema=record.schema,
            title=record.title,
            summary=summary,
            search_text=fold(" ".join(words)),
            marcxml=marcxml,
            oai_dc=oai_dc,
            isbns=list(record.isbns),
            items=items,
        )
