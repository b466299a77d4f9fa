"""The JSON text the union catalog stores: normalized records, match data, cluster lists.

orjson rather than the standard library: committing a harvested page encodes
four JSON values per record, and json.dumps was a tenth of the harvester's
CPU time per record (see benchmarks/harvest.py). The text is the same compact,
UTF-8 (not \\u-escaped) JSON json.dumps gives with ``separators=(",", ":")``
and ``ensure_ascii=False``, so digests of stored match data do not change.
"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``."""
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    """The value of a JSON text."""
    return orjson.loads(text)
