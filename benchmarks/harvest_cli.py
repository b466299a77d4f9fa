"""Harvest as a user times it: the whole `libfed harvest` command against a real node.

A libfed node (its own process, as in production) serves real records replicated
under new ids (the node benchmark's replicas) over OAI-PMH. Timed in one run,
alternately over the same list:

* the whole command ``libfed harvest --catalog NEW.db --url … --library X
  --prefix marc21`` as a user types it: interpreter start-up, imports, worker
  processes, every page, dedup, FTS, commit, the summary (goal >= 5,000 rec/s);
* sickle's bare ``ListRecords`` iteration of the same list, in its own fresh
  interpreter too, nothing stored; and the ratio of the two (goal >= 1.0×);
* where the command's time went, from its own summary (``timings`` in its
  --json): the readers' CPU, deduplicating and storing, per record; the time the
  run waited for pages; and the fixed cost of a run (interpreter start-up,
  imports, Identify, one request) as the command run again with nothing new;
* what the rate is bound by: the CPU a record cost the command (its reader
  processes included) and the node, against what the machine's cores can give
  (at 5,000 rec/s, two cores give 400 µs a record for all of it), and how busy
  the cores were while the command ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import Row
from benchmarks.node import _free_port, _wait, import_file, write_replicas
from node.config import NodeConfig, save

ROUNDS = 2
_SICKLE = (
    "import sys; from sickle import Sickle; "
    "print(sum(1 for _ in Sickle(sys.argv[1]).ListRecords(metadataPrefix='marc21')))"
)


def run(quick: bool) -> list[Row]:
    sizes = [5_000] if quick else [20_000, 200_000]
    rows: list[Row] = []
    for size in sizes:
        rows.extend(measure(size))
    return rows


def measure(size: int) -> list[Row]:
    """Time the command and sickle over a node of ``size`` records, alternately."""
    with tempfile.TemporaryDirectory(prefix="libfed-bench-cli-") as folder:
        root = Path(folder)
        config = NodeConfig(
            symbol="BENCH",
            name="Benchmark library",
            database=root / "holdings.sqlite",
            grpc_listen=f"127.0.0.1:{_free_port()}",
            http_listen=f"127.0.0.1:{_free_port()}",
        )
        save(config, root / "node.toml")
        write_replicas(root / "records.mrc", size)
        asyncio.run(import_file(config, root / "records.mrc"))
        node = subprocess.Popen(
            [sys.executable, "-m", "federation.cli.main", "node", "serve", "--config",
             str(root / "node.toml")],
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://{config.http_listen}/oai"
            _wait(url + "?verb=Identify")
            sickle_rates, command_rates, stored, listed = [], [], 0, 0
            runs: list[dict] = []
            for attempt in range(ROUNDS):
                rate, listed = _sickle_rate(url)
                sickle_rates.append(rate)
                catalog = root / f"catalog-{attempt}.db"
                node_cpu = _process_cpu(node.pid)
                summary = _command(url, catalog)
                summary["node_cpu"] = _process_cpu(node.pid) - node_cpu
                stored = summary["records"]
                if stored != listed:
                    raise RuntimeError(f"libfed harvest stored {stored} of {listed} records")
                command_rates.append(stored / summary["wall"])
                runs.append(summary)
                if attempt == 0:
                    nothing_new = _command(url, catalog)["wall"]
                for leftover in root.glob(f"catalog-{attempt}.db*"):
                    leftover.unlink()
        finally:
            node.terminate()
            node.wait(timeout=20)
            shutil.rmtree(root, ignore_errors=True)
    sickle_rate = statistics.mean(sickle_rates)
    command_rate = statistics.mean(command_rates)
    ratio = command_rate / sickle_rate if sickle_rate else 0.0
    both = " and ".join(f"{r:,.0f}" for r in command_rates)
    return [
        Row(f"`libfed harvest` command, node of {size:,}", command_rate, "rec/s", ">= 5,000",
            command_rate >= 5_000, f"whole command, mean of {both}; {stored:,} stored"),
        Row("sickle bare ListRecords, same node", sickle_rate, "rec/s",
            note="its own interpreter, mean of " + " and ".join(f"{r:,.0f}" for r in sickle_rates)),
        Row(f"`libfed harvest` / sickle, node of {size:,}", ratio, "×", ">= 1.0", ratio >= 1.0,
            "same run, measured alternately"),
        *_where_time_went(runs, stored),
        *_what_bounds_it(runs, stored),
        Row("`libfed harvest` again, nothing new", nothing_new, "s",
            note="fixed cost of a run: start-up, imports, Identify, one request"),
    ]


def _where_time_went(runs: list[dict], records: int) -> list[Row]:
    """The command's own account of its time (means over the runs), per record."""

    def mean(name: str) -> float:
        return statistics.mean(run["timings"][name] for run in runs)

    readers = runs[0]["timings"]["reader_processes"]
    return [
        Row("  reading (CPU of the readers)", mean("reading_cpu") / records * 1e6, "µs/rec",
            note=f"parse, MARCXML → record, match data; {readers} reader processes"),
        Row("  deduplicating (in the commit)", mean("deduplicating") / records * 1e6, "µs/rec"),
        Row("  storing (rows, FTS, commit)", mean("storing") / records * 1e6, "µs/rec"),
        Row("  waiting for pages", mean("waiting_for_pages"), "s",
            note="readers or server behind; of " + " and ".join(
                f"{run['wall']:.1f}" for run in runs) + " s"),
        Row("  first page read after", mean("first_page"), "s"),
    ]


def _what_bounds_it(runs: list[dict], records: int) -> list[Row]:
    """CPU per record of the command and of the node, against the cores' budget."""
    cores = os.cpu_count() or 1
    command = statistics.mean(run["cpu"] for run in runs) / records * 1e6
    node = statistics.mean(run["node_cpu"] for run in runs) / records * 1e6
    busy = statistics.mean((run["cpu"] + run["node_cpu"]) / (cores * run["wall"]) for run in runs)
    budget = cores / 5_000 * 1e6
    return [
        Row("  CPU of the command, readers included", command, "µs/rec",
            note="user + system, start-up included"),
        Row("  CPU of the node serving the list", node, "µs/rec"),
        Row("  both together, against 5,000 rec/s", command + node, "µs/rec",
            f"<= {budget:,.0f}", command + node <= budget,
            f"{cores} cores give {budget:,.0f} µs a record at 5,000 rec/s"),
        Row("  cores busy while the command ran", busy * 100, "%",
            note="command and node CPU / (cores × wall): near 100% is CPU-bound"),
    ]


def _process_cpu(pid: int) -> float:
    """User + system seconds a running process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sickle_rate(url: str) -> tuple[float, int]:
    """sickle iterating the whole list in a fresh interpreter; (rate, records listed)."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _SICKLE, url], capture_output=True, text=True,
                         check=True)
    seconds = time.perf_counter() - started
    return int(out.stdout) / seconds, int(out.stdout)


def _command(url: str, catalog: Path) -> dict:
    """The whole `libfed harvest` command into ``catalog``: its summary, plus ``wall``."""
    libfed = Path(sys.executable).with_name("libfed")
    command = [str(libfed), "harvest", "--catalog", str(catalog), "--url", url, "--library",
               "BENCH", "--prefix", "marc21", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"libfed harvest failed: {out.stderr[-500:]}")
    summary = json.loads(out.stdout)["sources"][0]
    summary["wall"] = seconds
    # The command's reader processes are its children, waited for before it exits:
    # their CPU is in the command's own children's usage, so in ours.
    summary["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return summary
