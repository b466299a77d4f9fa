"""The `libfed` command starts with only the command group it was asked for."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import sys, contextlib, io\n"
        "from federation.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try: main({argv!r})\n"
        "    except SystemExit: pass\n"
        "print('\\n'.join(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_a_command_loads_only_its_own_group():
    loaded = _modules_after(["records", "--help"])
    assert "federation.cli.records" in loaded
    assert not {"federation.cli.coordinator", "federation.coordinator", "aiohttp"} & loaded


def test_top_level_help_still_offers_every_group():
    out = subprocess.run(
        [sys.executable, "-m", "federation.cli.main", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout
    for group in ("records", "node", "harvest", "catalog", "coordinator", "request", "demo"):
        assert f"    {group}" in out
