"""ISBNs are checked by our own code on the hot path; it must agree with python-stdnum."""

from __future__ import annotations

import random

from stdnum import isbn as stdnum_isbn

from federation.records import text


def _stdnum(value: str) -> str | None:
    try:
        return stdnum_isbn.to_isbn13(stdnum_isbn.validate(value))
    except Exception:
        return None


def _spellings(rng: random.Random) -> list[str]:
    """Valid ISBNs in the spellings catalogues use, and near misses of each."""
    digits = "".join(rng.choice("0123456789") for _ in range(9))
    isbn10 = digits + stdnum_isbn._calc_isbn10_check_digit(digits)
    isbn13 = stdnum_isbn.to_isbn13(isbn10)
    wrong = str((int(isbn13[-1]) + 1) % 10)
    return [
        isbn10,
        isbn10.lower(),
        isbn10[1:],  # nine digits: stdnum adds the leading 0
        stdnum_isbn.format(isbn10),
        stdnum_isbn.format(isbn13).replace("-", " "),
        isbn13,
        "979" + isbn13[3:],
        "977" + isbn13[3:],  # a valid EAN, but not a Bookland prefix
        isbn13[:-1] + wrong,
        isbn10[:-1] + ("0" if isbn10[-1] != "0" else "1"),
        isbn13 + "0",
        f"{isbn10} (pbk.)",
        f"ISBN {stdnum_isbn.format(isbn13)} : 250 руб.",
    ]


def test_isbn13_agrees_with_stdnum_on_generated_spellings():
    rng = random.Random(2709)
    values = [value for _ in range(300) for value in _spellings(rng)]
    # Random strings of ISBN characters: odd lengths, stray X, doubled separators.
    for _ in range(3000):
        length = rng.randint(9, 19)
        values.append("".join(rng.choice("0123456789-- Xx") for _ in range(length)))
    for value in values:
        match = text._ISBN.search(value.strip())
        expected = _stdnum(match.group(0) if match else value.strip())
        valid, invalid = text.isbns([value])
        assert valid == ([expected] if expected else []), value
        assert bool(invalid) == (expected is None and bool(text.clean(value))), value
