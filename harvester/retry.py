"""How long to wait before asking a struggling server again.

sickle retries only 503, waits a fixed time unless Retry-After is a plain
integer, and crashes on an HTTP-date Retry-After. Our policy: retry 5xx,
timeouts and connection errors; honour Retry-After in both of its forms; else
back off exponentially, capped, so a flaky server is neither hammered nor
waited on forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """Retry settings of one harvester; tests use tiny delays."""

    #: Attempts after the first one.
    retries: int = 5
    #: First backoff delay in seconds, doubled at every attempt.
    backoff: float = 1.0
    #: No single wait is longer than this (also caps Retry-After).
    max_delay: float = 60.0
    #: Seconds to wait for a server to answer one request.
    timeout: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt`` (1 = the first retry)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return min(self.backoff * 2 ** (attempt - 1), self.max_delay)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(when.timestamp() - now, 0.0)
