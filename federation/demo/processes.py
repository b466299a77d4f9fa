"""Child processes of the demo (and of the end-to-end tests): started, watched, stopped.

Every child runs ``python -m federation.cli.main …`` in its own session, so a
Ctrl-C at the terminal reaches only the demo, which then stops its children in
order (SIGTERM, then SIGKILL after a grace period). Each child logs to its own
file beside its data.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from federation.errors import Unavailable


def libfed_command(*args: str) -> list[str]:
    """The argv of a `libfed` command run with this interpreter."""
    return [sys.executable, "-m", "federation.cli.main", *args]


def wait_for_port(address: str, timeout: float = 60.0, process: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    """Block until something accepts TCP connections at ``host:port``."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise Unavailable(f"process for {address} exited with {process.returncode}\n{tail}")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise Unavailable(f"nothing listens on {address} after {timeout:g}s")


@dataclass
class ProcessGroup:
    """The processes one demo (or test) started; only these are ever stopped."""

    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, name: str, args: list[str], log: Path, *, module: str = "") -> subprocess.Popen:
        """Start ``libfed <args>`` (or ``python -m <module> <args>``) as ``name``,
        logging to ``log``."""
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", module, *args] if module else libfed_command(*args)
        with open(log, "ab") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env, start_new_session=True,
            )
        self.processes[name] = process
        self.logs[name] = log
        return process

    def run(self, args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess:
        """Run a short `libfed` command to completion; its output is returned."""
        return subprocess.run(libfed_command(*args), capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        process = self.processes[name]
        if process.poll() is None:
            process.kill()
            process.wait(10)

    def stop(self, name: str, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within ``grace`` seconds."""
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def stop_together(self, names: list[str], grace: float = 5.0) -> None:
        """:meth:`stop` for several processes at once: all are signalled, then waited
        for, so stopping nine servers takes one server's shutdown, not nine."""
        running = [self.processes[n] for n in names
                   if n in self.processes and self.processes[n].poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)
