"""How the union catalog folds text, the same way for deduplication and search.

Two foldings, kept deliberately apart:

* :func:`fold` is what search indexes and what a reader's query goes through:
  case-folded, diacritics dropped, ``ё`` → ``е`` — but ``й`` stays ``й``. A naive
  "strip diacritics" (SQLite's ``remove_diacritics``, or dropping every combining
  mark after NFD) turns ``й`` into ``и``, and ``мой``/``мои`` are different words.
* :func:`latin` goes further for *matching*: it transliterates Cyrillic to Latin
  (ALA-LC romanization without its diacritics and primes, the scheme Library of
  Congress records use for Russian titles and names), so that ``Толстой`` and a
  romanized ``Tolstoĭ`` compare equal. Here ``й`` and ``и`` both become ``i``; only
  dedup keys and author comparison use this form, never the search text itself.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_I_BREVE = "\u0438\u0306"  # и + combining breve, what NFD makes of й
_NON_WORD = re.compile(r"[^\w]+|_")
_WORD = re.compile(r"[^\W_]+")
#: Folded strings remembered: names and subjects repeat across records, titles
#: rarely do. Kept small: each entry is a whole string, and 65,536 of them in two
#: caches held ~40 MB in every process that harvests (measured).
_CACHED = 4096

#: ALA-LC romanization of Russian (and the common letters of Ukrainian and
#: Belarusian), with the diacritics and the soft/hard sign primes left out.
_ALA_LC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u", "ѣ": "e", "ѳ": "f", "ѵ": "i",
}  # fmt: skip
_TRANSLIT = str.maketrans(_ALA_LC)


@lru_cache(maxsize=_CACHED)
def fold(text: str) -> str:
    """Case-fold and drop diacritics, keeping ``й`` distinct from ``и``; ``ё`` → ``е``."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.casefold())
    decomposed = decomposed.replace(_I_BREVE, "й")
    return unicodedata.normalize("NFC", _COMBINING.sub("", decomposed))


def words(text: str) -> list[str]:
    """The folded words of ``text``, as the search index tokenizes them."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=_CACHED)
def latin(text: str) -> str:
    """Folded, transliterated to Latin, punctuation collapsed to single spaces.

    The matching form of a title or a name: script-independent, so a Cyrillic
    record and a romanized one of the same book meet.
    """
    return _NON_WORD.sub(" ", fold(text).translate(_TRANSLIT)).strip()
