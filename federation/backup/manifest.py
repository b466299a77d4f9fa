"""A backup's manifest (``manifest.json``): each file, its size, SHA-256, schema and counts.

Restore trusts a backup only as far as its manifest vouches for it: every file
is checked against its size and SHA-256 before anything is replaced. The
counts let ``libfed verify`` say whether a restored store holds what was
backed up.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from federation.backup.checksum import fsync_path, sha256_file
from federation.errors import FailedPrecondition, NotFound

MANIFEST = "manifest.json"
#: The manifest format this libfed writes and reads.
FORMAT = 1


@dataclass(slots=True)
class StoreFile:
    """One store's copy in a backup."""

    #: The store's kind name ("holdings", "catalog"…).
    store: str
    #: The copy's file name inside the backup folder.
    file: str
    #: Where the store was when it was backed up.
    source: str
    size: int
    sha256: str
    user_version: int
    tables: dict[str, int] = field(default_factory=dict)
    records: int | None = None
    #: How long the copy took.
    seconds: float = 0.0


@dataclass(slots=True)
class Manifest:
    """What one backup folder holds."""

    #: "node", "catalog" or "coordinator".
    kind: str
    #: The node's symbol, or the catalog's / coordinator's name.
    name: str
    libfed_version: str
    #: UTC, ISO 8601, and the same as Unix seconds (what retention sorts by).
    created: str
    created_unix: float
    host: str = ""
    files: list[StoreFile] = field(default_factory=list)
    format: int = FORMAT

    def file(self, store: str) -> StoreFile | None:
        return next((f for f in self.files if f.store == store), None)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, folder: Path) -> Path:
        """Write ``manifest.json`` into ``folder`` (via a temporary file, made durable)."""
        path = folder / MANIFEST
        tmp = folder / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        fsync_path(tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of a backup folder; NotFound or FailedPrecondition naming it."""
        path = Path(folder) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise NotFound(f"{folder}: no {MANIFEST}; is this a libfed backup?") from error
        except (OSError, ValueError) as error:
            raise FailedPrecondition(f"{path}: cannot read the manifest: {error}") from error
        try:
            if data.get("format") != FORMAT:
                raise FailedPrecondition(
                    f"{path}: manifest format {data.get('format')!r}; this libfed reads {FORMAT}"
                )
            files = [StoreFile(**entry) for entry in data.pop("files")]
            return cls(**data, files=files)
        except (TypeError, KeyError, AttributeError) as error:
            raise FailedPrecondition(f"{path}: not a libfed manifest: {error}") from error


def damaged_files(folder: Path, manifest: Manifest) -> list[str]:
    """What in the backup does not match its manifest (missing, size, SHA-256); [] when sound."""
    found = []
    for entry in manifest.files:
        path = Path(folder) / entry.file
        if not path.is_file():
            found.append(f"{entry.file}: missing")
        elif path.stat().st_size != entry.size:
            found.append(f"{entry.file}: {path.stat().st_size} bytes, the manifest says "
                         f"{entry.size}")
        elif sha256_file(path) != entry.sha256:
            found.append(f"{entry.file}: its SHA-256 does not match the manifest")
    return found
