"""What a sound node store looks like: the node's own checks for `libfed verify`.

Run by :mod:`federation.backup` on a snapshot of ``holdings.sqlite`` (and of
``patrons.db``), after SQLite's integrity and foreign-key checks:

- every live record's stored MARCXML matches its checksum, re-parses, and is
  the record its row says (its 001); its oai_dc rendering is there and is XML;
- the deletion log agrees with the records: a deleted record carries no
  MARCXML, copies or ISBNs and has its deletion logged at its datestamp; every
  logged deletion is of a record the store has, and none is of a record that
  is live although it was deleted after its last import;
- the search index holds exactly the live records;
- every open interlibrary loan has its copy reserved, out or in transit;
- the reader register still has the secret every patron reference is made with.
"""

from __future__ import annotations

import re
import sqlite3

from lxml import etree

from federation.backup.checksum import sha256_text
from federation.backup.model import Progress, Store, StoreKind, StoreReport
from federation.backup.room_checks import check_full_text_index, known_schema
from federation.errors import RecordError
from federation.records import record_from_marcxml
from node.config import NodeConfig
from node.patrons import patrons_path
from node.schema import MIGRATIONS

#: Loan states in which the lender's copy is committed (node.lending.OPEN_STATES).
_OPEN_LOANS = "('WillSupply', 'Loaned', 'Overdue', 'Recalled')"
_IN_CIRCULATION = "('reserved', 'on_loan', 'in_transit')"
#: What XML 1.0 cannot carry, so MARCXML drops it (federation.records.marcxml): an id read
#: from a damaged ISO 2709 record may hold a subfield delimiter its MARCXML cannot.
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Records between two progress reports.
_EVERY = 250


def check_holdings(db: sqlite3.Connection, report: StoreReport, progress: Progress | None) -> None:
    """The node's checks of a holdings store (see the module's docstring)."""
    version = known_schema(db, report, len(MIGRATIONS))
    if version is None:
        return
    columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
    if "marcxml_sha256" not in columns:
        report.notes.append(f"schema version {version} keeps no record checksums; the node adds "
                            "them when it next opens the file")
    with report.reading("marcxml", "records"):
        _records(db, report, progress, "marcxml_sha256" in columns)
    with report.reading("deletion log", "records"):
        _deleted(db, report)
    with report.reading("deletion log", "deletions"):
        _deletion_log(db, report)
    with report.reading("search index", "records_fts"):
        _search_index(db, report)
    with report.reading("loans", "loans"):
        _loans(db, report)


def _records(db: sqlite3.Connection, report: StoreReport, progress: Progress | None,
             checksums: bool) -> None:
    report.ran("marcxml")
    try:  # by the index alone: a damaged page of the table is named by the loop below
        total = db.execute("SELECT count(*) FROM records INDEXED BY records_by_datestamp"
                           ).fetchone()[0]
    except sqlite3.DatabaseError:
        total = 0
    checksum = "marcxml_sha256" if checksums else "NULL"
    done, record_id = 0, None
    try:
        rows = db.execute(f"SELECT id, marcxml, {checksum}, oai_dc FROM records"
                          " WHERE deleted = 0 ORDER BY rowid")
        for done, (record_id, marcxml, stored, oai_dc) in enumerate(rows, start=1):
            _record(report, record_id, marcxml, stored, oai_dc, checksums)
            if progress is not None and done % _EVERY == 0:
                progress(f"{report.store}: records", done, max(total, done))
    except sqlite3.DatabaseError as error:
        after = f" after {record_id!r}" if record_id else ""
        report.problem("marcxml", f"SQLite stopped reading the records{after} ({done} read): "
                       f"{error}", table="records", key=record_id or "")
    if progress is not None:
        progress(f"{report.store}: records", done, done)


def _record(report: StoreReport, record_id: str, marcxml: str | None, stored: str | None,
            oai_dc: str | None, checksums: bool) -> None:
    problem = _marcxml_problem(record_id, marcxml, stored, checksums)
    if problem:
        report.problem("marcxml", problem, table="records", key=record_id)
    if oai_dc is None:
        report.problem("marcxml", "a live record without its oai_dc rendering",
                       table="records", key=record_id)
    elif not _is_xml(oai_dc):
        report.problem("marcxml", "its stored oai_dc is not well-formed XML", table="records",
                       key=record_id)


def _marcxml_problem(record_id: str, marcxml: str | None, stored: str | None,
                     checksums: bool) -> str:
    """What is wrong with one live record's MARCXML ('' when nothing)."""
    if marcxml is None:
        return "a live record without its MARCXML"
    altered = checksums and sha256_text(marcxml) != stored
    try:
        parsed = record_from_marcxml(marcxml.encode("utf-8"))
    except RecordError as error:
        if altered:
            return f"its MARCXML does not match its checksum, and no longer parses: {error}"
        return f"its MARCXML does not parse: {error}"
    if altered:
        return ("its MARCXML does not match its checksum" if stored
                else "its MARCXML has no checksum")
    if (parsed.id or "").strip() != _XML_UNSAFE.sub("", record_id).strip():
        return f"its stored MARCXML is the record {parsed.id!r}"
    return ""


def _is_xml(text: str) -> bool:
    try:
        etree.fromstring(text.encode("utf-8"))
    except etree.XMLSyntaxError:
        return False
    return True


def _deleted(db: sqlite3.Connection, report: StoreReport) -> None:
    """A deleted record is gone in every way but the deletion OAI-PMH reports."""
    report.ran("deletion log")
    for record_id, marcxml, items, isbns in db.execute(
        "SELECT r.id, r.marcxml IS NOT NULL OR r.oai_dc IS NOT NULL,"
        " (SELECT count(*) FROM items i WHERE i.record_id = r.id),"
        " (SELECT count(*) FROM record_isbns b WHERE b.record_id = r.id)"
        " + (SELECT count(*) FROM record_issns s WHERE s.record_id = r.id)"
        " FROM records r WHERE r.deleted = 1"
    ):
        left = [what for what, there in (("its MARCXML", marcxml), (f"{items} copies", items),
                                         ("its ISBN/ISSN entries", isbns)) if there]
        if left:
            report.problem("deletion log", f"deleted, yet it still has {', '.join(left)}",
                           table="records", key=record_id)
    for (record_id,) in db.execute(
        "SELECT r.id FROM records r WHERE r.deleted = 1 AND NOT EXISTS"
        " (SELECT 1 FROM deletions d WHERE d.record_id = r.id AND d.datestamp = r.datestamp)"
    ):
        report.problem("deletion log", "deleted, but the deletion log has no entry at its "
                       "datestamp", table="records", key=record_id)


def _deletion_log(db: sqlite3.Connection, report: StoreReport) -> None:
    """Every logged deletion is of a record the store has, and not of one live since."""
    for seq, record_id in db.execute(
        "SELECT d.seq, d.record_id FROM deletions d WHERE NOT EXISTS"
        " (SELECT 1 FROM records r WHERE r.id = d.record_id)"
    ):
        report.problem("deletion log", f"entry {seq} logs the deletion of a record the store "
                       "does not have (OAI-PMH cannot report it)", table="deletions",
                       key=record_id)
    for record_id, deleted_at, stamped in db.execute(
        "SELECT r.id, max(d.datestamp), r.datestamp FROM records r"
        " JOIN deletions d ON d.record_id = r.id WHERE r.deleted = 0"
        " GROUP BY r.id HAVING max(d.datestamp) > r.datestamp"
    ):
        report.problem("deletion log", f"both live and deleted: deleted at {deleted_at}, after "
                       f"its last import at {stamped}", table="records", key=record_id)


def _search_index(db: sqlite3.Connection, report: StoreReport) -> None:
    """The full-text index is sound and holds every live record, and only those."""
    report.ran("search index")
    check_full_text_index(db, report, "search index", "records_fts")
    for (record_id,) in db.execute(
        "SELECT r.id FROM records r WHERE r.deleted = 0 AND NOT EXISTS"
        " (SELECT 1 FROM records_fts f WHERE f.rowid = r.rowid)"
    ):
        report.problem("search index", "a live record the search cannot find",
                       table="records_fts", key=record_id)
    for rowid, record_id in db.execute(
        "SELECT f.rowid, r.id FROM records_fts f LEFT JOIN records r ON r.rowid = f.rowid"
        " WHERE r.rowid IS NULL OR r.deleted = 1"
    ):
        what = f"the deleted record {record_id!r}" if record_id else "no record"
        report.problem("search index", f"row {rowid} finds {what}", table="records_fts",
                       key=record_id or rowid)


def _loans(db: sqlite3.Connection, report: StoreReport) -> None:
    """An open loan's copy is reserved for it, out on it, or on its way back."""
    report.ran("loans")
    for request_id, attempt, status, item, item_status in db.execute(
        "SELECT l.request_id, l.attempt, l.status, i.barcode, i.status FROM loans l"
        f" LEFT JOIN items i ON i.id = l.item_id WHERE l.status IN {_OPEN_LOANS}"
        f" AND (i.id IS NULL OR i.status NOT IN {_IN_CIRCULATION})"
    ):
        copy = f"its copy {item} is {item_status}" if item else "it has no copy"
        report.problem("loans", f"attempt {attempt} is {status}, but {copy}", table="loans",
                       key=request_id)


def check_patrons(db: sqlite3.Connection, report: StoreReport, progress: Progress | None) -> None:
    """The reader register keeps its patron_ref secret, and every PIN hash is readable."""
    report.ran("patrons")
    row = db.execute("SELECT value FROM meta WHERE key = 'patron_ref_secret'").fetchone()
    if row is None or len(row[0]) != 64:
        report.problem("patrons", "the secret patron references are made with is missing; every "
                       "reader would get a new reference", table="meta", key="patron_ref_secret")
    for (rowid,) in db.execute(
        "SELECT rowid FROM patrons WHERE pin_hash NOT LIKE 'scrypt$%$%$%$%$%'"
    ):  # a row number, never a card number: verify's output may be shared
        report.problem("patrons", "a reader's PIN hash is unreadable", table="patrons",
                       key=f"row {rowid}")


HOLDINGS = StoreKind("holdings", "SELECT count(*) FROM records WHERE deleted = 0",
                     check_holdings)
PATRONS = StoreKind("patrons", "SELECT count(*) FROM patrons", check_patrons, optional=True)
#: The node's stores by name (what `libfed verify backup` looks a manifest's stores up in).
KINDS = {kind.name: kind for kind in (HOLDINGS, PATRONS)}


def node_stores(config: NodeConfig) -> list[Store]:
    """The stores of one node: its holdings and, beside them, its readers."""
    return [HOLDINGS.at(config.database_path()), PATRONS.at(patrons_path(config))]
