"""`libfed catalog search --cql` and `libfed catalog sru-url`: SRU from the command line.

A cataloguer tries the query a Koha or VuFind will send before giving them the
address, and gets the same answer — or the same SRU diagnostic — as /sru gives.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from federation.coordinator.config import CoordinatorConfig

from .test_cli import db, run  # noqa: F401 - the catalog file fixture


def test_a_cql_query_finds_the_work_with_its_libraries(db, capsys):  # noqa: F811
    code, out, _ = run(capsys, "catalog", "search", "--cql",
                       "dc.title = история and dc.date = 1804", "--catalog", str(db), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["total"] == 1
    [hit] = data["results"]
    assert hit["year"] == 1804 and hit["libraries"] == ["RGB", "RGB-R"]
    assert hit["title"].startswith("История XVIII столетия")
    code, out, _ = run(capsys, "catalog", "search", "--cql", "bath.isbn = 5-901202-50-3",
                       "--catalog", str(db))  # fmt: skip
    assert code == 0 and "1 works for 'bath.isbn = 5-901202-50-3'" in out and "RGB-R" in out


def test_cql_sortby_orders_the_works(db, capsys):  # noqa: F811
    def years(cql: str) -> list[int]:
        code, out, err = run(capsys, "catalog", "search", "--cql", cql, "--catalog", str(db),
                             "--json")  # fmt: skip
        assert code == 0, err
        return [hit["year"] for hit in json.loads(out)["results"]]

    either = "dc.date = 1804 or dc.date = 2007"
    assert years(f"{either} sortBy dc.date") == [1804, 2007]
    assert years(f"{either} sortBy dc.date/sort.descending") == [2007, 1804]


def test_a_query_the_catalog_cannot_answer_names_its_sru_diagnostic(db, capsys):  # noqa: F811
    code, out, err = run(capsys, "catalog", "search", "--cql", "dc.nosuch = x",
                         "--catalog", str(db))  # fmt: skip
    assert code == 2 and out == ""
    assert "dc.nosuch" in err and "info:srw/diagnostic/1/16" in err
    code, _, err = run(capsys, "catalog", "search", "--cql", "x sortBy dc.subject",
                       "--catalog", str(db))  # fmt: skip
    assert code == 2 and "info:srw/diagnostic/1/88" in err
    code, _, err = run(capsys, "catalog", "search", "--cql", '"unclosed', "--catalog", str(db))
    assert code == 2 and "info:srw/diagnostic/1/14" in err


def test_words_or_cql_but_not_both_and_no_library_filter_in_cql(db, capsys):  # noqa: F811
    for argv in (["история", "--cql", "dc.title = история"], [],
                 ["--cql", "dc.title = история", "--library", "RGB"]):  # fmt: skip
        code, out, err = run(capsys, "catalog", "search", *argv, "--catalog", str(db))
        assert code == 2 and out == "" and "--cql" in err, argv


def test_the_installed_command_with_cql(db):  # noqa: F811
    done = subprocess.run(
        [sys.executable, "-m", "federation.cli.main", "catalog", "search",
         "--cql", "dc.creator = Kalinin", "--catalog", str(db), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 1


def sru_url(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code, out, err = run(capsys, "catalog", "sru-url", *argv, "--json")
    return code, (json.loads(out) if out else None), err


def test_sru_url_from_a_public_base(capsys):
    code, settings, _ = sru_url(capsys, "--base", "https://central.example/")
    assert code == 0
    assert settings["base_url"] == "https://central.example/sru"
    koha = settings["koha"]
    assert (koha["host"], koha["port"], koha["db"]) == ("central.example", 443, "sru")
    assert "title=dc.title" in koha["sru_fields"] and "isbn=bath.isbn" in koha["sru_fields"]
    assert settings["yaz_client"][0] == "open https://central.example/sru"
    assert settings["examples"]["explain"] == "https://central.example/sru?version=1.2"
    assert "note" not in settings
    code, settings, _ = sru_url(capsys, "--base", "http://central.example:8080/sru")
    assert settings["base_url"] == "http://central.example:8080/sru"
    assert settings["koha"]["port"] == 8080
    code, settings, err = sru_url(capsys, "--base", "central.example")
    assert code == 2 and settings is None and "http" in err


def test_sru_url_from_the_coordinators_config(tmp_path, capsys):
    config, path = CoordinatorConfig.create(tmp_path / "coordinator")
    code, _, err = sru_url(capsys, "--config", str(path))
    assert code == 2 and "web_listen" in err  # no web server, no /sru
    config.web_listen = "0.0.0.0:8080"
    config.write(path)
    code, settings, _ = sru_url(capsys, "--config", str(path))
    assert code == 0
    assert settings["base_url"] == f"http://{socket.getfqdn()}:8080/sru"
    config.web_listen = "127.0.0.1:8080"
    config.write(path)
    code, settings, _ = sru_url(capsys, "--config", str(path))
    assert settings["base_url"] == "http://127.0.0.1:8080/sru"
    assert "this machine only" in settings["note"]
    code, out, _ = run(capsys, "catalog", "sru-url", "--config", str(path))
    assert code == 0 and "Koha" in out and "VuFind" in out and "this machine only" in out
