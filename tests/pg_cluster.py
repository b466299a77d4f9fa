"""A throwaway PostgreSQL server for the tests and benchmarks, on a loopback port.

:func:`start` runs Debian's (or any) ``initdb`` and ``pg_ctl`` on a fresh folder
and starts a server that listens on 127.0.0.1 only, with its socket in that
folder. PostgreSQL refuses to run as root, so as root the folder is handed to an
unprivileged user (``nobody``, or ``LIBFED_PG_USER``) and the commands run as
that user through ``runuser``. Where no PostgreSQL is installed, or it cannot
start, :class:`Unavailable` says why, so tests can skip cleanly.

``LIBFED_PG_BIN`` names the folder of ``initdb``/``pg_ctl`` when they are neither
on PATH nor under /usr/lib/postgresql/VERSION/bin.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: The server's superuser (made by initdb; trust authentication on loopback only).
SUPERUSER = "postgres"


class Unavailable(RuntimeError):
    """PostgreSQL is not installed here, or would not start."""


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are, or None."""
    named = os.environ.get("LIBFED_PG_BIN")
    if named:
        return Path(named)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """A running server; :meth:`stop` ends it and removes its folder."""

    folder: Path
    port: int
    bin: Path
    user: str | None
    _created: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str = "template1") -> str:
        """A new, empty database; its URL."""
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement through psql; its output."""
        return self._run(
            "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database,
            "-c", statement,
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        except Unavailable:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> str:
        return _run(self.bin, self.user, program, *args)


def _run(bin: Path, user: str | None, program: str, *args: str) -> str:
    command = [str(bin / program), *args]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise Unavailable(f"{program} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done.stdout


def start(*, fast: bool = True, settings: dict[str, str] | None = None) -> Cluster:
    """Initialize and start a server in a new temporary folder.

    ``fast`` turns off fsync (a test server is thrown away; never for benchmarks
    that compare with SQLite on disk). ``settings`` are more ``-c name=value``.
    """
    bin = bin_dir()
    if bin is None or not (bin / "initdb").exists():
        raise Unavailable("no PostgreSQL here (initdb not found; apt-get install postgresql)")
    user = None
    if os.geteuid() == 0:
        user = os.environ.get("LIBFED_PG_USER", "nobody")
        if shutil.which("runuser") is None:
            raise Unavailable("running as root without runuser: cannot start PostgreSQL")
    folder = Path(tempfile.mkdtemp(prefix="libfed-pg-"))
    if user is not None:
        shutil.chown(folder, user=user, group=None)
        os.chmod(folder, 0o700)
    data = folder / "data"
    try:
        _run(bin, user, "initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
    except Unavailable:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    options = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(folder),
        "max_connections": "100",
        "shared_buffers": "128MB",
    }
    if fast:
        options |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    options |= settings or {}
    last: Unavailable | None = None
    for _attempt in range(3):  # a port taken between choosing and binding: try another
        port = _free_port()
        flags = " ".join([f"-p {port}", *(f"-c {k}={v}" for k, v in options.items())])
        try:
            _run(bin, user, "pg_ctl", "-D", str(data), "-l", str(folder / "server.log"),
                 "-w", "-t", "60", "-o", flags, "start")  # fmt: skip
        except Unavailable as error:
            last = error
            continue
        return Cluster(folder, port, bin, user)
    shutil.rmtree(folder, ignore_errors=True)
    raise last or Unavailable("PostgreSQL did not start")
