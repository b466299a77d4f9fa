"""OAI-PMH datestamps: the two granularities, inclusive ranges, no mixing."""

from __future__ import annotations

import calendar
import re
import time

from node.oai.errors import OaiError

GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def parse_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """``from``/``until`` as inclusive Unix-second bounds.

    A day-granularity ``until`` covers the whole day. Mixing granularities, a
    malformed date, or ``from`` after ``until`` is badArgument.
    """
    low = _parse(start, "from", end_of_day=False) if start is not None else None
    high = _parse(end, "until", end_of_day=True) if end is not None else None
    if start is not None and end is not None and len(start) != len(end):
        raise OaiError("badArgument", "from and until must have the same granularity")
    if low is not None and high is not None and low > high:
        raise OaiError("badArgument", "from is later than until")
    return low, high


def _parse(value: str, name: str, *, end_of_day: bool) -> int:
    if _DAY.match(value):
        pattern, extra = "%Y-%m-%d", 86399 if end_of_day else 0
    elif _SECOND.match(value):
        pattern, extra = "%Y-%m-%dT%H:%M:%SZ", 0
    else:
        raise OaiError("badArgument", f"{name}={value!r} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")
    try:
        return calendar.timegm(time.strptime(value, pattern)) + extra
    except ValueError as error:
        raise OaiError("badArgument", f"{name}={value!r} is not a real date") from error
