"""SHA-256 of files and texts: what a manifest and a stored record are checked by."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_BLOCK = 1 << 20


def sha256_file(path: Path | str) -> str:
    """The hex SHA-256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str | None) -> str | None:
    """The hex SHA-256 of a text's UTF-8 bytes (None for None): a stored record's checksum."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def fsync_path(path: Path | str) -> None:
    """Make a file's (or a folder's entries') bytes durable before it is trusted."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
