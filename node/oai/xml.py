"""Writing OAI-PMH responses as text, fast and always well formed.

Records are stored pre-rendered (MARCXML and oai_dc made by lxml at import), so
a page is a join of strings: the envelope is written here with every value
escaped, and stored payloads are inserted as they are. This is what lets one
process serve thousands of records a second.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_XSD = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
IDENTIFIER_XSD = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
    f'xsi:schemaLocation="{OAI_NS} {OAI_XSD}">'
)


def utc(seconds: int | float) -> str:
    """``YYYY-MM-DDThh:mm:ssZ``, never with fractions."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


#: Characters XML 1.0 forbids even escaped (C0 controls but tab/LF/CR, U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text(value: str) -> str:
    """Escaped character data, with the characters XML cannot carry dropped."""
    return escape(_NOT_XML.sub("", value))


def element(name: str, value: str) -> str:
    return f"<{name}>{text(value)}</{name}>"


def envelope(base_url: str, request_args: dict[str, str], body: Iterable[str]) -> bytes:
    """A complete response: responseDate, request echo, then the verb's body."""
    attributes = "".join(
        f" {key}={quoteattr(_NOT_XML.sub('', value))}" for key, value in request_args.items()
    )
    parts = [
        _HEAD,
        f"<responseDate>{utc(time.time())}</responseDate>",
        f"<request{attributes}>{escape(base_url)}</request>",
        *body,
        "</OAI-PMH>",
    ]
    return "".join(parts).encode("utf-8")


def error(code: str, message: str) -> str:
    return f"<error code={quoteattr(code)}>{text(message)}</error>"


def header(identifier: str, datestamp: int, sets: str, deleted: bool) -> str:
    """A record header; ``sets`` is the stored space-separated setSpec list."""
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{escape(spec)}</setSpec>" for spec in sets.split())
    return (
        f"<header{status}><identifier>{escape(identifier)}</identifier>"
        f"<datestamp>{utc(datestamp)}</datestamp>{specs}</header>"
    )


def resumption_token(token: str, cursor: int, complete: int, expires: int | None) -> str:
    """The token element; an empty token (no expiry) closes a multi-page list."""
    expiry = f' expirationDate="{utc(expires)}"' if expires and token else ""
    return (
        f'<resumptionToken completeListSize="{complete}" cursor="{cursor}"{expiry}>'
        f"{escape(token)}</resumptionToken>"
    )


def identifier_description(domain: str, sample: str) -> str:
    """The oai-identifier description Identify carries (schema-known, validates)."""
    return (
        f'<description><oai-identifier xmlns="{IDENTIFIER_NS}" '
        f'xsi:schemaLocation="{IDENTIFIER_NS} {IDENTIFIER_XSD}">'
        f"<scheme>oai</scheme><repositoryIdentifier>{escape(domain)}</repositoryIdentifier>"
        f"<delimiter>:</delimiter><sampleIdentifier>{escape(sample)}</sampleIdentifier>"
        "</oai-identifier></description>"
    )
