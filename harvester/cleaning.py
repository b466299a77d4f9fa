"""Make a server's bytes parseable XML before lxml sees them.

Real OAI-PMH servers send C0 control characters, U+FFFE/U+FFFF and broken
UTF-8 inside otherwise good pages (metha's first bug report was exactly this).
A strict parser rejects the whole page and a recovering one (sickle's) silently
drops content, so we repair the bytes instead: every record survives, and the
few characters XML 1.0 forbids disappear or become U+FFFD.
"""

from __future__ import annotations

import re

#: Raw bytes XML 1.0 forbids: C0 controls except TAB, LF, CR. They never occur
#: inside a multi-byte UTF-8 sequence, so deleting them byte by byte is safe.
_C0_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
#: U+FFFE and U+FFFF in UTF-8, also forbidden.
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")

#: The same characters written as character references (&#1; &#x1F; &#xFFFF;).
_BAD_REFERENCES = re.compile(
    rb"&#(?:x0*(?:[0-8bcefBCEF]|1[0-9a-fA-F]|[fF]{3}[eEfF])"
    rb"|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45]));"
)

_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")


def clean_xml(data: bytes) -> bytes:
    """The page with invalid UTF-8 replaced and forbidden characters removed.

    Pages that declare a non-UTF-8 encoding keep their bytes apart from the
    control characters (which are the same bytes in every ASCII-based encoding).
    """
    declared = _DECLARED_ENCODING.match(data[:200])
    if declared is None or declared.group(1).lower().replace(b"_", b"-") in (b"utf-8", b"utf8"):
        data = _repair_utf8(data)
    # bytes.translate and `in` run at memory speed; a regex over a 2 MB page
    # took 13 ms, a quarter of the harvester's work per record.
    data = data.translate(None, _C0_CONTROLS)
    for sequence in _NONCHARACTERS:
        if sequence in data:
            data = data.replace(sequence, b"")
    if b"&#" in data:
        data = _BAD_REFERENCES.sub(b"", data)
    return data


def _repair_utf8(data: bytes) -> bytes:
    """Replace byte sequences that are not UTF-8 with U+FFFD (fast when there are none)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace").encode("utf-8")
    return data
