"""Staff accounts of the central library: names and slow password hashes.

Accounts live in their own small SQLite file (``staff.db``, beside the
coordinator's database) and are created only from the command line
(`libfed coordinator add-user`), so the web pages never create accounts and a
leaked page cannot add one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import aiosqlite

from federation.errors import InvalidArgument, Unauthenticated
from federation.passwords import SCRYPT_N, check_secret, hash_secret

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MIN_PASSWORD = 10
#: Wrong passwords in a row before an account waits LOCK_SECONDS (guessing is slow).
MAX_FAILURES = 5
LOCK_SECONDS = 300.0
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_MIGRATIONS = {
    1: """
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created REAL NOT NULL,
        last_login REAL
    );
    """,
}


_DUMMY = hash_secret("not-a-password", n=SCRYPT_N)


class StaffStore:
    """Staff users in ``staff.db``: add (from the CLI), check (at login), list."""

    def __init__(self, db: aiosqlite.Connection, *, scrypt_n: int) -> None:
        self._db = db
        self._scrypt_n = scrypt_n
        #: username -> (wrong passwords in a row, locked until); kept in memory only.
        self._failures: dict[str, tuple[int, float]] = {}

    @classmethod
    async def open(cls, path: str | Path, *, scrypt_n: int = SCRYPT_N) -> StaffStore:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA busy_timeout=5000")
        (version,) = (await db.execute_fetchall("PRAGMA user_version"))[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await db.executescript(
                f"BEGIN; {_MIGRATIONS[target]} PRAGMA user_version={target}; COMMIT;"
            )
        return cls(db, scrypt_n=scrypt_n)

    async def close(self) -> None:
        await self._db.close()

    async def add_user(self, username: str, password: str) -> bool:
        """Creates the account, or sets a new password; True when it was new."""
        if not _USERNAME.match(username):
            raise InvalidArgument(
                f"user name {username!r}: 2-64 letters, digits, '.', '_', '-' or '@'"
            )
        if len(password) < MIN_PASSWORD:
            raise InvalidArgument(f"the password must be at least {MIN_PASSWORD} characters")
        hashed = await asyncio.to_thread(hash_secret, password, n=self._scrypt_n)
        existed = await self._db.execute_fetchall(
            "SELECT 1 FROM users WHERE username=?", (username,)
        )
        await self._db.execute(
            "INSERT INTO users(username, password_hash, created) VALUES (?,?,?)"
            " ON CONFLICT(username) DO UPDATE SET password_hash=excluded.password_hash",
            (username, hashed, time.time()),
        )
        await self._db.commit()
        log.info("staff user %s %s", username, "updated" if existed else "created")
        return not existed

    async def authenticate(self, username: str, password: str) -> str:
        """The user name when the password is right; Unauthenticated otherwise (same words)."""
        rows = await self._db.execute_fetchall(
            "SELECT password_hash FROM users WHERE username=?", (username,)
        )
        stored = rows[0][0] if rows else _DUMMY
        ok = await asyncio.to_thread(check_secret, password, stored)
        failures, locked_until = self._failures.get(username, (0, 0.0))
        if locked_until > time.monotonic():
            ok = False
        elif not rows or not ok:
            failures += 1
            locked = time.monotonic() + LOCK_SECONDS if failures >= MAX_FAILURES else 0.0
            if locked:
                log.warning("staff login %r locked for %.0fs after %d wrong passwords",
                            username, LOCK_SECONDS, failures)
            self._failures[username] = (0 if locked else failures, locked)
        if not rows or not ok:
            raise Unauthenticated("user name or password not recognised")
        self._failures.pop(username, None)
        await self._db.execute(
            "UPDATE users SET last_login=? WHERE username=?", (time.time(), username)
        )
        await self._db.commit()
        return username

    async def users(self) -> list[str]:
        rows = await self._db.execute_fetchall("SELECT username FROM users ORDER BY username")
        return [name for (name,) in rows]
