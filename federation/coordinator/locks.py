"""One lock per request id, so no two transitions of one request interleave.

:class:`KeyedLocks` holds them in this process: enough for one coordinator on
its SQLite file. Two coordinators sharing a PostgreSQL database also take a
PostgreSQL advisory lock per request (``store_postgres.SharedLocks``), so
neither routes or changes a request while the other is at it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class KeyedLocks:
    """One asyncio lock per request id, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)

    def __call__(self, key: str) -> _Held:
        return _Held(self, key)

    async def acquire(self, key: str) -> None:
        self._users[key] += 1
        lock = self._locks.setdefault(key, asyncio.Lock())
        await lock.acquire()

    async def release_async(self, key: str) -> None:
        """Let go of ``key`` (async, so a lock held elsewhere too can be let go there)."""
        self.release(key)

    def release(self, key: str) -> None:
        self._locks[key].release()
        self._users[key] -= 1
        if self._users[key] == 0:
            del self._users[key]
            del self._locks[key]


class _Held:
    def __init__(self, owner: KeyedLocks, key: str) -> None:
        self._owner, self._key = owner, key

    async def __aenter__(self) -> None:
        await self._owner.acquire(self._key)

    async def __aexit__(self, *exc) -> None:
        await self._owner.release_async(self._key)
