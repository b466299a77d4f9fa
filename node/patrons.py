"""The node's reader register: library cards, PINs, and the Patrons gRPC service.

A library's readers belong to the library. This register lives in its own
SQLite file beside the node's holdings database (``patrons.db``) so the
holdings store knows nothing of readers, and no card number or PIN ever leaves
the node: PINs are kept only as salted scrypt hashes, and the federation sees a
reader only as ``patron_ref``, an HMAC of the card number under a secret that
is generated here and never exported.

Readers arrive from the library's own system as CSV (``card_number,pin,
display_name[,blocked]``); re-importing a card replaces its PIN and name.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import grpc
from libfed.v1 import patron_service_pb2, patron_service_pb2_grpc

from federation.errors import InvalidArgument, PermissionDenied, Unauthenticated
from federation.passwords import SCRYPT_N, check_secret, hash_secret
from node.coordinator_link import coordinator_credential_in

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: After this many wrong PINs in a row a card is refused for LOCK_SECONDS,
#: so a PIN cannot be guessed by trying all 10 000 of them.
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
#: One message for an unknown card and a wrong PIN: never hint which.
BAD_CREDENTIALS = "card number or PIN not recognised"

_MIGRATIONS = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE patrons (
        card_number TEXT PRIMARY KEY,
        pin_hash TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        blocked INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    """,
}


@dataclass(slots=True)
class Patron:
    """A reader as the library's staff see them (never with the PIN hash)."""

    card_number: str
    display_name: str
    blocked: bool
    patron_ref: str


@dataclass(slots=True)
class ImportReport:
    """What a CSV import did: how many readers were added or updated, and why lines failed."""

    added: int = 0
    updated: int = 0
    errors: list[str] | None = None


#: Checked against when the card is unknown, so both failures cost the same time.
_DUMMY_HASH = hash_secret("0000", salt=b"libfed-dummy-salt")


def normalize_card(card_number: str) -> str:
    """Card numbers as printed may carry spaces or dashes; compare without them."""
    return "".join(ch for ch in card_number.strip() if ch not in " -").upper()


class PatronRegister:
    """The readers of one library, in their own SQLite file (one writer, WAL)."""

    def __init__(self, db: aiosqlite.Connection, secret: bytes, *, scrypt_n: int) -> None:
        self._db = db
        self._secret = secret
        self._scrypt_n = scrypt_n
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, scrypt_n: int = SCRYPT_N) -> PatronRegister:
        """Opens (creating and migrating when needed) the register at ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await _migrate(db)
        secret = await _node_secret(db)
        return cls(db, secret, scrypt_n=scrypt_n)

    async def close(self) -> None:
        await self._db.close()

    def patron_ref(self, card_number: str) -> str:
        """The opaque reference the federation knows this reader by."""
        mac = hmac.new(self._secret, normalize_card(card_number).encode(), hashlib.sha256)
        return "p-" + mac.hexdigest()[:32]

    async def import_rows(self, rows: Iterable[dict[str, str]], *, source: str = "") -> ImportReport:
        """Adds or updates readers from CSV-like rows, all in one transaction.

        A bad line is reported (file and line) and skipped; good lines are kept.
        """
        report = ImportReport(errors=[])
        prepared: list[tuple[str, str, str, int]] = []
        for line, row in enumerate(rows, start=2):
            card = normalize_card(row.get("card_number") or "")
            pin = (row.get("pin") or "").strip()
            if not card or not pin:
                report.errors.append(f"{source}:{line}: card_number and pin are required")
                continue
            blocked = (row.get("blocked") or "").strip().lower() in {"1", "yes", "true", "да"}
            pin_hash = await asyncio.to_thread(hash_secret, pin, n=self._scrypt_n)
            prepared.append((card, pin_hash, (row.get("display_name") or "").strip(), blocked))
        now = time.time()
        async with self._lock:
            known = {card for (card,) in await self._db.execute_fetchall("SELECT card_number FROM patrons")}
            await self._db.execute("BEGIN")
            try:
                for card, pin_hash, name, blocked in prepared:
                    await self._db.execute(
                        "INSERT INTO patrons(card_number, pin_hash, display_name, blocked, created, updated)"
                        " VALUES (?,?,?,?,?,?) ON CONFLICT(card_number) DO UPDATE SET"
                        " pin_hash=excluded.pin_hash, display_name=excluded.display_name,"
                        " blocked=excluded.blocked, failures=0, locked_until=0, updated=excluded.updated",
                        (card, pin_hash, name, int(blocked), now, now),
                    )
                    if card in known:
                        report.updated += 1
                    else:
                        report.added += 1
                        known.add(card)
                await self._db.commit()
            except BaseException:
                await self._db.rollback()
                raise
        log.info("patrons imported from %s: %d added, %d updated", source, report.added, report.updated)
        return report

    async def import_csv(self, path: str | Path) -> ImportReport:
        """Imports a UTF-8 CSV file with a header line (card_number,pin,display_name[,blocked])."""
        path = Path(path)
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"card_number", "pin"} <= set(reader.fieldnames):
                raise InvalidArgument(f"{path}: the header must name card_number and pin")
            rows = list(reader)
        return await self.import_rows(rows, source=str(path))

    async def list(self) -> list[Patron]:
        rows = await self._db.execute_fetchall(
            "SELECT card_number, display_name, blocked FROM patrons ORDER BY card_number"
        )
        return [Patron(card, name, bool(blocked), self.patron_ref(card)) for card, name, blocked in rows]

    async def verify(self, card_number: str, pin: str) -> Patron:
        """The reader whose card and PIN these are; Unauthenticated otherwise."""
        card = normalize_card(card_number)
        if not card or not pin:
            raise InvalidArgument("card number and PIN are required")
        rows = await self._db.execute_fetchall(
            "SELECT pin_hash, display_name, blocked, failures, locked_until FROM patrons"
            " WHERE card_number = ?",
            (card,),
        )
        if not rows:
            await asyncio.to_thread(check_secret, pin, _DUMMY_HASH)
            raise Unauthenticated(BAD_CREDENTIALS)
        pin_hash, name, blocked, failures, locked_until = rows[0]
        ok = await asyncio.to_thread(check_secret, pin, pin_hash)
        now = time.time()
        if locked_until > now or not ok:
            if not ok:
                await self._record_failure(card, failures + 1, now)
            raise Unauthenticated(BAD_CREDENTIALS)
        if blocked:
            raise PermissionDenied("this library card is blocked; please ask your library")
        if failures:
            await self._write("UPDATE patrons SET failures=0 WHERE card_number=?", (card,))
        return Patron(card, name, False, self.patron_ref(card))

    async def _record_failure(self, card: str, failures: int, now: float) -> None:
        locked_until = now + LOCK_SECONDS if failures >= MAX_FAILURES else 0
        if locked_until:
            log.warning("a library card is locked after %d wrong PINs", failures)
            failures = 0
        await self._write(
            "UPDATE patrons SET failures=?, locked_until=? WHERE card_number=?",
            (failures, locked_until, card),
        )

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        async with self._lock:
            await self._db.execute(sql, params)
            await self._db.commit()


async def _migrate(db: aiosqlite.Connection) -> None:
    """Brings the file to SCHEMA_VERSION, one step per version, each in a transaction."""
    (version,) = (await db.execute_fetchall("PRAGMA user_version"))[0]
    for target in range(version + 1, SCHEMA_VERSION + 1):
        await db.executescript(f"BEGIN; {_MIGRATIONS[target]} PRAGMA user_version={target}; COMMIT;")


async def _node_secret(db: aiosqlite.Connection) -> bytes:
    """The node's HMAC secret for patron references, created once and kept here."""
    rows = await db.execute_fetchall("SELECT value FROM meta WHERE key='patron_ref_secret'")
    if rows:
        return bytes.fromhex(rows[0][0])
    secret = secrets.token_bytes(32)
    await db.execute("INSERT INTO meta(key, value) VALUES ('patron_ref_secret', ?)", (secret.hex(),))
    await db.commit()
    return secret


class PatronsServicer(patron_service_pb2_grpc.PatronsServicer):
    """The Patrons gRPC service: a thin adapter over :class:`PatronRegister`."""

    def __init__(self, register: PatronRegister, token: str = "") -> None:
        self._register = register
        #: The coordinator's credential (from the node's join token); when there is
        #: one, only the coordinator may ask.
        self._tokens = {coordinator_credential_in(token)} if token else set()

    async def VerifyPatron(self, request, context):  # noqa: N802 (gRPC method name)
        if self._tokens:
            header = dict(context.invocation_metadata() or ()).get("authorization", "")
            scheme, _, token = header.partition(" ")
            known = any(hmac.compare_digest(token.strip(), t) for t in self._tokens)
            if scheme.lower() != "bearer" or not known:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, "only the coordinator may verify readers"
                )
        try:
            patron = await self._register.verify(request.card_number, request.pin)
        except (InvalidArgument, Unauthenticated, PermissionDenied) as error:
            await context.abort(error.grpc_code, str(error))
        return patron_service_pb2.VerifyPatronResponse(
            patron_ref=patron.patron_ref, display_name=patron.display_name
        )


def patrons_path(config: Any) -> Path:
    """Where a node keeps its reader register: ``patrons.db`` beside its database.

    Accepts a node config object (its database path attribute) or a plain path.
    """
    if isinstance(config, str | Path):
        return Path(config)
    database_path = getattr(config, "database_path", None)
    if callable(database_path):
        return Path(database_path()).with_name("patrons.db")
    database = getattr(config, "database", None)
    if database:
        return Path(database).with_name("patrons.db")
    raise InvalidArgument("the node configuration names no database to put patrons.db beside")


async def add_patron_service(server: grpc.aio.Server, config: Any) -> PatronRegister:
    """Opens the node's reader register and serves the Patrons service on ``server``.

    Returns the register so the caller can close it when the node stops.
    """
    register = await PatronRegister.open(patrons_path(config))
    coordinator = getattr(config, "coordinator", None)
    token = str(coordinator.get("token", "") or "") if isinstance(coordinator, dict) else ""
    patron_service_pb2_grpc.add_PatronsServicer_to_server(PatronsServicer(register, token), server)
    return register
