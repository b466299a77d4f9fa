"""Fixtures shared by every room's tests."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
#: The real-record corpus beside the checkout; a user's clone does not have it.
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data corpus, or a clean skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture
def fixtures() -> Path:
    """The small, permissively licensed record set shipped in tests/fixtures."""
    return FIXTURES


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the whole run (tests/pg_cluster.py), or a
    clean skip where PostgreSQL is not installed or will not start."""
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    from tests import pg_cluster

    try:
        cluster = pg_cluster.start()
    except pg_cluster.Unavailable as error:
        pytest.skip(f"PostgreSQL cannot start here: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


_DATABASES = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a new, empty database on the test server, for one test."""
    return postgres_server.create_database(f"test_{next(_DATABASES)}")
