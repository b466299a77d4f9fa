"""Which character encoding a record's bytes are really in.

Leaders lie: MARC 21 leader/09 says ``a`` (UCS/Unicode) or blank (MARC-8), and
UNIMARC 100$a/26-29 names a character set, but exported files in the wild carry
Windows-1251 under a MARC-8 leader, UTF-8 under a blank one, and DOS cp866 from
old Russian systems. So we look at the bytes themselves and use the leader only
to break ties:

1. pure ASCII needs no decision;
2. bytes that decode as strict UTF-8 *and* contain multi-byte sequences are
   UTF-8 — MARC-8 and the Cyrillic code pages almost never form valid UTF-8;
3. otherwise Cyrillic single-byte text shows long runs of high bytes (whole
   words), which MARC-8 never does (its diacritics are single high bytes before
   an ASCII letter): the runs decide between cp1251 and cp866 by where the
   letters fall;
4. accented letters that end words (a byte of ANSEL's combining range before a
   space or punctuation) mean Windows-1252/Latin-1, not MARC-8;
5. what is left is MARC-8 (pymarc's converter) — or UTF-8 with a few broken
   bytes when the leader says UTF-8.
"""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata

from pymarc import marc8_mapping
from pymarc.marc8 import MARC8ToUnicode

UTF8 = "utf-8"
#: UTF-8 that was read as Latin-1 and written out as UTF-8 again (once or more).
UTF8_MOJIBAKE = "utf-8+mojibake"
MARC8 = "marc-8"
CP1251 = "cp1251"
CP866 = "cp866"
LATIN1 = "cp1252"

#: Three or more high bytes in a row: a word of single-byte Cyrillic.
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3,}")
_HIGH = re.compile(rb"[\x80-\xff]")


def detect(body: bytes, leader09: str = " ") -> str:
    """The encoding of a record's field data (``body``), see the module notes."""
    if body.isascii():
        return UTF8
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return UTF8_MOJIBAKE if _mojibake_depth(decoded) else UTF8
    high = len(_HIGH.findall(body))
    in_runs = sum(len(run) for run in _HIGH_RUN.findall(body))
    if in_runs * 2 >= high:
        return _cyrillic_codepage(body)
    if leader09 == "a":
        return UTF8
    if b"\x1b" not in body and _looks_latin1(body):
        # An escape sequence is MARC-8's own; Latin-1 never has one.
        return LATIN1
    return MARC8


#: A byte of ANSEL's combining range (0xE0-0xFE) followed by something that is
#: not a letter: in MARC-8 a diacritic precedes its letter, so this is rare; in
#: ISO 8859-1 / Windows-1252 it is an accented letter ending a word ("café ").
_COMBINING_THEN_NONLETTER = re.compile(rb"[\xe0-\xfe](?=[ ,.;:!?)\]/'\"\x1d\x1e\x1f]|$)")
_COMBINING = re.compile(rb"[\xe0-\xfe]")


def _looks_latin1(body: bytes) -> bool:
    """Windows-1252/Latin-1 rather than MARC-8 (European exports with a blank leader/09)."""
    combining = len(_COMBINING.findall(body))
    if not combining:
        return False
    return len(_COMBINING_THEN_NONLETTER.findall(body)) * 4 > combining


_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]")


def _mojibake_depth(text: str) -> int:
    """How many times UTF-8 was wrongly re-encoded (0 for clean text)."""
    depth = 0
    while depth < 3 and _MOJIBAKE.search(text):
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            break
        depth += 1
    return depth


def _cyrillic_codepage(body: bytes) -> str:
    """cp1251 keeps its letters in 0xC0-0xFF, cp866 mostly in 0x80-0xAF and 0xE0-0xEF."""
    upper = sum(1 for byte in body if byte >= 0xC0)
    lower = sum(1 for byte in body if 0x80 <= byte < 0xB0)
    return CP1251 if upper >= lower else CP866


def _marc8_tables() -> tuple[dict[int, str], str]:
    """Byte -> text for MARC-8 in its default sets (ASCII G0, ANSEL G1), and the combining bytes.

    The same mappings pymarc uses; control bytes are dropped and unknown bytes
    become a space, as pymarc's converter does.
    """
    basic = marc8_mapping.CODESETS[MARC8ToUnicode.basic_latin]
    ansel = marc8_mapping.CODESETS[MARC8ToUnicode.ansel]
    table: dict[int, str] = {}
    combining = []
    for byte in range(256):
        if byte < 0x20 or 0x80 < byte < 0xA0:
            table[byte] = ""
            continue
        mapping = ansel.get(byte) if byte > 0x80 else basic.get(byte)
        if mapping is None:
            table[byte] = " "
            continue
        table[byte] = chr(mapping[0])
        if mapping[1]:
            combining.append(chr(byte))
    return table, "".join(combining)


_MARC8_TABLE, _MARC8_COMBINING = _marc8_tables()
#: MARC-8 puts combining marks before their base letter; Unicode after it.
_MARC8_REORDER = re.compile(f"([{re.escape(_MARC8_COMBINING)}]+)([^{re.escape(_MARC8_COMBINING)}])")
_MARC8_DANGLING = re.compile(f"[{re.escape(_MARC8_COMBINING)}]+$")


def _fast_marc8(data: bytes) -> str:
    """MARC-8 without escape sequences (the vast majority), without pymarc's per-byte loop."""
    text = data.decode("latin-1")
    text = _MARC8_DANGLING.sub("", text)
    text = _MARC8_REORDER.sub(r"\2\1", text)
    return unicodedata.normalize("NFC", text.translate(_MARC8_TABLE))


def decoder(encoding: str):
    """A function bytes -> str for one record's fields, never raising.

    Undecodable bytes become U+FFFD rather than failing the record: a title with
    one broken letter is still worth having, and the caller can tell from the
    replacement character.
    """
    if encoding == MARC8:
        converter = MARC8ToUnicode(quiet=True)

        def decode_marc8(data: bytes) -> str:
            if b"\x1b" not in data:
                if data.isascii():
                    return data.decode("ascii")
                return _fast_marc8(data)
            # Every field starts in the default sets (ASCII + ANSEL).
            converter.g0, converter.g1 = MARC8ToUnicode.basic_latin, MARC8ToUnicode.ansel
            try:
                if b"\x1b$" in data:
                    # pymarc prints to stderr on broken multibyte (EACC) data;
                    # our CLI's stderr carries one line per bad record only.
                    with contextlib.redirect_stderr(io.StringIO()):
                        text = converter.translate(data)
                else:
                    text = converter.translate(data)
            except (IndexError, TypeError, KeyError, ValueError, UnicodeDecodeError):
                text = data.decode("latin-1")
            return unicodedata.normalize("NFC", text)

        return decode_marc8

    if encoding == UTF8_MOJIBAKE:

        def decode_mojibake(data: bytes) -> str:
            text = data.decode("utf-8", "replace")
            for _ in range(_mojibake_depth(text)):
                text = text.encode("latin-1").decode("utf-8")
            return unicodedata.normalize("NFC", text)

        return decode_mojibake

    def decode_plain(data: bytes) -> str:
        return data.decode(encoding, "replace")

    return decode_plain
