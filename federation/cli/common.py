"""Small helpers every CLI command shares: JSON output and exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

#: Exit codes of the CLI contract.
EXIT_OK = 0
EXIT_SOME_BAD = 1
EXIT_USAGE = 2


def print_json(data: Any) -> None:
    """One JSON document on one line of stdout (UTF-8, not ASCII-escaped)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def fail(message: str, code: int = EXIT_USAGE) -> int:
    """Print an error for a person on stderr and return the exit code."""
    sys.stderr.write(f"libfed: {message}\n")
    return code
