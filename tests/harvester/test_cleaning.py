"""Sloppy servers' bytes become XML a strict parser accepts, without losing records."""

from __future__ import annotations

from lxml import etree

from harvester.cleaning import clean_xml
from harvester.page import parse_page

PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    b"<responseDate>2026-11-28T10:00:00Z</responseDate>"
    b"<ListRecords><record><header><identifier>oai:x:1</identifier>"
    b"<datestamp>2026-01-01</datestamp></header><metadata>"
    b'<dc xmlns="http://purl.org/dc/elements/1.1/"><title>%s</title></dc>'
    b"</metadata></record><resumptionToken/></ListRecords></OAI-PMH>"
)


def _title(data: bytes) -> str:
    page = parse_page(clean_xml(data))
    return page.records[0].metadata[0].text


def test_control_characters_are_removed_and_the_rest_kept() -> None:
    dirty = PAGE % "Войти\x01 в\x0b историю\x1f\tи\nвыйти".encode()
    assert _title(dirty) == "Войти в историю\tи\nвыйти"


def test_noncharacters_fffe_ffff_and_their_references_are_removed() -> None:
    dirty = PAGE % ("a\ufffeb\uffffc".encode() + b"&#1;&#x1F;&#xFFFF;&#65;&#x9;")
    assert _title(dirty) == "abcA\t"


def test_invalid_utf8_becomes_replacement_characters() -> None:
    dirty = PAGE % b"caf\xe9 \xd0\xbc\xd0"
    assert _title(dirty) == "caf\ufffd \u043c\ufffd"


def test_a_clean_page_is_left_byte_for_byte() -> None:
    page = PAGE % "Толстой, Лев".encode()
    assert clean_xml(page) is page or clean_xml(page) == page


def test_a_page_declaring_latin1_keeps_its_encoding() -> None:
    page = (PAGE % b"caf\xe9\x02").replace(b"UTF-8", b"ISO-8859-1")
    assert etree.fromstring(clean_xml(page)) is not None
    assert _title(page) == "café"


def test_the_predicted_token_is_the_one_the_parser_reads():
    """The next page is fetched by a token read off the page's tail before the page is
    parsed; it must be the parser's own, line ends and entities included."""
    from harvester.page import parse_page, predict_token

    for raw in (b"abc|10|", b"a&amp;b=1", b"line\r\nbreak", b"  spaced  "):
        page = (b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                b"<responseDate>2026-11-28T10:00:00Z</responseDate><ListRecords><record><header>"
                b"<identifier>oai:x:1</identifier><datestamp>2026-11-28</datestamp></header>"
                b'</record><resumptionToken cursor="0">' + raw + b"</resumptionToken>"
                b"</ListRecords></OAI-PMH>\n")
        assert predict_token(page) == parse_page(page).resumption_token
