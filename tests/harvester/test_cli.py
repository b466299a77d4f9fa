"""`libfed harvest` as scripts and cron jobs use it: real processes, real exit codes."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import sys
from pathlib import Path

from tests.harvester.conftest import snapshot
from tests.harvester.oai_server import Fault, OaiServer, PagedRepository, StoredRecord

FAST = ["--retries", "2", "--backoff", "0.01", "--timeout", "5"]


async def _libfed(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "federation.cli.main",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_json_summary_of_a_config_source(tmp_path: Path, dnb_records: list[StoredRecord]):
    repository = PagedRepository(dnb_records, page_size=20)
    async with OaiServer(repository) as server:
        config = tmp_path / "sources.toml"
        config.write_text(
            f'[[source]]\nname = "zdb"\nurl = "{server.url}"\nlibrary = "DNB"\n\n'
            f'[[source]]\nname = "other"\nurl = "http://127.0.0.1:9/oai"\nlibrary = "X"\n',
            encoding="utf-8",
        )
        code, out, err = await _libfed(
            "harvest", "--catalog", str(tmp_path / "c.db"), "--config", str(config),
            "--source", "zdb", "--json", *FAST,
        )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["ok"] is True
    (zdb,) = result["sources"]
    assert (zdb["source"], zdb["library"], zdb["records"], zdb["pages"]) == ("zdb", "DNB", 50, 3)
    assert zdb["next_from"] == "2026-11-28T10:00:00Z" and zdb["rate"] > 0
    timings = zdb["timings"]  # where the time went, for whoever finds a harvest slow
    assert timings["reader_processes"] == 0  # 50 records: read in a thread
    assert 0 < timings["first_page"] <= zdb["seconds"]
    assert timings["reading_cpu"] > 0 and timings["deduplicating"] > 0 and timings["storing"] > 0


async def test_the_summary_says_where_the_time_went(tmp_path: Path, dnb_records):
    repository = PagedRepository(dnb_records, page_size=20)
    async with OaiServer(repository) as server:
        code, out, err = await _libfed(
            "harvest", "--catalog", str(tmp_path / "c.db"), "--url", server.url,
            "--library", "DNB", *FAST,
        )  # fmt: skip
    assert code == 0, err
    said = " ".join(out.split())  # the table's width wraps the line
    assert re.search(r"DNB: [\d.]+ s; first page read after [\d.]+ s; reading took [\d.]+ s "
                     r"of CPU in a thread; deduplicating [\d.]+ s, storing [\d.]+ s", said), said


async def test_a_failing_source_exits_nonzero_naming_it(tmp_path: Path, dnb_records):
    repository = PagedRepository(dnb_records, page_size=20)
    repository.faults = [Fault(status=503, headers={"Retry-After": "0"})] * 5
    async with OaiServer(repository) as server:
        code, out, err = await _libfed(
            "harvest", "--catalog", str(tmp_path / "c.db"), "--url", server.url,
            "--library", "DNB", *FAST,
        )  # fmt: skip
    assert code == 1
    assert "harvest of source 'DNB'" in err and "HTTP 503" in err
    assert "failed" in out  # the summary table says so too


async def test_usage_errors_are_named(tmp_path: Path):
    code, _, err = await _libfed("harvest", "--catalog", str(tmp_path / "c.db"), "--url", "x")
    assert code == 2 and "--library" in err
    missing = tmp_path / "nope.toml"
    code, _, err = await _libfed(
        "harvest", "--catalog", str(tmp_path / "c.db"), "--config", str(missing)
    )
    assert code == 2 and str(missing) in err and "cannot read" in err


async def test_a_harvester_killed_mid_list_resumes_to_the_same_catalog(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    """SIGKILL a real `libfed harvest` mid-list; the next run resumes at its checkpoint
    and the catalog equals a clean harvest's, record for record."""
    repository = PagedRepository(dnb_records, page_size=5)
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    async with OaiServer(repository) as server:
        args = ["--url", server.url, "--library", "DNB", "--json", *FAST]
        repository.delay = 0.15
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "federation.cli.main", "harvest", "--catalog", str(killed), *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await _until_checkpoint(killed, pages=3)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        repository.delay = 0.0
        requests_before = len(repository.list_requests())

        code, out, err = await _libfed("harvest", "--catalog", str(killed), *args)
        resumed_with = repository.list_requests()[requests_before]
        code_clean, _, _ = await _libfed("harvest", "--catalog", str(clean), *args)
    assert code == 0 and code_clean == 0, err
    assert json.loads(out)["sources"][0]["resumed"] is True
    assert "resumptionToken" in resumed_with  # it went on, it did not start over
    assert snapshot(killed) == snapshot(clean)
    assert len(snapshot(clean)["records"]) == 50


async def test_a_harvester_killed_while_readers_work_leaves_none_behind(
    tmp_path: Path, dnb_records: list[StoredRecord]
):
    """A big list is read in worker processes; SIGKILL the harvester mid-list: its
    readers end with it, and the resumed catalog equals a clean harvest's."""
    records = [
        StoredRecord(f"{r.identifier}-{n}", r.datestamp, r.deleted, r.metadata)
        for n in range(100)
        for r in dnb_records
    ]  # 5,000: a list big enough to be read in worker processes
    repository = PagedRepository(records, page_size=250)
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    async with OaiServer(repository) as server:
        args = ["--url", server.url, "--library", "DNB", "--json", "--processes", "1", *FAST]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "federation.cli.main", "harvest", "--catalog", str(killed), *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await _until_checkpoint(killed, pages=3)
        readers = await _readers_of(process.pid)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        code, out, err = await _libfed("harvest", "--catalog", str(killed), *args)
        code_clean, _, _ = await _libfed("harvest", "--catalog", str(clean), *args)
        left = [pid for pid in readers if _alive(pid)]
    assert readers, "the list was read in a worker process"
    assert left == [], "no reader outlives its harvester"
    assert code == 0 and code_clean == 0, err
    assert json.loads(out)["sources"][0]["resumed"] is True
    assert snapshot(killed) == snapshot(clean)
    assert len(snapshot(clean)["records"]) == 5000


async def _readers_of(pid: int) -> list[int]:
    """The page-reading worker processes of a harvester (Linux /proc)."""
    for _ in range(100):
        found = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
        if found:
            return found
        await asyncio.sleep(0.05)
    return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _until_checkpoint(path: Path, pages: int) -> None:
    """Wait until the harvest has committed ``pages`` pages with a token checkpoint."""
    deadline = asyncio.get_running_loop().time() + 30  # generous: CI machines are busy
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
        if not path.exists():
            continue
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                token = db.execute("SELECT resumption_token FROM sources").fetchone()
                count = db.execute("SELECT count(*) FROM records").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if token and token[0] and count >= 5 * pages:
            return
    raise AssertionError("the harvest never committed a checkpoint")


async def test_one_failing_source_does_not_stop_the_others(tmp_path: Path, dnb_records):
    from tests.conftest import free_port

    repository = PagedRepository(dnb_records, page_size=25)
    async with OaiServer(repository) as server:
        config = tmp_path / "sources.toml"
        config.write_text(
            f'[[source]]\nname = "gone"\nurl = "http://127.0.0.1:{free_port()}/oai"\n'
            f'library = "GONE"\n\n'
            f'[[source]]\nname = "zdb"\nurl = "{server.url}"\nlibrary = "DNB"\n',
            encoding="utf-8",
        )
        code, out, err = await _libfed(
            "harvest", "--catalog", str(tmp_path / "c.db"), "--config", str(config), "--json",
            *FAST,
        )  # fmt: skip
    assert code == 1
    gone, zdb = json.loads(out)["sources"]
    assert (gone["ok"], zdb["ok"], zdb["records"]) == (False, True, 50)
    assert "harvest of source 'gone'" in err and "ConnectionError" in err
    code, out, _ = await _libfed("catalog", "stats", "--catalog", str(tmp_path / "c.db"), "--json")
    assert code == 0 and "ConnectionError" in out
