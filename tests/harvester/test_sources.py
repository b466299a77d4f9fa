"""Sources files: what a librarian writes, and the errors that name file and entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.errors import ConfigError
from harvester.retry import RetryPolicy, parse_retry_after
from harvester.sources import load_sources, select_source


def test_a_sources_file_lists_each_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        '[[source]]\nname = "central"\nurl = "http://127.0.0.1:9/oai"\nlibrary = "CEN"\n'
        'schedule = "daily"\n\n'
        '[[source]]\nname = "dnb"\nurl = "https://services.dnb.de/oai/repository"\n'
        'library = "DNB"\nprefix = "MARC21-xml"\nset = "zdb"\n',
        encoding="utf-8",
    )
    central, dnb = load_sources(path)
    assert (central.prefix, central.set_spec, central.schedule) == ("marc21", None, "daily")
    assert (dnb.prefix, dnb.set_spec, dnb.library) == ("MARC21-xml", "zdb", "DNB")
    assert select_source([central, dnb], "dnb", path) is dnb


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[source]]\nname = "a"\nlibrary = "A"\n', "#1: 'url' is required"),
        ('[[source]]\nname = "a"\nurl = "ftp://x"\nlibrary = "A"\n', "is not an http(s) URL"),
        ('[[source]]\nname = "a"\nurl = "http://x"\nlibrary = "A"\nsets = "b"\n', "unknown keys"),
        ("[[source]\n", "not valid TOML"),
        ("title = 'nothing'\n", "no [[source]] tables"),
        (
            '[[source]]\nname="a"\nurl="http://x"\nlibrary="A"\n'
            '[[source]]\nname="a"\nurl="http://y"\nlibrary="B"\n',
            "used twice",
        ),
    ],
)
def test_a_bad_sources_file_names_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_an_unknown_source_name_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[[source]]\nname="a"\nurl="http://x"\nlibrary="A"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no source named 'b' \\(known: a\\)"):
        select_source(load_sources(path), "b", path)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Sat, 28 Nov 2026 10:00:30 GMT", now=1795860000.0) == 30.0
    assert parse_retry_after("Sat, 28 Nov 2020 10:00:30 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(backoff=0.5, max_delay=3.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert policy.delay(1, retry_after=120.0) == 3.0
