"""`libfed demo --once`: the README's first command builds a federation, runs its loans,
and leaves no process behind."""

from __future__ import annotations

import os
import re
import socket
import subprocess

from federation.demo.processes import libfed_command


def test_the_demo_runs_its_loans_and_stops_every_process(tmp_path):
    run = tmp_path / "demo-run"
    env = dict(os.environ, COLUMNS="200")
    done = subprocess.run(libfed_command("demo", "--dir", str(run), "--once"),
                          capture_output=True, text=True, timeout=280, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "LoanCompleted" in out and "CopyCompleted" in out and "Cancelled" in out
    # The failover: the first lender's Unfilled, then the second lender ships.
    assert re.search(r"unfilled\s*│\s*NotOnShelf", out)
    clusters = int(re.search(r"(\d+) records in (\d+) clusters", out).group(2))
    assert clusters > 100
    for symbol in ("LOC", "BL", "DNB", "GWU", "PUL", "RSL", "NLR"):
        assert (run / symbol.lower() / "holdings.sqlite").exists()
    # The partner library is no node: its records came from its OAI-PMH server,
    # harvested from the coordinator's sources file.
    assert re.search(r"partner UNI", out)
    assert 'name = "UNI"' in (run / "coordinator" / "partners.toml").read_text()
    # Every address the demo printed is closed again.
    addresses = set(re.findall(r"127\.0\.0\.1:(\d+)", out))
    assert len(addresses) >= 8
    for port in addresses:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open"
