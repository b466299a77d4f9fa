"""ISO 2709 (the "MARC transmission format") read leniently, written strictly.

pymarc's reader trusts the leader's record length and the directory's offsets;
real exports break both (lengths counted in characters instead of bytes, NUL
filler, line breaks between records, a truncated last record). So we split the
stream at the record terminator 0x1D ourselves, check each directory entry
against the field terminators it should point at, and fall back to splitting
the data area at 0x1E when the offsets are wrong. Each record is decoded in the
encoding its bytes really have (see :mod:`federation.records.encoding`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pymarc
from pymarc import Field, Subfield
from pymarc.leader import Leader

from federation.errors import RecordError
from federation.records import build, encoding

RECORD_END = 0x1D
FIELD_END = b"\x1e"
SUBFIELD = b"\x1f"
LEADER_LEN = 24
#: Bytes found between records in real files that are not records.
_FILLER = b"\x00\r\n \t\x1a\x1d\x1e"


def split(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(position, chunk)`` for each record in an ISO 2709 stream.

    A chunk is the bytes of one record including its terminator when it has
    one. Filler between records is skipped; a trailing fragment too short to
    be a record is dropped (it is junk, not a record), anything longer is
    yielded so that the parser can report it.
    """
    position = 0
    start = 0
    size = len(data)
    while start < size:
        while start < size and data[start] in _FILLER:
            start += 1
        if start >= size:
            return
        end = _record_end(data, start)
        chunk = data[start:end]
        start = end
        if end >= size and len(chunk.rstrip(_FILLER)) < LEADER_LEN:
            return
        position += 1
        yield position, chunk


def _record_end(data: bytes, start: int) -> int:
    """Where the record starting at ``start`` ends (exclusive).

    The leader's length is used when it lands right after a 0x1D; otherwise the
    next 0x1D decides (the length counted characters, or was garbage).
    """
    head = data[start : start + 5]
    if head.isdigit():
        end = start + int(head)
        if end <= len(data) and end > start + LEADER_LEN and data[end - 1] == RECORD_END:
            return end
    terminator = data.find(b"\x1d", start)
    return len(data) if terminator < 0 else terminator + 1


def parse(chunk: bytes) -> pymarc.Record:
    """One ISO 2709 record as a pymarc.Record with Unicode fields.

    Raises RecordError naming what is wrong when the record cannot be read.
    """
    if len(chunk) < LEADER_LEN:
        raise RecordError(f"record is only {len(chunk)} bytes, shorter than a leader")
    leader = chunk[:LEADER_LEN].decode("latin-1")
    directory_end = chunk.find(FIELD_END, LEADER_LEN)
    if directory_end < 0:
        raise RecordError("no directory terminator (0x1E): truncated or not ISO 2709")
    body = chunk[directory_end + 1 :]
    if body.endswith(b"\x1d"):
        body = body[:-1]
    try:
        entries = _directory(chunk[LEADER_LEN:directory_end])
    except RecordError:
        entries = _repair_directory(chunk[LEADER_LEN:directory_end], body.count(FIELD_END))
        if entries is None:
            raise
    raw_fields = _field_data(entries, body)
    detected = encoding.detect(body, leader[9])
    decode = encoding.decoder(detected)
    record = pymarc.Record()
    record.leader = Leader(_clean_leader(leader))
    record.fields = _fields(raw_fields, decode, detected == encoding.MARC8)
    if not record.fields:
        raise RecordError("record has no fields")
    return record


def _clean_leader(leader: str) -> str:
    """The leader with control bytes and non-ASCII blanked, so it is always printable."""
    return "".join(ch if " " <= ch <= "~" else " " for ch in leader)


_new_subfield = tuple.__new__
_new_field = Field.__new__
_INDICATORS = build.SHARED_INDICATORS
_ENTRY = re.compile(rb"(...)(\d{4})(\d{5})", re.DOTALL)


def _directory(directory: bytes) -> list[tuple[str, int, int]]:
    """``(tag, length, offset)`` per entry; raises RecordError on a broken directory."""
    directory = directory.rstrip(b" \x00")
    if len(directory) % 12:
        raise RecordError(f"directory length {len(directory)} is not a multiple of 12")
    if not directory:
        raise RecordError("empty directory")
    entries = [
        (tag.decode("latin-1"), int(length), int(offset))
        for tag, length, offset in _ENTRY.findall(directory)
    ]
    if len(entries) * 12 != len(directory):
        for index in range(0, len(directory), 12):
            entry = directory[index : index + 12]
            if not _ENTRY.fullmatch(entry):
                raise RecordError(f"directory entry {entry!r} has non-numeric length or offset")
    return entries


def _repair_directory(directory: bytes, field_count: int) -> list[tuple[str, int, int]] | None:
    """A directory with one entry a few bytes short or long, read anyway (or None).

    Seen in real exports: "01001300000" for "001001300000". Every place the odd
    entry could sit is tried; the reading whose offsets chain up (each field
    starting where the previous one ended) and whose entry count matches the
    fields in the data wins. The odd entry keeps its last nine digits (length
    and offset) and its tag is padded with zeros.
    """
    directory = directory.rstrip(b" \x00")
    size = len(directory)
    best: tuple[int, list[tuple[str, int, int]]] | None = None
    for odd_size in (size % 12, 12 + size % 12):
        regular = (size - odd_size) // 12
        if odd_size < 10 or regular + 1 != field_count or regular * 12 + odd_size != size:
            continue
        for place in range(regular + 1):
            start = place * 12
            odd = directory[start : start + odd_size]
            rest = directory[:start] + directory[start + odd_size :]
            found = _ENTRY.findall(rest)
            if len(found) != regular or not odd[-9:].isdigit():
                continue
            entries = [(t.decode("latin-1"), int(n), int(o)) for t, n, o in found]
            tag = odd[:-9].decode("latin-1")[:3].rjust(3, "0")
            entries.insert(place, (tag, int(odd[-9:-5]), int(odd[-5:])))
            chained = sum(
                1 for a, b in zip(entries, entries[1:], strict=False) if a[1] + a[2] == b[2]
            )
            if best is None or chained > best[0]:
                best = (chained, entries)
    return best[1] if best else None


def _field_data(entries: list[tuple[str, int, int]], body: bytes) -> list[tuple[str, bytes]]:
    """Each field's bytes, by directory offsets when they hold, else by terminators."""
    by_offset = []
    for tag, length, offset in entries:
        end = offset + length
        if length == 0 or end > len(body) or body[end - 1 : end] != FIELD_END:
            break
        by_offset.append((tag, body[offset : end - 1]))
    else:
        return by_offset
    parts = body.split(FIELD_END)
    if len(parts) - 1 < len(entries) and parts[-1].strip(b"\x00 \r\n"):
        parts.append(b"")  # the last field lost its terminator (truncated record)
    if len(parts) - 1 < len(entries):
        raise RecordError(
            f"directory lists {len(entries)} fields but the data holds {len(parts) - 1}"
        )
    return [(tag, parts[index]) for index, (tag, _, _) in enumerate(entries)]


def _fields(raw_fields: list[tuple[str, bytes]], decode, marc8: bool) -> list[Field]:
    """The fields, decoded. Control fields are 001-009, as pymarc and ruby-marc assume.

    This is the hot loop of ISO 2709 reading. Single-byte and UTF-8 data is
    decoded in one call for the whole record and split at 0x1E/0x1F afterwards
    (neither byte occurs inside a UTF-8 sequence); MARC-8 is decoded per
    subfield because pymarc's converter drops control bytes.
    """
    texts = None
    if not marc8:
        texts = decode(FIELD_END.join([data for _, data in raw_fields])).split("\x1e")
        if len(texts) != len(raw_fields):
            texts = [decode(data) for _, data in raw_fields]
    fields = []
    append = fields.append
    shared = _INDICATORS
    for index, (tag, data) in enumerate(raw_fields):
        field = _new_field(Field)
        field.tag = tag
        if tag < "010" and tag.isdigit():
            field.data = texts[index] if texts is not None else decode(data)
            field._indicators = None
            field.subfields = []
            field.control_field = True
            append(field)
            continue
        if texts is not None:
            head, *parts = texts[index].split("\x1f")
            subfields = [_new_subfield(Subfield, (part[0], part[1:])) for part in parts if part]
        else:
            head, *parts = data.split(SUBFIELD)
            head = head.decode("latin-1")
            subfields = [
                _new_subfield(Subfield, (chr(part[0]) if part[0] < 0x80 else "?", decode(part[1:])))
                for part in parts
                if part
            ]
        pair = head[:2]
        field.data = None
        field._indicators = shared.get(pair) or build.indicators(pair)
        field.subfields = subfields
        field.control_field = False
        append(field)
    return fields


def write(record: pymarc.Record, unimarc: bool = False) -> bytes:
    """The record as UTF-8 ISO 2709, leader/09 set to 'a' and lengths in bytes.

    Raises RecordError for a record the format cannot hold (a field over 9,999
    or a record over 99,999 bytes) rather than writing a corrupt one.

    A UNIMARC record keeps its own leader/20-23 ("450 "), a MARC 21 one gets "4500".
    """
    directory = bytearray()
    data = bytearray()
    for field in record.fields:
        if field.control_field:
            encoded = (field.data or "").encode("utf-8")
        else:
            indicators = "".join(field.indicators or ("  ")).ljust(2)[:2]
            encoded = indicators.encode("utf-8") + b"".join(
                SUBFIELD + code.encode("utf-8")[:1] + value.encode("utf-8")
                for code, value in field.subfields
            )
        encoded += FIELD_END
        if len(encoded) > 9999:
            raise RecordError(f"field {field.tag} is {len(encoded)} bytes, over ISO 2709's 9999")
        entry = f"{field.tag[:3]:>03}{len(encoded):04d}{len(data):05d}"
        directory += entry.encode("ascii", "replace")
        data += encoded
    directory += FIELD_END
    base = LEADER_LEN + len(directory)
    total = base + len(data) + 1
    if total > 99999:
        raise RecordError(f"record is {total} bytes, over ISO 2709's 99999")
    leader = str(record.leader).ljust(LEADER_LEN)[:LEADER_LEN]
    tail = "450 " if unimarc else "4500"
    leader = f"{total:05d}{leader[5:9]}a22{base:05d}{leader[17:20]}{tail}"
    return leader.encode("ascii", "replace") + bytes(directory) + bytes(data) + b"\x1d"
