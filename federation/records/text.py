"""Small text rules shared by the MARC 21 and UNIMARC normalizers.

ISBD punctuation (" :", " /", " ;", " =", ",", ".") separates the elements of a
catalogue card; once the elements are in their own fields it is noise, and it
breaks matching ("Title /" vs "Title"). Standard numbers come in every
spelling ("0-201-61622-X (pbk.)", "978 5 17 ...") and are reduced to one form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from stdnum import isbn as stdnum_isbn

_ISBD = " /:;,=."
_INITIAL = re.compile(r"(?:^|[\s.])\w\.$")
_ISBN = re.compile(r"[0-9][0-9\- ]{8,16}[0-9Xx]")
_ISSN = re.compile(r"\b[0-9]{4}-?[0-9]{3}[0-9Xx]\b")
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")
_PAGE_UNIT = re.compile(
    r"(?<![^\W\d_])\s*(?:pp?\b\.?|pages|pág|[sS]\.|с\.|с\b|стр|л\.|Bl\.|ff?\.)", re.IGNORECASE
)
_NUMBER = re.compile(r"\d+")
_CLAUSE = re.compile(r"[(;:]")
_SPACES = re.compile(r"\s+")


def clean(value: str | None, *, keep_initial: bool = False) -> str:
    """A field value without ISBD punctuation at either end, NFC, single-spaced.

    ``keep_initial`` keeps the full stop after a final initial ("Smith, J.").
    Called a few dozen times per record, so it sticks to str methods.
    """
    if not value:
        return ""
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    value = " ".join(value.split())
    if keep_initial and value.endswith(".") and _INITIAL.search(value):
        value = value.rstrip(" ,;:/")
    else:
        value = value.rstrip(_ISBD)
    value = value.lstrip(_ISBD)
    # Unbalanced brackets left by stripping ("[Moskva" from "[Moskva]").
    if value.startswith("[") and "]" not in value:
        value = value[1:].strip()
    return value


def join(parts: Iterable[str | None], separator: str) -> str:
    """Clean parts joined with ``separator``, empty ones skipped."""
    return separator.join([part for part in map(clean, parts) if part])


def unique(values: Iterable[str]) -> list[str]:
    """Non-empty values in first-seen order, duplicates dropped."""
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return list(seen)


def isbns(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(valid ISBN-13s, invalid strings)`` from raw ISBN field values."""
    valid: list[str] = []
    invalid: list[str] = []
    for value in values:
        value = (value or "").strip()
        if not value:
            continue
        match = _ISBN.search(value)
        number = _isbn13(match.group(0)) if match else _stdnum_isbn13(value)
        if number:
            valid.append(number)
        else:
            invalid.append(clean(value))
    return unique(valid), unique(i for i in invalid if i)


def _isbn13(candidate: str) -> str | None:
    """The ISBN-13 of an ``_ISBN`` match (ASCII digits, '-', ' ', 'X'), None if invalid.

    The same rules as python-stdnum's ``isbn.validate`` + ``to_isbn13`` (9 digits
    get a leading 0; ISBN-10 mod-11 check; ISBN-13 EAN check and 978/979
    prefix), written out because stdnum's generic cleaning made ISBNs the
    costliest field of a record. Equality with stdnum is tested.
    """
    number = candidate.replace("-", "").replace(" ", "").upper()
    if len(number) == 9:
        number = "0" + number
    body = number[:-1]
    if not body.isdigit():  # ASCII only: the pattern allows nothing else
        return None
    if len(number) == 10:
        check = sum(weight * int(digit) for weight, digit in enumerate(body, 1)) % 11
        if ("X" if check == 10 else str(check)) != number[-1]:
            return None
        body = "978" + body
    elif len(number) == 13:
        if number[-1] != _ean_check(body) or body[:3] not in ("978", "979"):
            return None
        return number
    else:
        return None
    return body + _ean_check(body)


def _ean_check(digits: str) -> str:
    """The EAN-13 check digit of twelve digits."""
    total = sum(int(digit) for digit in digits[::2]) + 3 * sum(int(d) for d in digits[1::2])
    return str(-total % 10)


def _stdnum_isbn13(value: str) -> str | None:
    """python-stdnum's verdict on a value the ISBN pattern does not match (rare)."""
    try:
        return stdnum_isbn.to_isbn13(stdnum_isbn.validate(value))
    except Exception:  # stdnum raises several ValidationError subclasses
        return None


def issns(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(valid ISSNs as NNNN-NNNC, invalid strings)``.

    The ISSN check digit (ISO 3297, mod 11) is computed here rather than with
    python-stdnum: serials carry several ISSNs each and this is on the hot path.
    """
    valid: list[str] = []
    invalid: list[str] = []
    for value in values:
        value = (value or "").strip()
        if not value:
            continue
        match = _ISSN.search(value)
        compact = match.group(0).replace("-", "").upper() if match else ""
        if compact and _issn_check(compact[:7]) == compact[7]:
            valid.append(f"{compact[:4]}-{compact[4:]}")
        else:
            invalid.append(clean(value))
    return unique(valid), unique(i for i in invalid if i)


def _issn_check(digits: str) -> str:
    total = sum((8 - index) * int(digit) for index, digit in enumerate(digits))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


def year(*candidates: str | None) -> int | None:
    """The first plausible year (1000-2099) in the candidates, in order."""
    for candidate in candidates:
        if not candidate:
            continue
        if len(candidate) == 4 and candidate.isdigit():
            number = int(candidate)
            if 1000 <= number <= 2099:
                return number
            continue
        match = _YEAR.search(candidate)
        if match:
            return int(match.group(1))
    return None


def pages(extent: str | None) -> int | None:
    """The page count an extent statement gives, if any.

    "xii, 352 p." -> 352; "284, [2] с." -> 284: the largest number in the
    statement part that ends in a page unit, so unnumbered leaves do not win.
    """
    if not extent:
        return None
    best = None
    start = 0
    for match in _PAGE_UNIT.finditer(extent):
        segment = extent[start : match.start()]
        segment = _CLAUSE.split(segment)[-1]
        numbers = [int(n) for n in _NUMBER.findall(segment) if len(n) <= 6]
        if numbers:
            best = max(best or 0, max(numbers))
        start = match.end()
    return best


def language(code: str | None) -> str | None:
    """A three-letter language code, lower case; None for blanks and fill characters."""
    code = (code or "").strip().lower()
    if len(code) == 3 and code.isalpha() and code not in ("und", "zxx", "mis"):
        return code
    return None
