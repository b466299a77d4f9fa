"""`libfed records` as scripts outside the project use it: exit codes, stdout, stderr lines."""

from __future__ import annotations

import json
import re

from lxml import etree

from federation.cli.main import main

SCHEMAS = __import__("pathlib").Path(__file__).resolve().parent.parent / "schemas"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_read_json_prints_one_object_per_record(capsys, fixtures):
    code, out, err = run(
        capsys, "records", "read", "--json", str(fixtures / "records" / "encodings" / "1251.dat")
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 6
    for key in ("id", "schema", "title", "authors", "isbns", "year", "language", "format"):
        assert key in lines[0]
    assert lines[0]["title"].startswith("Основы гидравлического расчета")
    assert "6 read, 0 bad" in err


def test_bad_records_are_named_on_stderr_and_good_ones_still_printed(capsys, fixtures):
    path = fixtures / "records" / "malformed" / "three-records-second-bad.xml"
    code, out, err = run(capsys, "records", "read", "--json", str(path))
    assert code == 1
    assert len(out.splitlines()) == 2
    bad = [line for line in err.splitlines() if line.startswith(str(path))]
    assert len(bad) == 1
    assert re.fullmatch(re.escape(str(path)) + r":#2: .+", bad[0])
    assert err.splitlines()[-1].startswith("libfed: 3 records in 1 files: 2 read, 1 bad")


def test_missing_file_exits_2(capsys, tmp_path):
    code, out, err = run(capsys, "records", "read", str(tmp_path / "absent.mrc"))
    assert code == 2
    assert "absent.mrc" in err


def test_table_without_json_is_readable(capsys, fixtures):
    code, out, err = run(
        capsys, "records", "read", str(fixtures / "records" / "rsl" / "7_rusmarc.mrc")
    )
    assert code == 0
    assert "unimarc" in out and "title" in out


def test_convert_to_marcxml_is_one_valid_collection(capsys, fixtures, tmp_path):
    target = tmp_path / "out.xml"
    code, _, err = run(
        capsys,
        "records",
        "convert",
        str(fixtures / "records" / "rsl"),
        str(fixtures / "records" / "encodings"),
        "--to",
        "marcxml",
        "-o",
        str(target),
    )
    assert code == 0, err
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "MARC21slim.xsd")))
    document = etree.parse(str(target))
    assert schema.validate(document), schema.error_log
    assert len(document.getroot()) > 60


def test_convert_to_oai_dc_gives_valid_elements_one_per_line(capsys, fixtures):
    code, out, _ = run(
        capsys, "records", "convert", str(fixtures / "records" / "rsl"), "--to", "oai_dc"
    )
    assert code == 0
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "oai_dc.xsd")))
    lines = out.splitlines()
    assert len(lines) > 40
    for line in lines:
        element = etree.fromstring(line.encode())
        assert schema.validate(element), (line, schema.error_log)


def test_convert_to_iso2709_reads_back(capsys, fixtures, tmp_path):
    target = tmp_path / "out.mrc"
    code, _, _ = run(
        capsys,
        "records",
        "convert",
        str(fixtures / "records" / "encodings" / "marc8.dat"),
        "--to",
        "iso2709",
        "-o",
        str(target),
    )
    assert code == 0
    code, out, _ = run(capsys, "records", "read", "--json", str(target))
    assert code == 0 and len(out.splitlines()) == 1


def test_help_everywhere(capsys):
    for argv in (
        ["records", "--help"],
        ["records", "read", "--help"],
        ["records", "convert", "--help"],
    ):
        try:
            main(argv)
        except SystemExit as exit_:
            assert exit_.code == 0
        assert "usage:" in capsys.readouterr().out


def test_console_script_in_a_real_process(fixtures):
    import subprocess
    import sys

    path = fixtures / "records" / "malformed" / "bad_records.mrc"
    done = subprocess.run(
        [sys.executable, "-m", "federation.cli.main", "records", "read", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 6
    lines = done.stderr.splitlines()
    assert [line.split(": ", 1)[0] for line in lines[:-1]] == [f"{path}:#5", f"{path}:#7"]
    assert "Traceback" not in done.stderr
    assert lines[-1] == "libfed: 8 records in 1 files: 6 read, 2 bad"
