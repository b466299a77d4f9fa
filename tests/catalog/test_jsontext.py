"""The catalog's JSON text is what json.dumps wrote before orjson: stored digests stay valid."""

from __future__ import annotations

import json

from federation.catalog import jsontext
from federation.catalog.dedup import MatchData
from federation.records import Record, iter_file


def _standard(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_orjson_text_equals_the_standard_library_text(fixtures):
    values: list = [{"odd": "tab\t, nul\x00, bell\x07, ё, \u2028, \"quoted\" \\ /", "n": [1, None]}]
    match_texts = []
    for path in sorted((fixtures / "records").rglob("*")):
        if path.is_file():
            for record in iter_file(path):
                if isinstance(record, Record):
                    values.append(record.summary())
                    match_texts.append(MatchData.of(record, "SRC").to_json())
    assert len(values) > 100
    for value in values:
        assert jsontext.dumps(value) == _standard(value)
        assert jsontext.loads(_standard(value)) == value
    for text in match_texts:  # the text whose hash is each record's stored digest
        assert text == _standard(json.loads(text))
