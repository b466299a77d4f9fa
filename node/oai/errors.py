"""The OAI-PMH error, carrying one of the protocol's error codes."""

from __future__ import annotations

#: Every error code of OAI-PMH 2.0, section 3.6.
CODES = (
    "badArgument",
    "badResumptionToken",
    "badVerb",
    "cannotDisseminateFormat",
    "idDoesNotExist",
    "noRecordsMatch",
    "noMetadataFormats",
    "noSetHierarchy",
)


class OaiError(Exception):
    """A request the repository answers with an ``<error code=...>``."""

    def __init__(self, code: str, message: str) -> None:
        assert code in CODES, code
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
