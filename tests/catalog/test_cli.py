"""`libfed catalog …` as scripts use it: the JSON shapes of the CLI contract."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from federation.catalog import QuarantinedRecord, UnionCatalog
from federation.cli.main import main

from .conftest import RSL, harvested, one, source


async def _build(path: str | Path) -> None:
    catalog = await UnionCatalog.open(path)
    try:
        rgb, rgb_r = source("rgb", "RGB"), source("rgb-r", "RGB-R")
        for src, names in (
            (rgb, ["01002988236_marc21.mrc", "01003120729.mrc"]),
            (rgb_r, ["01002988236_rusmarc.iso", "01003120729.iso"]),
        ):
            await catalog.commit_page(src, [harvested(one(RSL / n), src) for n in names], [], [])
        await catalog.commit_page(
            rgb, [], [], [QuarantinedRecord("oai:rgb:bad", "no 245 and no 200", b"<record/>")]
        )
        await catalog.record_error("rgb-r", "HTTP 503")
    finally:
        await catalog.close()


@pytest.fixture
def db(catalog_location: str | Path) -> str | Path:
    """A small catalog, as a SQLite file and then as a PostgreSQL URL."""
    asyncio.run(_build(catalog_location))
    return catalog_location


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_json(db, capsys):
    code, out, _ = run(capsys, "catalog", "search", "история", "--catalog", str(db), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["total"] == 1
    [hit] = data["results"]
    assert {"cluster_id", "title", "authors", "year", "libraries"} <= hit.keys()
    assert hit["year"] == 1804 and hit["libraries"] == ["RGB", "RGB-R"]
    assert hit["title"].startswith("История XVIII столетия")
    assert data["facets"]["year"] == {"1804": 1}


def test_search_with_library_and_limit(db, capsys):
    argv = ["catalog", "search", "", "--catalog", str(db), "--json", "--limit", "1"]
    code, out, _ = run(capsys, *argv, "--library", "RGB")
    data = json.loads(out)
    assert code == 0 and data["total"] == 2 and len(data["results"]) == 1
    code, out, _ = run(capsys, *argv, "--library", "NOBODY")
    assert json.loads(out)["total"] == 0 and json.loads(out)["results"] == []


def test_show_json_has_members_and_holdings(db, capsys):
    _, out, _ = run(
        capsys, "catalog", "search", "isbn:9785901202500", "--catalog", str(db), "--json"
    )
    cluster_id = json.loads(out)["results"][0]["cluster_id"]
    code, out, _ = run(capsys, "catalog", "show", cluster_id, "--catalog", str(db), "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["cluster_id"] == cluster_id
    assert {m["schema"] for m in shown["members"]} == {"marc21", "unimarc"}
    assert sorted(h["library"] for h in shown["holdings"]) == ["RGB", "RGB-R"]
    assert shown["best"]["isbns"] == ["9785901202500"]
    code, out, _ = run(capsys, "catalog", "show", cluster_id, "--catalog", str(db))
    assert code == 0 and "RGB-R" in out


def test_dump_is_one_json_line_per_cluster(db, capsys):
    code, out, _ = run(capsys, "catalog", "dump", "--catalog", str(db), "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 2
    for cluster in lines:
        assert set(cluster) == {"cluster_id", "members"}
        assert [set(m) for m in cluster["members"]] == [
            {"library", "record_id", "oai_identifier"}
        ] * 2


def test_stats_json_and_table(db, capsys):
    code, out, _ = run(capsys, "catalog", "stats", "--catalog", str(db), "--json")
    stats = json.loads(out)
    assert code == 0 and (stats["records"], stats["clusters"]) == (4, 2)
    by_name = {s["name"]: s for s in stats["sources"]}
    assert by_name["rgb-r"]["last_error"] == "HTTP 503" and by_name["rgb"]["records"] == 2
    assert {"records", "last_harvest", "last_error", "quarantined"} <= by_name["rgb"].keys()
    code, out, _ = run(capsys, "catalog", "stats", "--catalog", str(db))
    assert code == 0 and "HTTP 503" in out


def test_unknown_cluster_and_missing_catalog_are_exit_2(db, tmp_path, capsys):
    code, _, err = run(capsys, "catalog", "show", "c999", "--catalog", str(db))
    assert code == 2 and "c999" in err
    missing = tmp_path / "nowhere.db"
    code, _, err = run(capsys, "catalog", "stats", "--catalog", str(missing))
    assert code == 2 and str(missing) in err
    assert not missing.exists()  # never created by a read command


def test_an_empty_or_unreachable_postgres_database_is_exit_2(postgres_url, capsys):
    code, _, err = run(capsys, "catalog", "stats", "--catalog", postgres_url)
    assert code == 2 and "no union catalog" in err
    nobody = "postgresql://someone:secret@127.0.0.1:1/nowhere"
    code, _, err = run(capsys, "catalog", "stats", "--catalog", nobody)
    assert code == 2 and "cannot reach" in err and "secret" not in err


def test_the_installed_command(db):
    done = subprocess.run(
        [sys.executable, "-m", "federation.cli.main", "catalog", "search", "kalinin",
         "--catalog", str(db), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 1


def test_quarantine_lists_refused_records_with_their_reason(db, capsys):
    code, out, _ = run(capsys, "catalog", "quarantine", "--catalog", str(db), "--json")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"source": "rgb", "oai_identifier": "oai:rgb:bad", "reason": "no 245 and no 200",
         "quarantined_at": json.loads(out.splitlines()[0])["quarantined_at"]}
    ]
    code, out, _ = run(capsys, "catalog", "quarantine", "--catalog", str(db), "--source", "rgb-r")
    assert code == 0 and "oai:rgb:bad" not in out


def test_overlap_says_how_much_each_library_shares(db, capsys):
    """RGB and its RUSMARC feed RGB-R hold the same two works."""
    code, out, _ = run(capsys, "catalog", "overlap", "--catalog", str(db), "--json")
    assert code == 0
    assert json.loads(out) == {
        "held": {"RGB": 2, "RGB-R": 2},
        "shared": {"RGB": {"RGB-R": 2}, "RGB-R": {"RGB": 2}},
        "share": {"RGB": {"RGB": 1.0, "RGB-R": 1.0}, "RGB-R": {"RGB": 1.0, "RGB-R": 1.0}},
    }
    code, out, _ = run(capsys, "catalog", "overlap", "--catalog", str(db))
    assert code == 0 and "RGB-R" in out and "100%" in out
