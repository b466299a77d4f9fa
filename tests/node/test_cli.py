"""A librarian's story at the shell: init a node, import the export, look, delete, serve."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request

from federation.cli.main import main
from tests.conftest import FIXTURES
from tests.node.conftest import NODE_FIXTURES, RUSMARC

BATCH = str(NODE_FIXTURES / "traject-batch.dat")


def _init(tmp_path, capsys) -> str:
    assert (
        main(
            [
                "node",
                "init",
                "--symbol",
                "RU-NLR",
                "--name",
                "Российская национальная библиотека",
                "--dir",
                str(tmp_path / "nlr"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    return str(tmp_path / "nlr" / "node.toml")


def test_init_writes_a_config_with_free_ports(tmp_path, capsys):
    config = _init(tmp_path, capsys)
    data = tomllib.loads(open(config, encoding="utf-8").read())
    assert data["node"]["symbol"] == "RU-NLR"
    assert data["node"]["name"] == "Российская национальная библиотека"
    assert data["node"]["grpc_listen"].startswith("127.0.0.1:")
    assert data["node"]["grpc_listen"] != data["node"]["http_listen"]
    assert data["oai"]["page_size"] > 0
    # a second init does not overwrite the library's config
    assert (
        main(["node", "init", "--symbol", "X", "--name", "X", "--dir", str(tmp_path / "nlr")]) == 2
    )
    assert "exists" in capsys.readouterr().err
    assert (
        main(
            [
                "node",
                "init",
                "--symbol",
                "Y",
                "--name",
                "Y",
                "--dir",
                str(tmp_path / "y"),
                "--grpc-port",
                "50123",
                "--http-port",
                "8123",
            ]
        )
        == 0
    )
    data = tomllib.loads((tmp_path / "y" / "node.toml").read_text(encoding="utf-8"))
    assert (data["node"]["grpc_listen"], data["node"]["http_listen"]) == (
        "127.0.0.1:50123",
        "127.0.0.1:8123",
    )


def test_init_refuses_an_admin_email_identify_could_not_carry(tmp_path, capsys):
    """OAI-PMH's Identify must hold a valid adminEmail; a typo is caught at init, and a
    hand-edited node.toml is refused naming the file."""
    args = ["node", "init", "--symbol", "X", "--name", "X", "--dir", str(tmp_path / "x")]
    assert main([*args, "--admin-email", "nobody"]) == 2
    assert "'nobody' is not an e-mail address" in capsys.readouterr().err
    assert not (tmp_path / "x" / "node.toml").exists()
    assert main([*args, "--admin-email", "ill@library.example.org"]) == 0
    path = tmp_path / "x" / "node.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("ill@library.example.org", "ill"),
                    encoding="utf-8")
    capsys.readouterr()
    assert main(["node", "stats", "--config", str(path)]) == 2
    assert f"{path}: admin email 'ill'" in capsys.readouterr().err


def test_unknown_tables_survive_a_rewrite(tmp_path, capsys):
    from node.config import load, save

    path = _init(tmp_path, capsys)
    with open(path, "a", encoding="utf-8") as file:
        file.write('\n[coordinator]\naddress = "127.0.0.1:7000"\ntoken = "t0k"\n')
    config = load(path)
    save(config, path)
    assert load(path).coordinator == {"address": "127.0.0.1:7000", "token": "t0k"}


def test_import_stats_and_delete(tmp_path, capsys):
    config = _init(tmp_path, capsys)
    assert main(["node", "import", "--config", config, BATCH, *map(str, RUSMARC)]) == 0
    err = capsys.readouterr().err
    assert "37 records in 7 files: 37 new, 0 updated, 0 bad" in err
    assert main(["node", "stats", "--config", config, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["records_by_schema"] == {"marc21": 31, "unimarc": 6}
    assert stats["items_by_status"]["available"] >= 37
    # importing again updates, it does not duplicate
    assert main(["node", "import", "--config", config, BATCH]) == 0
    assert "0 new, 31 updated" in capsys.readouterr().err
    assert main(["node", "delete", "--config", config, "000000794"]) == 0
    assert "deleted 000000794" in capsys.readouterr().out
    assert main(["node", "delete", "--config", config, "000000794"]) == 2
    assert "no record" in capsys.readouterr().err
    assert main(["node", "stats", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "records: 36" in out and "deleted records: 1" in out


def test_import_reports_bad_records_by_file_and_position(tmp_path, capsys):
    config = _init(tmp_path, capsys)
    bad = FIXTURES / "records" / "malformed" / "bad_records.mrc"
    assert main(["node", "import", "--config", config, BATCH, str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:#4: " in err
    assert main(["node", "import", "--config", config, BATCH, str(tmp_path / "missing.mrc")]) == 2
    err = capsys.readouterr().err
    assert "missing.mrc" in err and "1 file(s) could not be read" in err
    assert main(["node", "stats", "--config", str(tmp_path / "none" / "node.toml")]) == 2
    assert "libfed node init" in capsys.readouterr().err


def test_serve_answers_then_stops_on_sigterm(tmp_path, capsys):
    config = _init(tmp_path, capsys)
    assert main(["node", "import", "--config", config, BATCH]) == 0
    http = tomllib.loads(open(config, encoding="utf-8").read())["node"]["http_listen"]
    process = subprocess.Popen(
        [sys.executable, "-m", "federation.cli.main", "node", "serve", "--config", config],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = _wait_for(f"http://{http}/oai?verb=Identify", deadline=20)
        assert b"<repositoryName>" in body
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        log = process.stderr.read()
        assert f"OAI-PMH on http://{http}/oai" in log
        assert "stopped" in log
    finally:
        if process.poll() is None:
            process.kill()


def _wait_for(url: str, deadline: float) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
